/** The Generated tab's search box, filters and sort choice; all of them live in the address. */
import { useEffect, useState } from "react";
import { setQuery } from "../router";
import { Button, SelectField, TextField } from "../ui/controls";
import type { Loaded } from "../ui/hooks";
import type { RoleChoices } from "../ui/role-picker";

export const CLEARED = { q: "", status: "", role: "", alert: "" };
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
    sort: sort || "createdAt",
    order: get("order") === "asc" ? "asc" : "desc",
  };
}

export function isFiltered(filters: Filters): boolean {
  return Boolean(filters.q || filters.status || filters.role || filters.alert);
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
