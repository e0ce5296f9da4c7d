import type { Hono } from "hono";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";

/**
 * `GET /metrics`: Prometheus exposition text, public like /healthz (SPEC §3). Outside /v1 and the
 * OpenAPI document: scrapers, not API clients, read it. It holds counts only, never a key or token.
 */
export function metricsRoutes(app: Hono<AppEnv>, { metrics }: Pick<Services, "metrics">) {
  app.get("/metrics", async (c) =>
    c.body(await metrics.render(), 200, { "content-type": metrics.contentType, "cache-control": "no-store" }),
  );
}
