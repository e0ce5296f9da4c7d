/**
 * Per-key controls (docs/key-controls.md): an expiry, an IP allowlist, metadata and whether the key
 * may be used from a browser page. Their rules in one place, with no I/O: validating what a caller
 * sends, the state the verification hot path holds (allowlists parsed once, when a key is cached),
 * and the checks a verification makes (`decideKeyAuth` in verification.ts applies them).
 *
 * Metadata is the integrator's own data (a customer id, a plan name), returned to the platform on
 * every verification: it is never a place for secrets, and it appears in audit events and exports.
 */
import {
  type AddressBlock,
  type BlockSet,
  blockSet,
  bytesInBlock,
  inBlockSet,
  parseAddressBlock,
  parseIPv4,
} from "./addresses.js";
import { DAY_MS } from "./time.js";

export const MAX_IP_ALLOWLIST = 100;
export const MAX_METADATA_BYTES = 4096;
/** A key expiring within this many days shows a badge and is announced once (notify/expiry.ts). */
export const EXPIRY_WARNING_DAYS = 14;

/** At most `limit` calls per `windowSeconds` (fixed windows aligned to the epoch). */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export type RefillPeriod = "day" | "month";
export const REFILL_PERIODS: readonly RefillPeriod[] = ["day", "month"];

/** Calls left; at the start of each UTC day or month (`refill`) set back to `amount`. */
export interface Quota {
  remaining: number;
  refill: { amount: number; every: RefillPeriod } | null;
}

/** Bounds of the rate limit and the quota (the API's schemas and the service's checks read these). */
export const MAX_RATE_LIMIT = 1_000_000_000;
export const MAX_RATE_WINDOW_SECONDS = 86_400;
export const MAX_QUOTA = 1_000_000_000_000;

/**
 * Calls (or quota spends) of a key one instance admits before it sends them to Redis without
 * waiting for the sync timer (verify/allowance.ts): a tenth of the limit, between 1 and 100.
 */
export function batchOf(limit: number): number {
  return Math.max(1, Math.min(100, Math.ceil(limit / 10)));
}

/** The controls as stored on a key (KeyFacts) and shown by the API. */
export interface KeyControls {
  /** Instant after which the key no longer authenticates; null: never. */
  expiresAt: number | null;
  /** CIDR blocks the key may be used from, as written (validated); null: anywhere. */
  ipAllowlist: readonly string[] | null;
  metadata: Readonly<Record<string, unknown>> | null;
  /** May be used from a browser page; settable only while the account's policy allows it. */
  allowBrowser: boolean;
  rateLimit: Readonly<RateLimit> | null;
  /** `remaining` as last written (the usage flush spends from it); see `quotaRemaining`. */
  quota: Readonly<Quota> | null;
}

export const NO_CONTROLS: Readonly<KeyControls> = Object.freeze({
  expiresAt: null,
  ipAllowlist: null,
  metadata: null,
  allowBrowser: false,
  rateLimit: null,
  quota: null,
});

/**
 * The start of the refill period holding `now` (UTC midnight of the day, or the first of the
 * month); 0 for a quota without refill, whose one period never ends.
 */
export function quotaPeriod(refill: Quota["refill"], now: number): number {
  if (refill === null) return 0;
  if (refill.every === "day") return Math.floor(now / DAY_MS) * DAY_MS;
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/** The start of the next refill period after the one starting at `period` (Infinity without refill). */
export function nextQuotaPeriod(refill: Quota["refill"], period: number): number {
  if (refill === null) return Number.POSITIVE_INFINITY;
  if (refill.every === "day") return period + DAY_MS;
  const date = new Date(period);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/**
 * Calls left at `now` of a quota whose `remaining` was stored for the period starting at
 * `storedPeriod`: a later period has been refilled to `amount` (what was left is not carried over).
 */
export function quotaRemaining(quota: Quota, storedPeriod: number, now: number): number {
  return quota.refill !== null && quotaPeriod(quota.refill, now) > storedPeriod
    ? quota.refill.amount
    : quota.remaining;
}

/** What a verification reads of a key's controls, prepared once per cached key. */
export interface ControlState {
  readonly expiresAt: number | null;
  /** The allowlist, prepared for matching (addresses.ts `blockSet`). */
  readonly ipBlocks: BlockSet | null;
  readonly allowBrowser: boolean;
  /** The metadata as JSON, and as base64url of that JSON (the /v1/authorize header); null when none. */
  readonly metadataJson: string | null;
  readonly metadataHeader: string | null;
  /** The rate limit, its window in milliseconds; null when none. */
  readonly rateLimit: { readonly limit: number; readonly windowMs: number } | null;
  /**
   * The quota as read (the verifier's allowance tracker spends from it locally until the next
   * read); null when none. `period`: the period `remaining` was stored for. `setAt`: when the quota
   * was last set, the version its counts belong to; `base`: the calls it was set to for the period
   * holding `setAt` (see `quotaBaseAt`).
   */
  readonly quota: QuotaState | null;
}

export interface QuotaState {
  readonly remaining: number;
  readonly period: number;
  readonly refill: Quota["refill"];
  readonly setAt: number;
  readonly base: number;
}

/**
 * The calls the quota started the period beginning at `period` with: what it was set to in the
 * period it was set in, the refill amount in each later one.
 */
export function quotaBaseAt(quota: QuotaState, period: number): number {
  return quota.refill !== null && period > quotaPeriod(quota.refill, quota.setAt)
    ? quota.refill.amount
    : quota.base;
}

/** A key's quota as stored, in the form the verification path counts it in; null when none. */
export function quotaStateOf(
  key: Pick<KeyControls, "quota"> & { quotaPeriod?: number; quotaSetAt?: number; quotaBase?: number | null },
): QuotaState | null {
  const { quota } = key;
  if (quota === null) return null;
  return {
    remaining: quota.remaining,
    period: key.quotaPeriod ?? 0,
    refill: quota.refill,
    setAt: key.quotaSetAt ?? 0,
    base: key.quotaBase ?? quota.remaining,
  };
}

/**
 * The verification state of a key's controls; null for a key with none (most keys), so that the
 * hot path reads one field for them.
 */
export function controlState(
  controls: KeyControls & { quotaPeriod?: number; quotaSetAt?: number; quotaBase?: number | null },
): ControlState | null {
  const { expiresAt, ipAllowlist, metadata, allowBrowser, rateLimit, quota } = controls;
  if (
    expiresAt === null &&
    ipAllowlist === null &&
    metadata === null &&
    !allowBrowser &&
    rateLimit === null &&
    quota === null
  ) {
    return null;
  }
  const metadataJson = metadata === null ? null : JSON.stringify(metadata);
  return Object.freeze({
    expiresAt,
    ipBlocks: ipAllowlist === null ? null : sharedBlockSet(ipAllowlist),
    allowBrowser,
    metadataJson,
    metadataHeader: metadataJson === null ? null : base64url(metadataJson),
    rateLimit:
      rateLimit === null ? null : { limit: rateLimit.limit, windowMs: rateLimit.windowSeconds * 1000 },
    quota: quotaStateOf(controls),
  });
}

/**
 * Compiled allowlists by their text: keys of one integration usually share one allowlist, and a
 * key read again (every minute, or after a change) finds its own compiled already. Bounded: emptied
 * when full, so many distinct allowlists cost a compile each, never memory.
 */
const compiledAllowlists = new Map<string, BlockSet>();
const MAX_COMPILED_ALLOWLISTS = 4096;

function sharedBlockSet(allowlist: readonly string[]): BlockSet {
  // JSON: no two different lists share a text, whatever their entries hold.
  const text = JSON.stringify(allowlist);
  let blocks = compiledAllowlists.get(text);
  if (blocks === undefined) {
    if (compiledAllowlists.size >= MAX_COMPILED_ALLOWLISTS) compiledAllowlists.clear();
    blocks = blockSet(allowlist.flatMap((entry) => parseAddressBlock(entry) ?? []));
    compiledAllowlists.set(text, blocks);
  }
  return blocks;
}

/** Why a control refuses a key that otherwise authenticates (also its error code, core/errors.ts). */
export type ControlRefusal = "KEY_EXPIRED" | "IP_NOT_ALLOWED" | "BROWSER_REQUEST_REFUSED";

export function isControlRefusal(code: string): code is ControlRefusal {
  return code === "KEY_EXPIRED" || code === "IP_NOT_ALLOWED" || code === "BROWSER_REQUEST_REFUSED";
}

/**
 * What a verification knows of the request. `ip`: the client address the failure limiter counts
 * (null when unknown: an allowlist then refuses); undefined when the caller checked the address
 * itself (app-token login's mint, after the verifier). `browser`: the request shows a browser page.
 */
export interface RequestFacts {
  readonly now: number;
  readonly ip?: string | null;
  readonly browser?: boolean;
}

/** The first control that refuses the request, or null. Expiry first: it says the most. */
export function checkControls(state: ControlState | null, facts: RequestFacts): ControlRefusal | null {
  if (facts.browser === true && (state === null || !state.allowBrowser)) return "BROWSER_REQUEST_REFUSED";
  if (state === null) return null;
  if (state.expiresAt !== null && facts.now >= state.expiresAt) return "KEY_EXPIRED";
  if (state.ipBlocks !== null && facts.ip !== undefined && !inBlockSet(state.ipBlocks, facts.ip)) {
    return "IP_NOT_ALLOWED";
  }
  return null;
}

/** Whether every address of `inner` lies in `outer`. */
export function blockWithin(inner: AddressBlock, outer: AddressBlock): boolean {
  return outer.bits <= inner.bits && bytesInBlock(outer, inner.bytes);
}

/**
 * A request made by a browser page of another origin: it carries `Sec-Fetch-Site` other than
 * `same-origin`, or `Origin` (headers page scripts can neither set nor remove), or a
 * `Sec-Fetch-Mode` other than `cors`. Node's own fetch (undici) sends `Sec-Fetch-Mode: cors` alone on
 * every request, so that value without the others is a server, not a browser; browsers always send
 * Sec-Fetch-Site with it. `Sec-Fetch-Site: same-origin` is a page this server served (the /docs
 * explorer's Try it out, the admin), not an integration's client-side code, which runs on its own
 * origin.
 */
export function isBrowserRequest(header: (name: string) => string | undefined): boolean {
  const site = header("sec-fetch-site");
  if (site !== undefined) return site.toLowerCase() !== "same-origin";
  if (header("origin") !== undefined) return true;
  const mode = header("sec-fetch-mode");
  return mode !== undefined && mode.toLowerCase() !== "cors";
}

/** A problem with one input field: `path` names it as the API's validation errors do. */
export interface FieldError {
  path: string;
  message: string;
}

/** The allowlist's blocks in canonical text, or the first precise error. */
export function validateIpAllowlist(
  entries: readonly string[],
): { ok: true; value: string[] } | { ok: false; error: FieldError } {
  const at = (index: number, message: string) => ({
    ok: false as const,
    error: { path: `ipAllowlist.${index}`, message },
  });
  if (entries.length > MAX_IP_ALLOWLIST) {
    return {
      ok: false,
      error: { path: "ipAllowlist", message: `at most ${MAX_IP_ALLOWLIST} entries (got ${entries.length})` },
    };
  }
  const seen = new Set<string>();
  const value: string[] = [];
  for (const [index, raw] of entries.entries()) {
    const text = raw.trim();
    const block = parseAddressBlock(text);
    if (!block) {
      return at(
        index,
        `"${raw}" is not an IPv4 or IPv6 address or CIDR block (e.g. 203.0.113.0/24, 2001:db8::/32)`,
      );
    }
    if (!hostBitsClear(block)) {
      return at(
        index,
        `"${raw}" has bits set after its prefix; write the network address, e.g. ${networkOf(text, block)}`,
      );
    }
    const canonical = canonicalBlock(text, block);
    if (seen.has(canonical)) return at(index, `"${raw}" is listed twice`);
    seen.add(canonical);
    value.push(canonical);
  }
  return { ok: true, value };
}

function hostBitsClear(block: AddressBlock): boolean {
  for (let bit = block.bits; bit < 128; bit++) {
    if (((block.bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

function masked(block: AddressBlock): number[] {
  return block.bytes.map((byte, index) => {
    const keep = Math.max(0, Math.min(8, block.bits - index * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

/** "a.b.c.d/n" for IPv4 blocks, "x:x::/n" (lower case, shortest) for IPv6; one address without a prefix. */
function canonicalBlock(text: string, block: AddressBlock): string {
  const v4 = parseIPv4(text.split("/")[0] ?? "") !== undefined;
  return formatBlock({ bytes: masked(block), bits: block.bits }, v4);
}

function networkOf(text: string, block: AddressBlock): string {
  return canonicalBlock(text, { bytes: masked(block), bits: block.bits });
}

function formatBlock(block: AddressBlock, v4: boolean): string {
  if (v4) {
    const address = block.bytes.slice(12).join(".");
    return block.bits === 128 ? address : `${address}/${block.bits - 96}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((block.bytes[i] ?? 0) << 8) | (block.bytes[i + 1] ?? 0));
  const address = ipv6Text(groups);
  return block.bits === 128 ? address : `${address}/${block.bits}`;
}

/** RFC 5952: lower case, the longest run of two or more zero groups as `::`. */
function ipv6Text(groups: number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

/** Serialized metadata size in bytes (UTF-8), or an error when it is not a JSON object within the limit. */
export function validateMetadata(value: unknown): FieldError | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { path: "metadata", message: "must be a JSON object (or null to clear it)" };
  }
  const size = utf8.encode(JSON.stringify(value)).length;
  if (size > MAX_METADATA_BYTES) {
    return {
      path: "metadata",
      message: `is ${size} bytes as JSON; at most ${MAX_METADATA_BYTES} are allowed`,
    };
  }
  return null;
}

/** "100/60s": the text form of a rate limit (CLI flag, export column). */
export function formatRateLimit(rateLimit: RateLimit): string {
  return `${rateLimit.limit}/${rateLimit.windowSeconds}s`;
}

/** "10000/month": the text form of a quota's refill (CLI flag, export column). */
export function formatRefill(refill: NonNullable<Quota["refill"]>): string {
  return `${refill.amount}/${refill.every}`;
}

const WINDOW_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A rate limit from its text form: LIMIT/WINDOW, the window in seconds, minutes, hours or a day
 * (`100/60s`, `1000/1m`, `5000/1h`, `100000/1d`; a bare number is seconds). Undefined when not of
 * that form (the bounds are validateRateLimit's).
 */
export function parseRateLimit(text: string): RateLimit | undefined {
  const match = /^(\d+)\/(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = WINDOW_UNITS[match[3] || "s"] ?? 1;
  return { limit: Number(match[1]), windowSeconds: Number(match[2]) * unit };
}

/** A refill from its text form, AMOUNT/day or AMOUNT/month; undefined when not of that form. */
export function parseRefill(text: string): NonNullable<Quota["refill"]> | undefined {
  const match = /^(\d+)\/(day|month)$/.exec(text.trim());
  if (!match) return undefined;
  return { amount: Number(match[1]), every: match[2] === "day" ? "day" : "month" };
}

/** A rate limit's precise problem, or null. */
export function validateRateLimit(value: RateLimit): FieldError | null {
  const { limit, windowSeconds } = value;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RATE_LIMIT) {
    return { path: "rateLimit.limit", message: `must be a whole number from 1 to ${MAX_RATE_LIMIT}` };
  }
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_RATE_WINDOW_SECONDS) {
    return {
      path: "rateLimit.windowSeconds",
      message: `must be a whole number of seconds from 1 to ${MAX_RATE_WINDOW_SECONDS} (one day)`,
    };
  }
  return null;
}

/** A quota's precise problem, or null. */
export function validateQuota(value: Quota): FieldError | null {
  const { remaining, refill } = value;
  if (!Number.isSafeInteger(remaining) || remaining < 0 || remaining > MAX_QUOTA) {
    return { path: "quota.remaining", message: `must be a whole number from 0 to ${MAX_QUOTA}` };
  }
  if (refill === null) return null;
  if (!Number.isSafeInteger(refill.amount) || refill.amount < 1 || refill.amount > MAX_QUOTA) {
    return { path: "quota.refill.amount", message: `must be a whole number from 1 to ${MAX_QUOTA}` };
  }
  if (!REFILL_PERIODS.includes(refill.every)) {
    return { path: "quota.refill.every", message: `must be one of ${REFILL_PERIODS.join(", ")}` };
  }
  return null;
}

/** Whether the key expires within EXPIRY_WARNING_DAYS of `now` and has not yet. */
export function expiresSoon(expiresAt: number | null, now: number): boolean {
  return expiresAt !== null && expiresAt > now && expiresAt - now <= EXPIRY_WARNING_DAYS * DAY_MS;
}

/** The list filter on expiry: the key view's `expiry` values (core/key-view.ts), and `any` (has one). */
export const EXPIRY_FILTERS = ["none", "any", "ok", "soon", "expired"] as const;
export type ExpiryFilter = (typeof EXPIRY_FILTERS)[number];

/** The list filter on controls: keys that carry this control. */
export const CONTROL_FILTERS = ["ipAllowlist", "metadata", "allowBrowser", "rateLimit", "quota"] as const;
export type ControlFilter = (typeof CONTROL_FILTERS)[number];

/**
 * The stored range of `expiresAt` an expiry filter selects at `now`, with the same bounds as the
 * key view's `expiry` (expiresSoon): `soon` is (now, now + 14 days], `expired` is (−∞, now].
 * `hasExpiry` false: keys without one.
 */
export function expiryRange(
  filter: ExpiryFilter,
  now: number,
): { hasExpiry: boolean; expiresFrom?: number; expiresBefore?: number } {
  const warn = now + EXPIRY_WARNING_DAYS * DAY_MS + 1;
  switch (filter) {
    case "none":
      return { hasExpiry: false };
    case "any":
      return { hasExpiry: true };
    case "ok":
      return { hasExpiry: true, expiresFrom: warn };
    case "soon":
      return { hasExpiry: true, expiresFrom: now + 1, expiresBefore: warn };
    case "expired":
      return { hasExpiry: true, expiresBefore: now + 1 };
  }
}

/**
 * The latest expiry an account's `maxKeyLifetimeDays` allows for a key created at `createdAt`;
 * null when the policy is off.
 */
export function latestExpiry(createdAt: number, maxKeyLifetimeDays: number | null): number | null {
  return maxKeyLifetimeDays === null ? null : createdAt + maxKeyLifetimeDays * DAY_MS;
}

const utf8 = new TextEncoder();

/** base64url (no padding) of the UTF-8 bytes of `text`: the encoding of X-Latchkey-Key-Metadata. */
export function base64url(text: string): string {
  let binary = "";
  for (const byte of utf8.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * A key acting on keys (through EditApiKeys) must not use them to escape its own controls: the
 * controls it gives another key are at most as loose as its own (an expiry no later, an allowlist
 * within its own), and it cannot change its own. Returns why not, or null. `caller`: the acting
 * key's controls; `wanted`: the target's controls after the change.
 */
export function exceedsCaller(caller: KeyControls, wanted: KeyControls): string | null {
  if (caller.expiresAt !== null && (wanted.expiresAt === null || wanted.expiresAt > caller.expiresAt)) {
    return "its expiry must be set and no later than the acting key's own";
  }
  if (caller.ipAllowlist !== null) {
    const outer = caller.ipAllowlist.flatMap((text) => parseAddressBlock(text) ?? []);
    const inner = wanted.ipAllowlist;
    if (inner === null) return "it must have an IP allowlist within the acting key's own";
    for (const text of inner) {
      const block = parseAddressBlock(text);
      if (!block || !outer.some((o) => blockWithin(block, o))) {
        return `its IP allowlist entry ${text} is outside the acting key's own allowlist`;
      }
    }
  }
  if (caller.rateLimit !== null) {
    const inner = wanted.rateLimit;
    // No faster: limit / window no higher than the acting key's (compared without division).
    if (
      inner === null ||
      inner.limit * caller.rateLimit.windowSeconds > caller.rateLimit.limit * inner.windowSeconds
    ) {
      return "its rate limit must be set and no higher than the acting key's own";
    }
  }
  if (caller.quota !== null) {
    const inner = wanted.quota;
    if (inner === null) return "it must have a quota within the acting key's own";
    if (inner.remaining > caller.quota.remaining) {
      return "its quota's remaining calls must be no more than the acting key's own";
    }
    const outer = caller.quota.refill;
    if (
      inner.refill !== null &&
      (outer === null || inner.refill.every !== outer.every || inner.refill.amount > outer.amount)
    ) {
      return "its quota's refill must be none, or the acting key's own period with no larger amount";
    }
  }
  return null;
}
