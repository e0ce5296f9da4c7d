/**
 * The verification decision, with no I/O: whether a key's state authenticates presented
 * credentials, whether what an account grants the key allows the call, and the union a verification
 * answers with. The verifier (verify/verifier.ts) applies these on every call and app-token login
 * (services/signing-keys.ts) to the stored key; the HTTP layer alone turns a decision into a status.
 *
 * Comparing the presented token with the key's is the caller's, in constant time and with every
 * current token (it holds the digests in the form it compares fastest); these functions take the
 * outcome of that comparison.
 */
import { type ControlRefusal, type ControlState, checkControls, type RequestFacts } from "./key-controls.js";
import { type Grant, holds } from "./permissions.js";
import { classifyToken, isAppKeyShaped, type TokenShape } from "./tokens.js";

/**
 * What presented key credentials can be, before any lookup (docs/import.md): `malformed` (an appKey
 * not of an appKey's shape, or a token of latchkey's shape with a bad checksum, or no token a system
 * could have issued) costs no lookup at all; `native` (latchkey's shape, right checksum) may be any
 * key's; `foreign` (another shape) may only be the token of a key imported by hash, which
 * `acceptsShape` tells once the key's state is known, before the token is hashed.
 */
export function credentialShape(appKey: string, appToken: string, tokenPrefix: string): TokenShape {
  return isAppKeyShaped(appKey) ? classifyToken(appToken, tokenPrefix) : "malformed";
}

export function isWellFormed(appKey: string, appToken: string, tokenPrefix: string): boolean {
  return credentialShape(appKey, appToken, tokenPrefix) !== "malformed";
}

/**
 * Whether a token of `shape` can be one of the key's: a foreign-shaped token only when the key holds
 * an imported token (a key renewed since holds latchkey's tokens only, and refuses other shapes).
 */
export function acceptsShape(key: { readonly importedTokens: boolean }, shape: TokenShape): boolean {
  return shape === "native" || (shape === "foreign" && key.importedTokens);
}

export type KeyAuthFailure = "UNKNOWN_KEY" | "WRONG_TOKEN" | "INACTIVE" | ControlRefusal;

export type KeyAuthDecision = { readonly ok: true } | { readonly ok: false; readonly reason: KeyAuthFailure };

const AUTHENTICATED: KeyAuthDecision = Object.freeze({ ok: true });
const UNKNOWN_KEY: KeyAuthDecision = Object.freeze({ ok: false, reason: "UNKNOWN_KEY" });
const WRONG_TOKEN: KeyAuthDecision = Object.freeze({ ok: false, reason: "WRONG_TOKEN" });
const INACTIVE: KeyAuthDecision = Object.freeze({ ok: false, reason: "INACTIVE" });
const REFUSED: Record<ControlRefusal, KeyAuthDecision> = {
  KEY_EXPIRED: Object.freeze({ ok: false, reason: "KEY_EXPIRED" }),
  IP_NOT_ALLOWED: Object.freeze({ ok: false, reason: "IP_NOT_ALLOWED" }),
  BROWSER_REQUEST_REFUSED: Object.freeze({ ok: false, reason: "BROWSER_REQUEST_REFUSED" }),
};

/**
 * Whether presented credentials authenticate `key` (undefined or null: no such key). `holdsToken`:
 * the presented token, or a JWT's token fingerprint, matched one of the key's current tokens.
 * INACTIVE and the key's controls (key-controls.ts: expiry, IP allowlist, browser refusal) are
 * applied only for the holder of a right token, so a refusal tells a guesser nothing.
 */
export function decideKeyAuth(
  key: { readonly active: boolean; readonly controls: ControlState | null } | null | undefined,
  holdsToken: boolean,
  facts: RequestFacts,
): KeyAuthDecision {
  if (!key) return UNKNOWN_KEY;
  if (!holdsToken) return WRONG_TOKEN;
  if (!key.active) return INACTIVE;
  const refusal = checkControls(key.controls, facts);
  return refusal === null ? AUTHENTICATED : REFUSED[refusal];
}

/**
 * The index of the token `matches` accepts, or -1. Every token is compared, with no early exit, so
 * the time taken does not tell which one matched (during a renewal a key has two).
 */
export function matchingToken<T>(tokens: readonly T[], matches: (token: T) => boolean): number {
  let found = -1;
  for (let i = 0; i < tokens.length; i++) {
    if (matches(tokens[i] as T) && found < 0) found = i;
  }
  return found;
}

export type GrantCheck =
  | { readonly code: "OK"; readonly allowed: true | null; readonly resource: string | null }
  | { readonly code: "ACCOUNT_NOT_GRANTED"; readonly allowed: false | null }
  | { readonly code: "RESOURCE_NOT_GRANTED" | "ROUTE_NOT_MAPPED"; readonly allowed: false };

const OK_UNASKED: GrantCheck = Object.freeze({ code: "OK", allowed: null, resource: null });
const NOT_GRANTED_UNASKED: GrantCheck = Object.freeze({ code: "ACCOUNT_NOT_GRANTED", allowed: null });
const NOT_GRANTED_ASKED: GrantCheck = Object.freeze({ code: "ACCOUNT_NOT_GRANTED", allowed: false });
const RESOURCE_NOT_GRANTED: GrantCheck = Object.freeze({ code: "RESOURCE_NOT_GRANTED", allowed: false });
const ROUTE_NOT_MAPPED: GrantCheck = Object.freeze({ code: "ROUTE_NOT_MAPPED", allowed: false });

/**
 * The grant check of a verification. `grant`: what the account grants the key, null when the
 * account did not add it. `resources`: any one of them allows the call; undefined when none was
 * asked (only the account's grant counts), empty for a route no resource covers (denied, also to
 * an Owner). `resource` names the first one held: the one the call is counted as using.
 */
export function checkGrant(grant: Grant | null, resources: readonly string[] | undefined): GrantCheck {
  if (grant === null) return resources === undefined ? NOT_GRANTED_UNASKED : NOT_GRANTED_ASKED;
  if (resources === undefined) return OK_UNASKED;
  for (const resource of resources) {
    if (holds(grant, resource)) return { code: "OK", allowed: true, resource };
  }
  return resources.length === 0 ? ROUTE_NOT_MAPPED : RESOURCE_NOT_GRANTED;
}

/** The key a decision is about, as it was when decided. */
export interface VerifiedKey {
  readonly keyId: string;
  readonly appKey: string;
  /** The account that owns the key (differs from the decision's `account` for external keys). */
  readonly account: string;
  /** Role ids the key holds in its own account. */
  readonly ownRoleIds: readonly number[];
  /** The key's controls as verification reads them (its metadata included); null when it has none. */
  readonly controls: ControlState | null;
}

/**
 * The credentials do not authenticate (no key, or not this key's token, or an inactive or expired
 * key), or one of the key's controls refuses this request (its address, a browser page).
 */
export interface Unauthenticated {
  readonly code:
    | "MISSING_CREDENTIALS"
    | "MALFORMED_CREDENTIALS"
    | "INVALID_CREDENTIALS"
    | "KEY_INACTIVE"
    | ControlRefusal;
  readonly valid: false;
}

/** The client address is over the failure limit and these credentials would have failed too. */
export interface RateLimited {
  readonly code: "RATE_LIMITED";
  readonly valid: false;
  /** Seconds until the address is served again. */
  readonly retryAfter: number;
}

/**
 * Which of the key's tokens authenticated, by slot, never the token: `current` when the key has one
 * token; while a renewal is pending `old` (the one completing the renewal removes) or `new`.
 */
export type TokenSlot = "current" | "old" | "new";

/** The slot of the token at `index` (oldest first) of a key with `count` current tokens. */
export function tokenSlot(index: number, count: number): TokenSlot {
  if (count < 2) return "current";
  return index === 0 ? "old" : "new";
}

/**
 * The key's rate limit and quota as a call left them (docs/key-controls.md): null when the key has
 * neither, so that keys without them cost no allocation.
 */
export interface Allowance {
  /** `reset`: seconds until the window ends. */
  readonly rateLimit: { readonly limit: number; readonly remaining: number; readonly reset: number } | null;
  readonly quota: { readonly remaining: number } | null;
}

/**
 * The key authenticated, but its rate limit (KEY_RATE_LIMITED) or quota (QUOTA_EXHAUSTED) refuses
 * the call. `retryAfter`: seconds until a call may succeed; null for a quota that never refills.
 */
export interface AllowanceExceeded {
  readonly code: "KEY_RATE_LIMITED" | "QUOTA_EXHAUSTED";
  readonly valid: false;
  readonly key: VerifiedKey;
  readonly account: string;
  readonly retryAfter: number | null;
  readonly allowance: Allowance;
}

/**
 * An active key, in an account that did not add it, or (EXTERNAL_KEY_PENDING) whose addition there
 * is a request awaiting approval: granted nothing either way.
 */
export interface NotGranted {
  readonly code: "ACCOUNT_NOT_GRANTED" | "EXTERNAL_KEY_PENDING";
  readonly valid: false;
  readonly key: VerifiedKey;
  readonly account: string;
  /** The token that authenticated. */
  readonly token: TokenSlot;
  /** Whether the resource asked for is held (never here); null when none was asked. */
  readonly allowed: false | null;
  readonly allowance: Allowance | null;
}

/** An active key and its grant in the account; `code` says whether the resource asked for is held. */
export interface Granted {
  readonly code: "OK" | "RESOURCE_NOT_GRANTED" | "ROUTE_NOT_MAPPED";
  readonly valid: true;
  readonly key: VerifiedKey;
  readonly account: string;
  /** The token that authenticated. */
  readonly token: TokenSlot;
  /** `generated` in the key's own account, `external` in one that added it. */
  readonly keyType: "generated" | "external";
  readonly grant: Grant;
  /** Resource keys of `grant` (sorted; every resource for an Owner-like grant). */
  readonly resources: readonly string[];
  /** Whether the resource asked for is held; null when none was asked. */
  readonly allowed: boolean | null;
  readonly allowance: Allowance | null;
}

/** What a verification answers; `code` tells the cases apart. */
export type Decision = Unauthenticated | RateLimited | AllowanceExceeded | NotGranted | Granted;

/** Stable outcome codes, in `/v1/verify` responses, `X-Auth-Code` and metrics. */
export type VerifyCode = Decision["code"];

/** The credentials authenticate a key (granted in the account or not). */
export function isAuthenticated(decision: Decision): decision is NotGranted | Granted {
  return (
    decision.code === "ACCOUNT_NOT_GRANTED" || decision.code === "EXTERNAL_KEY_PENDING" || decision.valid
  );
}
