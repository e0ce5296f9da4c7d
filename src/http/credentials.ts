/**
 * The one reader of the credentials a request presents, for every entry point: the management
 * API's guard (auth.ts, which the VTEX paths share), `/v1/authorize` on the Hono route and on the
 * node:http fast path (forward-auth.ts).
 *
 * In this order: `X-API-AppKey` + `X-API-AppToken` (or the `X-VTEX-API-*` aliases); a JWT from
 * app-token login as `Authorization: Bearer`, in the `VtexIdclientAutCookie` header, or in a cookie
 * of that name or of VTEX's storefront name `VtexIdclientAutCookie_{account}`; the admin session
 * cookie. The account in a cookie's name only picks which cookie is read: the JWT in it is verified
 * like any other and grants its key's roles in the account the request names, nothing more. An `Authorization` header of another scheme (Basic, …)
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
/** VTEX's storefront cookie carries the account in its name: `VtexIdclientAutCookie_{account}`. */
const ACCOUNT_JWT_COOKIE_PREFIX = `${JWT_COOKIE}_`.toLowerCase();
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
 * credentials to the verifier, not missing ones. `account`, when the request names one, picks
 * `VtexIdclientAutCookie_{account}` among several such cookies.
 */
export function readCredentials(header: HeaderReader, account?: string): PresentedCredentials {
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
  const jwtCookie = jwtCookieValue(cookies, account);
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

/**
 * The JWT cookie: `VtexIdclientAutCookie_{account}` for the account named, else
 * `VtexIdclientAutCookie`, else the first `VtexIdclientAutCookie_{…}` (VTEX's storefront sets one
 * per account). Names are matched in any letter case, as VTEX's own pages spell them both ways.
 */
function jwtCookieValue(cookies: string | undefined, account: string | undefined): string | undefined {
  if (cookies === undefined || !cookies.toLowerCase().includes(JWT_COOKIE.toLowerCase())) return undefined;
  const named = account === undefined ? undefined : `${ACCOUNT_JWT_COOKIE_PREFIX}${account.toLowerCase()}`;
  let plain: string | undefined;
  let first: string | undefined;
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (value === "") continue;
    if (name === named) return value;
    if (name === JWT_COOKIE.toLowerCase()) plain ??= value;
    else if (name.startsWith(ACCOUNT_JWT_COOKIE_PREFIX) && name.length > ACCOUNT_JWT_COOKIE_PREFIX.length)
      first ??= value;
  }
  return plain ?? first;
}
