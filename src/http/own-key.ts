/**
 * `X-Latchkey-Own-Key-Only`: a gateway that publishes token renewal to integrators (the shipped
 * nginx and Traefik examples) sets this header, overwriting any the client sent, so that a key
 * renews its own token there and nothing else: a key holding `RenewApiToken` must not renew the
 * account's other keys through the public edge. The header only ever restricts, so latchkey need
 * not trust whoever sends it; callers that reach latchkey directly (operators, the CLI, the admin)
 * do not send it and keep every right their grant gives.
 *
 * With the header (any value), the key named in the path must be the caller's: the appKey of
 * `X-API-AppKey` (or `X-VTEX-API-AppKey`), or the `sub` of the JWT. The JWT is only decoded here;
 * the route's guard, which runs next, verifies it and the token as always, so a forged `sub` gets
 * no further than the guard's 401. A session, or a key naming another key, is refused with 403
 * OWN_KEY_ONLY. No credentials at all are left to the guard (401).
 *
 * Secrets: the token and the JWT are read through credentials.ts and never logged or echoed.
 */
import type { MiddlewareHandler } from "hono";
import { decodeJwt } from "jose";
import { fail } from "../core/errors.js";
import type { AppEnv } from "./context.js";
import { readCredentials } from "./credentials.js";

export const OWN_KEY_ONLY_HEADER = "X-Latchkey-Own-Key-Only";

/** The routes that act on the key their path names, and the path parameter that names it. */
export const OWN_KEY_ROUTES = [
  { path: "/v1/accounts/:account/keys/:appKey/renewal", param: "appKey" },
  { path: "/v1/accounts/:account/keys/:appKey/renewal/complete", param: "appKey" },
  { path: "/api/vtexid/apikey/:apiKey/apitoken/renew", param: "apiKey" },
  { path: "/api/vtexid/apikey/:apiKey/apitoken/finish-renewal", param: "apiKey" },
] as const;

/** Refuses, while the request carries the header, a caller that is not the key named by `param`. */
export function ownKeyOnly(param: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header(OWN_KEY_ONLY_HEADER) === undefined) return next();
    const presented = readCredentials((name) => c.req.header(name));
    if (presented.kind === "none") return next();
    const target = c.req.param(param) ?? "";
    const caller =
      presented.kind === "key"
        ? presented.appKey
        : presented.kind === "jwt"
          ? subject(presented.token)
          : null;
    // An unreadable JWT is the guard's 401, not a refusal here.
    if (caller === undefined) return next();
    if (caller === null || caller !== target) {
      fail(
        "OWN_KEY_ONLY",
        `Through this gateway a key may renew only its own token: call with the credentials of ${target}, or ask an operator`,
      );
    }
    return next();
  };
}

/** The JWT's `sub` (the appKey it was minted for), unverified; undefined when it cannot be read. */
function subject(token: string): string | undefined {
  try {
    const { sub } = decodeJwt(token);
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}
