/**
 * The rate limit and the quota of the key dialogs (docs/key-controls.md, "Rate limit and quota") as
 * form state: the numbers as typed, checked by the server's own rules (validateRateLimit and
 * validateQuota of src/core/key-controls.ts), the values a create or PATCH sends, and which input a
 * refusal names. key-controls-draft.ts joins them to the other controls.
 */
import {
  type Quota,
  type RateLimit,
  type RefillPeriod,
  validateQuota,
  validateRateLimit,
} from "../../../src/core/key-controls";
import type { Key } from "../api";

/** The inputs a refusal can name (the API's field paths). */
export type LimitField =
  | "rateLimit.limit"
  | "rateLimit.windowSeconds"
  | "quota.remaining"
  | "quota.refill.amount"
  | "quota.refill.every";

export interface LimitsDraft {
  /** Calls per window; empty: no rate limit. */
  rateLimit: string;
  /** The window, in seconds. */
  rateWindow: string;
  /** Calls left; empty: no quota. */
  quota: string;
  refillEvery: "never" | RefillPeriod;
  /** What the calls left are set back to at each refill. */
  refillAmount: string;
}

const DEFAULT_WINDOW_SECONDS = 60;

export function limitsDraftOf(key: Key | undefined): LimitsDraft {
  const rateLimit = key?.rateLimit ?? null;
  const quota = key?.quota ?? null;
  return {
    rateLimit: rateLimit ? String(rateLimit.limit) : "",
    rateWindow: String(rateLimit?.windowSeconds ?? DEFAULT_WINDOW_SECONDS),
    quota: quota ? String(quota.remaining) : "",
    refillEvery: quota?.refill?.every ?? "never",
    refillAmount: quota?.refill ? String(quota.refill.amount) : "",
  };
}

/** A count as typed: digits only; anything else (a sign, a fraction, "1e3") is NaN, for the rules to refuse. */
function count(text: string): number {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** The rate limit and quota the draft holds (null: none); call checkLimits first. */
export function limitsValues(draft: LimitsDraft): { rateLimit: RateLimit | null; quota: Quota | null } {
  return {
    rateLimit: draft.rateLimit.trim()
      ? { limit: count(draft.rateLimit), windowSeconds: count(draft.rateWindow) }
      : null,
    quota: draft.quota.trim()
      ? {
          remaining: count(draft.quota),
          refill:
            draft.refillEvery === "never"
              ? null
              : { amount: count(draft.refillAmount), every: draft.refillEvery },
        }
      : null,
  };
}

const SUBJECTS: Record<LimitField, string> = {
  "rateLimit.limit": "The number of calls",
  "rateLimit.windowSeconds": "The window",
  "quota.remaining": "The calls left",
  "quota.refill.amount": "The refill amount",
  "quota.refill.every": "The refill period",
};

/** The rules' "must be …" as a sentence about the input; other messages as the server wrote them. */
export function limitMessage(field: LimitField, message: string): string {
  return message.startsWith("must ") ? `${SUBJECTS[field]} ${message}` : message;
}

/** The input a refusal's path names: `rateLimit` alone is about the limit, `quota` about the calls left. */
export function limitFieldOf(path: string): LimitField | undefined {
  const within = (prefix: string) => path === prefix || path.startsWith(`${prefix}.`);
  if (within("rateLimit.windowSeconds")) return "rateLimit.windowSeconds";
  if (within("rateLimit")) return "rateLimit.limit";
  if (within("quota.refill.every")) return "quota.refill.every";
  if (within("quota.refill")) return "quota.refill.amount";
  if (within("quota")) return "quota.remaining";
  return undefined;
}

/** The input a 403 KEY_CONTROLS_EXCEED_CALLER is about, by the control its message names. */
export function exceedingLimitOf(message: string): LimitField | undefined {
  if (/rate limit/i.test(message)) return "rateLimit.limit";
  if (/quota's refill/i.test(message)) return "quota.refill.amount";
  if (/quota/i.test(message)) return "quota.remaining";
  return undefined;
}

/** What the client can tell before sending, by the server's rules (the first problem of each). */
export function checkLimits(draft: LimitsDraft): Partial<Record<LimitField, string>> {
  const { rateLimit, quota } = limitsValues(draft);
  const errors: Partial<Record<LimitField, string>> = {};
  for (const problem of [rateLimit && validateRateLimit(rateLimit), quota && validateQuota(quota)]) {
    const field = problem ? limitFieldOf(problem.path) : undefined;
    if (problem && field) errors[field] = limitMessage(field, problem.message);
  }
  return errors;
}

/**
 * Only what the user changed, for a PATCH. A quota is sent whole when any part of it changed, and
 * sending it sets the calls left to what the input holds (docs/key-controls.md).
 */
export function changedLimits(
  draft: LimitsDraft,
  key: Key,
): { rateLimit?: RateLimit | null; quota?: Quota | null } {
  const { rateLimit, quota } = limitsValues(draft);
  const sameRate =
    rateLimit?.limit === key.rateLimit?.limit && rateLimit?.windowSeconds === key.rateLimit?.windowSeconds;
  const sameQuota =
    quota?.remaining === key.quota?.remaining &&
    quota?.refill?.amount === key.quota?.refill?.amount &&
    quota?.refill?.every === key.quota?.refill?.every;
  return { ...(sameRate ? {} : { rateLimit }), ...(sameQuota ? {} : { quota }) };
}

/** "100 calls per 1 min": a rate limit in words. */
export function rateLimitText({ limit, windowSeconds }: RateLimit): string {
  return `${limit.toLocaleString("en-US")} ${limit === 1 ? "call" : "calls"} per ${windowText(windowSeconds)}`;
}

/** "60 s", "5 min", "1 h", "day": the window as written, in its largest whole unit. */
export function windowText(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? "day" : `${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
