/**
 * Composition root: read config, open the store, build services, start HTTP. Nothing else.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "pino";
import { loadCatalogFile } from "./catalog/load.js";
import type { Config } from "./config.js";
import { createApp } from "./http/app.js";
import { createFastPath } from "./http/fast-path.js";
import { createMetrics } from "./metrics.js";
import { createNotifier } from "./notify/notifier.js";
import { startScheduler } from "./notify/scheduler.js";
import { resolveSecret } from "./secret.js";
import type { ServiceDeps } from "./services/deps.js";
import { createServices, type ServiceExtras, type Services } from "./services/index.js";
import { REVOKE_RATE } from "./services/revoke.js";
import { openStore } from "./storage/open.js";
import type { Store } from "./storage/store.js";
import { startFanout } from "./verify/change-fanout.js";
import { createChangeBus } from "./verify/changes.js";
import { connectLimiterRedis, createFailureLimiter } from "./verify/rate-limit.js";

export async function openConfiguredStore(config: Config): Promise<Store> {
  const store = config.databaseUrl
    ? await openStore({ kind: "postgres", url: config.databaseUrl })
    : await openStore({ kind: "sqlite", file: join(config.dataDir, "latchkey.db") });
  await store.migrate();
  return store;
}

export async function buildServices(
  config: Config,
  store: Store,
  extras: ServiceExtras = {},
): Promise<Services> {
  const deps: ServiceDeps & { sessionTtlSeconds: number } = {
    store,
    catalog: loadCatalogFile(config.catalogFile),
    clock: { now: () => Date.now() },
    random: (size) => randomBytes(size),
    newId: () => randomUUID(),
    keyPrefix: config.keyPrefix,
    tokenPrefix: config.tokenPrefix,
    secret: resolveSecret(config),
    publicUrl: config.publicUrl,
    changes: createChangeBus(),
    sessionTtlSeconds: config.sessionTtlSeconds,
    jwtTtlSeconds: config.jwtTtlSeconds,
  };
  return createServices({ ...deps, webhookAllowPrivate: config.webhookAllowPrivate, ...extras });
}

/**
 * What only a serving process needs: its metrics and its rate limiters, whose counters are shared
 * through Redis when REDIS_URL is set (each limiter under its own key prefix).
 */
async function servingExtras(config: Config, logger: Logger) {
  const clock = { now: () => Date.now() };
  const redis = config.redisUrl ? await connectLimiterRedis(config.redisUrl) : undefined;
  const shared = {
    clock,
    redis,
    onRedisError: (error: unknown) =>
      logger.warn({ err: error }, "rate-limit counters: Redis unavailable, counting in this process"),
    onRedisRecovered: () => logger.info("rate-limit counters: Redis answers again"),
  };
  const extras: ServiceExtras = {
    limiter: createFailureLimiter({
      ...shared,
      limit: config.rateLimitFailures,
      windowSeconds: config.rateLimitWindowSeconds,
      prefix: "latchkey:auth-failures:",
    }),
    revokeLimiter: createFailureLimiter({ ...shared, ...REVOKE_RATE, prefix: "latchkey:leak-reports:" }),
    metrics: createMetrics({ clock }),
    smtpUrl: config.smtpUrl,
  };
  async function close() {
    await redis?.quit().catch(() => redis.disconnect());
  }
  return { extras, close };
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const started = performance.now();
  const store = await openConfiguredStore(config);
  const serving = await servingExtras(config, logger);
  const services = await buildServices(config, store, serving.extras);
  const app = createApp({
    services,
    logger,
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    ready: () => store.ping(),
  });
  // Gateways' forward-auth subrequests skip the framework (fast-path.ts); the rest goes to Hono.
  const fastPath = createFastPath({
    verifier: services.verifier,
    catalog: services.deps.catalog,
    trustProxy: config.trustProxy,
  });
  const application = getRequestListener(app.fetch);
  const server = createServer((req, res) => {
    if (!fastPath(req, res)) void application(req, res);
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  // Changes reach the other instances; usage counts are written every few seconds.
  const fanout = await startFanout({
    bus: services.deps.changes,
    logger,
    redisUrl: config.redisUrl,
    databaseUrl: config.databaseUrl,
  });
  services.usage.start();
  // Alerts, policies and deliveries run on their own timer, never inside a request.
  const notifier = createNotifier({
    ...services.deps,
    smtpUrl: config.smtpUrl,
    webhookAllowPrivate: config.webhookAllowPrivate,
  });
  const scheduler = startScheduler({
    intervalMs: config.alertsIntervalSeconds * 1000,
    run: (signal) => notifier.runPass(signal),
    logger,
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  logger.info(
    { url, database: store.dialect, startupMs: Math.round(performance.now() - started) },
    "latchkey listening",
  );

  async function close() {
    // Stop accepting, let in-flight requests and the notifier's pass finish, then release the database.
    await Promise.all([
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      }),
      scheduler.stop(),
    ]);
    notifier.close();
    await services.usage.stop();
    await fanout.close();
    await serving.close();
    await store.close();
    logger.info("latchkey stopped");
  }
  return { url, close };
}
