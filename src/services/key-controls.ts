/**
 * Settling the controls of a key being created or changed (docs/key-controls.md): the input is
 * validated precisely (core/key-controls.ts), the account's policies applied (`maxKeyLifetimeDays`,
 * `allowBrowserKeys`) and, when the caller is a key, its own controls bound what it may give.
 * Runs inside the use case's transaction, before anything is written.
 */

import { fail } from "../core/errors.js";
import {
  exceedsCaller,
  type KeyControls,
  latestExpiry,
  NO_CONTROLS,
  type Quota,
  quotaRemaining,
  type RateLimit,
  validateIpAllowlist,
  validateMetadata,
  validateQuota,
  validateRateLimit,
} from "../core/key-controls.js";
import { readSettings } from "../core/settings.js";
import { iso } from "../core/time.js";
import type { StoreOps } from "../storage/store.js";
import type { Authority } from "./authority.js";

/** Controls as a create or PATCH sends them: absent is "unchanged" (none on create), null clears. */
export interface ControlsInput {
  /** Milliseconds since the epoch. */
  expiresAt?: number | null | undefined;
  ipAllowlist?: readonly string[] | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  allowBrowser?: boolean | undefined;
  rateLimit?: RateLimit | null | undefined;
  /** A quota given sets `remaining` now (its refill period starts now). */
  quota?: Quota | null | undefined;
}

/** Only the fields given. */
export function controlsGiven(input: ControlsInput): Partial<KeyControls> {
  const given: Partial<KeyControls> = {};
  if (input.expiresAt !== undefined) given.expiresAt = input.expiresAt;
  if (input.ipAllowlist !== undefined) given.ipAllowlist = input.ipAllowlist;
  if (input.metadata !== undefined) given.metadata = input.metadata;
  if (input.allowBrowser !== undefined) given.allowBrowser = input.allowBrowser;
  if (input.rateLimit !== undefined) given.rateLimit = input.rateLimit;
  if (input.quota !== undefined) given.quota = input.quota;
  return given;
}

/**
 * The controls the key ends with: `current` (NO_CONTROLS for a new key) changed by `input`.
 * `createdAt`: the key's creation (the lifetime counts from it). `self`: the caller is this key.
 */
export async function settleControls(
  tx: StoreOps,
  authority: Authority,
  target: ControlsTarget,
  input: ControlsInput,
): Promise<KeyControls> {
  return settleControlsIn(await controlsContext(tx, authority, target.account), target, input);
}

export interface ControlsTarget {
  account: string;
  createdAt: number;
  current: KeyControls;
  self: boolean;
  now: number;
}

/** What settling controls in one account reads: its settings and the acting key's own controls. */
export interface ControlsContext {
  settings: ReturnType<typeof readSettings>;
  /** Null when a person or latchkey acts; `quotaPeriod`: the period its own quota counts in. */
  caller: (KeyControls & { quotaPeriod: number }) | null;
}

/** Read once for many keys (an import settles thousands with one read). */
export async function controlsContext(
  tx: StoreOps,
  authority: Authority,
  account: string,
): Promise<ControlsContext> {
  return {
    settings: readSettings(await tx.settings.get(account)),
    caller: await callerControls(tx, authority),
  };
}

/** `settleControls` with what it reads already read (no I/O). */
export function settleControlsIn(
  context: ControlsContext,
  target: ControlsTarget,
  input: ControlsInput,
): KeyControls {
  const { settings, caller } = context;
  const isNew = target.current === NO_CONTROLS;
  const given = controlsGiven(input);
  const wanted: KeyControls = { ...target.current, ...given };
  if (given.ipAllowlist !== undefined && given.ipAllowlist !== null) {
    if (given.ipAllowlist.length === 0) {
      invalid("ipAllowlist", "must list at least one block; send null to allow any address");
    }
    const checked = validateIpAllowlist(given.ipAllowlist);
    if (!checked.ok) invalid(checked.error.path, checked.error.message);
    wanted.ipAllowlist = checked.value;
  }
  if (given.metadata !== undefined && given.metadata !== null) {
    const error = validateMetadata(given.metadata);
    if (error) invalid(error.path, error.message);
  }
  if (given.rateLimit !== undefined && given.rateLimit !== null) {
    const error = validateRateLimit(given.rateLimit);
    if (error) invalid(error.path, error.message);
    wanted.rateLimit = { limit: given.rateLimit.limit, windowSeconds: given.rateLimit.windowSeconds };
  }
  if (given.quota !== undefined && given.quota !== null) {
    const error = validateQuota(given.quota);
    if (error) invalid(error.path, error.message);
    const { remaining, refill } = given.quota;
    wanted.quota = {
      remaining,
      refill: refill === null ? null : { amount: refill.amount, every: refill.every },
    };
  }
  if (given.expiresAt !== undefined && given.expiresAt !== null && given.expiresAt <= target.now) {
    invalid("expiresAt", "must be in the future; deactivate the key to stop it now");
  }
  const latest = latestExpiry(target.createdAt, settings.maxKeyLifetimeDays);
  if (isNew && given.expiresAt === undefined) {
    // No expiry asked for: the most the policy, and an acting key's own expiry, allow.
    const bounds = [latest, caller?.expiresAt ?? null].filter((at): at is number => at !== null);
    if (bounds.length > 0) wanted.expiresAt = Math.min(...bounds);
  }
  if (isNew && given.ipAllowlist === undefined && caller?.ipAllowlist)
    wanted.ipAllowlist = caller.ipAllowlist;
  // A key with a rate limit or a quota gives a new key that names none its own (as with expiry).
  if (isNew && given.rateLimit === undefined && caller?.rateLimit) wanted.rateLimit = caller.rateLimit;
  if (isNew && given.quota === undefined && caller?.quota) {
    wanted.quota = { ...caller.quota, remaining: callerQuotaLeft(caller, target.now) };
  }
  if (
    latest !== null &&
    given.expiresAt !== undefined &&
    (wanted.expiresAt === null || wanted.expiresAt > latest)
  ) {
    const days = settings.maxKeyLifetimeDays;
    fail(
      "KEY_LIFETIME_EXCEEDED",
      `expiresAt: the account allows keys at most ${days} days from their creation (maxKeyLifetimeDays): no later than ${iso(latest)}`,
      { latest: iso(latest), maxKeyLifetimeDays: days },
    );
  }
  if (given.allowBrowser === true && !target.current.allowBrowser && !settings.allowBrowserKeys) {
    fail(
      "BROWSER_KEYS_DISABLED",
      "allowBrowser: the account's settings (policies.allowBrowserKeys) do not allow keys to be used from browser pages",
    );
  }
  if (caller) {
    if (target.self && Object.keys(given).length > 0) {
      fail("KEY_CONTROLS_EXCEED_CALLER", "A key cannot change its own controls; ask a person or another key");
    }
    // A new key is judged whole; a changed one by the fields changed (what it had stays as it was).
    const judged = isNew ? wanted : { ...caller, ...given, ipAllowlist: wanted.ipAllowlist };
    if (!isNew && given.ipAllowlist === undefined) judged.ipAllowlist = caller.ipAllowlist;
    if (!isNew && given.quota === undefined && caller.quota !== null) {
      judged.quota = { ...caller.quota, remaining: callerQuotaLeft(caller, target.now) };
    }
    const bound = { ...caller, quota: callerQuota(caller, target.now) };
    const why = exceedsCaller(bound, judged);
    if (why !== null) fail("KEY_CONTROLS_EXCEED_CALLER", `The key cannot be given these controls: ${why}`);
  }
  return wanted;
}

/** The acting key's quota as it stands now (refilled if its period has turned). */
function callerQuota(caller: KeyControls & { quotaPeriod: number }, now: number): KeyControls["quota"] {
  return caller.quota === null ? null : { ...caller.quota, remaining: callerQuotaLeft(caller, now) };
}

function callerQuotaLeft(caller: KeyControls & { quotaPeriod: number }, now: number): number {
  return caller.quota === null ? 0 : quotaRemaining(caller.quota, caller.quotaPeriod, now);
}

/** The acting key's own controls; null when a person or latchkey acts. */
async function callerControls(
  tx: StoreOps,
  authority: Authority,
): Promise<(KeyControls & { quotaPeriod: number }) | null> {
  if (authority.actor.type !== "key") return null;
  const key = await tx.keys.getByAppKey(authority.actor.id);
  return key ?? null;
}

function invalid(path: string, message: string): never {
  return fail("VALIDATION_FAILED", `${path}: ${message}`, { errors: [{ path, message }] });
}

/** The controls of a key, as its audit events record them. */
export function auditedControls(controls: Partial<KeyControls>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (controls.expiresAt !== undefined) {
    out.expiresAt = controls.expiresAt === null ? null : iso(controls.expiresAt);
  }
  if (controls.ipAllowlist !== undefined) out.ipAllowlist = controls.ipAllowlist;
  if (controls.metadata !== undefined) out.metadata = controls.metadata;
  if (controls.allowBrowser !== undefined) out.allowBrowser = controls.allowBrowser;
  if (controls.rateLimit !== undefined) out.rateLimit = controls.rateLimit;
  if (controls.quota !== undefined) out.quota = controls.quota;
  return out;
}

/** The fields of `after` that differ from `before`. */
export function changedControls(before: KeyControls, after: KeyControls): Partial<KeyControls> {
  const changed: Partial<KeyControls> = {};
  if (before.expiresAt !== after.expiresAt) changed.expiresAt = after.expiresAt;
  if (JSON.stringify(before.ipAllowlist) !== JSON.stringify(after.ipAllowlist)) {
    changed.ipAllowlist = after.ipAllowlist;
  }
  if (JSON.stringify(before.metadata) !== JSON.stringify(after.metadata)) changed.metadata = after.metadata;
  if (before.allowBrowser !== after.allowBrowser) changed.allowBrowser = after.allowBrowser;
  if (JSON.stringify(before.rateLimit) !== JSON.stringify(after.rateLimit))
    changed.rateLimit = after.rateLimit;
  if (JSON.stringify(before.quota) !== JSON.stringify(after.quota)) changed.quota = after.quota;
  return changed;
}

/** The controls held in a key's facts. */
export function controlsOf(key: KeyControls): KeyControls {
  return {
    expiresAt: key.expiresAt,
    ipAllowlist: key.ipAllowlist,
    metadata: key.metadata,
    allowBrowser: key.allowBrowser,
    rateLimit: key.rateLimit,
    quota: key.quota,
  };
}
