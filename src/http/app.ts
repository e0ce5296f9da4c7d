import { randomUUID } from "node:crypto";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { getPath } from "hono/utils/url";
import type { Logger } from "pino";
import type { Services } from "../services/index.js";
import { adminRoutes } from "./admin.js";
import { createGuards } from "./auth.js";
import { limitBody } from "./body-limit.js";
import type { AppEnv } from "./context.js";
import { docsRoutes } from "./docs-page.js";
import { clientAddress } from "./forward-auth.js";
import { registerSecuritySchemes, serversOf } from "./openapi.js";
import { OWN_KEY_ROUTES, ownKeyOnly } from "./own-key.js";
import { clientClosed, onError, problem } from "./problem.js";
import { appTokenRoutes } from "./routes/apptoken.js";
import { auditRoutes } from "./routes/audit.js";
import { exportRoutes } from "./routes/export.js";
import { externalKeyRoutes } from "./routes/external-keys.js";
import { invitationRoutes } from "./routes/invitations.js";
import { keyRoutes } from "./routes/keys.js";
import { keyBulkRoutes } from "./routes/keys-bulk.js";
import { keyImportRoutes } from "./routes/keys-import.js";
import { metricsRoutes } from "./routes/metrics.js";
import { passwordRoutes } from "./routes/passwords.js";
import { profileRoutes } from "./routes/profile.js";
import { renewalRoutes } from "./routes/renewal.js";
import { reviewRoutes } from "./routes/review.js";
import { revokeRoutes } from "./routes/revoke.js";
import { roleRoutes } from "./routes/roles.js";
import { sessionRoutes } from "./routes/session.js";
import { settingsRoutes } from "./routes/settings.js";
import { shareRoutes } from "./routes/shares.js";
import { userRoutes } from "./routes/users.js";
import { verifyRoutes } from "./routes/verify.js";
import { createSecure } from "./secure.js";
import { vtexRoutes } from "./vtex/index.js";
import { createVtexPathResolver } from "./vtex/paths.js";

export const MAX_BODY_BYTES = 1024 * 1024;
/** A key import carries up to 10,000 keys (docs/import.md): about 2.5 MB of JSON. */
export const MAX_IMPORT_BODY_BYTES = 8 * 1024 * 1024;
const IMPORT_PATH = /^\/v1\/accounts\/[^/]+\/keys\/import$/;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface AppOptions {
  services: Services;
  logger: Logger;
  publicUrl: string;
  trustProxy: boolean;
  /** VERIFY_TRUSTED_PROXIES: callers whose `clientIp` on POST /v1/verify is believed (none if absent). */
  verifyTrustedProxies?: readonly string[];
  /**
   * For /readyz: null when this instance can answer as promised (its database answers and it
   * hears every change from the other instances), else the dependency at fault and why.
   */
  ready: () => Promise<Unready | null>;
  /**
   * For /readyz while ready: a dependency that works less well than it should without breaking a
   * promise (the fan-out between instances is down; changes arrive through the journal).
   */
  degraded?: () => Unready | null;
  /** This process's number among `WORKERS` (1..N), told by /healthz; absent for a single process. */
  worker?: number;
  /** The built admin UI (web/dist) served at /admin. */
  adminDir: string;
}

/** A dependency at fault (`database`, `redis`, `postgres`) and why. */
export interface Unready {
  dependency: string;
  detail: string;
}

/** The /readyz answer of an instance that is not ready: 503 NOT_READY naming the dependency. */
export function notReady(c: Context<AppEnv>, failure: Unready) {
  return problem(c, "NOT_READY", failure.detail, { dependency: failure.dependency });
}

/** Builds the HTTP application. No port is opened here: tests call `app.request()` directly. */
export function createApp(options: AppOptions) {
  const { services, logger } = options;
  const vtexPaths = createVtexPathResolver();
  const app = new OpenAPIHono<AppEnv>({
    // VTEX's paths are found whatever the case of their fixed segments and a trailing slash.
    getPath: (request) => vtexPaths.resolve(getPath(request)),
    defaultHook: (result, c) => {
      if (result.success) return;
      const errors = result.error.issues.map((issue) => ({
        path: issue.path.join("."),
        message: issue.message,
      }));
      const detail = errors.map((error) => `${error.path || "body"}: ${error.message}`).join("; ");
      return problem(c, "VALIDATION_FAILED", detail, { errors });
    },
  });

  app.use(requestContext(logger, options.trustProxy));
  app.use("/v1/*", noStoreByDefault);
  app.use("/api/*", noStoreByDefault);
  const tooLarge = (limit: string) => (c: Context) => {
    // The rest of the body is not read: the connection cannot serve a next request.
    c.header("connection", "close");
    return problem(c as Context<AppEnv>, "BODY_TOO_LARGE", `The body is larger than ${limit}`);
  };
  const bodyLimit = limitBody({ maxSize: MAX_BODY_BYTES, onError: tooLarge("1 MiB") });
  const importBodyLimit = limitBody({ maxSize: MAX_IMPORT_BODY_BYTES, onError: tooLarge("8 MiB") });
  app.use((c, next) => (IMPORT_PATH.test(c.req.path) ? importBodyLimit : bodyLimit)(c, next));
  app.use("/v1/*", requireJsonBody);
  app.onError(onError);
  app.notFound((c) => problem(c, "NOT_FOUND", `No route ${c.req.method} ${c.req.path}`));

  // Ahead of the routes' guards: a gateway's X-Latchkey-Own-Key-Only is applied before anything else.
  for (const { path, param } of OWN_KEY_ROUTES) app.use(path, ownKeyOnly(param));
  registerSecuritySchemes(app);
  const secure = createSecure(app, createGuards({ ...services, access: services.callers.access }));
  sessionRoutes(app, secure, services, options.publicUrl.startsWith("https://"));
  appTokenRoutes(app, secure, services);
  // Export before keys: /keys/export must not be taken for /keys/{appKey}.
  exportRoutes(app, secure, services);
  reviewRoutes(app, secure, services);
  keyBulkRoutes(app, secure, services);
  keyImportRoutes(app, secure, services);
  keyRoutes(app, secure, services);
  renewalRoutes(app, secure, services);
  shareRoutes(app, secure, services);
  externalKeyRoutes(app, secure, services);
  settingsRoutes(app, secure, services);
  profileRoutes(app, secure, services);
  roleRoutes(app, secure, services);
  userRoutes(app, secure, services);
  invitationRoutes(app, secure, services);
  passwordRoutes(app, secure, services);
  revokeRoutes(app, secure, services);
  verifyRoutes(app, secure, services, options.verifyTrustedProxies ?? []);
  auditRoutes(app, secure, services);
  vtexRoutes(app, services);
  vtexPaths.learn(app.routes.map((route) => route.path));

  const alive = options.worker === undefined ? { status: "ok" } : { status: "ok", worker: options.worker };
  app.get("/healthz", (c) => c.json(alive));
  metricsRoutes(app, services);
  app.get("/readyz", async (c) => {
    const failure = await options.ready();
    if (failure === null) {
      const degraded = options.degraded?.() ?? null;
      return c.json(degraded ? { status: "ready", degraded: [degraded] } : { status: "ready" });
    }
    c.get("log").warn(failure, "readiness check failed");
    return notReady(c, failure);
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "latchkey",
      version: "1",
      description: "API keys for integrations, least privilege on every call",
    },
    servers: serversOf(options.publicUrl),
  });
  docsRoutes(app, options.publicUrl);
  adminRoutes(app, options.adminDir);
  return app;
}

export type App = ReturnType<typeof createApp>;

/** A request's id: the caller's X-Request-Id when it is a plain token, else a new one. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Every request: its id (echoed or made), the logger, the client address; one log line when answered. */
export function requestContext(logger: Logger, trustProxy: boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = requestIdOf(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    c.set("log", logger);
    c.set("clientIp", clientIp(c, trustProxy));
    c.header("x-request-id", requestId);
    await next();
    const line = {
      requestId,
      method: c.req.method,
      path: loggablePath(c.req.path),
      ms: +(performance.now() - started).toFixed(2),
    };
    // The client went away mid-body: what the route answered (a 400 for the body it could not read)
    // reaches nobody and says nothing about the server.
    if (clientClosed(c)) logger.info(line, "client closed the request");
    else logger.info({ ...line, status: c.res.status }, "request");
  };
}

/** Share link ids are capabilities, like tokens: they never reach the log. */
export function loggablePath(path: string): string {
  return path.replace(/^(\/v1\/shares\/|\/share\/)[^/]+/i, "$1[redacted]");
}

/** The same rule as the forward-auth fast path (forward-auth.ts `clientAddress`). */
function clientIp(c: Parameters<MiddlewareHandler<AppEnv>>[0], trustProxy: boolean): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return clientAddress(c.req.header("x-forwarded-for"), env?.incoming?.socket?.remoteAddress, trustProxy);
}

/**
 * API answers are `Cache-Control: no-store` unless their route chose otherwise (only the JWKS does):
 * many carry a secret (a token, a generated password, a JWT, the CSRF token, webhook secrets), and
 * one default cannot be forgotten on the next such route the way a per-route header can.
 */
const noStoreByDefault: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
};

/** Bodies on /v1 must be JSON: anything else is a 400 before validation runs. */
const requireJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const hasBody = c.req.header("content-length") !== undefined && c.req.header("content-length") !== "0";
  // Forward-auth subrequests carry whatever body the gateway forwards; it is never read.
  if (c.req.path === "/v1/authorize") return next();
  if (BODY_METHODS.has(c.req.method) && (hasBody || c.req.header("transfer-encoding"))) {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
      return problem(c, "INVALID_JSON", "Send the body as application/json");
    }
  }
  await next();
};
