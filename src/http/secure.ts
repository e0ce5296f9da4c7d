import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Guards } from "./auth.js";
import type { Access, AppEnv } from "./context.js";

/**
 * Every OpenAPI route goes through `secure(access, route)`: it mounts the guard for that method and
 * path ahead of the handler and records the access rule as `x-latchkey-access` in the OpenAPI
 * document, which the shared route-security test reads to prove 401/403 on every route.
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
    return { ...route, [ACCESS_EXTENSION]: accessLabel(access) };
  };
}
