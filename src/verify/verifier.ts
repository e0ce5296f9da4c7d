/**
 * The verification decision: do these credentials authenticate, in which account, as which kind
 * of key, and do they hold the resource asked for? One function serves `/v1/verify`,
 * `/v1/authorize` and the management API's key authentication.
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
import { classifyToken, isAppKeyShaped } from "../core/tokens.js";
import { tokenDigestBinary } from "../crypto/token-hash.js";
import type { GrantState, KeyCache, KeyState } from "./key-cache.js";
import type { UsageRecorder } from "./usage.js";

/** Stable outcome codes, in `/v1/verify` responses and in metrics. */
export type VerifyCode =
  | "OK"
  | "MISSING_CREDENTIALS"
  | "MALFORMED_CREDENTIALS"
  | "INVALID_CREDENTIALS"
  | "KEY_INACTIVE"
  | "ACCOUNT_NOT_GRANTED"
  | "RESOURCE_NOT_GRANTED"
  | "ROUTE_NOT_MAPPED"
  | "RATE_LIMITED";

export type Credentials = { kind: "key"; appKey: string; appToken: string } | { kind: "jwt"; token: string };

export interface VerifyRequest {
  credentials: Credentials | null;
  /** Account the call is for; the key's own account (or the JWT's) when absent. */
  account?: string | null;
  /**
   * Resources any one of which allows the call. `undefined`: no resource asked (only
   * authentication and the account's grant are checked). Empty: a route no resource covers.
   */
  resources?: readonly string[];
  /** Check in the key's own account whatever `account` or a JWT's claim says (management API). */
  ownAccount?: boolean;
  /** Client address, for the failure limiter; null when unknown. */
  ip: string | null;
  /** False when the credentials are exchanged (app-token login) rather than used: no usage counted. */
  countUsage?: boolean;
}

export interface Decision {
  /** The credentials authenticate an active key that the account grants something. */
  readonly valid: boolean;
  readonly code: VerifyCode;
  /** HTTP status for forward-auth: 200, 401, 403 or 429. */
  readonly status: 200 | 401 | 403 | 429;
  readonly account: string | null;
  readonly appKey: string | null;
  readonly keyId: string | null;
  /** The account that owns the key (differs from `account` for external keys). */
  readonly ownerAccount: string | null;
  readonly keyType: "generated" | "external" | null;
  /** Resources the key holds in the account (sorted), when valid. */
  readonly resources: readonly string[] | null;
  /** Whether the resource asked for is held; null when none was asked. */
  readonly allowed: boolean | null;
  /** Seconds, for 429. */
  readonly retryAfter: number;
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
  tokenPrefix: string;
  usage?: Pick<UsageRecorder, "record">;
  limiter?: { blockedFor(ip: string): number; recordFailure(ip: string): unknown };
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

function failure(code: VerifyCode, status: 401 | 403 | 429, retryAfter = 0): Decision {
  return Object.freeze({
    valid: false,
    code,
    status,
    account: null,
    appKey: null,
    keyId: null,
    ownerAccount: null,
    keyType: null,
    resources: null,
    allowed: null,
    retryAfter,
  });
}

const MISSING = failure("MISSING_CREDENTIALS", 401);
const MALFORMED = failure("MALFORMED_CREDENTIALS", 401);
const INVALID = failure("INVALID_CREDENTIALS", 401);
const INACTIVE = failure("KEY_INACTIVE", 401);
const limited = (wait: number) => failure("RATE_LIMITED", 429, wait);

export function createVerifier(deps: VerifierDeps) {
  const { cache, usage, limiter, metrics } = deps;

  function verify(request: VerifyRequest): MaybePromise<Decision> {
    const started = metrics ? performance.now() : 0;
    const decision = decide(request);
    if (!metrics) return decision;
    if (decision instanceof Promise) return decision.then((d) => measured(d, started));
    return measured(decision, started);
  }

  function measured(decision: Decision, started: number): Decision {
    const outcome =
      decision.code === "RATE_LIMITED"
        ? "rate_limited"
        : !decision.valid
          ? "invalid"
          : decision.allowed === false
            ? "denied"
            : "allowed";
    metrics?.verification(outcome, (performance.now() - started) / 1000);
    return decision;
  }

  /** `wait`, here and below: seconds the client address stays blocked; 0 when it is not. */
  function decide(request: VerifyRequest): MaybePromise<Decision> {
    const { ip, credentials } = request;
    const wait = ip !== null && limiter ? limiter.blockedFor(ip) : 0;
    if (credentials === null) return wait > 0 ? limited(wait) : MISSING;
    if (credentials.kind === "jwt") return decideJwt(request, wait, credentials.token);
    const { appKey, appToken } = credentials;
    if (classifyToken(appToken, deps.tokenPrefix) === "malformed" || !isAppKeyShaped(appKey)) {
      return failed(request, wait, MALFORMED);
    }
    const cached = cache.peek(appKey);
    metrics?.cache(cached !== undefined);
    if (cached !== undefined) return withKey(request, wait, cached, appToken, null);
    if (wait > 0 && !cache.loading(appKey) && !heldBefore(appKey, appToken) && !mayLookUp(ip)) {
      return limited(wait);
    }
    return cache.load(appKey).then((state) => withKey(request, wait, state, appToken, null));
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
    const claims = deps.jwt ? await deps.jwt.verify(token) : null;
    if (!claims) return failed(request, wait, INVALID);
    let state = cache.peek(claims.appKey);
    metrics?.cache(state !== undefined);
    if (state === undefined) state = await cache.load(claims.appKey);
    return withKey(request, wait, state, null, claims);
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
  ): MaybePromise<Decision> {
    if (state === null) return failed(request, wait, INVALID);
    const counted = request.countUsage !== false;
    if (!holdsToken(state, appToken, claims)) {
      if (counted) usage?.record(state.keyId, "rejected");
      return failed(request, wait, INVALID);
    }
    if (!state.active) {
      if (counted) usage?.record(state.keyId, "rejected");
      return failed(request, wait, INACTIVE);
    }
    const account = request.ownAccount ? state.account : request.account || claims?.account || state.account;
    const grant = cache.peekGrant(state, account);
    if (grant !== undefined) return granted(request, state, account, grant);
    return cache.loadGrant(state, account).then((loaded) => granted(request, state, account, loaded));
  }

  /** Compares with every current token (no early exit), so timing does not tell which matched. */
  function holdsToken(state: KeyState, appToken: string | null, claims: JwtClaims | null): boolean {
    let matched = false;
    if (appToken !== null) {
      matched = state.holdsDigest(tokenDigestBinary(appToken));
    } else if (claims && deps.jwt) {
      for (const hash of state.tokenHashes)
        matched = deps.jwt.fingerprint(hash) === claims.fingerprint || matched;
    }
    return matched;
  }

  function granted(
    request: VerifyRequest,
    state: KeyState,
    account: string,
    grant: GrantState | null,
  ): Decision {
    const counted = request.countUsage !== false;
    if (grant === null) {
      if (counted) usage?.record(state.keyId, "denied");
      return {
        valid: false,
        code: "ACCOUNT_NOT_GRANTED",
        status: 403,
        account,
        appKey: state.appKey,
        keyId: state.keyId,
        ownerAccount: state.account,
        keyType: null,
        resources: null,
        allowed: request.resources === undefined ? null : false,
        retryAfter: 0,
      };
    }
    let allowed: boolean | null = null;
    let code: VerifyCode = "OK";
    let used: string | undefined;
    if (request.resources !== undefined) {
      for (const resource of request.resources) {
        if (grant.grant.all || grant.grant.resources.has(resource)) {
          used = resource;
          break;
        }
      }
      allowed = used !== undefined;
      if (!allowed) code = request.resources.length === 0 ? "ROUTE_NOT_MAPPED" : "RESOURCE_NOT_GRANTED";
    }
    if (counted) usage?.record(state.keyId, allowed === false ? "denied" : "allowed", account, used);
    return {
      valid: true,
      code,
      status: allowed === false ? 403 : 200,
      account,
      appKey: state.appKey,
      keyId: state.keyId,
      ownerAccount: state.account,
      keyType: grant.type,
      resources: grant.resources,
      allowed,
      retryAfter: 0,
    };
  }

  return { verify };
}

export type Verifier = ReturnType<typeof createVerifier>;
