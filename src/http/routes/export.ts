import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import type { Secure } from "../secure.js";

/** Placeholder: filled by the issue-3 work on this area. */
export function exportRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  void app;
  void secure;
  void services;
}
