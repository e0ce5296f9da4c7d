/**
 * What the port answers while the server waits for its database at start (server.ts), before
 * anything that needs it exists: alive on /healthz, not ready on /readyz (503 NOT_READY naming the
 * dependency, as the application's /readyz says it), and 503 UNAVAILABLE on every other path, in
 * VTEX's body on its paths, and on /v1/authorize as the fast path answers a fault (`X-Auth-Code`).
 * A caller gets an answer it can retry on: never a refused connection, a hang or a 500.
 */
import { Hono } from "hono";
import type { Logger } from "pino";
import { notReady, requestContext, type Unready } from "./app.js";
import type { AppEnv } from "./context.js";
import { problem } from "./problem.js";

export interface StartingOptions {
  logger: Logger;
  trustProxy: boolean;
  /** What is awaited, for /readyz. */
  waitingFor: () => Unready;
}

export function createStartingApp(options: StartingOptions) {
  const app = new Hono<AppEnv>();
  app.use(requestContext(options.logger, options.trustProxy));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  // Not logged per probe: the start logs each failed attempt already.
  app.get("/readyz", (c) => notReady(c, options.waitingFor()));
  // As forward-auth.ts answers a fault: the code in a header, no body.
  app.all("/v1/authorize", (c) =>
    c.body(null, 503, { "x-auth-code": "UNAVAILABLE", "cache-control": "no-store" }),
  );
  app.all("*", (c) => {
    c.header("cache-control", "no-store");
    return problem(c, "UNAVAILABLE", "The server is starting and waits for its database; retry shortly");
  });
  return app;
}
