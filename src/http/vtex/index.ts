import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Services } from "../../services/index.js";
import { createGuards } from "../auth.js";
import type { AppEnv } from "../context.js";
import { createVtexAccess } from "./adapter.js";
import { licenseManagerRoutes } from "./license-manager.js";
import { vtexUserRoutes } from "./users.js";
import { vlmAccountRoutes } from "./vlm.js";
import { vtexIdRoutes } from "./vtex-id.js";

/**
 * VTEX compatibility (SPEC §4): VTEX's License Manager and VTEX ID paths, answered by the same
 * services and the same caller identification as /v1. Plain Hono routes, kept out of the OpenAPI
 * document (it describes latchkey's own API); each handler checks its resource through
 * `createVtexAccess`, and test/http/vtex.test.ts proves 401/403/404 on every one of them.
 */
export function vtexRoutes(app: OpenAPIHono<AppEnv>, services: Services) {
  const guards = createGuards({ ...services, access: services.callers.access });
  const access = createVtexAccess(guards, services);
  licenseManagerRoutes(app, access, services);
  vtexUserRoutes(app, access, services);
  vlmAccountRoutes(app, access, services);
  vtexIdRoutes(app, access, services);
}
