/**
 * Caller authentication and authorisation for the management API.
 *
 * Credentials, in this order: `X-API-AppKey` + `X-API-AppToken` (or the `X-VTEX-API-*` aliases),
 * then a JWT from app-token login (`Authorization: Bearer`, the `VtexIdclientAutCookie` header, or a
 * cookie of that name), then the admin session cookie. Session callers must echo the CSRF token in
 * `X-CSRF-Token` on state-changing methods. Tokens and cookies are read here and never logged or echoed.
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { AppError, fail } from "../core/errors.js";
import { ACCOUNT_NAME_RULE, isAccountName } from "../core/names.js";
import { holds } from "../core/permissions.js";
import type { CallerService } from "../services/callers.js";
import type { Principal } from "../services/deps.js";
import type { Credentials, KeyCache, Verifier } from "../services/index.js";
import { csrfMatches, type SessionService } from "../services/sessions.js";
import type { Access, AppEnv, Caller } from "./context.js";

export const SESSION_COOKIE = "lk_session";
export const CSRF_COOKIE = "lk_csrf";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface AuthDeps {
  sessions: SessionService;
  /** The caller's roles and grant in an account (services/callers.ts). */
  access: CallerService["access"];
  /** Keys and JWTs: cached key state, failed authentications limited per client address, usage counted. */
  verifier: Verifier;
  keyCache: KeyCache;
  /** Told of a key's allowed call in an account that added it (the verifier counted it in its own). */
  usage?: { usedIn(keyId: string, account: string): void };
}

/** The VTEX name under which integrations also send the JWT, as a header or a cookie. */
export const VTEX_JWT_NAME = "VtexIdclientAutCookie";

type RequestContext = Parameters<MiddlewareHandler<AppEnv>>[0];

/**
 * The JWT the request presents, if any. A cookie is sent by browsers on their own, so on a
 * state-changing call from a browser page (Origin or Sec-Fetch-Site present) it is refused: such a
 * request could be forged by another site, and a JWT has no CSRF token.
 */
function presentedJwt(c: RequestContext): string | undefined {
  const bearer = /^Bearer[ \t]+(\S*)[ \t]*$/i.exec(c.req.header("authorization") ?? "");
  if (bearer) return bearer[1] ?? "";
  const header = c.req.header(VTEX_JWT_NAME);
  if (header !== undefined) return header.trim();
  const cookie = getCookie(c, VTEX_JWT_NAME);
  if (cookie === undefined) return undefined;
  const fromPage = c.req.header("origin") !== undefined || c.req.header("sec-fetch-site") !== undefined;
  if (fromPage && !SAFE_METHODS.has(c.req.method))
    fail("CSRF_FAILED", `Send the JWT in the Authorization header, not the ${VTEX_JWT_NAME} cookie`);
  return cookie;
}

export function createGuards(deps: AuthDeps) {
  async function identify(c: Parameters<MiddlewareHandler<AppEnv>>[0]): Promise<Caller> {
    const appKey = c.req.header("x-api-appkey") ?? c.req.header("x-vtex-api-appkey");
    const appToken = c.req.header("x-api-apptoken") ?? c.req.header("x-vtex-api-apptoken");
    const meta = {
      ip: c.get("clientIp"),
      userAgent: c.req.header("user-agent") ?? null,
      requestId: c.get("requestId"),
    };
    // Keys and their JWTs go through the verifier: the key-state cache, the failure limiter, usage.
    if (appKey !== undefined || appToken !== undefined) {
      return keyCaller({ kind: "key", appKey: appKey ?? "", appToken: appToken ?? "" }, meta);
    }
    const jwt = presentedJwt(c);
    if (jwt !== undefined) {
      // The key acts with its own roles and grants, as with appKey/appToken; the JWT's account claim
      // narrows nothing. Deactivation, deletion and token removal apply at once.
      return keyCaller({ kind: "jwt", token: jwt }, meta);
    }
    const secret = getCookie(c, SESSION_COOKIE);
    if (secret) {
      const session = await deps.sessions.authenticate(secret);
      if (!session) fail("UNAUTHENTICATED", "The session has expired or was ended; sign in again");
      if (!SAFE_METHODS.has(c.req.method) && !csrfMatches(secret, c.req.header("x-csrf-token") ?? "")) {
        fail("CSRF_FAILED", "Send the CSRF token from sign-in in the X-CSRF-Token header");
      }
      const principal: Principal = { type: "user", userId: session.userId, email: session.email };
      return {
        principal,
        actor: { type: "user", id: session.userId, label: session.email, ...meta },
        via: "session",
      };
    }
    return fail("UNAUTHENTICATED", "Send X-API-AppKey and X-API-AppToken, or sign in");
  }

  async function keyCaller(credentials: Credentials, meta: Omit<Caller["actor"], "type" | "id" | "label">) {
    // Authenticated in the key's own account: a JWT's account claim must not make it act as another's key.
    const decision = await deps.verifier.verify({ credentials, ip: meta.ip, ownAccount: true });
    if (decision.code === "RATE_LIMITED") {
      fail(
        "RATE_LIMITED",
        `Too many failed authentications from this address; retry in ${decision.retryAfter} s`,
        {
          retryAfter: decision.retryAfter,
        },
      );
    }
    if (
      !decision.valid ||
      decision.appKey === null ||
      decision.keyId === null ||
      decision.ownerAccount === null
    ) {
      fail(
        "UNAUTHENTICATED",
        credentials.kind === "key"
          ? "The appKey and appToken are not valid, or the key is inactive"
          : "The JWT is not valid or has expired, or its key is no longer valid",
      );
    }
    const principal: Principal = {
      type: "key",
      keyId: decision.keyId,
      appKey: decision.appKey,
      account: decision.ownerAccount,
      ...ownRoles(decision.appKey),
    };
    const actor = { type: "key" as const, id: decision.appKey, label: decision.appKey, ...meta };
    return { principal, actor, via: "key" as const };
  }

  /** The key's own roles as the verifier just saw them, saving the role lookup of `access`. */
  function ownRoles(appKey: string): { ownRoleIds?: readonly number[] } {
    const state = deps.keyCache.peek(appKey);
    return state ? { ownRoleIds: state.ownRoleIds } : {};
  }

  const authenticated: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set("caller", await identify(c));
    await next();
  };

  /** Authenticated, and holding `resource` in the account named by the `{account}` path parameter. */
  function requireResource(resource: string): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      const caller = await identify(c);
      c.set("caller", caller);
      const account = c.req.param("account") ?? "";
      // The guard runs before the route's own validation: a malformed name is refused here, before
      // any lookup (NUL would reach PostgreSQL). A well-formed unknown one is the 403 below.
      if (!isAccountName(account)) {
        const errors = [{ path: "account", message: ACCOUNT_NAME_RULE }];
        fail("VALIDATION_FAILED", `account: ${ACCOUNT_NAME_RULE}`, { errors });
      }
      const access = await deps.access(caller.principal, account);
      if (!holds(access.grant, resource)) {
        // A missing account is a 403 like any other: callers cannot probe which accounts exist.
        throw new AppError("FORBIDDEN", `This needs the ${resource} resource in account ${account}`, {
          resource,
        });
      }
      c.set("grant", access.grant);
      c.set("roles", access.roles);
      c.set("authority", { actor: caller.actor, grant: access.grant });
      noteExternalUse(deps, caller, account);
      await next();
    };
  }

  function guard(access: Access): MiddlewareHandler<AppEnv>[] {
    if (access === "public") return [];
    if (access === "authenticated") return [authenticated];
    return [requireResource(access.resource)];
  }

  return { guard, identify };
}

export type Guards = ReturnType<typeof createGuards>;

/**
 * A key authenticates in its own account (the verifier counts the use there); allowed in another
 * account that added it, the call is also that account's last use of the key, which is all that
 * account is shown of the key's use.
 */
export function noteExternalUse(deps: Pick<AuthDeps, "usage">, caller: Caller, account: string): void {
  const { principal } = caller;
  if (principal.type === "key" && principal.account !== account) deps.usage?.usedIn(principal.keyId, account);
}
