/**
 * Caller authentication and authorisation for the management API.
 *
 * Credentials, in this order: `X-API-AppKey` + `X-API-AppToken` (or the `X-VTEX-API-*` aliases),
 * then the admin session cookie. Session callers must echo the CSRF token in `X-CSRF-Token` on
 * state-changing methods. Tokens and cookies are read here and never logged or echoed.
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { AppError, fail } from "../core/errors.js";
import { holds } from "../core/permissions.js";
import type { Principal } from "../services/deps.js";
import type { RoleDirectory } from "../services/role-directory.js";
import { csrfMatches, type SessionService } from "../services/sessions.js";
import type { Store } from "../storage/store.js";
import type { KeyAuthenticator } from "../verify/authenticate.js";
import type { Access, AppEnv, Caller } from "./context.js";

export const SESSION_COOKIE = "lk_session";
export const CSRF_COOKIE = "lk_csrf";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface AuthDeps {
  store: Store;
  authenticateKey: KeyAuthenticator;
  sessions: SessionService;
  roles: RoleDirectory;
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
    if (appKey !== undefined || appToken !== undefined) {
      if (!appKey || !appToken) fail("UNAUTHENTICATED", "Send both X-API-AppKey and X-API-AppToken");
      const result = await deps.authenticateKey(appKey, appToken);
      if (!result.ok)
        fail("UNAUTHENTICATED", "The appKey and appToken are not valid, or the key is inactive");
      const { key } = result;
      const principal: Principal = {
        type: "key",
        keyId: key.id,
        appKey: key.appKey,
        account: key.account,
        ownRoleIds: key.roleIds,
      };
      return { principal, actor: { type: "key", id: key.appKey, label: key.appKey, ...meta }, via: "key" };
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
      const access = await deps.roles.access(deps.store, caller.principal, account);
      if (!holds(access.grant, resource)) {
        // A missing account is a 403 like any other: callers cannot probe which accounts exist.
        throw new AppError("FORBIDDEN", `This needs the ${resource} resource in account ${account}`, {
          resource,
        });
      }
      c.set("grant", access.grant);
      c.set("roles", access.roles);
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
