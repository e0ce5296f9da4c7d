/**
 * The one reader of the credentials a request presents, for every entry point: the management
 * API's guard (auth.ts, which the VTEX paths share), `/v1/authorize` on the Hono route and on the
 * node:http fast path (forward-auth.ts).
 *
 * In this order: `X-API-AppKey` + `X-API-AppToken` (or the `X-VTEX-API-*` aliases); a JWT from
 * app-token login as `Authorization: Bearer`, in the `VtexIdclientAutCookie` header or in a cookie
 * of that name; the admin session cookie. An `Authorization` header of another scheme (Basic, …)
 * is not a latchkey credential and is passed over.
 *
 * Secrets: tokens, JWTs and session secrets are only read here and handed to the verifier or the
 * session service; they are never logged (log.ts redacts these headers) or echoed.
 */
import type { Credentials } from "../services/index.js";

/** Reads one request header by its lower-case name (node:http and the Fetch API both lower-case them). */
export type HeaderReader = (name: string) => string | undefined;

/** The VTEX name under which integrations also send the JWT, as a header or a cookie. */
export const JWT_COOKIE = "VtexIdclientAutCookie";
/** The admin session: an HTTP-only cookie holding the session secret. */
export const SESSION_COOKIE = "lk_session";
/** The CSRF token a signed-in page echoes in `X-CSRF-Token` (readable by the page, not a credential). */
export const CSRF_COOKIE = "lk_csrf";

/** `Bearer` and one token; a Bearer header of any other form is a malformed credential. */
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const BEARER_SCHEME = /^Bearer(?:[ \t]|$)/i;

export type PresentedCredentials =
  | { kind: "key"; appKey: string; appToken: string }
  /** `from` matters to the CSRF rule: a browser sends a cookie on its own. */
  | { kind: "jwt"; token: string; from: "authorization" | "header" | "cookie" }
  | { kind: "session"; secret: string }
  | { kind: "none" };

const NONE: PresentedCredentials = Object.freeze({ kind: "none" });

/**
 * The credentials a request presents. An incomplete appKey/appToken pair is read with an empty
 * half, and a Bearer header without exactly one token as an empty JWT: both are then malformed
 * credentials to the verifier, not missing ones.
 */
export function readCredentials(header: HeaderReader): PresentedCredentials {
  const appKey = header("x-api-appkey") ?? header("x-vtex-api-appkey");
  const appToken = header("x-api-apptoken") ?? header("x-vtex-api-apptoken");
  if (appKey !== undefined || appToken !== undefined) {
    return { kind: "key", appKey: appKey ?? "", appToken: appToken ?? "" };
  }
  const authorization = header("authorization");
  if (authorization !== undefined && BEARER_SCHEME.test(authorization)) {
    return { kind: "jwt", token: BEARER.exec(authorization)?.[1] ?? "", from: "authorization" };
  }
  const jwtHeader = header("vtexidclientautcookie");
  if (jwtHeader !== undefined) return { kind: "jwt", token: jwtHeader.trim(), from: "header" };
  const cookies = header("cookie");
  const jwtCookie = cookieValue(cookies, JWT_COOKIE);
  if (jwtCookie !== undefined) return { kind: "jwt", token: jwtCookie, from: "cookie" };
  const secret = cookieValue(cookies, SESSION_COOKIE);
  if (secret !== undefined) return { kind: "session", secret };
  return NONE;
}

/** The credentials the verifier takes (keys and JWTs); null for none or a session. */
export function verifiable(presented: PresentedCredentials): Credentials | null {
  return presented.kind === "key" || presented.kind === "jwt" ? presented : null;
}

/** A cookie's value from a Cookie header; an empty value counts as absent. */
function cookieValue(cookies: string | undefined, name: string): string | undefined {
  if (cookies === undefined || !cookies.includes(name)) return undefined;
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
