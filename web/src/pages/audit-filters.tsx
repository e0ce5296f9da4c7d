/**
 * The audit log's filters. They live in the address (?action=…&from=2026-11-01) so that a filtered
 * view can be shared; dates are whole UTC days, turned into the API's ISO instants here.
 */
import { type FormEvent, useId, useState } from "react";
import type { AuditListQuery } from "../api";
import { setQuery } from "../router";
import { Button, InlineError, SelectField, TextField } from "../ui/controls";

export const FILTER_NAMES = ["action", "actor", "target", "from", "to"] as const;
export type Filters = Partial<Record<(typeof FILTER_NAMES)[number], string>>;

const GROUPS: [string, string][] = [
  ["key.", "Every key event"],
  ["external_key.", "Every external key event"],
  ["user.", "Every user event and sign-in"],
  ["role.", "Every role event"],
  ["settings.", "Every settings change"],
  ["notification.", "Every notification"],
];

const ACTIONS = [
  "account.created",
  "user.added",
  "user.roles_set",
  "user.removed",
  "user.invitation_accepted",
  "user.invitation_declined",
  "user.left",
  "user.signed_in",
  "user.sign_in_failed",
  "role.created",
  "role.updated",
  "role.deleted",
  "key.created",
  "key.renamed",
  "key.activated",
  "key.deactivated",
  "key.roles_set",
  "key.deleted",
  "key.renewal_started",
  "key.renewal_completed",
  "key.renewal_undone",
  "share_link.revealed",
  "key.deactivated_by_policy",
  "key.deactivated_leak",
  "external_key.added",
  "external_key.roles_set",
  "external_key.removed",
  "settings.updated",
  "notification.sent",
  "notification.failed",
  "signing_key.rotated",
];

export function filtersOf(search: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const name of FILTER_NAMES) {
    const value = search.get(name)?.trim();
    if (value) filters[name] = value;
  }
  return filters;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A date input's day as the ISO instant of its start (UTC); `after` gives the next day's start. */
export function dayToInstant(day: string, after = false): string {
  const match = DAY.exec(day);
  if (!match) return day;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + (after ? 1 : 0)));
  return date.toISOString().replace(".000Z", "Z");
}

/** The API's query: `from` inclusive at the day's start, `to` exclusive at the next day's start. */
export function apiQuery(filters: Filters): AuditListQuery {
  const query: AuditListQuery = {};
  if (filters.action) query.action = filters.action;
  if (filters.actor) query.actor = filters.actor;
  if (filters.target) query.target = filters.target;
  if (filters.from) query.from = dayToInstant(filters.from);
  if (filters.to) query.to = dayToInstant(filters.to, true);
  return query;
}

export function AuditFilters({ filters }: { filters: Filters }) {
  const [draft, setDraft] = useState<Filters>(filters);
  const [problem, setProblem] = useState<string>();
  const id = useId();
  const set = (name: keyof Filters, value: string) => setDraft((current) => ({ ...current, [name]: value }));
  const known = new Set([...GROUPS.map(([value]) => value), ...ACTIONS]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    if (draft.from && draft.to && draft.from > draft.to) {
      setProblem("The “From” day must not be after the “To” day.");
      return;
    }
    setProblem(undefined);
    const next: Record<string, string | undefined> = {};
    for (const name of FILTER_NAMES) next[name] = draft[name]?.trim() || undefined;
    setQuery(next, { replace: false });
  };

  const clear = () => {
    setDraft({});
    setProblem(undefined);
    setQuery(Object.fromEntries(FILTER_NAMES.map((name) => [name, undefined])), { replace: false });
  };

  const active = FILTER_NAMES.some((name) => filters[name]);
  return (
    <form className="audit-filters" onSubmit={apply} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="visually-hidden">
        Filters
      </h2>
      <div className="audit-filter-fields">
        <SelectField
          label="Action"
          value={draft.action ?? ""}
          onChange={(e) => set("action", e.target.value)}
        >
          <option value="">Any action</option>
          {draft.action && !known.has(draft.action) ? (
            <option value={draft.action}>{draft.action}</option>
          ) : null}
          <optgroup label="Groups">
            {GROUPS.map(([value, label]) => (
              <option key={value} value={value}>
                {label} ({value})
              </option>
            ))}
          </optgroup>
          <optgroup label="Actions">
            {ACTIONS.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </optgroup>
        </SelectField>
        <TextField
          label="Actor"
          value={draft.actor ?? ""}
          placeholder="Email or appKey"
          hint="Exact: an email, appKey or system"
          onChange={(e) => set("actor", e.target.value)}
        />
        <TextField
          label="Target"
          value={draft.target ?? ""}
          placeholder="appKey or id"
          hint="Exact: an appKey, user or role id"
          onChange={(e) => set("target", e.target.value)}
        />
        <TextField
          label="From (UTC)"
          type="date"
          value={draft.from ?? ""}
          onChange={(e) => set("from", e.target.value)}
        />
        <TextField
          label="To (UTC, inclusive)"
          type="date"
          value={draft.to ?? ""}
          onChange={(e) => set("to", e.target.value)}
        />
      </div>
      <InlineError error={problem} />
      <div className="audit-filter-buttons">
        <Button type="submit" variant="primary">
          Apply filters
        </Button>
        <Button onClick={clear} disabledReason={active ? undefined : "No filter is set"}>
          Clear filters
        </Button>
      </div>
    </form>
  );
}
