/**
 * Composition root: read config, open the store, build services, start HTTP. Nothing else.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import type { Logger } from "pino";
import { loadCatalogFile } from "./catalog/load.js";
import type { Config } from "./config.js";
import { createApp } from "./http/app.js";
import { createNotifier } from "./notify/notifier.js";
import { startScheduler } from "./notify/scheduler.js";
import { resolveSecret } from "./secret.js";
import type { ServiceDeps } from "./services/deps.js";
import { createServices, type Services } from "./services/index.js";
import { openStore } from "./storage/open.js";
import { createChangeBus } from "./verify/changes.js";
import type { Store } from "./storage/store.js";

export async function openConfiguredStore(config: Config): Promise<Store> {
  const store = config.databaseUrl
    ? await openStore({ kind: "postgres", url: config.databaseUrl })
    : await openStore({ kind: "sqlite", file: join(config.dataDir, "latchkey.db") });
  await store.migrate();
  return store;
}

export async function buildServices(config: Config, store: Store): Promise<Services> {
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
  };
  return createServices(deps);
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const started = performance.now();
  const store = await openConfiguredStore(config);
  const services = await buildServices(config, store);
  const app = createApp({
    services,
    logger,
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    ready: () => store.ping(),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  // Alerts, policies and deliveries run on their own timer, never inside a request.
  const notifier = createNotifier({ ...services.deps, smtpUrl: config.smtpUrl });
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
    await store.close();
    logger.info("latchkey stopped");
  }
  return { url, close };
}
