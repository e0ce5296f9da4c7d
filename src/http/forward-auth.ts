/**
 * The forward-auth answer to a gateway subrequest: the original request from forwarded headers,
 * the credentials (credentials.ts, as every entry point reads them), the verifier's decision turned
 * into a status and headers. Shared by the Hono route (`/v1/authorize` in routes/verify.ts) and by
 * the bare node:http fast path (fast-path.ts), so both answer exactly alike, faults included: a
 * verification that fails (the store did not answer) is told to `onFault` (logged) and answered 503
 * `UNAVAILABLE`, as the rest of the API answers it (core/errors.ts).
 *
 * Header names are lower-case here: node:http and the Fetch API both lower-case them.
 */
import type { Catalog } from "../core/catalog.js";
import { isBrowserRequest } from "../core/key-controls.js";
import { isAccountName } from "../core/names.js";
import type { Allowance, Decision } from "../core/verification.js";
import type { MaybePromise, Verifier } from "../services/index.js";
import { type HeaderReader, readCredentials, verifiable } from "./credentials.js";

/**
 * Client address: with a trusted proxy, the last X-Forwarded-For entry (the one that proxy
 * appended; earlier entries are whatever the client sent), else the socket's peer address.
 */
export function clientAddress(
  forwardedFor: string | undefined,
  socketAddress: string | undefined,
  trustProxy: boolean,
): string | null {
  if (trustProxy && forwardedFor) {
    const last = forwardedFor.slice(forwardedFor.lastIndexOf(",") + 1).trim();
    if (last) return last;
  }
  return socketAddress ?? null;
}

export interface ForwardAuthAnswer {
  status: 200 | 400 | 401 | 403 | 429 | 503;
  headers: Record<string, string>;
}

export interface ForwardAuthDeps {
  verifier: Verifier;
  catalog: Catalog;
  /** Told of a fault while deciding (logged by the caller); the answer is then 503 UNAVAILABLE. */
  onFault(error: unknown): void;
}

const MISCONFIGURED: ForwardAuthAnswer = {
  status: 400,
  headers: { "x-auth-code": "MISSING_ORIGINAL_REQUEST" },
};

const MALFORMED_ACCOUNT: ForwardAuthAnswer = {
  status: 400,
  headers: { "x-auth-code": "MALFORMED_ACCOUNT" },
};

const UNAVAILABLE: ForwardAuthAnswer = {
  status: 503,
  headers: { "x-auth-code": "UNAVAILABLE" },
};

/**
 * The forward-auth decision for one gateway subrequest: the original method and URI from
 * `X-Original-Method`/`X-Original-URI` (nginx) or `X-Forwarded-Method`/`X-Forwarded-Uri`
 * (Traefik); the account from `X-API-Account`, else the key's own. A route that no resource
 * covers is denied. A subrequest without the original URI is a gateway misconfiguration (400).
 * An `X-API-Account` that is not an account name is a 400 too, before the credentials are looked
 * at: a made-up name must cost no lookup (an empty value counts as absent).
 */
export function authorize(
  deps: ForwardAuthDeps,
  header: HeaderReader,
  ip: string | null,
): MaybePromise<ForwardAuthAnswer> {
  const uri = header("x-original-uri") ?? header("x-forwarded-uri");
  if (uri === undefined || uri === "") return MISCONFIGURED;
  const account = header("x-api-account");
  if (account !== undefined && account !== "" && !isAccountName(account)) return MALFORMED_ACCOUNT;
  const method = header("x-original-method") ?? header("x-forwarded-method") ?? "GET";
  let decision: MaybePromise<Decision>;
  try {
    const resources = deps.catalog.resourceKeysForRoute(method, uri);
    decision = deps.verifier.verify({
      credentials: verifiable(readCredentials(header)),
      account: account || null,
      resources,
      ip,
      browser: isBrowserRequest(header),
    });
  } catch (error) {
    return unavailable(deps, error);
  }
  return decision instanceof Promise
    ? decision.then(answerOf, (error: unknown) => unavailable(deps, error))
    : answerOf(decision);
}

function unavailable(deps: ForwardAuthDeps, error: unknown): ForwardAuthAnswer {
  deps.onFault(error);
  return UNAVAILABLE;
}

/** The key's metadata, base64url (no padding) of its JSON, for the gateway to forward (docs/key-controls.md). */
export const METADATA_HEADER = "x-latchkey-key-metadata";

const CHALLENGE = 'Bearer realm="latchkey"';

/** The key's quota as the call left it (docs/key-controls.md). */
export const QUOTA_HEADER = "x-latchkey-quota-remaining";

/**
 * A key's rate limit as RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds until the
 * window ends), the fields of the IETF httpapi draft's first versions that gateways and clients
 * read; its quota as X-Latchkey-Quota-Remaining.
 */
function allowanceHeaders(headers: Record<string, string>, allowance: Allowance): void {
  const { rateLimit, quota } = allowance;
  if (rateLimit !== null) {
    headers["ratelimit-limit"] = String(rateLimit.limit);
    headers["ratelimit-remaining"] = String(rateLimit.remaining);
    headers["ratelimit-reset"] = String(rateLimit.reset);
  }
  if (quota !== null) headers[QUOTA_HEADER] = String(quota.remaining);
}

function answerOf(decision: Decision): ForwardAuthAnswer {
  switch (decision.code) {
    case "OK": {
      const metadata = decision.key.controls?.metadataHeader ?? null;
      const headers: Record<string, string> = {
        "x-auth-account": decision.account,
        "x-auth-appkey": decision.key.appKey,
        "x-auth-key-type": decision.keyType,
      };
      if (metadata !== null) headers[METADATA_HEADER] = metadata;
      if (decision.allowance !== null) allowanceHeaders(headers, decision.allowance);
      return { status: 200, headers };
    }
    case "RATE_LIMITED":
      return {
        status: 429,
        headers: { "retry-after": String(decision.retryAfter), "x-auth-code": decision.code },
      };
    case "KEY_RATE_LIMITED":
    case "QUOTA_EXHAUSTED": {
      const headers: Record<string, string> = { "x-auth-code": decision.code };
      if (decision.retryAfter !== null) headers["retry-after"] = String(decision.retryAfter);
      allowanceHeaders(headers, decision.allowance);
      return { status: 429, headers };
    }
    case "ACCOUNT_NOT_GRANTED":
    case "EXTERNAL_KEY_PENDING":
    case "RESOURCE_NOT_GRANTED":
    case "ROUTE_NOT_MAPPED": {
      const headers: Record<string, string> = { "x-auth-code": decision.code };
      if (decision.allowance !== null) allowanceHeaders(headers, decision.allowance);
      return { status: 403, headers };
    }
    case "IP_NOT_ALLOWED":
    case "BROWSER_REQUEST_REFUSED":
      return { status: 403, headers: { "x-auth-code": decision.code } };
    default:
      return { status: 401, headers: { "x-auth-code": decision.code, "www-authenticate": CHALLENGE } };
  }
}
