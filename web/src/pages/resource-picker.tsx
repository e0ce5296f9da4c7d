/**
 * Picking the resources of a custom role from the catalog (GET /v1/resources), grouped by product
 * and then category. A resource the signed-in user does not hold is disabled with the reason: the
 * server refuses to put it in a role (no escalation). One already in the role stays removable.
 */
import { useEffect, useId, useMemo, useRef, useState } from "react";
import type { Resource } from "../api";
import "./resource-picker.css";

export interface ResourceGroup {
  product: string;
  categories: { category: string; resources: Resource[] }[];
}

/** Catalog order is kept: products and categories appear as the catalog lists them. */
export function groupResources(resources: readonly Resource[]): ResourceGroup[] {
  const groups: ResourceGroup[] = [];
  for (const resource of resources) {
    let group = groups.find((entry) => entry.product === resource.product);
    if (!group) {
      group = { product: resource.product, categories: [] };
      groups.push(group);
    }
    let category = group.categories.find((entry) => entry.category === resource.category);
    if (!category) {
      category = { category: resource.category, resources: [] };
      group.categories.push(category);
    }
    category.resources.push(resource);
  }
  return groups;
}

function matches(resource: Resource, needle: string): boolean {
  if (!needle) return true;
  return [resource.key, resource.name, resource.description, resource.category, resource.product].some(
    (text) => text.toLowerCase().includes(needle),
  );
}

export function notHeldReason(key: string): string {
  return `You do not hold ${key}, so you cannot put it in a role`;
}

export function ResourcePicker({
  resources,
  selected,
  held,
  onChange,
  error,
}: {
  resources: readonly Resource[];
  selected: ReadonlySet<string>;
  /** What the signed-in user holds; an Owner holds every resource. */
  held: ReadonlySet<string>;
  onChange: (next: Set<string>) => void;
  error?: string | undefined;
}) {
  const [filter, setFilter] = useState("");
  const id = useId();
  const needle = filter.trim().toLowerCase();
  const groups = useMemo(
    () =>
      groupResources(resources.filter((resource) => matches(resource, needle)))
        .map((group) => ({ ...group, categories: group.categories.filter((c) => c.resources.length > 0) }))
        .filter((group) => group.categories.length > 0),
    [resources, needle],
  );
  const usable = (resource: Resource) => held.has(resource.key) || selected.has(resource.key);
  const set = (keys: string[], on: boolean) => {
    const next = new Set(selected);
    for (const key of keys) {
      if (on) next.add(key);
      else next.delete(key);
    }
    onChange(next);
  };

  return (
    <fieldset className="resource-picker" aria-describedby={error ? `${id}-error` : undefined}>
      <legend>Resources</legend>
      <p className="hint">
        Pick what the role allows, and nothing more. You can only pick resources you hold yourself.
      </p>
      <div className="field resource-filter">
        <label htmlFor={`${id}-filter`}>Filter resources</label>
        <input
          id={`${id}-filter`}
          className="input"
          type="search"
          value={filter}
          placeholder="Name, product or category"
          onChange={(event) => setFilter(event.target.value)}
        />
      </div>
      <p className="hint" aria-live="polite">
        {selected.size === 0
          ? "No resource selected."
          : `${selected.size} of ${resources.length} resources selected.`}
      </p>
      {error ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      ) : null}
      <div className="resource-groups">
        {groups.map((group) => (
          <fieldset key={group.product} className="resource-product">
            <legend>{group.product}</legend>
            {group.categories.map(({ category, resources: list }) => {
              const pickable = list.filter(usable).map((resource) => resource.key);
              return (
                <fieldset key={category} className="resource-category">
                  <legend className="resource-category-name">{category}</legend>
                  <SelectAll
                    label={`${category} (${group.product})`}
                    keys={pickable}
                    selected={selected}
                    onToggle={(on) => set(pickable, on)}
                  />
                  <ul className="resource-list">
                    {list.map((resource) => (
                      <ResourceOption
                        key={resource.key}
                        resource={resource}
                        checked={selected.has(resource.key)}
                        held={held.has(resource.key)}
                        onToggle={(on) => set([resource.key], on)}
                      />
                    ))}
                  </ul>
                </fieldset>
              );
            })}
          </fieldset>
        ))}
        {groups.length === 0 ? <p className="hint">No resource matches “{filter.trim()}”.</p> : null}
      </div>
    </fieldset>
  );
}

function ResourceOption({
  resource,
  checked,
  held,
  onToggle,
}: {
  resource: Resource;
  checked: boolean;
  held: boolean;
  onToggle: (on: boolean) => void;
}) {
  const id = useId();
  return (
    <li className="resource-option">
      <input
        type="checkbox"
        id={id}
        checked={checked}
        disabled={!held && !checked}
        onChange={(event) => onToggle(event.target.checked)}
        aria-describedby={`${id}-hint`}
      />
      <label htmlFor={id}>
        {resource.name} <span className="resource-key">{resource.key}</span>
      </label>
      <p className="hint" id={`${id}-hint`}>
        {resource.description}
        {held ? null : <span className="resource-why">{notHeldReason(resource.key)}.</span>}
      </p>
    </li>
  );
}

function SelectAll({
  label,
  keys,
  selected,
  onToggle,
}: {
  label: string;
  keys: string[];
  selected: ReadonlySet<string>;
  onToggle: (on: boolean) => void;
}) {
  const ref = useRef<HTMLInputElement>(null);
  const id = useId();
  const count = keys.filter((key) => selected.has(key)).length;
  const all = keys.length > 0 && count === keys.length;
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = count > 0 && !all;
  }, [count, all]);
  return (
    <div className="select-all">
      <input
        ref={ref}
        type="checkbox"
        id={id}
        checked={all}
        disabled={keys.length === 0}
        onChange={(event) => onToggle(event.target.checked)}
      />
      <label htmlFor={id}>
        Select all<span className="visually-hidden"> in {label}</span>
      </label>
    </div>
  );
}

/** The resources of a role, read-only, grouped like the picker. */
export function ResourceList({
  keys,
  resources,
}: {
  keys: readonly string[];
  resources: readonly Resource[];
}) {
  const inRole = new Set(keys);
  const known = resources.filter((resource) => inRole.has(resource.key));
  const unknown = keys.filter((key) => !resources.some((resource) => resource.key === key));
  if (keys.length === 0) return <p className="muted">This role holds no resource.</p>;
  return (
    <div className="resource-groups">
      {groupResources(known).map((group) => (
        <section key={group.product} className="resource-product" aria-label={group.product}>
          <h3>{group.product}</h3>
          {group.categories.map(({ category, resources: list }) => (
            <div key={category} className="resource-category">
              <p className="resource-category-name">{category}</p>
              <ul className="resource-list">
                {list.map((resource) => (
                  <li key={resource.key} className="resource-readonly">
                    <span>
                      {resource.name} <span className="resource-key">{resource.key}</span>
                    </span>
                    <span className="hint">{resource.description}</span>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </section>
      ))}
      {unknown.length ? <p className="hint">Not in the catalog any more: {unknown.join(", ")}</p> : null}
    </div>
  );
}
