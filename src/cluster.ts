/**
 * `WORKERS=N` (N > 1): N server processes behind one port, on one machine (node:cluster). Part of
 * the composition root. See docs/scaling.md#workers.
 *
 * The primary (`runPrimary`) serves no request. It prepares what must happen once (on SQLite: the
 * migrations and the generated secret, before any worker opens the file), forks the workers, which
 * share the listening socket (the primary hands connections out round-robin), and supervises them:
 * a worker that ends after it served is restarted with the fan-out's backoff (100 ms doubling to
 * 5 s, back to 100 ms after a minute of service); one whose first start ends before it served ends
 * the server (a start that fails, a bad secret or migration, is not cured by starting again). SIGTERM/SIGINT
 * are forwarded to every worker; the primary exits once they all have, or at SHUTDOWN_TIMEOUT
 * whatever still runs (killed, exit 1).
 *
 * Beside supervision the primary is a hub on the cluster's IPC channel (`WorkerLink`, each
 * worker's end of it), for what the workers of one server share when no Redis does it:
 *
 * - change messages: what a worker sends is relayed to every worker (change-fanout.ts, kind
 *   "workers"), so a change made through one worker reaches the others within milliseconds; the
 *   change journal stays the safety net (change-journal.ts), as between instances. With REDIS_URL
 *   or DATABASE_URL the workers use Redis or PostgreSQL as separate instances do, not this;
 * - the failure limiters' counters (rate-limit.ts, `SharedCounter`): held by the primary when
 *   there is no Redis, so failures spread over workers add up;
 * - /metrics: the worker that is scraped asks the primary, which gathers every worker's snapshot
 *   and merges them (metrics.ts), so one scrape answers for the whole server;
 * - on SQLite, the usage writes: workers hand their batches to the primary, which writes them.
 *   better-sqlite3 waits for a lock synchronously, so a worker writing while another holds
 *   SQLite's one write lock would stall every request it has in flight; reads never wait in WAL
 *   mode, and the primary's event loop serves no request.
 *
 * Messages carry no token, hash or password: change messages name keys and accounts, counter keys
 * are the limiters' buckets (an address, or an email's digest).
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { openConfiguredStore } from "./main.js";
import { aggregateMetrics, type MetricsSnapshot } from "./metrics.js";
import { resolveSecret } from "./secret.js";
import type { UsageBatch } from "./storage/repositories/usage.js";
import type { Store } from "./storage/store.js";
import { retryDelay, type WorkerRelay } from "./verify/change-fanout.js";
import { createCounterTable, type SharedCounter } from "./verify/rate-limit.js";

/** Marks latchkey's messages on the IPC channel (Node's own cluster messages have their own). */
const TAG = "latchkey";
/** A usage write the primary has not confirmed by then failed: the worker keeps the counts for its next one. */
const USAGE_TIMEOUT_MS = 10_000;
/** A counter the primary has not answered by then counts locally, as when Redis does not answer. */
const COUNT_TIMEOUT_MS = 500;
/** How long the primary waits for the workers' metrics; a worker that does not answer is left out. */
const SNAPSHOT_TIMEOUT_MS = 1_000;
/** After SIGKILL at the shutdown deadline, how long the primary waits for the workers' ends. */
const KILL_WAIT_MS = 1_000;
/** A worker that served this long before it ended is restarted after the shortest delay again. */
const STABLE_AFTER_MS = 60_000;

type Message =
  /** Worker → primary: the worker serves (its start is over). */
  | { tag: typeof TAG; type: "serving" }
  /** Worker → primary → every worker: a change-fanout envelope. */
  | { tag: typeof TAG; type: "relay"; payload: string }
  /** Worker → primary: add one to a counter; answered with "counted". */
  | { tag: typeof TAG; type: "count"; id: number; key: string; windowMs: number }
  | { tag: typeof TAG; type: "counted"; id: number; count: number; msLeft: number }
  /** Worker → primary: the whole server's metrics; answered with "metrics-text". */
  | { tag: typeof TAG; type: "metrics"; id: number }
  | { tag: typeof TAG; type: "metrics-text"; id: number; text: string }
  /** Primary → worker: this worker's metrics; answered with "snapshot". */
  | { tag: typeof TAG; type: "snapshot?"; id: number }
  | { tag: typeof TAG; type: "snapshot"; id: number; metrics: MetricsSnapshot }
  /** Worker → primary (SQLite): write a usage batch; answered with "usage-written". */
  | { tag: typeof TAG; type: "usage"; id: number; batch: UsageBatch }
  | { tag: typeof TAG; type: "usage-written"; id: number; error?: string };

function isMessage(value: unknown): value is Message {
  return typeof value === "object" && value !== null && (value as { tag?: unknown }).tag === TAG;
}

/** A worker's end of the channel to its primary. */
export interface WorkerLink {
  /** This worker's number, 1..WORKERS (a restarted worker keeps its number). */
  readonly worker: number;
  readonly relay: WorkerRelay;
  readonly counter: SharedCounter;
  /** The whole server's /metrics text, merged by the primary from every worker's snapshot. */
  metrics(): Promise<string>;
  /** Answers the primary's requests for this worker's metrics. */
  serveSnapshots(snapshot: () => Promise<MetricsSnapshot>): void;
  /** Tells the primary that this worker serves. */
  serving(): void;
  /** Writes a usage batch through the primary (SQLite); rejects when it failed or did not answer. */
  recordUsage(batch: UsageBatch): Promise<void>;
}

/** The environment variable that gives a worker its number. */
const WORKER_NUMBER = "LATCHKEY_WORKER";

/** This process's link to its primary when it is a worker of `WORKERS`; undefined otherwise. */
export function workerLink(): WorkerLink | undefined {
  // A cluster worker of another primary (a process manager's cluster mode) is a single process to us.
  const number = process.env[WORKER_NUMBER];
  if (!cluster.isWorker || number === undefined) return undefined;
  const worker = Number(number);
  const listeners = new Set<(payload: string) => void>();
  const pending = new Map<number, { resolve: (message: Message) => void; timer: NodeJS.Timeout }>();
  let snapshot: (() => Promise<MetricsSnapshot>) | undefined;
  let nextId = 1;

  const send = (message: Message) => {
    if (process.connected) process.send?.(message);
  };

  /** Sends a request and resolves with its answer; rejects after `timeoutMs`. */
  function ask(message: (id: number) => Message, timeoutMs: number): Promise<Message> {
    if (!process.connected) return Promise.reject(new Error("the primary process is gone"));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`the primary process did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      pending.set(id, { resolve, timer });
      send(message(id));
    });
  }

  process.on("message", (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === "relay") {
      for (const listener of listeners) listener(message.payload);
    } else if (message.type === "snapshot?") {
      const id = message.id;
      void (snapshot?.() ?? Promise.resolve([])).then(
        (metrics) => send({ tag: TAG, type: "snapshot", id, metrics }),
        () => send({ tag: TAG, type: "snapshot", id, metrics: [] }),
      );
    } else if (
      message.type === "counted" ||
      message.type === "metrics-text" ||
      message.type === "usage-written"
    ) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      clearTimeout(waiting.timer);
      waiting.resolve(message);
    }
  });

  return {
    worker,
    relay: {
      send: (payload) => send({ tag: TAG, type: "relay", payload }),
      listen(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      connected: () => process.connected,
    },
    counter: {
      async increment(key, windowMs) {
        const answer = await ask((id) => ({ tag: TAG, type: "count", id, key, windowMs }), COUNT_TIMEOUT_MS);
        if (answer.type !== "counted") throw new Error("unexpected answer from the primary process");
        return [answer.count, answer.msLeft];
      },
    },
    async metrics() {
      const answer = await ask((id) => ({ tag: TAG, type: "metrics", id }), SNAPSHOT_TIMEOUT_MS * 2);
      if (answer.type !== "metrics-text") throw new Error("unexpected answer from the primary process");
      return answer.text;
    },
    serveSnapshots(fn) {
      snapshot = fn;
    },
    serving: () => send({ tag: TAG, type: "serving" }),
    async recordUsage(batch) {
      const answer = await ask((id) => ({ tag: TAG, type: "usage", id, batch }), USAGE_TIMEOUT_MS);
      if (answer.type !== "usage-written") throw new Error("unexpected answer from the primary process");
      if (answer.error !== undefined) throw new Error(`usage write in the primary process: ${answer.error}`);
    },
  };
}

interface Slot {
  readonly number: number;
  worker: Worker | undefined;
  startedAt: number;
  served: boolean;
  /** Whether a worker of this number ever served: a restarted one that fails to start is restarted again. */
  everServed: boolean;
  /** Ends in a row that came soon after a start; sets the restart delay. */
  crashes: number;
  restart: NodeJS.Timeout | undefined;
}

/**
 * Runs the primary until the server stops; resolves with the process's exit code (0 when every
 * worker stopped cleanly after a signal, 1 otherwise).
 */
export async function runPrimary(config: Config, logger: Logger): Promise<number> {
  const count = config.workers;
  // On SQLite, once, before any worker opens the file: the migrations (SQLite has one writer at a
  // time) and the generated secret; the store stays open for the workers' usage writes. On
  // PostgreSQL each worker waits for the database as one server does and applies what is pending
  // under PostgreSQL's advisory lock (migrations.ts): the first applies, the others find nothing to do.
  let store: Store | undefined;
  if (!config.databaseUrl) {
    store = await openConfiguredStore(config, logger);
    try {
      resolveSecret(config);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  const counters = createCounterTable({ now: () => Date.now() });
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    number: i + 1,
    worker: undefined,
    startedAt: 0,
    served: false,
    everServed: false,
    crashes: 0,
    restart: undefined,
  }));
  const snapshots = new Map<number, (metrics: MetricsSnapshot) => void>();
  let nextSnapshot = 1;
  let stopping = false;
  let failed = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const live = () => slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  const tell = (worker: Worker, message: Message) => {
    if (worker.isConnected()) worker.send(message);
  };

  /** Every worker's metrics (those that answer within SNAPSHOT_TIMEOUT_MS), merged. */
  async function serverMetrics(): Promise<string> {
    const gathered = await Promise.all(
      live().map(
        (worker) =>
          new Promise<MetricsSnapshot | undefined>((resolve) => {
            const id = nextSnapshot++;
            const timer = setTimeout(() => {
              snapshots.delete(id);
              resolve(undefined);
            }, SNAPSHOT_TIMEOUT_MS);
            snapshots.set(id, (metrics) => {
              clearTimeout(timer);
              snapshots.delete(id);
              resolve(metrics);
            });
            tell(worker, { tag: TAG, type: "snapshot?", id });
          }),
      ),
    );
    return aggregateMetrics(gathered.filter((metrics) => metrics !== undefined));
  }

  function onMessage(slot: Slot, worker: Worker, message: unknown) {
    if (!isMessage(message)) return;
    switch (message.type) {
      case "serving":
        slot.served = true;
        slot.everServed = true;
        logger.info({ worker: slot.number, pid: worker.process.pid }, "worker serving");
        break;
      case "relay":
        for (const other of live()) tell(other, message);
        break;
      case "count": {
        const [value, msLeft] = counters.increment(message.key, message.windowMs);
        tell(worker, { tag: TAG, type: "counted", id: message.id, count: value, msLeft });
        break;
      }
      case "metrics":
        void serverMetrics().then(
          (text) => tell(worker, { tag: TAG, type: "metrics-text", id: message.id, text }),
          (error: unknown) =>
            logger.warn({ err: error }, "metrics: the workers' metrics could not be merged"),
        );
        break;
      case "snapshot":
        snapshots.get(message.id)?.(message.metrics);
        break;
      case "usage": {
        const { id } = message;
        const written = store
          ? store.usage.record(message.batch)
          : Promise.reject(new Error("no store in the primary process"));
        void written.then(
          () => tell(worker, { tag: TAG, type: "usage-written", id }),
          (error: unknown) =>
            tell(worker, {
              tag: TAG,
              type: "usage-written",
              id,
              error: error instanceof Error ? error.message : String(error),
            }),
        );
        break;
      }
    }
  }

  function start(slot: Slot) {
    slot.restart = undefined;
    slot.served = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_NUMBER]: String(slot.number) });
    slot.worker = worker;
    worker.on("message", (message: unknown) => onMessage(slot, worker, message));
    worker.on("exit", (code, signal) => ended(slot, worker, code, signal));
  }

  function ended(slot: Slot, worker: Worker, code: number | null, signal: string | null) {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const pid = worker.process.pid;
    if (stopping) {
      if (code !== 0) failed = true;
      clearTimeout(slot.restart);
      logger.info({ worker: slot.number, pid, code, signal }, "worker stopped");
      if (live().length === 0) finish(failed ? 1 : 0);
      return;
    }
    if (!slot.everServed) {
      logger.error(
        { worker: slot.number, pid, code, signal },
        "worker ended before it served: the start failed; stopping the other workers",
      );
      failed = true;
      stop("start failed");
      return;
    }
    slot.crashes = Date.now() - slot.startedAt >= STABLE_AFTER_MS ? 1 : slot.crashes + 1;
    const delayMs = retryDelay(slot.crashes);
    logger.error(
      { worker: slot.number, pid, code, signal, restartInMs: delayMs, crashes: slot.crashes },
      `worker ${slot.number} ended unexpectedly (${signal ?? `code ${code}`}); restarting in ${delayMs} ms`,
    );
    slot.restart = setTimeout(() => start(slot), delayMs);
  }

  function stop(reason: string) {
    if (stopping) return;
    stopping = true;
    for (const slot of slots) clearTimeout(slot.restart);
    logger.info(
      { reason, workers: live().length, timeoutSeconds: config.shutdownTimeoutSeconds },
      "shutting down: stopping the workers",
    );
    for (const worker of live()) worker.process.kill("SIGTERM");
    if (live().length === 0) finish(failed ? 1 : 0);
    // The workers have the same deadline; whatever still runs then is killed, and the exit says so.
    // Their ends are waited for (a killed worker ends at once), so that none outlives the primary.
    setTimeout(() => {
      const left = live();
      failed = true;
      if (left.length === 0) return;
      logger.error(
        { timeoutSeconds: config.shutdownTimeoutSeconds, workers: left.map((w) => w.process.pid) },
        "shutdown deadline passed: killing the workers still running",
      );
      for (const worker of left) worker.process.kill("SIGKILL");
      setTimeout(() => finish(1), KILL_WAIT_MS).unref();
    }, config.shutdownTimeoutSeconds * 1000);
  }

  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  logger.info({ workers: count, pid: process.pid }, `latchkey primary: starting ${count} workers`);
  for (const slot of slots) start(slot);
  const code = await finished;
  // After the workers: their last usage counts, written at their shutdown, came through here.
  await store?.close().catch((error: unknown) => logger.warn({ err: error }, "closing the database failed"));
  return code;
}
