/** The Generated tab's search box, filters and sort choice; all of them live in the address. */
import { useEffect, useState } from "react";
import { CONTROL_FILTERS, EXPIRY_FILTERS } from "../../../src/core/key-controls";
import { setQuery } from "../router";
import { Button, SelectField, TextField } from "../ui/controls";
import type { Loaded } from "../ui/hooks";
import type { RoleChoices } from "../ui/role-picker";

export const CLEARED = { q: "", status: "", role: "", alert: "", expiry: "", control: "" };
const SEARCH_DELAY_MS = 250;
const SORTS = ["name", "createdAt", "tokenCreatedAt", "lastUsedAt"] as const;
const SORT_CHOICES: { value: string; label: string }[] = [
  { value: "createdAt:desc", label: "Newest first" },
  { value: "createdAt:asc", label: "Oldest first" },
  { value: "name:asc", label: "Name A–Z" },
  { value: "name:desc", label: "Name Z–A" },
  { value: "tokenCreatedAt:asc", label: "Oldest token first" },
  { value: "tokenCreatedAt:desc", label: "Newest token first" },
  { value: "lastUsedAt:desc", label: "Recently used" },
  { value: "lastUsedAt:asc", label: "Least recently used" },
];

export interface Filters {
  q: string;
  status: string;
  role: string;
  alert: string;
  /** One of EXPIRY_FILTERS, or empty. */
  expiry: string;
  /** One of CONTROL_FILTERS, or empty. */
  control: string;
  sort: (typeof SORTS)[number];
  order: "asc" | "desc";
}

/** The filters in the address, with anything the API would refuse dropped. */
export function readFilters(url: URL): Filters {
  const get = (name: string) => url.searchParams.get(name) ?? "";
  const oneOf = (name: string, allowed: readonly string[]) => (allowed.includes(get(name)) ? get(name) : "");
  const sort = oneOf("sort", SORTS) as Filters["sort"] | "";
  return {
    q: get("q").slice(0, 100),
    status: oneOf("status", ["active", "inactive"]),
    role: /^[1-9]\d{0,9}$/.test(get("role")) ? get("role") : "",
    alert: oneOf("alert", ["none", "orange", "red"]),
    expiry: oneOf("expiry", EXPIRY_FILTERS),
    control: oneOf("control", CONTROL_FILTERS),
    sort: sort || "createdAt",
    order: get("order") === "asc" ? "asc" : "desc",
  };
}

export function isFiltered(filters: Filters): boolean {
  return Boolean(
    filters.q || filters.status || filters.role || filters.alert || filters.expiry || filters.control,
  );
}

/** `roles` is the tab's one load of the account's roles (the row menu needs them too). */
export function Toolbar({
  filters,
  filtered,
  roles,
}: {
  filters: Filters;
  filtered: boolean;
  roles: Loaded<RoleChoices>;
}) {
  const [text, setText] = useState(filters.q);
  // The address wins when it changes from outside (back button, Clear filters).
  useEffect(() => setText(filters.q), [filters.q]);
  useEffect(() => {
    if (text === filters.q) return;
    const timer = setTimeout(() => setQuery({ q: text.slice(0, 100) }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, filters.q]);

  const roleOptions = roles.data?.options ?? [];
  const knownRole = !filters.role || roleOptions.some((role) => String(role.id) === filters.role);

  return (
    <search aria-label="Filter keys" className="toolbar generated-toolbar">
      <div className="grow">
        <TextField
          label="Search"
          type="search"
          placeholder="Name or appKey"
          value={text}
          maxLength={100}
          onChange={(event) => setText(event.target.value)}
        />
      </div>
      <SelectField
        label="Status"
        value={filters.status}
        onChange={(event) => setQuery({ status: event.target.value })}
      >
        <option value="">All statuses</option>
        <option value="active">Active</option>
        <option value="inactive">Inactive</option>
      </SelectField>
      <SelectField
        label="Role"
        value={filters.role}
        onChange={(event) => setQuery({ role: event.target.value })}
      >
        <option value="">All roles</option>
        {roleOptions.map((role) => (
          <option key={role.id} value={String(role.id)}>
            {role.name}
          </option>
        ))}
        {knownRole ? null : <option value={filters.role}>Role #{filters.role}</option>}
      </SelectField>
      <SelectField
        label="Renewal"
        value={filters.alert}
        onChange={(event) => setQuery({ alert: event.target.value })}
      >
        <option value="">Any state</option>
        <option value="none">Up to date</option>
        <option value="orange">Renewal due</option>
        <option value="red">Renewal overdue</option>
      </SelectField>
      <SelectField
        label="Expiry"
        value={filters.expiry}
        onChange={(event) => setQuery({ expiry: event.target.value })}
      >
        <option value="">Any expiry</option>
        <option value="soon">Expiring within 14 days</option>
        <option value="expired">Expired</option>
        <option value="ok">Expiring later</option>
        <option value="any">With an expiry</option>
        <option value="none">Never expiring</option>
      </SelectField>
      <SelectField
        label="Controls"
        value={filters.control}
        onChange={(event) => setQuery({ control: event.target.value })}
      >
        <option value="">Any controls</option>
        <option value="ipAllowlist">With an IP allowlist</option>
        <option value="metadata">With metadata</option>
        <option value="allowBrowser">Browser allowed</option>
        <option value="rateLimit">With a rate limit</option>
        <option value="quota">With a quota</option>
      </SelectField>
      <SelectField
        label="Sort"
        value={`${filters.sort}:${filters.order}`}
        onChange={(event) => {
          const [sort, order] = event.target.value.split(":");
          setQuery({ sort, order });
        }}
      >
        {SORT_CHOICES.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </SelectField>
      {filtered ? (
        <Button className="generated-clear" onClick={() => setQuery(CLEARED)}>
          Clear filters
        </Button>
      ) : null}
    </search>
  );
}
