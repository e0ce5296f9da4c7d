/**
 * Composition root: read config, open the store, build everything once (`composeLatchkey`, which
 * the CLI and the tests' harness use too), start it for the server (`startLatchkey`; the port and
 * the wait for the database are server.ts's). Nothing else.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { RequestListener } from "node:http";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { loadCatalogFile } from "./catalog/load.js";
import type { WorkerLink } from "./cluster.js";
import { adminUiDir, type Config } from "./config.js";
import type { Clock } from "./core/time.js";
import { createApp } from "./http/app.js";
import { createFastPath } from "./http/fast-path.js";
import { createMetrics } from "./metrics.js";
import type { NotifyDeps } from "./notify/deps.js";
import { createEmailSender } from "./notify/email.js";
import { createNotifier } from "./notify/notifier.js";
import { type Scheduler, startScheduler } from "./notify/scheduler.js";
import { createTestNotifier } from "./notify/test-notification.js";
import { resolveSecret } from "./secret.js";
import type { ServiceDeps } from "./services/deps.js";
import { createServices } from "./services/index.js";
import { type PlainMailer, RESET_LINK_RATE } from "./services/password-changes.js";
import { REVOKE_RATE } from "./services/revoke.js";
import { createRoleDirectory } from "./services/role-directory.js";
import { createJwtService } from "./services/signing-keys.js";
import { type LooseFile, type OpenStoreOptions, openStore } from "./storage/open.js";
import type { Store } from "./storage/store.js";
import { createAllowances } from "./verify/allowance.js";
import { startFanout } from "./verify/change-fanout.js";
import { startChangeJournal } from "./verify/change-journal.js";
import { type ChangeBus, createChangeBus } from "./verify/changes.js";
import { tokenFingerprint } from "./verify/jwt.js";
import { createKeyCache } from "./verify/key-cache.js";
import { connectLimiterRedis, createEmailLimiter, createFailureLimiter } from "./verify/rate-limit.js";
import { createUsageRecorder } from "./verify/usage.js";
import { createVerifier } from "./verify/verifier.js";

/** Opens and migrates the database; `logger` hears of SQLite files found readable by others. */
export async function openConfiguredStore(config: Config, logger?: Logger): Promise<Store> {
  const store = await openStore(configuredDatabase(config, logger));
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Where the configured database is (DATABASE_URL, else the SQLite file in DATA_DIR), and how to open it. */
export function configuredDatabase(config: Config, logger?: Logger): OpenStoreOptions {
  return config.databaseUrl
    ? {
        kind: "postgres",
        url: config.databaseUrl,
        // The message only: pg hangs the whole connection (its settings included) on the error.
        onConnectionLost: (error) =>
          logger?.warn(
            { dependency: "database", error: error.message },
            "database: an idle connection dropped; the next query opens a new one",
          ),
      }
    : {
        kind: "sqlite",
        file: join(config.dataDir, "latchkey.db"),
        onLooseFiles: (files) => {
          if (logger) reportLooseFiles(logger, files);
        },
      };
}

function reportLooseFiles(logger: Logger, files: LooseFile[]): void {
  const tightened = files.filter((f) => f.tightened);
  const refused = files.filter((f) => !f.tightened);
  if (tightened.length > 0)
    logger.warn({ files: tightened }, "data files were open to other users: tightened to 0600");
  if (refused.length > 0)
    logger.warn({ files: refused }, "data files are open to other users and not ours to chmod");
}

/** What the process provides beside the configuration. */
export interface Wiring {
  store: Store;
  logger: Logger;
  /** The one clock of everything built here; the wall clock unless a test moves it. */
  clock?: Clock;
  /**
   * Failure counters shared through Redis (REDIS_URL), each limiter under its own key prefix that
   * starts with `prefix`; counted in this process when absent.
   */
  limiterRedis?: { client: Redis; prefix: string };
  /** Leak reports allowed per client address; REVOKE_RATE unless a test needs another. */
  revokeRate?: { limit: number; windowSeconds: number };
  /**
   * This process is one of `WORKERS` (cluster.ts): without Redis, its failure counters are the
   * primary's, and /metrics answers for every worker.
   */
  workers?: WorkerLink;
}

/**
 * Builds latchkey once, for the server, the CLI and the tests alike: the services' dependencies,
 * the verification path (key cache, usage recorder, verifier, rate limiters, metrics), the
 * notifier, the use cases, and over them the HTTP application and the forward-auth fast path. The
 * HTTP layer is handed the use cases only. Nothing starts here: no port, timer or connection.
 */
export function composeLatchkey(config: Config, wiring: Wiring) {
  const { store, logger } = wiring;
  const deps = serviceDeps(config, wiring);
  const verification = composeVerification(config, wiring, deps);
  // One set of mail settings: the scheduler's notifier and test notifications sent from a request.
  const notify: NotifyDeps = {
    ...deps,
    smtpUrl: config.smtpUrl,
    webhookAllowPrivate: config.webhookAllowPrivate,
  };
  const services = createServices(deps, {
    ...verification,
    testNotifier: createTestNotifier(notify),
    mail: config.smtpUrl ? plainMailer(notify) : undefined,
  });
  const app = createApp({
    services,
    logger,
    publicUrl: config.publicUrl,
    adminDir: adminUiDir(),
    trustProxy: config.trustProxy,
    verifyTrustedProxies: config.verifyTrustedProxies,
    ...(wiring.workers ? { worker: wiring.workers.worker } : {}),
    ready: () => readiness(store, deps.changes, logger),
    degraded: () => {
      const down = deps.changes.fanoutDown();
      return (
        down && {
          dependency: down.dependency,
          detail: `Changes from other instances arrive through the database journal, within 250 ms (${down.reason})`,
        }
      );
    },
  });
  // Gateways' forward-auth subrequests and plain verifications skip the framework (fast-path.ts).
  const application = getRequestListener(app.fetch);
  const fastPath = createFastPath({
    verifier: verification.verifier,
    catalog: deps.catalog,
    trustProxy: config.trustProxy,
    verifyTrustedProxies: config.verifyTrustedProxies,
    logger,
    application,
  });
  const notifier = createNotifier({ ...notify, expireRequests: services.externalKeys.expireRequests });
  return { deps, services, app, application, fastPath, notifier, allowances: verification.allowances };
}

/** What /readyz reports: the database first, then whether changes from other instances are heard. */
async function readiness(store: Store, changes: ChangeBus, logger: Logger) {
  try {
    await store.ping();
  } catch (error) {
    logger.warn({ err: error }, "readiness: the database does not answer");
    return { dependency: "database", detail: "The database does not answer" };
  }
  const down = changes.down();
  if (down === null) return null;
  return {
    dependency: down.dependency,
    detail: `Changes from other instances may be missed (${down.reason}); keys are verified against the database`,
  };
}

function serviceDeps(config: Config, wiring: Wiring): ServiceDeps {
  return {
    store: wiring.store,
    catalog: loadCatalogFile(config.catalogFile),
    clock: wiring.clock ?? { now: () => Date.now() },
    random: (size) => randomBytes(size),
    newId: () => randomUUID(),
    keyPrefix: config.keyPrefix,
    tokenPrefix: config.tokenPrefix,
    secret: resolveSecret(config),
    publicUrl: config.publicUrl,
    changes: createChangeBus(),
    sessionTtlSeconds: config.sessionTtlSeconds,
    jwtTtlSeconds: config.jwtTtlSeconds,
    vtexJwtTtlSeconds: config.vtexJwtTtlSeconds,
  };
}

/**
 * The verification path: key states cached by appKey, the verifier, usage counted in memory and
 * written in batches, the failure limiters and the metrics; and the JWT service the verifier reads.
 */
function composeVerification(config: Config, wiring: Wiring, deps: ServiceDeps) {
  const { store, clock } = deps;
  const limiters = createLimiters(config, wiring, clock);
  const { workers } = wiring;
  const metrics = createMetrics({ clock, ...(workers ? { render: () => workers.metrics() } : {}) });
  const roleDirectory = createRoleDirectory(deps);
  const keyCache = createKeyCache({
    store,
    roles: roleDirectory,
    everyResource: deps.catalog.resources.map((resource) => resource.key),
    changes: deps.changes,
    clock,
  });
  const allowances = createAllowances({
    clock,
    redis: wiring.limiterRedis?.client,
    prefix: `${wiring.limiterRedis?.prefix ?? ""}key-rate:`,
    quotaPrefix: `${wiring.limiterRedis?.prefix ?? ""}key-quota:`,
    onRedisError: (error: unknown) =>
      wiring.logger.warn(
        { err: error },
        "key rate limits and quotas: Redis unavailable, counting in this process",
      ),
    onRedisRecovered: () => wiring.logger.info("key rate limits and quotas: Redis answers again"),
  });
  const usage = createUsageRecorder({
    // A worker of WORKERS on SQLite writes through its primary (cluster.ts: no worker waits on the write lock).
    store:
      workers && !config.databaseUrl ? { usage: { record: (batch) => workers.recordUsage(batch) } } : store,
    clock,
    quotas: allowances,
    onFlush: flushReporter(wiring.logger, (ok, atMs) => metrics.flushed(ok, atMs)),
  });
  metrics.holding(() => keyCache.held());
  const jwt = createJwtService(deps);
  const verifier = createVerifier({
    cache: keyCache,
    clock,
    tokenPrefix: deps.tokenPrefix,
    usage,
    limiter: limiters.limiter,
    blockedLookups: limiters.blockedLookups,
    allowances,
    metrics,
    jwt: { verify: (token) => jwt.verify(token), fingerprint: tokenFingerprint },
  });
  return { ...limiters, metrics, roleDirectory, keyCache, allowances, usage, jwt, verifier };
}

/**
 * Usage writes that fail keep their counts for the next attempt, so one failure is no emergency;
 * a run of them is. The first failure of a run is logged at warn, then at most one line a minute
 * while it lasts, and the write that ends it at info.
 */
export function flushReporter(
  logger: Pick<Logger, "warn" | "info">,
  then: (ok: boolean, atMs: number) => void,
): (ok: boolean, atMs: number, error?: unknown) => void {
  let failingSince: number | undefined;
  let failures = 0;
  let loggedAt = 0;
  return (ok, atMs, error) => {
    then(ok, atMs);
    if (ok) {
      if (failingSince !== undefined)
        logger.info({ failures, failingForMs: atMs - failingSince }, "usage counts are written again");
      failingSince = undefined;
      failures = 0;
      return;
    }
    failures++;
    if (failingSince === undefined || atMs - loggedAt >= 60_000) {
      failingSince ??= atMs;
      loggedAt = atMs;
      logger.warn(
        { err: error, failures },
        "usage counts could not be written; they are kept for the next attempt",
      );
    }
  };
}

export type Latchkey = ReturnType<typeof composeLatchkey>;

/** One plain-text mail through SMTP_URL, on a transport opened for it and closed after. */
function plainMailer(notify: NotifyDeps): PlainMailer {
  return async (mail) => {
    const sender = createEmailSender(notify);
    try {
      return await sender.sendText(mail);
    } finally {
      sender.close();
    }
  };
}

/** The failure limiters, with counters in Redis when given (each under its own key prefix). */
function createLimiters(config: Config, wiring: Wiring, clock: Clock) {
  const { logger } = wiring;
  const redis = wiring.limiterRedis?.client;
  const prefix = wiring.limiterRedis?.prefix ?? "";
  // Redis between instances; else the primary between the workers of one server (WORKERS).
  const holder = redis ? "Redis" : "the primary process";
  const shared = {
    clock,
    redis,
    shared: wiring.workers?.counter,
    onRedisError: (error: unknown) =>
      logger.warn({ err: error }, `rate-limit counters: ${holder} unavailable, counting in this process`),
    onRedisRecovered: () => logger.info(`rate-limit counters: ${holder} answers again`),
  };
  const failures = { limit: config.rateLimitFailures, windowSeconds: config.rateLimitWindowSeconds };
  const revokeRate = wiring.revokeRate ?? REVOKE_RATE;
  return {
    limiter: createFailureLimiter({ ...shared, ...failures, prefix: `${prefix}auth-failures:` }),
    // Local to the instance: it protects this instance's I/O.
    blockedLookups: createFailureLimiter({ clock, ...failures }),
    signInLimiter: createEmailLimiter({ ...shared, ...failures, prefix: `${prefix}sign-in-failures:` }),
    revokeLimiter: createFailureLimiter({ ...shared, ...revokeRate, prefix: `${prefix}leak-reports:` }),
    resetLinkLimiter: createFailureLimiter({
      ...shared,
      ...RESET_LINK_RATE,
      prefix: `${prefix}reset-links:`,
    }),
    resetLinkEmailLimiter: createEmailLimiter({
      ...shared,
      ...RESET_LINK_RATE,
      prefix: `${prefix}reset-link-emails:`,
    }),
  };
}

/**
 * Composes latchkey and makes the start-up checks that need it; on a failure, releases what was
 * opened so that the process can exit with the error.
 */
async function prepareServing(config: Config, logger: Logger, store: Store, workers?: WorkerLink) {
  let redis: Redis | undefined;
  try {
    redis = config.redisUrl ? await connectLimiterRedis(config.redisUrl) : undefined;
    const latchkey = composeLatchkey(config, {
      store,
      logger,
      ...(redis ? { limiterRedis: { client: redis, prefix: "latchkey:" } } : {}),
      ...(workers ? { workers } : {}),
    });
    workers?.serveSnapshots(() => latchkey.services.metrics.snapshot());
    // A wrong LATCHKEY_SECRET stops the start here, not every app-token login later with a 500.
    await latchkey.services.jwt.checkSecret();
    const release = async () => {
      await closeRedis(redis);
      await store.close();
    };
    return { latchkey, release };
  } catch (error) {
    await closeRedis(redis);
    await store.close();
    throw error;
  }
}

async function closeRedis(redis: Redis | undefined): Promise<void> {
  await redis?.quit().catch(() => redis.disconnect());
}

/**
 * The server's latchkey over an open store (server.ts): composed, checked, following the change
 * journal and with its change fan-out started. `begin` starts the work done beside requests, once
 * the port is open; `close` stops everything and releases the store, letting in-flight requests
 * (`closePort`) finish first. On a failure, what was opened is released, the store included.
 * `workers`: this process is one of `WORKERS` (cluster.ts).
 */
export async function startLatchkey(config: Config, logger: Logger, store: Store, workers?: WorkerLink) {
  const prepared = await prepareServing(config, logger, store, workers);
  const { deps, services, application, fastPath, notifier, allowances } = prepared.latchkey;
  // Changes of the other instances are read from the journal; while it cannot be read, keys are
  // verified against the database and /readyz answers 503.
  const journal = await startChangeJournal({
    bus: deps.changes,
    journal: store.changeLog,
    logger,
    dependency: "database",
  }).catch(releasing(prepared.release));
  // The fast path between instances. It connects (and retries) in the background.
  const fanout = await startFanout({
    bus: deps.changes,
    logger,
    redisUrl: config.redisUrl,
    databaseUrl: config.databaseUrl,
    workers: workers?.relay,
  }).catch(
    releasing(async () => {
      await journal.close();
      await prepared.release();
    }),
  );
  let scheduler: Scheduler | undefined;
  return {
    dialect: store.dialect,
    // Gateways' forward-auth subrequests skip the framework (fast-path.ts); the rest goes to Hono.
    handle: ((req, res) => {
      if (!fastPath(req, res)) void application(req, res);
    }) satisfies RequestListener,
    begin() {
      // Usage counts are written every few seconds.
      services.usage.start();
      // Alerts, policies and deliveries run on their own timer, never inside a request.
      scheduler = startScheduler({
        intervalMs: config.alertsIntervalSeconds * 1000,
        run: (signal) => notifier.runPass(signal),
        logger,
      });
    },
    async close(closePort: () => Promise<void>) {
      // Invitation and reset mails already started are sent before the mail transport closes (the
      // shutdown deadline bounds the wait, as it bounds everything here).
      await Promise.all([
        closePort(),
        scheduler?.stop(),
        services.invitations.settled(),
        services.passwords.settled(),
      ]);
      notifier.close();
      await services.usage.stop();
      // The last spends reach Redis too, so the other instances count them at once.
      await allowances.sync();
      allowances.close();
      await fanout.close();
      await journal.close();
      await prepared.release();
    },
  };
}

/** For a `.catch` of a start: releases what was opened before, then fails with the error. */
function releasing(release: () => Promise<void>) {
  return async (error: unknown): Promise<never> => {
    await release();
    throw error;
  };
}

export type StartedLatchkey = Awaited<ReturnType<typeof startLatchkey>>;
