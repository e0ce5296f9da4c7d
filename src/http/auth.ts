/**
 * Caller authentication and authorisation for the management API (and the VTEX paths, which share
 * `identify` and `grantIn`).
 *
 * Credentials are read by credentials.ts, as at every entry point: appKey + appToken, then a JWT
 * from app-token login, then the admin session cookie. Keys and JWTs are decided by the verifier,
 * whose decision carries the key's own roles and its grant in the account asked for; sessions are
 * looked up, and their grant read, here. Session callers must echo the CSRF token in `X-CSRF-Token`
 * on state-changing methods. A fault while checking (the store did not answer) is logged and
 * answered 503 UNAVAILABLE. Tokens and cookies are never logged or echoed.
 */
import type { Context, MiddlewareHandler } from "hono";
import { AppError, fail } from "../core/errors.js";
import { isBrowserRequest } from "../core/key-controls.js";
import { ACCOUNT_NAME_RULE, isAccountName } from "../core/names.js";
import { type Grant, holds, NOTHING } from "../core/permissions.js";
import { type Granted, isAuthenticated, type NotGranted } from "../core/verification.js";
import type { CallerService } from "../services/callers.js";
import type { Principal } from "../services/deps.js";
import type { Credentials, MaybePromise, Verifier } from "../services/index.js";
import { csrfMatches, type SessionService } from "../services/sessions.js";
import type { Access, AppEnv, Caller } from "./context.js";
import { JWT_COOKIE, readCredentials } from "./credentials.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** What a session whose password must be changed may still call (sign-out needs no guard). */
const WHILE_MUST_CHANGE = new Set(["GET /v1/me", "POST /v1/me/password"]);

export interface AuthDeps {
  sessions: SessionService;
  /** The caller's roles and grant in an account (services/callers.ts). */
  access: CallerService["access"];
  /** Keys and JWTs: cached key state, failed authentications limited per client address, usage counted. */
  verifier: Verifier;
  /** Told of a key's allowed call in an account that added it (the verifier counted it in its own). */
  usage?: { usedIn(keyId: string, account: string): void };
}

type RequestContext = Context<AppEnv>;

/**
 * Runs a credential check. A fault in it (the store did not answer a key, session or grant lookup)
 * is logged and answered 503 UNAVAILABLE, as `/v1/authorize` answers it (forward-auth.ts); refusals
 * (AppError) pass as they are.
 */
export async function checkingCredentials<T>(c: RequestContext, check: () => MaybePromise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof AppError) throw error;
    c.get("log").error({ err: error, requestId: c.get("requestId") }, "credentials could not be checked");
    throw new AppError("UNAVAILABLE", "Credentials could not be checked now; retry shortly");
  }
}

export function createGuards(deps: AuthDeps) {
  /**
   * The caller. A key (or its JWT) carries its grant in `account` as the verifier decided it, or in
   * its own account when none is named; a session's grant is read by `grantIn`.
   */
  function identify(c: RequestContext, account?: string): Promise<Caller> {
    return checkingCredentials(c, () => identified(c, account));
  }

  async function identified(c: RequestContext, account: string | undefined): Promise<Caller> {
    const meta = {
      ip: c.get("clientIp"),
      userAgent: c.req.header("user-agent") ?? null,
      requestId: c.get("requestId"),
    };
    const presented = readCredentials((name) => c.req.header(name), account);
    switch (presented.kind) {
      case "key":
        return keyCaller(
          presented,
          account,
          meta,
          isBrowserRequest((name) => c.req.header(name)),
        );
      case "jwt":
        // A cookie is sent by browsers on their own, so on a state-changing call from a browser page
        // (Origin or Sec-Fetch-Site present) it is refused: such a request could be forged by another
        // site, and a JWT has no CSRF token.
        if (presented.from === "cookie" && !SAFE_METHODS.has(c.req.method) && fromPage(c)) {
          fail("CSRF_FAILED", `Send the JWT in the Authorization header, not the ${JWT_COOKIE} cookie`);
        }
        // The key acts with its own roles and grants, as with appKey/appToken; the JWT's account claim
        // narrows nothing. Deactivation, deletion and token removal apply at once.
        return keyCaller(
          presented,
          account,
          meta,
          isBrowserRequest((name) => c.req.header(name)),
        );
      case "session": {
        const session = await deps.sessions.authenticate(presented.secret);
        if (!session) fail("UNAUTHENTICATED", "The session has expired or was ended; sign in again");
        if (
          !SAFE_METHODS.has(c.req.method) &&
          !csrfMatches(presented.secret, c.req.header("x-csrf-token") ?? "")
        ) {
          fail("CSRF_FAILED", "Send the CSRF token from sign-in in the X-CSRF-Token header");
        }
        // After an administrator's reset, the user chooses a password before anything else.
        if (session.mustChangePassword && !WHILE_MUST_CHANGE.has(`${c.req.method} ${c.req.path}`)) {
          fail(
            "PASSWORD_CHANGE_REQUIRED",
            "Your password was reset by an administrator: choose a new one (POST /v1/me/password) first",
          );
        }
        const principal: Principal = { type: "user", userId: session.userId, email: session.email };
        return {
          principal,
          actor: { type: "user", id: session.userId, label: session.email, ...meta },
          via: "session",
          sessionIdHash: session.idHash,
          mustChangePassword: session.mustChangePassword,
        };
      }
      default:
        return fail("UNAUTHENTICATED", "Send X-API-AppKey and X-API-AppToken, or sign in");
    }
  }

  async function keyCaller(
    credentials: Credentials,
    account: string | undefined,
    meta: Omit<Caller["actor"], "type" | "id" | "label">,
    browser: boolean,
  ): Promise<Caller> {
    // Authenticated in the key's own account: a JWT's account claim must not make it act as another's key.
    const decision = await deps.verifier.verify({
      credentials,
      account: account ?? null,
      ownAccount: true,
      ip: meta.ip,
      browser,
    });
    if (decision.code === "RATE_LIMITED") {
      const wait = decision.retryAfter;
      fail("RATE_LIMITED", `Too many failed authentications from this address; retry in ${wait} s`, {
        retryAfter: wait,
      });
    }
    if (decision.code === "KEY_RATE_LIMITED" || decision.code === "QUOTA_EXHAUSTED") {
      const { retryAfter, allowance } = decision;
      const limits = { rateLimit: allowance.rateLimit, quota: allowance.quota };
      fail(
        decision.code,
        decision.code === "KEY_RATE_LIMITED"
          ? `The key is over its rate limit; retry in ${retryAfter} s`
          : retryAfter === null
            ? "The key's quota is used up and does not refill; ask the account for more"
            : `The key's quota is used up; it refills in ${retryAfter} s`,
        retryAfter === null ? limits : { ...limits, retryAfter },
      );
    }
    if (decision.code in CONTROL_ERRORS) {
      const code = decision.code as keyof typeof CONTROL_ERRORS;
      fail(code, CONTROL_ERRORS[code]);
    }
    if (!isAuthenticated(decision)) {
      fail(
        "UNAUTHENTICATED",
        credentials.kind === "key"
          ? "The appKey and appToken are not valid, or the key is inactive"
          : "The JWT is not valid or has expired, or its key is no longer valid",
      );
    }
    if (decision.code === "EXTERNAL_KEY_PENDING") {
      fail(
        "EXTERNAL_KEY_PENDING",
        `The key's addition to account ${decision.account} awaits approval: it may act there once approved`,
      );
    }
    const { key } = decision;
    const principal: Principal = {
      type: "key",
      keyId: key.keyId,
      appKey: key.appKey,
      account: key.account,
      ownRoleIds: key.ownRoleIds,
      token: decision.token,
    };
    const actor = { type: "key" as const, id: key.appKey, label: key.appKey, ...meta };
    return {
      principal,
      actor,
      via: "key",
      keyGrant: { account: decision.account, grant: grantOf(decision) },
    };
  }

  /**
   * What the caller holds in `account`: a key's grant as the verifier decided it (identify named
   * that account, or it is the key's own), a session user's as their membership gives it.
   */
  async function grantIn(c: RequestContext, caller: Caller, account: string): Promise<Grant> {
    const { principal, keyGrant } = caller;
    if (principal.type === "user") {
      return checkingCredentials(c, async () => (await deps.access(principal, account)).grant);
    }
    // `identify` was given the account (or it is the key's own): anything else is a bug, not a fault.
    if (keyGrant?.account !== account) throw new Error(`the key's grant in ${account} was not decided`);
    return keyGrant.grant;
  }

  const authenticated: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set("caller", await identify(c));
    await next();
  };

  /** Authenticated, and holding `resource` in the account named by the `{account}` path parameter. */
  function requireResource(resource: string): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      const account = c.req.param("account") ?? "";
      const named = isAccountName(account);
      const caller = await identify(c, named ? account : undefined);
      c.set("caller", caller);
      // The guard runs before the route's own validation: a malformed name is refused here, before
      // any lookup (NUL would reach PostgreSQL). A well-formed unknown one is the 403 below.
      if (!named) {
        const errors = [{ path: "account", message: ACCOUNT_NAME_RULE }];
        fail("VALIDATION_FAILED", `account: ${ACCOUNT_NAME_RULE}`, { errors });
      }
      const grant = await grantIn(c, caller, account);
      if (!holds(grant, resource)) {
        // A missing account is a 403 like any other: callers cannot probe which accounts exist.
        throw new AppError("FORBIDDEN", `This needs the ${resource} resource in account ${account}`, {
          resource,
        });
      }
      c.set("authority", { actor: caller.actor, grant });
      noteExternalUse(deps, caller, account);
      await next();
    };
  }

  function guard(access: Access): MiddlewareHandler<AppEnv>[] {
    if (access === "public") return [];
    if (access === "authenticated") return [authenticated];
    return [requireResource(access.resource)];
  }

  return { guard, identify, grantIn };
}

export type Guards = ReturnType<typeof createGuards>;

/** The key's controls (core/key-controls.ts) refusing a right token: said with their own codes. */
const CONTROL_ERRORS = {
  KEY_EXPIRED: "The key has expired; ask the account for a new key or a later expiry",
  IP_NOT_ALLOWED: "The key may not be used from this address (its IP allowlist)",
  BROWSER_REQUEST_REFUSED:
    "API keys must never be used in client-side code: this request came from a browser page (Origin or Sec-Fetch-* headers). Call from a server instead",
} as const;

function fromPage(c: RequestContext): boolean {
  return c.req.header("origin") !== undefined || c.req.header("sec-fetch-site") !== undefined;
}

/** The grant of an authenticated decision: nothing in an account that did not add the key. */
function grantOf(decision: NotGranted | Granted): Grant {
  return decision.valid ? decision.grant : NOTHING;
}

/**
 * A key authenticates in its own account (the verifier counts the use there); allowed in another
 * account that added it, the call is also that account's last use of the key, which is all that
 * account is shown of the key's use.
 */
export function noteExternalUse(deps: Pick<AuthDeps, "usage">, caller: Caller, account: string): void {
  const { principal } = caller;
  if (principal.type === "key" && principal.account !== account) deps.usage?.usedIn(principal.keyId, account);
}
