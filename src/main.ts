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
import { type LooseFile, openStore } from "./storage/open.js";
import type { Store } from "./storage/store.js";
import { startFanout } from "./verify/change-fanout.js";
import { createChangeBus } from "./verify/changes.js";
import { connectLimiterRedis, createEmailLimiter, createFailureLimiter } from "./verify/rate-limit.js";

/** Opens and migrates the database; `logger` hears of SQLite files found readable by others. */
export async function openConfiguredStore(config: Config, logger?: Logger): Promise<Store> {
  const store = config.databaseUrl
    ? await openStore({ kind: "postgres", url: config.databaseUrl })
    : await openStore({
        kind: "sqlite",
        file: join(config.dataDir, "latchkey.db"),
        onLooseFiles: (files) => {
          if (logger) reportLooseFiles(logger, files);
        },
      });
  await store.migrate();
  return store;
}

function reportLooseFiles(logger: Logger, files: LooseFile[]): void {
  const tightened = files.filter((f) => f.tightened);
  const refused = files.filter((f) => !f.tightened);
  if (tightened.length > 0)
    logger.warn({ files: tightened }, "data files were open to other users: tightened to 0600");
  if (refused.length > 0)
    logger.warn({ files: refused }, "data files are open to other users and not ours to chmod");
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
  const failures = { limit: config.rateLimitFailures, windowSeconds: config.rateLimitWindowSeconds };
  const extras: ServiceExtras = {
    limiter: createFailureLimiter({ ...shared, ...failures, prefix: "latchkey:auth-failures:" }),
    blockedLookups: createFailureLimiter({ clock, ...failures }),
    signInLimiter: createEmailLimiter({ ...shared, ...failures, prefix: "latchkey:sign-in-failures:" }),
    revokeLimiter: createFailureLimiter({ ...shared, ...REVOKE_RATE, prefix: "latchkey:leak-reports:" }),
    metrics: createMetrics({ clock }),
    smtpUrl: config.smtpUrl,
  };
  async function close() {
    await redis?.quit().catch(() => redis.disconnect());
  }
  return { extras, close };
}

/**
 * Builds the services and makes the start-up checks that need them; on a failure, releases what
 * was opened so that the process can exit with the error.
 */
async function prepareServing(config: Config, logger: Logger, store: Store) {
  let serving: Awaited<ReturnType<typeof servingExtras>> | undefined;
  try {
    serving = await servingExtras(config, logger);
    const services = await buildServices(config, store, serving.extras);
    // A wrong LATCHKEY_SECRET stops the start here, not every app-token login later with a 500.
    await services.jwt.checkSecret();
    return { serving, services };
  } catch (error) {
    await serving?.close();
    await store.close();
    throw error;
  }
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const started = performance.now();
  const store = await openConfiguredStore(config, logger);
  const { serving, services } = await prepareServing(config, logger, store);
  const app = createApp({
    services,
    logger,
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    verifyTrustedProxies: config.verifyTrustedProxies,
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
