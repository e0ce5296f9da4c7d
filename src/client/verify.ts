/**
 * Verification for services that call `POST /v1/verify`: a short-lived in-process cache in front
 * of latchkey, and middleware for Hono and Express that lets a request through only with a key
 * latchkey accepts (docs/client.md).
 *
 * Secrets: the cache is keyed by the SHA-256 of the question (appKey, appToken, account,
 * resource), never by the token; the token is not kept once the question is hashed and sent.
 * Nothing here logs.
 *
 * How long an answer is believed without asking latchkey again:
 * - a valid answer: `ttlMs` (5 s unless given; at most 60 s). A key deactivated, deleted or
 *   stripped of its roles keeps passing here for at most that long.
 * - an invalid answer (`valid: false`): `invalidTtlMs` (1 s unless given, never longer than
 *   `ttlMs`). A key just created, activated or granted is refused for at most that long, and a
 *   client repeating the same wrong token cannot make this service call latchkey more than once
 *   a second for it.
 * - a failure (latchkey unreachable or answering an error, 429 included): never. The next request
 *   asks again.
 * - an answer for a key with a rate limit or a quota (`rateLimit` or `quota` not null): never, so
 *   that latchkey counts every call (docs/key-controls.md). Identical questions asked at once still
 *   share one answer.
 * At most `maxEntries` answers (10,000 unless given) are kept; the oldest goes first. Identical
 * questions asked while one is on its way share its answer.
 */
import type { MiddlewareHandler } from "hono";
import type { KeyCredentials, LatchkeyClient, VerifyResult } from "./client.js";

export const MAX_TTL_MS = 60_000;
const DEFAULT_TTL_MS = 5_000;
const DEFAULT_INVALID_TTL_MS = 1_000;
const DEFAULT_MAX_ENTRIES = 10_000;

export interface VerifyQuestion extends KeyCredentials {
  /** The account the call is for; the key's own account when absent. */
  account?: string;
  /** A resource key the call needs, e.g. `ViewOrders`. */
  resource?: string;
  /**
   * The end client's address, for latchkey's failed-authentication limiter. Only from a service
   * listed in latchkey's VERIFY_TRUSTED_PROXIES (latchkey refuses it from others). Part of the
   * cache key: a key with an IP allowlist is answered differently for different addresses.
   */
  clientIp?: string;
}

export interface VerifierOptions {
  client: LatchkeyClient;
  ttlMs?: number;
  invalidTtlMs?: number;
  maxEntries?: number;
  /** Milliseconds since the epoch; `Date.now` unless given (tests move it). */
  now?: () => number;
}

export interface Verifier {
  /** latchkey's answer to the question, from the cache when it is fresh. */
  verify(question: VerifyQuestion): Promise<VerifyResult>;
  /** Forgets every cached answer. */
  clear(): void;
  /** Answers held now. */
  readonly size: number;
}

/** latchkey did not answer the question: unreachable, or an error status (429 when rate limited). */
export class VerifyFailed extends Error {
  constructor(
    /** The HTTP status; 0 when latchkey could not be reached. */
    readonly status: number,
    /** latchkey's problem code, `UNREACHABLE`, or `HTTP_{status}`. */
    readonly code: string,
    /** Seconds to wait, from Retry-After on a 429. */
    readonly retryAfter?: number,
  ) {
    super(`latchkey verification failed: ${code}`);
    this.name = "VerifyFailed";
  }
}

interface Entry {
  result: VerifyResult;
  expiresAt: number;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const ttl = options.ttlMs ?? DEFAULT_TTL_MS;
  const invalidTtl = Math.min(options.invalidTtlMs ?? DEFAULT_INVALID_TTL_MS, ttl);
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  if (!(ttl >= 0 && ttl <= MAX_TTL_MS)) throw new RangeError(`ttlMs must be 0 to ${MAX_TTL_MS}`);
  if (!(invalidTtl >= 0)) throw new RangeError("invalidTtlMs must not be negative");
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1))
    throw new RangeError("maxEntries must be 1 or more");

  const cache = new Map<string, Entry>();
  const pending = new Map<string, Promise<VerifyResult>>();

  function remember(key: string, result: VerifyResult): void {
    // A key with a rate limit or a quota is counted by latchkey on every call: never answered here.
    if (result.rateLimit || result.quota) return;
    const lifetime = result.valid ? ttl : invalidTtl;
    if (lifetime === 0) return;
    cache.delete(key);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(key, { result, expiresAt: now() + lifetime });
  }

  async function ask(question: VerifyQuestion): Promise<VerifyResult> {
    let answer: Awaited<ReturnType<LatchkeyClient["POST"]>>;
    try {
      answer = await options.client.POST("/v1/verify", { body: question });
    } catch {
      throw new VerifyFailed(0, "UNREACHABLE");
    }
    const { data, error, response } = answer;
    if (data) return data;
    const code =
      typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
        ? error.code
        : `HTTP_${response.status}`;
    const retryAfter = Number(response.headers.get("retry-after") ?? Number.NaN);
    throw new VerifyFailed(response.status, code, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }

  return {
    async verify(question) {
      const key = await cacheKey(question);
      const cached = cache.get(key);
      if (cached && cached.expiresAt > now()) return cached.result;
      if (cached) cache.delete(key);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const call = ask(question)
        .then((result) => {
          remember(key, result);
          return result;
        })
        .finally(() => pending.delete(key));
      pending.set(key, call);
      return call;
    },
    clear() {
      cache.clear();
    },
    get size() {
      return cache.size;
    },
  };
}

/** SHA-256 (hex) of the question, clientIp included (IP allowlists): what the cache is keyed by. */
export async function cacheKey(question: VerifyQuestion): Promise<string> {
  const text = JSON.stringify([
    question.appKey,
    question.appToken,
    question.account ?? null,
    question.resource ?? null,
    question.clientIp ?? null,
  ]);
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Reads a request header by its lower-case name. */
export type HeaderReader = (name: string) => string | undefined;

export interface GuardOptions {
  /** The resource a route needs (e.g. `ViewOrders`); leave out to require only a valid key. */
  resource?: string;
  /** The account the call is for: a name, or read from the request; the key's own account when absent. */
  account?: string | ((header: HeaderReader) => string | undefined);
  /**
   * The end client's address, sent as `clientIp`: only when this service is in latchkey's
   * VERIFY_TRUSTED_PROXIES.
   */
  clientIp?: (header: HeaderReader) => string | undefined;
}

/** What the middleware answers instead of calling the route. */
export interface Refusal {
  status: 401 | 403 | 429 | 503;
  body: { code: string };
  retryAfter?: number;
}

export type GuardOutcome = { ok: true; result: VerifyResult } | { ok: false; refusal: Refusal };

/**
 * The credentials of a request, from `X-API-AppKey` + `X-API-AppToken` (or their `X-VTEX-API-*`
 * names), as latchkey itself reads them.
 */
export function credentialsOf(header: HeaderReader): KeyCredentials | undefined {
  const appKey = header("x-api-appkey") ?? header("x-vtex-api-appkey");
  const appToken = header("x-api-apptoken") ?? header("x-vtex-api-apptoken");
  return appKey && appToken ? { appKey, appToken } : undefined;
}

/**
 * The decision for one request. No credentials: 401 MISSING_CREDENTIALS, without asking latchkey.
 * Credentials that do not authenticate: 401 with latchkey's code; authenticated but not granted the
 * account or the resource: 403 with latchkey's code. latchkey rate limiting: 429 (with its
 * Retry-After); latchkey unreachable or failing: 503 VERIFY_UNAVAILABLE.
 */
export async function guard(
  verifier: Verifier,
  header: HeaderReader,
  options: GuardOptions = {},
): Promise<GuardOutcome> {
  const credentials = credentialsOf(header);
  if (!credentials) return refuse(401, "MISSING_CREDENTIALS");
  const account = typeof options.account === "function" ? options.account(header) : options.account;
  const clientIp = options.clientIp?.(header);
  const question: VerifyQuestion = {
    ...credentials,
    ...(account === undefined ? {} : { account }),
    ...(options.resource === undefined ? {} : { resource: options.resource }),
    ...(clientIp === undefined ? {} : { clientIp }),
  };
  let result: VerifyResult;
  try {
    result = await verifier.verify(question);
  } catch (error) {
    if (error instanceof VerifyFailed && error.status === 429) {
      return {
        ok: false,
        refusal: {
          status: 429,
          body: { code: "RATE_LIMITED" },
          ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
        },
      };
    }
    return refuse(503, "VERIFY_UNAVAILABLE");
  }
  if (result.valid && result.allowed !== false) return { ok: true, result };
  if (result.valid) return refuse(403, "RESOURCE_NOT_GRANTED");
  const notGranted = result.code === "ACCOUNT_NOT_GRANTED" || result.code === "EXTERNAL_KEY_PENDING";
  return refuse(notGranted ? 403 : 401, result.code);
}

function refuse(status: Refusal["status"], code: string): GuardOutcome {
  return { ok: false, refusal: { status, body: { code } } };
}

/** Hono middleware: the route runs only for an accepted key, whose answer is `c.get("latchkey")`. */
export function latchkeyHono(
  verifier: Verifier,
  options: GuardOptions = {},
): MiddlewareHandler<{ Variables: { latchkey: VerifyResult } }> {
  return async (c, next) => {
    const outcome = await guard(verifier, (name) => c.req.header(name), options);
    if (!outcome.ok) {
      const { refusal } = outcome;
      if (refusal.retryAfter !== undefined) c.header("retry-after", String(refusal.retryAfter));
      return c.json(refusal.body, refusal.status);
    }
    c.set("latchkey", outcome.result);
    await next();
  };
}

/** The parts of Express's request and response the middleware uses (Express is not a dependency). */
export interface ExpressRequestLike {
  headers: Record<string, string | string[] | undefined>;
  latchkey?: VerifyResult;
}
export interface ExpressResponseLike {
  status(code: number): ExpressResponseLike;
  set(field: string, value: string): unknown;
  json(body: unknown): unknown;
}

/** Express middleware: the route runs only for an accepted key, whose answer is `req.latchkey`. */
export function latchkeyExpress(verifier: Verifier, options: GuardOptions = {}) {
  return (req: ExpressRequestLike, res: ExpressResponseLike, next: (error?: unknown) => void): void => {
    const header: HeaderReader = (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    guard(verifier, header, options).then((outcome) => {
      if (outcome.ok) {
        req.latchkey = outcome.result;
        next();
        return;
      }
      const { refusal } = outcome;
      if (refusal.retryAfter !== undefined) res.set("retry-after", String(refusal.retryAfter));
      res.status(refusal.status).json(refusal.body);
    }, next);
  };
}
