/**
 * The server process around the composition root (main.ts): the port, the wait for the database at
 * start, and the close. Part of the composition root.
 *
 * On SQLite, a local file, the database is opened and latchkey composed before the port opens, so a
 * bad DATA_DIR or secret stops the start at once. On PostgreSQL the port opens first: while the
 * database cannot be reached the server is alive but not ready, answers every other request 503
 * (http/starting.ts) and retries with backoff, one log line per failed attempt; once it is reached,
 * latchkey is composed and serves. An error that waiting does not cure (a migration that fails, a
 * LATCHKEY_SECRET that does not open the signing keys) ends the start. A signal ends either state.
 *
 * DATABASE_URL may carry a password: only its host and port are logged.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "pino";
import type { WorkerLink } from "./cluster.js";
import type { Config } from "./config.js";
import { classifyAddress } from "./core/addresses.js";
import { createStartingApp } from "./http/starting.js";
import { openConfiguredStore, type StartedLatchkey, startLatchkey } from "./main.js";
import { connectionFailure } from "./storage/unreachable.js";
import { hostOf, retryDelay } from "./verify/change-fanout.js";

export interface RunningServer {
  url: string;
  /**
   * Settles when the start is over: resolves once latchkey serves (or was closed first), rejects
   * with what stopped the start (by then the port is closed and everything opened released).
   */
  started: Promise<void>;
  close(): Promise<void>;
}

/** `workers`: this process is one of `WORKERS` (cluster.ts), sharing the port with the others. */
export async function startServer(
  config: Config,
  logger: Logger,
  workers?: WorkerLink,
): Promise<RunningServer> {
  const startedAt = performance.now();
  const local = config.databaseUrl
    ? undefined
    : await startLatchkey(config, logger, await openConfiguredStore(config, logger), workers);
  let failedAttempts = 0;
  const starting = createStartingApp({
    logger,
    trustProxy: config.trustProxy,
    waitingFor: () => waitingForDatabase(failedAttempts),
  });
  let handle: RequestListener = local?.handle ?? getRequestListener(starting.fetch);
  const server = createServer((req, res) => handle(req, res));
  const closePort = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  await listen(server, config).catch(async (error: unknown) => {
    await local?.close(async () => {});
    throw error;
  });
  const url = urlOf(server, config);
  const stop = new AbortController();
  let serving: StartedLatchkey | undefined;

  function serve(latchkey: StartedLatchkey) {
    serving = latchkey;
    handle = latchkey.handle;
    latchkey.begin();
    const startupMs = Math.round(performance.now() - startedAt);
    logger.info({ url, database: latchkey.dialect, startupMs }, "latchkey listening");
    startupNotes(config, logger);
  }

  async function waitThenServe() {
    logger.info({ url, dependency: "database" }, "port open: waiting for the database before serving");
    const latchkey = await startWhenReachable(config, logger, stop.signal, workers, (attempt) => {
      failedAttempts = attempt;
    });
    if (latchkey !== undefined) serve(latchkey);
  }

  if (local) serve(local);
  const started = local
    ? Promise.resolve()
    : waitThenServe().catch(async (error: unknown) => {
        // Stopped meanwhile: the stop decides how the process ends.
        if (stop.signal.aborted) return;
        await closePort();
        throw error;
      });
  return {
    url,
    started,
    async close() {
      stop.abort();
      // While waiting, the port closes at once: an attempt under way (a connection, migrations, the
      // composition) is not waited for; it sees the stop when it ends and releases what it opened.
      if (serving) await serving.close(closePort);
      else await closePort();
      logger.info("latchkey stopped");
    },
  };
}

/**
 * Opens and migrates the database and starts latchkey over it (which reads it too), again while
 * the database cannot be reached: each failed attempt is logged (where, which attempt, the next
 * delay), told to `onFailure` and retried with the change fan-out's backoff. Any other error ends
 * the wait. Undefined once `stop` is aborted.
 */
async function startWhenReachable(
  config: Config,
  logger: Logger,
  stop: AbortSignal,
  workers: WorkerLink | undefined,
  onFailure: (attempt: number) => void,
): Promise<StartedLatchkey | undefined> {
  const host = hostOf(config.databaseUrl ?? "");
  for (let attempt = 1; !stop.aborted; attempt++) {
    try {
      const latchkey = await startLatchkey(
        config,
        logger,
        await openConfiguredStore(config, logger),
        workers,
      );
      if (!stop.aborted) return latchkey;
      await latchkey.close(async () => {});
    } catch (error) {
      const failure = connectionFailure(error);
      if (failure === null) throw error;
      const delayMs = retryDelay(attempt);
      onFailure(attempt);
      logger.warn(
        { dependency: "database", host, attempt, retryInMs: delayMs, error: failure },
        `database at ${host} unreachable; retrying in ${delayMs} ms`,
      );
      await sleep(delayMs, undefined, { signal: stop }).catch(() => {});
    }
  }
  return undefined;
}

/** What /readyz says while the start waits for the database. */
function waitingForDatabase(failedAttempts: number) {
  return {
    dependency: "database",
    detail:
      failedAttempts === 0
        ? "Connecting to the database and applying migrations"
        : `The database cannot be reached yet (attempt ${failedAttempts} failed); retrying`,
  };
}

/**
 * What an operator should read at start: where share links and emails point, and whether Redis is
 * in use (scheme, host and port only: REDIS_URL may carry a password). A PUBLIC_URL on this
 * machine (the default) is worth a warning: links sent to anyone else would not reach latchkey.
 */
function startupNotes(config: Config, logger: Logger): void {
  const redis = config.redisUrl === undefined ? null : new URL(config.redisUrl);
  logger.info(
    {
      publicUrl: config.publicUrl,
      redis: redis ? `${redis.protocol}//${redis.host}` : "not in use",
      workers: config.workers,
    },
    "start-up settings",
  );
  if (isLocalUrl(config.publicUrl))
    logger.warn(
      { publicUrl: config.publicUrl },
      "PUBLIC_URL is this machine: share links and emails point there; set PUBLIC_URL to the URL others reach latchkey at",
    );
}

function isLocalUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const range = classifyAddress(host);
  return (
    host === "localhost" || host.endsWith(".localhost") || range === "loopback" || range === "unspecified"
  );
}

/** A port in use or a HOST that does not resolve fails the start with one line, not an 'error' event. */
function listen(server: Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const where = `${config.host}:${config.port}`;
      if (error.code === "EADDRINUSE") reject(new Error(`cannot listen on ${where}: the port is in use`));
      else if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN")
        reject(new Error(`cannot listen on ${where}: HOST does not resolve`));
      else reject(new Error(`cannot listen on ${where}: ${error.message}`));
    });
    server.listen(config.port, config.host, resolve);
  });
}

function urlOf(server: Server, config: Config): string {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  return `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
}
