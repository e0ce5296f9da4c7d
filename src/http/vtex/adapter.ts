/**
 * What every VTEX-compatible route shares: the caller (the same `identify` as the native API, so
 * keys, JWTs and sessions are read by the same credentials.ts and go through the same verifier,
 * cache and failure limiter), the account (`an`, else the caller's own, else the first label of
 * Host), the resource check (the same `grantIn` and `holds` as the native guard) and VTEX's error
 * shape `{"Message": "…"}`.
 *
 * Tokens and JWTs are read by `identify` only and never echoed in an error.
 */
import type { Context } from "hono";
import { AppError, fail } from "../../core/errors.js";
import { isAccountName } from "../../core/names.js";
import { holds } from "../../core/permissions.js";
import type { Services } from "../../services/index.js";
import { type Guards, noteExternalUse } from "../auth.js";
import type { AppEnv, Caller } from "../context.js";
import { onError, vtexErrorBody } from "../problem.js";

export type VtexContext = Context<AppEnv>;

/** A VTEX-shaped refusal with its own status and body, for the few errors VTEX words its own way. */
export class VtexError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.Message ?? "VTEX error"));
  }
}

export function vtexMessage(status: number, message: string): VtexError {
  return new VtexError(status, { Message: message });
}

/**
 * VtexError → its own status and body; AppError → the app's error mapper, which answers VTEX's
 * `{"Message"}` on these paths; anything else goes on to that mapper as a fault.
 */
export function vtexErrorResponse(c: VtexContext, error: unknown): Response {
  if (error instanceof VtexError) return vtexErrorBody(c, error.status, error.body);
  if (error instanceof AppError) return onError(error, c);
  throw error;
}

/** Runs a handler, answering refusals in VTEX's shape. Rewrites a few codes the VTEX way. */
export function vtexHandler(
  run: (c: VtexContext) => Promise<Response>,
  rewrite: (error: AppError) => VtexError | undefined = () => undefined,
) {
  return async (c: VtexContext): Promise<Response> => {
    try {
      return await run(c);
    } catch (error) {
      const mapped = error instanceof AppError ? (rewrite(error) ?? error) : error;
      return vtexErrorResponse(c, mapped);
    }
  };
}

export function createVtexAccess(guards: Guards, services: Services) {
  /**
   * `an`, else the calling key's account, else the first label of Host. A name that cannot be an
   * account is 404; a well-formed one is not looked up: one the caller has no grant in, existing or
   * not, is the 403 of `require`, as on /v1, so accounts cannot be probed.
   */
  function resolveAccount(c: VtexContext, caller: Caller): string {
    const fromQuery = c.req.query("an");
    const fromCaller = caller.principal.type === "key" ? caller.principal.account : undefined;
    const fromHost = (c.req.header("host") ?? "").split(".")[0]?.split(":")[0];
    const account = (fromQuery || fromCaller || fromHost || "").toLowerCase();
    if (!isAccountName(account)) throw vtexMessage(404, "Account not found");
    return account;
  }

  /** Authenticated and the account resolved; the resource is decided later by the caller. */
  async function identifyIn(c: VtexContext) {
    // A key is verified for the account `an` names (else its own, which `resolveAccount` then picks).
    const named = (c.req.query("an") ?? "").toLowerCase();
    const caller = await guards.identify(c, isAccountName(named) ? named : undefined);
    const account = resolveAccount(c, caller);
    const grant = await guards.grantIn(c, caller, account);
    return {
      caller,
      account,
      grant,
      actor: caller.actor,
      authority: { actor: caller.actor, grant },
      require(resource: string) {
        if (!holds(grant, resource)) {
          fail("FORBIDDEN", `This needs the ${resource} resource in account ${account}`, { resource });
        }
        noteExternalUse(services, caller, account);
      },
    };
  }

  /** Authenticated (401 otherwise), account well-formed (404), holding `resource` there (403). */
  async function authorize(c: VtexContext, resource: string) {
    const scope = await identifyIn(c);
    scope.require(resource);
    return scope;
  }

  return { authorize, identifyIn };
}

export type VtexAccess = ReturnType<typeof createVtexAccess>;

/**
 * Whether an id, user id or appKey from a VTEX path can name anything: at most 100 characters, no
 * control character. Anything else is answered as unknown without a lookup (NUL would reach
 * PostgreSQL).
 */
export function isLookupId(text: string): boolean {
  return text.length > 0 && text.length <= 100 && !/\p{Cc}/u.test(text);
}

/** The JSON body, or a 400 in VTEX's shape. Unknown fields are ignored, as VTEX does. */
export async function readJson(c: VtexContext): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw vtexMessage(400, "The body must be valid JSON");
  }
}
