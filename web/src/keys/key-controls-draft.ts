/**
 * The key dialogs' controls (docs/key-controls.md) as form state: what each field holds, what the
 * client checks before sending (the server's own rules, imported from src/core/key-controls.ts, so
 * they are written once), the body of a create or the fields a PATCH changes, and which field a
 * server refusal belongs to. Each control is one group (key-controls-fields.tsx): a new control
 * adds its field to ControlsDraft, its check and body here, and one group there. The rate limit and
 * the quota keep their rules in key-limits-draft.ts.
 */
import {
  EXPIRY_WARNING_DAYS,
  latestExpiry,
  MAX_METADATA_BYTES,
  type Quota,
  type RateLimit,
  validateIpAllowlist,
  validateMetadata,
} from "../../../src/core/key-controls";
import { DAY_MS } from "../../../src/core/time";
import { ApiError, type ApiKeySettings, type Key } from "../api";
import { formatDateTime } from "../ui/format";
import {
  changedLimits,
  checkLimits,
  exceedingLimitOf,
  type LimitField,
  type LimitsDraft,
  limitFieldOf,
  limitMessage,
  limitsDraftOf,
  limitsValues,
} from "./key-limits-draft";

export type ControlField = "expiresAt" | "ipAllowlist" | "metadata" | "allowBrowser" | LimitField;
export type ControlErrors = Partial<Record<ControlField, string>>;
export type ControlPolicies = Pick<ApiKeySettings["policies"], "maxKeyLifetimeDays" | "allowBrowserKeys">;

/** `maximum`: a new key under maxKeyLifetimeDays names no expiry and gets the longest allowed. */
export type ExpiryChoice = "never" | "maximum" | "date";

export interface ControlsDraft extends LimitsDraft {
  expiry: ExpiryChoice;
  /** yyyy-mm-dd: the key stops working at 00:00 UTC that day (as the CLI's --expires 2027-01-31). */
  expiresOn: string;
  /** One address or CIDR block per line; blank lines are ignored. */
  ipText: string;
  /** A JSON object, or empty for none. */
  metadataText: string;
  allowBrowser: boolean;
}

/** Body fields of the controls, as POST …/keys and PATCH …/keys/{appKey} take them. */
export interface ControlsBody {
  expiresAt?: string | null;
  ipAllowlist?: string[] | null;
  metadata?: Record<string, unknown> | null;
  allowBrowser?: boolean;
  rateLimit?: RateLimit | null;
  quota?: Quota | null;
}

/** What the dialogs know of the key: none when creating one. */
export interface ControlsTarget {
  key: Key | undefined;
  policies: ControlPolicies;
  now: number;
}

export function controlsDraftOf({ key, policies }: ControlsTarget): ControlsDraft {
  if (!key)
    return {
      expiry: policies.maxKeyLifetimeDays === null ? "never" : "maximum",
      expiresOn: "",
      ipText: "",
      metadataText: "",
      allowBrowser: false,
      ...limitsDraftOf(undefined),
    };
  return {
    expiry: key.expiresAt === null ? "never" : "date",
    expiresOn: key.expiresAt === null ? "" : key.expiresAt.slice(0, 10),
    ipText: (key.ipAllowlist ?? []).join("\n"),
    metadataText: key.metadata === null ? "" : JSON.stringify(key.metadata, null, 2),
    allowBrowser: key.allowBrowser,
    ...limitsDraftOf(key),
  };
}

/** The latest expiry the account's policy allows the key (counted from its creation); null: no limit. */
export function latestAllowed({ key, policies, now }: ControlsTarget): number | null {
  const createdAt = key ? Date.parse(key.creationDate) : now;
  return latestExpiry(createdAt, policies.maxKeyLifetimeDays);
}

/** Why "never" cannot be chosen, if it cannot: the policy refuses clearing or omitting an expiry. */
export function neverRefused(target: ControlsTarget): string | undefined {
  const { key, policies } = target;
  if (policies.maxKeyLifetimeDays === null) return undefined;
  if (key && key.expiresAt === null) return undefined; // unchanged: the policy does not shorten old keys
  return `The account allows keys at most ${policies.maxKeyLifetimeDays} days (Settings: maximum key lifetime).`;
}

/** Why allowBrowser cannot be turned on, if it cannot (turning it off is always possible). */
export function browserRefused(target: ControlsTarget): string | undefined {
  if (target.policies.allowBrowserKeys || target.key?.allowBrowser) return undefined;
  return "The account's settings do not allow keys in browser pages (Settings: allow browser keys).";
}

/** The expiry instant of a yyyy-mm-dd day: 00:00 UTC. */
export function dayStart(day: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
}

/** yyyy-mm-dd of an instant, in UTC. */
export function dayOf(instant: number): string {
  return new Date(instant).toISOString().slice(0, 10);
}

/** The allowlist's entries with the textarea line (1-based) each came from. */
function ipLines(text: string): { entries: string[]; lines: number[] } {
  const entries: string[] = [];
  const lines: number[] = [];
  text.split("\n").forEach((line, index) => {
    if (!line.trim()) return;
    entries.push(line.trim());
    lines.push(index + 1);
  });
  return { entries, lines };
}

/** `ipAllowlist.N` (the N-th entry sent) as the line the user typed it on. */
function ipMessage(path: string, message: string, text: string): string {
  const index = Number(path.split(".")[1]);
  const line = Number.isInteger(index) ? ipLines(text).lines[index] : undefined;
  return line === undefined ? message : `Line ${line}: ${message}`;
}

/** The size the server counts (the JSON as sent), or of the text while it is not JSON yet. */
export function metadataBytes(text: string): number {
  if (!text.trim()) return 0;
  const value = safeParse(text);
  return new TextEncoder().encode(value === undefined ? text : JSON.stringify(value)).length;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What the client can tell before sending, with the server's messages for the same rules. */
export function checkControls(draft: ControlsDraft, target: ControlsTarget): ControlErrors {
  const errors: ControlErrors = {};
  if (draft.expiry === "date") {
    const at = dayStart(draft.expiresOn);
    const latest = latestAllowed(target);
    if (Number.isNaN(at)) errors.expiresAt = "Pick the day the key stops working, or choose Never";
    else if (at <= target.now)
      errors.expiresAt = "Pick a day after today; to stop the key now, deactivate it";
    else if (latest !== null && at > latest && !unchangedExpiry(draft, target))
      errors.expiresAt = `The account allows keys at most ${target.policies.maxKeyLifetimeDays} days from their creation: pick ${dayOf(latest)} or earlier`;
  }
  if (draft.expiry === "never" && !(target.key && target.key.expiresAt === null)) {
    const refused = neverRefused(target);
    if (refused) errors.expiresAt = refused;
  }
  const { entries } = ipLines(draft.ipText);
  if (entries.length > 0) {
    const checked = validateIpAllowlist(entries);
    if (!checked.ok) errors.ipAllowlist = ipMessage(checked.error.path, checked.error.message, draft.ipText);
  }
  if (draft.metadataText.trim()) {
    const value = safeParse(draft.metadataText);
    if (value === undefined) errors.metadata = "Not valid JSON: check quotes, commas and braces";
    else {
      const error = validateMetadata(value);
      if (error && Array.isArray(value))
        errors.metadata = 'Metadata must be a JSON object, like {"plan": "gold"}';
      else if (error)
        errors.metadata = `Metadata ${error.message.replace(" (or null to clear it)", "; leave it empty for none")}`;
    }
  }
  const browser = draft.allowBrowser ? browserRefused(target) : undefined;
  if (browser) errors.allowBrowser = browser;
  return { ...errors, ...checkLimits(draft) };
}

function unchangedExpiry(draft: ControlsDraft, { key }: ControlsTarget): boolean {
  return key?.expiresAt != null && draft.expiry === "date" && draft.expiresOn === key.expiresAt.slice(0, 10);
}

/** Every control's value (call checkControls first). */
function bodyValues(draft: ControlsDraft): Required<ControlsBody> {
  const { entries } = ipLines(draft.ipText);
  return {
    expiresAt: draft.expiry === "date" ? new Date(dayStart(draft.expiresOn)).toISOString() : null,
    ipAllowlist: entries.length ? entries : null,
    metadata: draft.metadataText.trim() ? (JSON.parse(draft.metadataText) as Record<string, unknown>) : null,
    allowBrowser: draft.allowBrowser,
    ...limitsValues(draft),
  };
}

/** The controls of a new key; nothing for what is left at its default (the server applies the policy). */
export function createBody(draft: ControlsDraft): ControlsBody {
  const values = bodyValues(draft);
  return {
    ...(draft.expiry === "date" ? { expiresAt: values.expiresAt } : {}),
    ...(values.ipAllowlist ? { ipAllowlist: values.ipAllowlist } : {}),
    ...(values.metadata ? { metadata: values.metadata } : {}),
    ...(values.allowBrowser ? { allowBrowser: true } : {}),
    ...(values.rateLimit ? { rateLimit: values.rateLimit } : {}),
    ...(values.quota ? { quota: values.quota } : {}),
  };
}

/** Only the controls the user changed, for a PATCH (an untouched expiry day keeps its exact instant). */
export function changedBody(draft: ControlsDraft, key: Key): ControlsBody {
  const values = bodyValues(draft);
  const body: ControlsBody = {};
  const sameDay = unchangedExpiry(draft, { key, policies: NO_POLICIES, now: 0 });
  if (!sameDay && values.expiresAt !== key.expiresAt) body.expiresAt = values.expiresAt;
  if (JSON.stringify(values.ipAllowlist) !== JSON.stringify(key.ipAllowlist))
    body.ipAllowlist = values.ipAllowlist;
  if (JSON.stringify(values.metadata) !== JSON.stringify(key.metadata)) body.metadata = values.metadata;
  if (values.allowBrowser !== key.allowBrowser) body.allowBrowser = values.allowBrowser;
  return { ...body, ...changedLimits(draft, key) };
}

const NO_POLICIES: ControlPolicies = { maxKeyLifetimeDays: null, allowBrowserKeys: false };

const FIELDS: readonly ControlField[] = ["expiresAt", "ipAllowlist", "metadata", "allowBrowser"];

/**
 * A server refusal as the field it is about: a 400 naming `ipAllowlist.N` (as the line it was typed
 * on), `metadata`, `expiresAt`, or a part of `rateLimit` or `quota`; 422 KEY_LIFETIME_EXCEEDED with its `latest`; 409
 * BROWSER_KEYS_DISABLED; 403 KEY_CONTROLS_EXCEED_CALLER by the control it names. Undefined when the
 * refusal is about none of them.
 */
export function controlErrorsOf(error: unknown, draft: ControlsDraft): ControlErrors | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const errors: ControlErrors = {};
  for (const problem of error.errors) {
    const limit = limitFieldOf(problem.path);
    if (limit) errors[limit] = limitMessage(limit, problem.message);
    const field = FIELDS.find((name) => problem.path === name || problem.path.startsWith(`${name}.`));
    if (!field) continue;
    errors[field] =
      field === "ipAllowlist" ? ipMessage(problem.path, problem.message, draft.ipText) : problem.message;
  }
  if (error.code === "KEY_LIFETIME_EXCEEDED") {
    const latest = typeof error.problem.latest === "string" ? error.problem.latest : undefined;
    errors.expiresAt = latest
      ? `The account allows keys at most ${String(error.problem.maxKeyLifetimeDays)} days from their creation: the latest allowed expiry is ${formatDateTime(latest)}.`
      : error.message;
  }
  if (error.code === "BROWSER_KEYS_DISABLED") errors.allowBrowser = error.message;
  if (error.code === "KEY_CONTROLS_EXCEED_CALLER") {
    if (/expiry/i.test(error.message)) errors.expiresAt = error.message;
    else if (/IP allowlist/i.test(error.message)) errors.ipAllowlist = error.message;
    else {
      const limit = exceedingLimitOf(error.message);
      if (limit) errors[limit] = error.message;
    }
  }
  return Object.keys(errors).length ? errors : undefined;
}

/** The expiry badge's words: "expires in N days" within the warning window, "expired" after. */
export function expiryBadge(key: Key, now: number): { text: string; title: string } | undefined {
  if (key.expiresAt === null || key.expiry === "none" || key.expiry === "ok") return undefined;
  const at = formatDateTime(key.expiresAt);
  if (key.expiry === "expired") return { text: "Expired", title: `Expired ${at}: the key no longer works` };
  const days = Math.max(0, Math.ceil((Date.parse(key.expiresAt) - now) / DAY_MS));
  const text = days <= 1 ? "Expires within a day" : `Expires in ${days} days`;
  return { text, title: `Expires ${at} (within ${EXPIRY_WARNING_DAYS} days)` };
}

export { MAX_METADATA_BYTES };
