/**
 * Quotas shared between instances through Redis (allowance.ts): two trackers over one real Redis
 * see each other's spends within a sync interval with no new read of the key, a new setting of the
 * quota starts a fresh count, and a Redis that stops (a throwaway redis-server this file starts and
 * kills) leaves each instance counting alone, then each writes its own spends back into the count.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { batchOf, type QuotaState } from "../../src/core/key-controls.js";
import { type Allowances, createAllowances } from "../../src/verify/allowance.js";
import { connectLimiterRedis } from "../../src/verify/rate-limit.js";
import { freePort } from "../e2e/process.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const T0 = Date.parse("2026-11-26T10:00:00Z");
const SYNC_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Longer than a sync interval plus a round trip: what an instance may take to hear of others' spends. */
const oneSync = () => sleep(SYNC_MS * 3);

/** A quota as the key cache reads it: set at `setAt` to `remaining`, nothing written since. */
function setTo(remaining: number, setAt = T0): QuotaState {
  return { remaining, period: 0, refill: null, setAt, base: remaining };
}

function trackers(redis: Redis, quotaPrefix: string, onRedisError?: (error: unknown) => void) {
  const clock = { now: () => T0 };
  const options = { clock, redis, quotaPrefix, syncMs: SYNC_MS, ...(onRedisError ? { onRedisError } : {}) };
  return [createAllowances(options), createAllowances(options)] as const;
}

/** Every instance's spends in a count, as Redis holds them (one field per instance). */
async function spentInRedis(redis: Redis, key: string): Promise<number> {
  const fields = await redis.hvals(key);
  return fields.reduce((sum, value) => sum + Number(value), 0);
}

function spendMany(instance: Allowances, keyId: string, quota: QuotaState, calls: number): number[] {
  return Array.from({ length: calls }, () => instance.spend(keyId, quota, T0));
}

describe("two instances sharing one Redis", () => {
  const prefix = `latchkey-test:${process.pid}-${Date.now()}:key-quota:`;
  let redis: Redis;
  let a: Allowances;
  let b: Allowances;

  beforeAll(async () => {
    redis = await connectLimiterRedis(REDIS_URL);
    await new Promise((resolve) => redis.once("ready", resolve));
    [a, b] = trackers(redis, prefix);
  });

  afterAll(async () => {
    a.close();
    b.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("spends on one are seen on the other within a sync interval, from the same read of the key", async () => {
    // B has looked at the key (a call, say): it reads the key's count at every sync from then on.
    const read = setTo(100);
    expect(b.quotaLeft("seen", read, T0)).toBe(100);
    expect(spendMany(a, "seen", read, 30).at(-1)).toBe(70);
    await oneSync();
    // The same read (no new read of the key): B knows A's spends from Redis alone.
    expect(b.quotaLeft("seen", read, T0)).toBe(70);
    expect(b.spend("seen", read, T0)).toBe(69);
    await oneSync();
    expect(a.quotaLeft("seen", read, T0)).toBe(69);
    expect(await spentInRedis(redis, `${prefix}seen:${T0}:0`)).toBe(31);
  });

  it("admit together at least the quota and at most quota + (N - 1) × batch", async () => {
    const read = setTo(200);
    let admitted = 0;
    for (let i = 0; i < 600; i++) {
      if ((i % 2 === 0 ? a : b).spend("both", read, T0) >= 0) admitted++;
      await sleep(2);
    }
    expect(admitted).toBeGreaterThanOrEqual(200);
    expect(admitted).toBeLessThanOrEqual(200 + batchOf(200));
    await oneSync();
    expect(a.quotaLeft("both", read, T0)).toBe(0);
    expect(b.quotaLeft("both", read, T0)).toBe(0);
  });

  it("a new setting of the quota starts a fresh count, and its value is honoured", async () => {
    const first = setTo(10);
    expect(b.quotaLeft("edited", first, T0)).toBe(10);
    spendMany(a, "edited", first, 10);
    await oneSync();
    expect(b.spend("edited", first, T0)).toBe(-1);
    // PATCHed to 4 (the same value would do as well): both instances read the new setting.
    const second = setTo(4, T0 + 1);
    expect(a.quotaLeft("edited", second, T0)).toBe(4);
    expect(b.quotaLeft("edited", second, T0)).toBe(4);
    expect(a.spend("edited", second, T0)).toBe(3);
    await oneSync();
    expect(b.quotaLeft("edited", second, T0)).toBe(3);
    const left = [...spendMany(b, "edited", second, 2)];
    await oneSync();
    left.push(...spendMany(a, "edited", second, 2));
    expect(left).toEqual([2, 1, 0, -1]);
    // The spends of the first setting are not written as spends of the second.
    expect(a.takeSpends().filter((spend) => spend.keyId === "edited")).toEqual([
      { keyId: "edited", setAt: T0, period: 0, spent: 10 },
      { keyId: "edited", setAt: T0 + 1, period: 0, spent: 2 },
    ]);
  });

  it("a restarted instance counts from the database's view until Redis answers, then from the shared count", async () => {
    const read = setTo(50);
    spendMany(a, "restart", read, 20);
    await oneSync();
    // Restarted with the same read (nothing flushed yet): the shared count arrives within a sync.
    const [fresh] = trackers(redis, prefix);
    try {
      expect(fresh.quotaLeft("restart", read, T0)).toBe(50);
      await oneSync();
      expect(fresh.quotaLeft("restart", read, T0)).toBe(30);
    } finally {
      fresh.close();
    }
  });
});

/** A redis-server of this test's own, on a free port, with nothing kept on disk. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const probe = await connectLimiterRedis(`redis://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 100; i++) {
      if ((await probe.ping().catch(() => null)) === "PONG") return child;
      await sleep(50);
    }
    throw new Error(`redis-server on port ${port} did not start`);
  } finally {
    probe.disconnect();
  }
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describe("Redis stopped mid-run", () => {
  let port: number;
  let server: ChildProcess;
  let clients: Redis[];

  beforeAll(async () => {
    port = await freePort();
    server = await startRedis(port);
    clients = [
      await connectLimiterRedis(`redis://127.0.0.1:${port}`),
      await connectLimiterRedis(`redis://127.0.0.1:${port}`),
    ];
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await stopRedis(server);
  });

  it("keeps answering with local counting, then each instance writes its spends back into the count", async () => {
    const errors: unknown[] = [];
    const options = (redis: Redis) => ({
      clock: { now: () => T0 },
      redis,
      syncMs: SYNC_MS,
      onRedisError: (error: unknown) => errors.push(error),
    });
    const [redisA, redisB] = clients as [Redis, Redis];
    const a = createAllowances(options(redisA));
    const b = createAllowances(options(redisB));
    try {
      const read = setTo(100);
      expect(b.quotaLeft("outage", read, T0)).toBe(100);
      spendMany(a, "outage", read, 10);
      await oneSync();
      expect(b.quotaLeft("outage", read, T0)).toBe(90);

      await stopRedis(server);
      // Every call is answered at once; each instance counts its own spends.
      expect(spendMany(a, "outage", read, 5)).toEqual([89, 88, 87, 86, 85]);
      await oneSync();
      expect(spendMany(b, "outage", read, 3)).toEqual([89, 88, 87]);
      await oneSync();
      expect(a.quotaLeft("outage", read, T0)).toBe(85);
      expect(b.quotaLeft("outage", read, T0)).toBe(87);
      expect(errors.length).toBeGreaterThanOrEqual(2);

      // Back, empty (nothing was kept): the instances' knowledge sets the count back, nothing is given back.
      server = await startRedis(port);
      expect(a.spend("outage", read, T0)).toBe(84);
      // A's 16 spends and B's 3: each sees the other's once the clients are connected again.
      await vi.waitFor(
        () => {
          expect(a.quotaLeft("outage", read, T0)).toBe(81);
          expect(b.quotaLeft("outage", read, T0)).toBe(81);
        },
        { timeout: 5000, interval: SYNC_MS },
      );
      expect(await spentInRedis(redisA, `latchkey:key-quota:outage:${T0}:0`)).toBe(19);
    } finally {
      a.close();
      b.close();
    }
  });
});
