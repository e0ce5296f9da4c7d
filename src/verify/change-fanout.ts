/**
 * Carries change messages between server instances (SPEC §7): the fast path of the change bus, so a
 * key deactivated through one instance is refused by every other within milliseconds:
 *
 * - Redis pub/sub when `REDIS_URL` is set (it also holds the shared rate-limit counters);
 * - else PostgreSQL `LISTEN/NOTIFY` when `DATABASE_URL` is set;
 * - else, between the workers of one server (`WORKERS`, cluster.ts), the primary process, which
 *   relays every message to every worker over the cluster's IPC channel;
 * - else nothing: instances on one SQLite file hear each other through the journal alone.
 *
 * The promise of a second does not rest on it: every change is also in the change journal, which
 * every instance reads every 250 ms (change-journal.ts); a message here carries the change's
 * journal number, so a change heard both ways is applied once. Each message carries the sending
 * instance's id, so an instance ignores its own echo. Messages published while disconnected wait
 * in a bounded queue and are sent on reconnection (the journal has them anyway).
 *
 * Whether the fast path works is known from a heartbeat, not from connection events (a dead peer
 * or a silent network is only noticed by a timeout): every HEARTBEAT_MS the instance sends itself a
 * beat through the same channel. While no beat sent less than DOWN_AFTER_MS ago has come back, the
 * fan-out is down (`ChangeBus.setFanoutDown`): changes arrive through the journal (up to 250 ms
 * later), /readyz still answers 200 and says the fan-out is degraded, and the log says so.
 * Starting with the dependency unreachable is the same state: connections are retried with
 * backoff (each retry logged).
 */
import type { Logger } from "pino";
import { CHECK_MS, DOWN_AFTER_MS } from "./change-journal.js";
import { type Change, type ChangeBus, decodeChange, encodeChange } from "./changes.js";

export const CHANGE_CHANNEL = "latchkey_changes";
const MAX_QUEUED = 10_000;
export const HEARTBEAT_MS = 250;
const RETRY_MAX_MS = 5_000;

export interface Fanout {
  readonly kind: "redis" | "postgres" | "workers" | "none";
  close(): Promise<void>;
}

/**
 * A relay between the workers of one server (the primary, over the cluster's IPC channel): what is
 * sent reaches every worker, the sender included, like a pub/sub channel.
 */
export interface WorkerRelay {
  send(payload: string): void;
  /** Listens to relayed payloads; returns an unsubscribe function. */
  listen(listener: (payload: string) => void): () => void;
  /** Whether the channel to the primary is open. */
  connected(): boolean;
}

interface Envelope {
  from: string;
  change?: string;
  /** The change's number in the journal (absent when it could not be journaled). */
  seq?: number;
  /** A heartbeat: when its sender sent it (its own monotonic clock, in ms). */
  beat?: number;
}

/** Next retry delay after `attempt` failures: 100 ms doubling up to RETRY_MAX_MS. */
export function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt - 1), RETRY_MAX_MS);
}

/**
 * Sends a beat every HEARTBEAT_MS (through `send`, skipped while not connected) and sets the
 * fan-out down or up from the beats heard back (see the header).
 */
function startHeartbeat(options: {
  bus: ChangeBus;
  logger: Logger;
  dependency: string;
  send: (sentAt: number) => void;
}) {
  const { bus, logger, dependency } = options;
  let lastSent = Number.NEGATIVE_INFINITY;
  let lastHeard = Number.NEGATIVE_INFINITY;
  bus.setFanoutDown({ dependency, reason: `${dependency}: not subscribed yet` });
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - lastSent >= HEARTBEAT_MS) {
      lastSent = now;
      options.send(now);
    }
    if (bus.fanoutDown() === null && now - lastHeard > DOWN_AFTER_MS) {
      const reason = `${dependency}: no heartbeat for ${Math.round(now - lastHeard)} ms`;
      bus.setFanoutDown({ dependency, reason });
      logger.warn({ dependency }, `change fan-out: ${reason}; changes arrive through the journal meanwhile`);
    }
  }, CHECK_MS);
  timer.unref();
  // Once stopped (the fan-out closing), nothing more is told: closing its own connections is not a
  // loss, and the logs may be closing too.
  let stopped = false;
  return {
    heard(sentAt: number) {
      if (stopped) return;
      lastHeard = Math.max(lastHeard, sentAt);
      if (bus.fanoutDown() !== null && performance.now() - lastHeard <= DOWN_AFTER_MS) {
        bus.setFanoutDown(null);
        logger.info({ dependency }, "change fan-out: subscribed; changes arrive within milliseconds again");
      }
    },
    /** A connection was seen lost: down at once, without waiting for the heartbeat. */
    lost(reason: string) {
      if (stopped || bus.fanoutDown() !== null) return;
      bus.setFanoutDown({ dependency, reason: `${dependency}: ${reason}` });
      logger.warn({ dependency }, `change fan-out: ${reason}; changes arrive through the journal meanwhile`);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

type Heartbeat = ReturnType<typeof startHeartbeat>;

function envelope(instance: string, change: Change, seq: number | undefined): string {
  return JSON.stringify({
    from: instance,
    change: encodeChange(change),
    ...(seq === undefined ? {} : { seq }),
  } satisfies Envelope);
}

function receive(bus: ChangeBus, instance: string, text: string, heartbeat: Heartbeat) {
  let parsed: Partial<Envelope>;
  try {
    parsed = JSON.parse(text) as Partial<Envelope>;
  } catch {
    bus.deliver({ kind: "all" });
    return;
  }
  if (typeof parsed.beat === "number") {
    if (parsed.from === instance) heartbeat.heard(parsed.beat);
    return;
  }
  if (parsed.from === instance) return;
  const seq = typeof parsed.seq === "number" ? parsed.seq : undefined;
  bus.deliver(typeof parsed.change === "string" ? decodeChange(parsed.change) : { kind: "all" }, seq);
}

export async function startFanout(options: {
  bus: ChangeBus;
  logger: Logger;
  redisUrl?: string | undefined;
  databaseUrl?: string | undefined;
  /** The primary's relay, for a worker of `WORKERS` without Redis or PostgreSQL. */
  workers?: WorkerRelay | undefined;
  /**
   * Resolve only once connected, and fail if the first connection does (a CLI command, whose
   * changes must go out before it exits); a server starts at once and retries (see the header).
   */
  waitConnected?: boolean;
}): Promise<Fanout> {
  const wait = options.waitConnected ?? false;
  if (options.redisUrl) return startRedisFanout(options.redisUrl, options.bus, options.logger, wait);
  if (options.databaseUrl) return startPostgresFanout(options.databaseUrl, options.bus, options.logger, wait);
  if (options.workers) return startWorkerFanout(options.workers, options.bus, options.logger);
  return { kind: "none", close: async () => {} };
}

/** Through the primary process: the same envelopes and heartbeat as over Redis. */
function startWorkerFanout(relay: WorkerRelay, bus: ChangeBus, logger: Logger): Fanout {
  const instance = bus.instance;
  const heartbeat = startHeartbeat({
    bus,
    logger,
    dependency: "primary",
    send: (sentAt) => {
      if (relay.connected()) relay.send(JSON.stringify({ from: instance, beat: sentAt }));
    },
  });
  const unlisten = relay.listen((payload) => receive(bus, instance, payload, heartbeat));
  bus.setFanout((change, seq) => {
    if (relay.connected()) relay.send(envelope(instance, change, seq));
  });
  return {
    kind: "workers",
    async close() {
      heartbeat.stop();
      bus.setFanout(null);
      unlisten();
    },
  };
}

/** Where a URL points, without its credentials, for log lines. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(unparsable URL)";
  }
}

async function startRedisFanout(url: string, bus: ChangeBus, logger: Logger, wait: boolean): Promise<Fanout> {
  const { Redis } = await import("ioredis");
  const instance = bus.instance;
  const host = hostOf(url);
  let lastError = "";
  // ioredis reconnects by itself (and re-subscribes) and queues commands while offline; a
  // subscriber needs its own connection. Retries are logged from the subscriber's only.
  const retry = (log: boolean) => (attempt: number) => {
    const delayMs = retryDelay(attempt);
    if (log)
      logger.warn(
        { dependency: "redis", host, attempt, retryInMs: delayMs, error: lastError },
        `change fan-out: Redis at ${host} unreachable; retrying in ${delayMs} ms`,
      );
    return delayMs;
  };
  const publisher = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: wait ? () => null : retry(false),
  });
  const subscriber = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: wait ? () => null : retry(true),
  });
  for (const client of [publisher, subscriber]) {
    client.on("error", (error: Error) => {
      lastError = error.message;
    });
  }
  const heartbeat = startHeartbeat({
    bus,
    logger,
    dependency: "redis",
    send: (sentAt) => {
      // Beats are not queued while offline: only a beat that went out can say the bus works.
      if (publisher.status !== "ready") return;
      publisher.publish(CHANGE_CHANNEL, JSON.stringify({ from: instance, beat: sentAt })).catch(() => {});
    },
  });
  subscriber.on("close", () => heartbeat.lost("connection closed"));
  subscriber.on("message", (_channel: string, message: string) => receive(bus, instance, message, heartbeat));
  const subscribed = subscriber.subscribe(CHANGE_CHANNEL);
  if (wait) {
    try {
      await Promise.all([subscribed, publisher.ping()]);
    } catch (error) {
      heartbeat.stop();
      publisher.disconnect();
      subscriber.disconnect();
      throw error;
    }
  } else subscribed.catch(() => {});
  bus.setFanout((change, seq) => {
    publisher.publish(CHANGE_CHANNEL, envelope(instance, change, seq)).catch(() => {});
  });
  return {
    kind: "redis",
    async close() {
      heartbeat.stop();
      bus.setFanout(null);
      await Promise.allSettled(
        [publisher, subscriber].map((client) =>
          client.status === "ready" ? client.quit() : Promise.resolve(client.disconnect()),
        ),
      );
    },
  };
}

async function startPostgresFanout(
  url: string,
  bus: ChangeBus,
  logger: Logger,
  wait: boolean,
): Promise<Fanout> {
  const { default: pg } = await import("pg");
  const instance = bus.instance;
  let client: InstanceType<typeof pg.Client> | undefined;
  let closed = false;
  let queue: string[] = [];
  let attempt = 0;
  const host = hostOf(url);
  const heartbeat = startHeartbeat({
    bus,
    logger,
    dependency: "postgres",
    send: (sentAt) => {
      client
        ?.query("select pg_notify($1, $2)", [
          CHANGE_CHANNEL,
          JSON.stringify({ from: instance, beat: sentAt }),
        ])
        .catch(() => {});
    },
  });

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    next.on("notification", (message) => {
      if (message.channel === CHANGE_CHANNEL && message.payload)
        receive(bus, instance, message.payload, heartbeat);
    });
    next.on("error", (error) => {
      logger.warn({ err: error }, "change fan-out: PostgreSQL connection lost; reconnecting");
      lost(next);
    });
    next.on("end", () => lost(next));
    try {
      await next.connect();
      await next.query(`listen ${CHANGE_CHANNEL}`);
    } catch (error) {
      next.removeAllListeners("end");
      await next.end().catch(() => {});
      throw error;
    }
    client = next;
    attempt = 0;
    const pending = queue;
    queue = [];
    for (const payload of pending) send(payload);
  }

  function lost(which: InstanceType<typeof pg.Client>) {
    if (client !== which) return;
    client = undefined;
    heartbeat.lost("LISTEN connection lost");
    which.removeAllListeners("end");
    which.end().catch(() => {});
    if (!closed) setTimeout(reconnect, retryDelay(1)).unref();
  }

  /** (Re)connects; the bus is set up by the first beat heard back, not here. */
  function reconnect() {
    if (closed) return;
    connect().then(
      () => logger.info({ dependency: "postgres", host }, "change fan-out: PostgreSQL LISTEN connected"),
      (error: unknown) => {
        attempt++;
        const delayMs = retryDelay(attempt);
        logger.warn(
          { dependency: "postgres", host, attempt, retryInMs: delayMs, error: String(error) },
          `change fan-out: PostgreSQL at ${host} unreachable; retrying in ${delayMs} ms`,
        );
        if (!closed) setTimeout(reconnect, delayMs).unref();
      },
    );
  }

  function send(payload: string) {
    if (!client) {
      // Beyond the bound, messages are dropped: the journal carries them anyway.
      if (queue.length < MAX_QUEUED) queue.push(payload);
      return;
    }
    const sent = client
      .query("select pg_notify($1, $2)", [CHANGE_CHANNEL, payload])
      .then(
        () => {},
        () => {
          if (queue.length < MAX_QUEUED) queue.push(payload);
        },
      )
      .finally(() => sending.delete(sent));
    sending.add(sent);
  }
  const sending = new Set<Promise<void>>();

  if (wait) {
    try {
      await connect();
    } catch (error) {
      closed = true;
      heartbeat.stop();
      throw error;
    }
  } else reconnect();
  bus.setFanout((change, seq) => send(envelope(instance, change, seq)));
  return {
    kind: "postgres",
    async close() {
      closed = true;
      heartbeat.stop();
      bus.setFanout(null);
      // Messages already handed to PostgreSQL go out before the connection ends (a CLI command exits right after).
      await Promise.allSettled([...sending]);
      const current = client;
      client = undefined;
      if (current) {
        current.removeAllListeners("end");
        await current.end().catch(() => {});
      }
    },
  };
}
