/**
 * Choosing roles for a key or a user. Nothing is pre-selected. Roles the signed-in user could not
 * give (a resource they do not hold: the server's no-escalation rule) are shown disabled with why.
 * Listing roles needs ViewAdminUsers; without it the picker offers the user's own roles, which they
 * may always give.
 */
import { useId, useMemo, useState } from "react";
import { ApiError, client, ok, type Role, type RoleRef } from "../api";
import { useAccount } from "../session";
import { ErrorMessage, Loading } from "./controls";
import { type Loaded, useLoad } from "./hooks";

export interface RoleOption {
  id: number;
  name: string;
  type: Role["type"] | "own";
  products: string[];
  /** Why this role cannot be given by the signed-in user, if it cannot. */
  blocked?: string;
}

export interface RoleChoices {
  options: RoleOption[];
  /** The list could not be read: the options are the user's own roles. */
  limited: boolean;
  /** The account's roles with their resources, when readable: `exceeds` needs them too. */
  roles?: Role[];
}

export function useRoleOptions(): Loaded<RoleChoices> {
  const { account, roles, resources, can } = useAccount();
  return useLoad(async (): Promise<RoleChoices> => {
    const own = () => ({
      options: roles.map((role): RoleOption => ({ id: role.id, name: role.name, type: "own", products: [] })),
      limited: true,
    });
    if (!can("ViewAdminUsers")) return own();
    try {
      const { items } = await ok(
        client.GET("/v1/accounts/{account}/roles", { params: { path: { account } } }),
      );
      const options = items.map((role): RoleOption => {
        const missing = role.resources.filter((resource) => !resources.has(resource));
        return {
          id: role.id,
          name: role.name,
          type: role.type,
          products: role.products,
          ...(missing.length
            ? { blocked: `You do not hold ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? "…" : ""}` }
            : {}),
        };
      });
      return { options, limited: false, roles: items };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 403) throw error;
      return own();
    }
  }, [account]);
}

const KEY_HINT =
  "Least privilege: pick only the roles this integration needs. A key with no roles can authenticate but is allowed nothing.";
export const USER_HINT =
  "Least privilege: pick only the roles this person needs. A user with no roles can sign in but sees nothing.";

export function RolePicker({
  legend,
  selected,
  onChange,
  current = [],
  hint = KEY_HINT,
}: {
  legend: string;
  /** The least-privilege advice above the list; the default speaks of keys. */
  hint?: string;
  selected: number[];
  onChange: (ids: number[]) => void;
  /** Roles already held: shown even when the list cannot be read, so nothing is lost on save. */
  current?: RoleRef[];
}) {
  const { data, error, loading, reload } = useRoleOptions();
  const [filter, setFilter] = useState("");
  const filterId = useId();
  const options = useMemo(() => {
    const list = [...(data?.options ?? [])];
    for (const role of current)
      if (!list.some((option) => option.id === role.id))
        list.push({ id: role.id, name: role.name, type: "own", products: [] });
    return list;
  }, [data, current]);

  if (loading && !data) return <Loading label="Loading roles…" />;
  if (error) return <ErrorMessage error={error} onRetry={reload} />;

  const needle = filter.trim().toLowerCase();
  const shown = options.filter((option) => !needle || option.name.toLowerCase().includes(needle));
  const toggle = (id: number, on: boolean) =>
    onChange(on ? [...selected, id] : selected.filter((value) => value !== id));

  return (
    <fieldset className="role-picker">
      <legend>{legend}</legend>
      <p className="hint">{hint}</p>
      {data?.limited ? (
        <p className="hint">
          You can give the roles you hold yourself; listing every role needs ViewAdminUsers.
        </p>
      ) : null}
      {options.length > 8 ? (
        <div className="field">
          <label htmlFor={filterId}>Filter roles</label>
          <input
            id={filterId}
            className="input"
            type="search"
            value={filter}
            onChange={(event) => setFilter(event.target.value)}
          />
        </div>
      ) : null}
      <div className="role-options">
        {shown.map((option) => {
          const checked = selected.includes(option.id);
          const id = `${filterId}-role-${option.id}`;
          return (
            <div key={option.id} className="role-option">
              <input
                type="checkbox"
                id={id}
                checked={checked}
                disabled={Boolean(option.blocked) && !checked}
                onChange={(event) => toggle(option.id, event.target.checked)}
                aria-describedby={option.blocked ? `${id}-why` : undefined}
              />
              <label htmlFor={id}>
                {option.name}
                {option.type === "custom" ? <span className="muted"> · custom</span> : null}
                {option.products.length ? (
                  <span className="muted"> · {option.products.join(", ")}</span>
                ) : null}
              </label>
              {option.blocked ? (
                <span className="hint" id={`${id}-why`}>
                  {option.blocked}
                </span>
              ) : null}
            </div>
          );
        })}
        {shown.length === 0 ? <p className="hint">No role matches.</p> : null}
      </div>
      <p className="hint" aria-live="polite">
        {selected.length === 0 ? "No role selected." : `${selected.length} selected.`}
      </p>
    </fieldset>
  );
}

export function RoleList({ roles }: { roles: RoleRef[] }) {
  if (roles.length === 0) return <span className="muted">No roles</span>;
  return (
    <ul className="chips">
      {roles.map((role) => (
        <li key={role.id} className="chip">
          {role.name}
        </li>
      ))}
    </ul>
  );
}
