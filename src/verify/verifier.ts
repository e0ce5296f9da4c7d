/**
 * The verification: do these credentials authenticate, in which account, as which kind of key, and
 * do they hold the resource asked for? One function serves `/v1/verify`, `/v1/authorize`, the
 * management API's and the VTEX paths' key and JWT authentication, and app-token login. It answers
 * with a `Decision` (core/verification.ts), a union without HTTP statuses: each caller maps it.
 * The decisions themselves are core's (`decideKeyAuth`, `checkGrant`); this file does their I/O.
 *
 * Hot path: a token of latchkey's shape with a bad checksum is refused before any lookup; the key
 * comes from the key-state cache (by appKey, never by token); the token is hashed once and compared
 * in constant time with every current hash. When the cache can answer, the decision is returned
 * synchronously (no promise, no I/O); otherwise a promise of it. Usage is counted in memory
 * (usage.ts). Failed authentications are counted per client address by the failure limiter,
 * whose check is local and synchronous.
 *
 * An address over the limit (rate-limit.ts) is still served when its credentials are valid: only
 * what would fail gets RATE_LIMITED instead, and is no longer counted. An appKey the cache cannot
 * answer for is looked up only within the address's lookup allowance (`blockedLookups`, as many
 * lookups per window as failures are allowed), or when the key is being read anyway (no further
 * I/O), or when the cache's last state of that key (expired, or taken out of use by a change)
 * holds the presented token; past the allowance it gets RATE_LIMITED with no I/O. A changed key is
 * read again at once by the cache, so its new state (a renewal's new token included) is cached
 * right after the change. A valid key is so refused to a blocked address only when this instance
 * has held no state of it since it started (or evicted it) and the allowance is spent; a flood of
 * made-up appKeys from a blocked address costs at most the allowance in lookups (unknown appKeys
 * are then cached as such). Lookups made before an address is blocked are not bounded by it:
 * failures are counted once their lookup has answered, so concurrent made-up appKeys from an
 * address not yet blocked each cost a lookup.
 * A JWT's key is looked up once its signature (CPU only) has passed, since only latchkey can mint one.
 */

import type { ControlRefusal, ControlState } from "../core/key-controls.js";
import type { TokenShape } from "../core/tokens.js";
import {
  type Allowance,
  type AllowanceExceeded,
  acceptsShape,
  checkGrant,
  credentialShape,
  type Decision,
  decideKeyAuth,
  type Granted,
  type KeyAuthFailure,
  matchingToken,
  type NotGranted,
  type RateLimited,
  tokenSlot,
  type Unauthenticated,
} from "../core/verification.js";
import { digestsEqual, tokenDigestBinary } from "../crypto/token-hash.js";
import type { Allowances } from "./allowance.js";
import type { GrantState, KeyCache, KeyState } from "./key-cache.js";
import type { UsageRecorder } from "./usage.js";

export type Credentials = { kind: "key"; appKey: string; appToken: string } | { kind: "jwt"; token: string };

export interface VerifyRequest {
  credentials: Credentials | null;
  /**
   * Account the call is for; the JWT's account, else the key's own, when absent. With `ownAccount`,
   * only the account whose grant the decision carries (the key's own when absent).
   */
  account?: string | null;
  /**
   * Resources any one of which allows the call. `undefined`: no resource asked (only
   * authentication and the account's grant are checked). Empty: a route no resource covers.
   */
  resources?: readonly string[];
  /**
   * The key authenticates, and its use is counted, in its own account whatever a JWT claims
   * (management API, app-token login): `account` only names the grant the decision carries.
   */
  ownAccount?: boolean;
  /** Client address, for the failure limiter and the key's IP allowlist; null when unknown. */
  ip: string | null;
  /** The request shows a browser page (core/key-controls.ts `isBrowserRequest`): refused unless the key allows it. */
  browser?: boolean;
  /** False when the credentials are exchanged (app-token login) rather than used: no usage counted. */
  countUsage?: boolean;
}

/** What a JWT verifier tells about a presented JWT (signature, expiry and key id checked). */
export interface JwtClaims {
  appKey: string;
  account: string;
  /** Fingerprint of the stored hash of the token the JWT was minted from. */
  fingerprint: string;
}

export interface VerifierDeps {
  cache: KeyCache;
  /**
   * The clock of `cache`, `usage` and `allowances` (one clock: a decision reads it once and hands
   * the reading to them); the system clock when absent.
   */
  clock?: { now(): number };
  tokenPrefix: string;
  usage?: Pick<UsageRecorder, "record">;
  limiter?: { blockedFor(ip: string): number; recordFailure(ip: string): unknown };
  /** Per-key rate limits and quotas (allowance.ts); not applied when absent. */
  allowances?: Pick<Allowances, "hit" | "resetIn" | "spend" | "quotaLeft" | "refillIn">;
  /** Store lookups an address may still cause while `limiter` blocks it; none are refused when absent. */
  blockedLookups?: { blockedFor(ip: string): number; recordFailure(ip: string): unknown };
  metrics?: {
    verification(outcome: "allowed" | "denied" | "invalid" | "rate_limited", seconds: number): void;
    cache(hit: boolean): void;
  };
  jwt?: {
    verify(token: string): Promise<JwtClaims | null>;
    fingerprint(tokenHash: string): string;
  };
}

export type MaybePromise<T> = T | Promise<T>;

function failure(code: Unauthenticated["code"]): Unauthenticated {
  return Object.freeze({ code, valid: false });
}

const MISSING = failure("MISSING_CREDENTIALS");
const MALFORMED = failure("MALFORMED_CREDENTIALS");
const INVALID = failure("INVALID_CREDENTIALS");
const INACTIVE = failure("KEY_INACTIVE");
const REFUSALS: Record<ControlRefusal, Unauthenticated> = {
  KEY_EXPIRED: failure("KEY_EXPIRED"),
  IP_NOT_ALLOWED: failure("IP_NOT_ALLOWED"),
  BROWSER_REQUEST_REFUSED: failure("BROWSER_REQUEST_REFUSED"),
};

function refusalOf(reason: KeyAuthFailure): Unauthenticated {
  if (reason === "INACTIVE") return INACTIVE;
  if (reason === "UNKNOWN_KEY" || reason === "WRONG_TOKEN") return INVALID;
  return REFUSALS[reason];
}
const limited = (retryAfter: number): RateLimited => ({ code: "RATE_LIMITED", valid: false, retryAfter });

export function createVerifier(deps: VerifierDeps) {
  const { cache, usage, limiter, metrics, allowances } = deps;
  const clock = deps.clock ?? Date;

  function verify(request: VerifyRequest): MaybePromise<Decision> {
    const started = metrics ? performance.now() : 0;
    const decision = decide(request);
    if (!metrics) return decision;
    if (decision instanceof Promise) return decision.then((d) => measured(d, started));
    return measured(decision, started);
  }

  function measured(decision: Decision, started: number): Decision {
    metrics?.verification(outcomeOf(decision), (performance.now() - started) / 1000);
    return decision;
  }

  /** `wait`, here and below: seconds the client address stays blocked; 0 when it is not. */
  function decide(request: VerifyRequest): MaybePromise<Decision> {
    const { ip, credentials } = request;
    const wait = ip !== null && limiter ? limiter.blockedFor(ip) : 0;
    if (credentials === null) return wait > 0 ? limited(wait) : MISSING;
    if (credentials.kind === "jwt") return decideJwt(request, wait, credentials.token);
    const { appKey, appToken } = credentials;
    const shape = credentialShape(appKey, appToken, deps.tokenPrefix);
    if (shape === "malformed") return failed(request, wait, MALFORMED);
    // The clock is read once for the decision (key and grant expiry, controls, usage) while it
    // stays synchronous, and again after any wait for the store.
    const now = clock.now();
    const cached = cache.peek(appKey, now);
    metrics?.cache(cached !== undefined);
    if (cached !== undefined) return withKey(request, wait, cached, appToken, null, shape, now);
    if (wait > 0 && !cache.loading(appKey) && !heldBefore(appKey, appToken) && !mayLookUp(ip)) {
      return limited(wait);
    }
    return cache
      .load(appKey)
      .then((state) => withKey(request, wait, state, appToken, null, shape, clock.now()));
  }

  /** Spends one of a blocked address's lookups; false when none is left. */
  function mayLookUp(ip: string | null): boolean {
    const { blockedLookups } = deps;
    if (ip === null || !blockedLookups) return true;
    if (blockedLookups.blockedFor(ip) > 0) return false;
    blockedLookups.recordFailure(ip);
    return true;
  }

  /** Whether the cache's last state of the key holds the token: worth a lookup even when blocked. */
  function heldBefore(appKey: string, appToken: string): boolean {
    return cache.peekExpired(appKey)?.holdsDigest(tokenDigestBinary(appToken)) === true;
  }

  /** A valid signature (CPU only) proves latchkey minted the JWT: its key is looked up even when blocked. */
  async function decideJwt(request: VerifyRequest, wait: number, token: string): Promise<Decision> {
    // An empty JWT (an Authorization: Bearer without one) is malformed, as an empty appToken is.
    if (token === "") return failed(request, wait, MALFORMED);
    const claims = deps.jwt ? await deps.jwt.verify(token) : null;
    if (!claims) return failed(request, wait, INVALID);
    let now = clock.now();
    let state = cache.peek(claims.appKey, now);
    metrics?.cache(state !== undefined);
    if (state === undefined) {
      state = await cache.load(claims.appKey);
      now = clock.now();
    }
    return withKey(request, wait, state, null, claims, "native", now);
  }

  /** A failure: counted against the address, or RATE_LIMITED (uncounted) while it is blocked. */
  function failed(request: VerifyRequest, wait: number, decision: Decision): Decision {
    if (wait > 0) return limited(wait);
    if (request.ip !== null) limiter?.recordFailure(request.ip);
    return decision;
  }

  function withKey(
    request: VerifyRequest,
    wait: number,
    state: KeyState | null,
    appToken: string | null,
    claims: JwtClaims | null,
    shape: TokenShape,
    now: number,
  ): MaybePromise<Decision> {
    if (state === null) return failed(request, wait, INVALID);
    // Another shape than latchkey's cannot be a token of a key holding only latchkey's: refused
    // without hashing it, with the answer of a wrong token (as an unknown appKey gets), so that the
    // code tells nothing of whether the appKey exists or how its tokens were issued.
    if (!acceptsShape(state, shape)) return rejected(request, wait, state, now, INVALID);
    const index = tokenIndex(state, appToken, claims);
    const facts = { now, ip: request.ip, browser: request.browser === true };
    const auth = decideKeyAuth(state, index >= 0, facts);
    if (!auth.ok) return rejected(request, wait, state, now, refusalOf(auth.reason));
    const account = request.ownAccount
      ? request.account || state.account
      : request.account || claims?.account || state.account;
    const grant = cache.peekGrant(state, account, now);
    if (grant !== undefined) return granted(request, state, account, grant, index, now);
    return cache
      .loadGrant(state, account)
      .then((loaded) => granted(request, state, account, loaded, index, clock.now()));
  }

  /** A known key's credentials refused: counted as the key's rejected use, then as a failure. */
  function rejected(
    request: VerifyRequest,
    wait: number,
    state: KeyState,
    now: number,
    decision: Unauthenticated,
  ): Decision {
    if (request.countUsage !== false) {
      usage?.record(state.keyId, "rejected", undefined, undefined, undefined, undefined, now);
    }
    return failed(request, wait, decision);
  }

  /**
   * The index of the current token the credentials hold, or -1. Compares with every current token
   * (no early exit), so timing does not tell which matched.
   */
  function tokenIndex(state: KeyState, appToken: string | null, claims: JwtClaims | null): number {
    if (appToken !== null) return state.tokenIndexOf(tokenDigestBinary(appToken));
    const jwt = deps.jwt;
    if (!claims || !jwt) return -1;
    return matchingToken(state.tokenHashes, (hash) =>
      digestsEqual(jwt.fingerprint(hash), claims.fingerprint),
    );
  }

  function granted(
    request: VerifyRequest,
    state: KeyState,
    account: string,
    grant: GrantState | null,
    index: number,
    now: number,
  ): NotGranted | Granted | AllowanceExceeded {
    const check = checkGrant(grant === null ? null : grant.grant, request.resources);
    const counting = request.countUsage !== false;
    const controls = state.controls;
    // Keys without a rate limit or quota (most) skip this with no allocation.
    const limited =
      counting &&
      allowances !== undefined &&
      controls !== null &&
      (controls.rateLimit !== null || controls.quota !== null);
    let allowance: Allowance | null = null;
    let exceeded: AllowanceExceeded | null = null;
    if (limited && allowances && controls) {
      const limits = allowanceOf(
        allowances,
        state,
        account,
        controls,
        grant !== null && !grant.pending && check.code === "OK",
        now,
      );
      allowance = limits.allowance;
      exceeded = limits.exceeded;
    }
    if (counting && usage) {
      if (exceeded !== null) {
        usage.record(state.keyId, "denied", undefined, undefined, state, index, now);
      } else if (request.ownAccount) {
        // Authenticated in its own account, which always grants it something: the use counts there.
        usage.record(state.keyId, "allowed", state.account, undefined, state, index, now);
      } else if (grant === null || grant.pending) {
        usage.record(state.keyId, "denied", undefined, undefined, state, index, now);
      } else {
        const resource = check.code === "OK" ? (check.resource ?? undefined) : undefined;
        const outcome = check.allowed === false ? "denied" : "allowed";
        usage.record(state.keyId, outcome, account, resource, state, index, now);
      }
    }
    if (exceeded !== null) return exceeded;
    const token = tokenSlot(index, state.tokenCount);
    if (grant?.pending) {
      const allowed = request.resources === undefined ? null : false;
      return { code: "EXTERNAL_KEY_PENDING", valid: false, key: state, account, token, allowed, allowance };
    }
    if (check.code === "ACCOUNT_NOT_GRANTED" || grant === null) {
      const allowed = check.allowed === null ? null : false;
      return { code: "ACCOUNT_NOT_GRANTED", valid: false, key: state, account, token, allowed, allowance };
    }
    return {
      code: check.code,
      valid: true,
      key: state,
      account,
      token,
      keyType: grant.type,
      grant: grant.grant,
      resources: grant.resources,
      allowed: check.allowed,
      allowance,
    };
  }

  /**
   * The key's rate limit and quota for this call (docs/key-controls.md): every authenticated call
   * counts against the rate limit, checked first; only an allowed call (`spends`) spends from the
   * quota. A call over the rate limit spends nothing.
   */
  function allowanceOf(
    tracker: NonNullable<VerifierDeps["allowances"]>,
    state: KeyState,
    account: string,
    controls: ControlState,
    spends: boolean,
    now: number,
  ): { allowance: Allowance; exceeded: AllowanceExceeded | null } {
    const { keyId } = state;
    let rateLimit: Allowance["rateLimit"] = null;
    if (controls.rateLimit !== null) {
      const left = tracker.hit(keyId, controls.rateLimit, now);
      const reset = tracker.resetIn(keyId, now);
      rateLimit = { limit: controls.rateLimit.limit, remaining: Math.max(0, left), reset };
      if (left < 0) {
        const quota =
          controls.quota === null ? null : { remaining: tracker.quotaLeft(keyId, controls.quota, now) };
        const allowance = { rateLimit, quota };
        const exceeded: AllowanceExceeded = {
          code: "KEY_RATE_LIMITED",
          valid: false,
          key: state,
          account,
          retryAfter: reset,
          allowance,
        };
        return { allowance, exceeded };
      }
    }
    if (controls.quota === null) return { allowance: { rateLimit, quota: null }, exceeded: null };
    const left = spends
      ? tracker.spend(keyId, controls.quota, now)
      : tracker.quotaLeft(keyId, controls.quota, now);
    const allowance = { rateLimit, quota: { remaining: Math.max(0, left) } };
    if (left >= 0) return { allowance, exceeded: null };
    const retryAfter = tracker.refillIn(controls.quota, now);
    return {
      allowance,
      exceeded: { code: "QUOTA_EXHAUSTED", valid: false, key: state, account, retryAfter, allowance },
    };
  }

  return { verify };
}

export type Verifier = ReturnType<typeof createVerifier>;

/** The metrics outcome of a decision. */
function outcomeOf(decision: Decision): "allowed" | "denied" | "invalid" | "rate_limited" {
  switch (decision.code) {
    case "OK":
      return "allowed";
    case "RESOURCE_NOT_GRANTED":
    case "ROUTE_NOT_MAPPED":
      return "denied";
    case "RATE_LIMITED":
    case "KEY_RATE_LIMITED":
    case "QUOTA_EXHAUSTED":
      return "rate_limited";
    default:
      return "invalid";
  }
}
