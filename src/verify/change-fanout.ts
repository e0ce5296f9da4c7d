/**
 * Carries change messages between server instances (SPEC §7), so a key deactivated through one
 * instance is refused by every other within a second:
 *
 * - Redis pub/sub when `REDIS_URL` is set (it also holds the shared rate-limit counters);
 * - else PostgreSQL `LISTEN/NOTIFY` when `DATABASE_URL` is set;
 * - else nothing: the embedded database serves one instance.
 *
 * Each message carries the sending instance's id, so an instance ignores its own echo (it applied
 * the change locally when publishing). After a lost connection an instance may have missed
 * messages: once reconnected it forgets every cached key state (`{kind: "all"}`). Messages
 * published while disconnected wait in a bounded queue and are sent on reconnection.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type Change, type ChangeBus, decodeChange, encodeChange } from "./changes.js";

export const CHANGE_CHANNEL = "latchkey_changes";
const MAX_QUEUED = 10_000;

export interface Fanout {
  readonly kind: "redis" | "postgres" | "none";
  close(): Promise<void>;
}

interface Envelope {
  from: string;
  change: string;
}

function envelope(instance: string, change: Change): string {
  return JSON.stringify({ from: instance, change: encodeChange(change) } satisfies Envelope);
}

function receive(bus: ChangeBus, instance: string, text: string) {
  let parsed: Partial<Envelope>;
  try {
    parsed = JSON.parse(text) as Partial<Envelope>;
  } catch {
    bus.deliver({ kind: "all" });
    return;
  }
  if (parsed.from === instance) return;
  bus.deliver(typeof parsed.change === "string" ? decodeChange(parsed.change) : { kind: "all" });
}

export async function startFanout(options: {
  bus: ChangeBus;
  logger: Logger;
  redisUrl?: string | undefined;
  databaseUrl?: string | undefined;
}): Promise<Fanout> {
  if (options.redisUrl) return startRedisFanout(options.redisUrl, options.bus, options.logger);
  if (options.databaseUrl) return startPostgresFanout(options.databaseUrl, options.bus, options.logger);
  return { kind: "none", close: async () => {} };
}

async function startRedisFanout(url: string, bus: ChangeBus, logger: Logger): Promise<Fanout> {
  const { Redis } = await import("ioredis");
  const instance = randomUUID();
  // ioredis reconnects by itself and queues commands while offline; a subscriber needs its own connection.
  const publisher = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  const subscriber = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  let connectedOnce = false;
  let warned = false;
  for (const client of [publisher, subscriber]) {
    client.on("error", (error: Error) => {
      if (!warned) logger.warn({ err: error }, "change fan-out: Redis connection failed; retrying");
      warned = true;
    });
  }
  subscriber.on("ready", () => {
    if (connectedOnce) {
      logger.info("change fan-out: Redis reconnected");
      bus.deliver({ kind: "all" });
    }
    connectedOnce = true;
    warned = false;
  });
  subscriber.on("message", (_channel: string, message: string) => receive(bus, instance, message));
  await Promise.all([publisher.connect(), subscriber.connect()]);
  await subscriber.subscribe(CHANGE_CHANNEL);
  bus.setFanout((change) => {
    publisher.publish(CHANGE_CHANNEL, envelope(instance, change)).catch(() => {});
  });
  return {
    kind: "redis",
    async close() {
      bus.setFanout(null);
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}

async function startPostgresFanout(url: string, bus: ChangeBus, logger: Logger): Promise<Fanout> {
  const { default: pg } = await import("pg");
  const instance = randomUUID();
  let client: InstanceType<typeof pg.Client> | undefined;
  let closed = false;
  let retryMs = 100;
  let queue: string[] = [];
  let overflowed = false;

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: url });
    next.on("notification", (message) => {
      if (message.channel === CHANGE_CHANNEL && message.payload) receive(bus, instance, message.payload);
    });
    next.on("error", (error) => {
      logger.warn({ err: error }, "change fan-out: PostgreSQL connection lost; reconnecting");
      lost(next);
    });
    next.on("end", () => lost(next));
    await next.connect();
    await next.query(`listen ${CHANGE_CHANNEL}`);
    client = next;
    retryMs = 100;
    const pending = overflowed ? [envelope(instance, { kind: "all" })] : queue;
    queue = [];
    overflowed = false;
    for (const payload of pending) send(payload);
  }

  function lost(which: InstanceType<typeof pg.Client>) {
    if (client !== which) return;
    client = undefined;
    which.removeAllListeners("end");
    which.end().catch(() => {});
    if (!closed) setTimeout(reconnect, retryMs).unref();
  }

  function reconnect() {
    if (closed) return;
    connect().then(
      () => {
        logger.info("change fan-out: PostgreSQL reconnected");
        bus.deliver({ kind: "all" });
      },
      (error: unknown) => {
        retryMs = Math.min(retryMs * 2, 5_000);
        logger.warn({ err: error, retryMs }, "change fan-out: PostgreSQL reconnect failed");
        setTimeout(reconnect, retryMs).unref();
      },
    );
  }

  function send(payload: string) {
    if (!client) {
      if (queue.length < MAX_QUEUED) queue.push(payload);
      else overflowed = true;
      return;
    }
    const sent = client
      .query("select pg_notify($1, $2)", [CHANGE_CHANNEL, payload])
      .then(
        () => {},
        () => {
          if (queue.length < MAX_QUEUED) queue.push(payload);
          else overflowed = true;
        },
      )
      .finally(() => sending.delete(sent));
    sending.add(sent);
  }
  const sending = new Set<Promise<void>>();

  await connect();
  bus.setFanout((change) => send(envelope(instance, change)));
  return {
    kind: "postgres",
    async close() {
      closed = true;
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
