import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Guards } from "./auth.js";
import type { Access, AppEnv } from "./context.js";
import { securityOf } from "./openapi.js";
import { problemResponses } from "./schemas.js";

/**
 * Every OpenAPI route goes through `secure(access, route)`: it mounts the guard for that method and
 * path ahead of the handler and records the access rule as `x-latchkey-access` in the OpenAPI
 * document, which the shared route-security test reads to prove 401/403 on every route. It also
 * documents what the guard implies: the credentials it reads (`security`, which gives /docs its
 * Authorize button) and, as every key or JWT it checks goes through the failure limiter, a 429.
 */
export type Secure = <R extends RouteConfig>(access: Access, route: R) => R;

export const ACCESS_EXTENSION = "x-latchkey-access";

export function accessLabel(access: Access): string {
  return typeof access === "string" ? access : access.resource;
}

export function createSecure(app: OpenAPIHono<AppEnv>, guards: Guards): Secure {
  return (access, route) => {
    const middleware = guards.guard(access);
    if (middleware.length > 0) {
      const path = route.path.replace(/\{([^}]+)\}/g, ":$1");
      app.on([route.method.toUpperCase()], [path], ...middleware);
    }
    const limited = access !== "public" && !(429 in route.responses);
    return {
      ...route,
      security: route.security ?? securityOf(access, route.method),
      responses: limited ? { ...route.responses, ...problemResponses(429) } : route.responses,
      [ACCESS_EXTENSION]: accessLabel(access),
    };
  };
}
