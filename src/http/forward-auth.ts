/**
 * Reading credentials and the original request from forwarded headers, and turning a verification
 * decision into a forward-auth answer. Shared by the Hono route (`/v1/authorize` in routes/verify.ts)
 * and by the bare node:http fast path (fast-path.ts), so both answer exactly alike.
 *
 * Header names are lower-case here: node:http and the Fetch API both lower-case them.
 */
import type { Catalog } from "../core/catalog.js";
import { isAccountName } from "../core/names.js";
import type { Credentials, Decision, MaybePromise, Verifier } from "../services/index.js";

export type HeaderReader = (name: string) => string | undefined;

export const JWT_COOKIE = "VtexIdclientAutCookie";

/**
 * Credentials in a request: appKey + appToken headers (X-API-* or X-VTEX-API-*), else a JWT as
 * `Authorization: Bearer`, in the `VtexIdclientAutCookie` header or in a cookie of that name.
 * `undefined` when none is present; an incomplete pair is a malformed credential.
 */
export function credentialsFrom(header: HeaderReader): Credentials | null | undefined {
  const appKey = header("x-api-appkey") ?? header("x-vtex-api-appkey");
  const appToken = header("x-api-apptoken") ?? header("x-vtex-api-apptoken");
  if (appKey !== undefined || appToken !== undefined) {
    return { kind: "key", appKey: appKey ?? "", appToken: appToken ?? "" };
  }
  const authorization = header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ? { kind: "jwt", token: match[1] } : null;
  }
  const jwt = header("vtexidclientautcookie") ?? cookieValue(header("cookie"), JWT_COOKIE);
  if (jwt !== undefined) return { kind: "jwt", token: jwt };
  return undefined;
}

function cookieValue(cookies: string | undefined, name: string): string | undefined {
  if (cookies === undefined || !cookies.includes(name)) return undefined;
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

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
  status: 200 | 400 | 401 | 403 | 429;
  headers: Record<string, string>;
}

const MISCONFIGURED: ForwardAuthAnswer = {
  status: 400,
  headers: { "x-auth-code": "MISSING_ORIGINAL_REQUEST" },
};

const MALFORMED_ACCOUNT: ForwardAuthAnswer = {
  status: 400,
  headers: { "x-auth-code": "MALFORMED_ACCOUNT" },
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
  verifier: Verifier,
  catalog: Catalog,
  header: HeaderReader,
  ip: string | null,
): MaybePromise<ForwardAuthAnswer> {
  const uri = header("x-original-uri") ?? header("x-forwarded-uri");
  if (uri === undefined || uri === "") return MISCONFIGURED;
  const account = header("x-api-account");
  if (account !== undefined && account !== "" && !isAccountName(account)) return MALFORMED_ACCOUNT;
  const method = header("x-original-method") ?? header("x-forwarded-method") ?? "GET";
  const covering = catalog.resourcesForRoute(method, uri);
  const resources = covering.length === 1 ? [covering[0]?.key as string] : covering.map((r) => r.key);
  const credentials = credentialsFrom(header);
  const decision = verifier.verify({
    credentials:
      credentials === undefined ? null : (credentials ?? { kind: "key", appKey: "", appToken: "" }),
    account: account || null,
    resources,
    ip,
  });
  return decision instanceof Promise ? decision.then(answerOf) : answerOf(decision);
}

function answerOf(decision: Decision): ForwardAuthAnswer {
  if (decision.status === 200) {
    return {
      status: 200,
      headers: {
        "x-auth-account": decision.account ?? "",
        "x-auth-appkey": decision.appKey ?? "",
        "x-auth-key-type": decision.keyType ?? "",
      },
    };
  }
  if (decision.status === 429) {
    return {
      status: 429,
      headers: { "retry-after": String(decision.retryAfter), "x-auth-code": decision.code },
    };
  }
  if (decision.status === 401) {
    return {
      status: 401,
      headers: { "x-auth-code": decision.code, "www-authenticate": 'Bearer realm="latchkey"' },
    };
  }
  return { status: decision.status, headers: { "x-auth-code": decision.code } };
}
