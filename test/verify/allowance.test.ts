import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchOf } from "../../src/core/key-controls.js";
import { createAllowances } from "../../src/verify/allowance.js";
import { connectLimiterRedis } from "../../src/verify/rate-limit.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** A window start: every test here stays inside one window. */
const T0 = Date.parse("2026-11-26T10:00:00Z");

const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

describe("rate limits counted in this process", () => {
  it("admits the limit per window, refuses the rest, opens the next window", () => {
    let now = T0;
    const allowances = createAllowances({ clock: { now: () => now } });
    const rate = { limit: 3, windowMs: 60_000 };
    expect([1, 2, 3, 4].map(() => allowances.hit("k", rate, now))).toEqual([2, 1, 0, -1]);
    now += 15_000;
    expect(allowances.hit("k", rate, now)).toBe(-1);
    expect(allowances.resetIn("k", now)).toBe(45);
    // Each key has its own window.
    expect(allowances.hit("other", rate, now)).toBe(2);
    now = T0 + 60_000;
    expect(allowances.hit("k", rate, now)).toBe(2);
  });

  it("batches of a tenth of the limit, between 1 and 100", () => {
    expect([1, 10, 11, 100, 1000, 5000].map(batchOf)).toEqual([1, 1, 2, 10, 100, 100]);
  });
});

describe("quotas spent in this process", () => {
  it("spends from what was read, refuses at zero, and hands the spends to the usage flush", () => {
    const allowances = createAllowances({ clock: { now: () => T0 } });
    const read = { remaining: 2, period: 0, refill: null, setAt: 0, base: 2 };
    expect(allowances.spend("k", read, T0)).toBe(1);
    expect(allowances.spend("k", read, T0)).toBe(0);
    expect(allowances.spend("k", read, T0)).toBe(-1);
    expect(allowances.quotaLeft("k", read, T0)).toBe(0);
    const taken = allowances.takeSpends();
    expect(taken).toEqual([{ keyId: "k", setAt: 0, period: 0, spent: 2 }]);
    // A read made before the write still lacks the spends being written: they stay counted.
    const stale = { remaining: 2, period: 0, refill: null, setAt: 0, base: 2 };
    expect(allowances.quotaLeft("k", stale, T0)).toBe(0);
    allowances.written(taken);
    // Once written, a new read holds them.
    const fresh = { remaining: 0, period: 0, refill: null, setAt: 0, base: 2 };
    expect(allowances.spend("k", fresh, T0)).toBe(-1);
    const topped = { remaining: 5, period: 0, refill: null, setAt: T0, base: 5 };
    expect(allowances.spend("k", topped, T0)).toBe(4);
  });

  it("a failed write's spends wait for the next flush", () => {
    const allowances = createAllowances({ clock: { now: () => T0 } });
    const read = { remaining: 10, period: 0, refill: null, setAt: 0, base: 10 };
    allowances.spend("k", read, T0);
    const taken = allowances.takeSpends();
    allowances.putBack(taken);
    allowances.spend("k", read, T0);
    expect(allowances.takeSpends()).toEqual([{ keyId: "k", setAt: 0, period: 0, spent: 2 }]);
  });

  it("a refill period that turned starts from the refill amount; an ended period's spends are still written", () => {
    const day = 86_400_000;
    const read = {
      remaining: 1,
      period: T0 - (T0 % day),
      refill: { amount: 3, every: "day" as const },
      setAt: 0,
      base: 1,
    };
    const allowances = createAllowances({ clock: { now: () => T0 } });
    expect(allowances.spend("k", read, T0)).toBe(0);
    expect(allowances.spend("k", read, T0)).toBe(-1);
    const tomorrow = read.period + day;
    expect(allowances.refillIn(read, T0)).toBe((tomorrow - T0) / 1000);
    expect(allowances.spend("k", read, tomorrow + 5)).toBe(2);
    expect(allowances.takeSpends()).toEqual(
      expect.arrayContaining([
        { keyId: "k", setAt: 0, period: read.period, spent: 1 },
        { keyId: "k", setAt: 0, period: tomorrow, spent: 1 },
      ]),
    );
  });
});

describe("two instances sharing one Redis", () => {
  const prefix = `latchkey-test:${process.pid}-${Date.now()}:key-rate:`;
  let redis: Redis;

  beforeAll(async () => {
    redis = await connectLimiterRedis(REDIS_URL);
    await new Promise((resolve) => redis.once("ready", resolve));
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  const pair = (syncMs = 100) => {
    const clock = { now: () => T0 };
    return [
      createAllowances({ clock, redis, prefix, syncMs }),
      createAllowances({ clock, redis, prefix, syncMs }),
    ] as const;
  };

  it("admit together at least the limit and at most limit + (N - 1) × batch in a window", async () => {
    const [a, b] = pair();
    try {
      const rate = { limit: 200, windowMs: 60_000 };
      let admitted = 0;
      for (let i = 0; i < 600; i++) {
        const instance = i % 2 === 0 ? a : b;
        if (instance.hit("shared-key", rate, T0) >= 0) admitted++;
        // Calls arrive a few milliseconds apart: each instance's batch reaches Redis in between.
        await tick();
      }
      expect(admitted).toBeGreaterThanOrEqual(rate.limit);
      expect(admitted).toBeLessThanOrEqual(rate.limit + batchOf(rate.limit));
      const total = Number(await redis.get(`${prefix}shared-key:${T0}`));
      expect(total).toBe(admitted);
    } finally {
      a.close();
      b.close();
    }
  });

  it("an instance that has not heard from Redis admits at most one batch of a full window", async () => {
    const [a, b] = pair(10_000);
    try {
      const rate = { limit: 100, windowMs: 60_000 };
      for (let i = 0; i < 100; i++) expect(a.hit("full-key", rate, T0)).toBeGreaterThanOrEqual(0);
      await a.sync();
      expect(a.hit("full-key", rate, T0)).toBe(-1);
      let admitted = 0;
      for (let i = 0; i < 30; i++) {
        if (b.hit("full-key", rate, T0) >= 0) admitted++;
        // Time for a batch's round trip to Redis: what the instance admits meanwhile is the rest of the bound.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(admitted).toBe(batchOf(rate.limit));
    } finally {
      a.close();
      b.close();
    }
  });

  it("counts alone while Redis is away, and never fails a call", async () => {
    const broken = await connectLimiterRedis("redis://127.0.0.1:1");
    const errors: unknown[] = [];
    const alone = createAllowances({
      clock: { now: () => T0 },
      redis: broken,
      prefix,
      syncMs: 10_000,
      onRedisError: (error) => errors.push(error),
    });
    try {
      const rate = { limit: 5, windowMs: 60_000 };
      const left: number[] = [];
      for (let i = 0; i < 7; i++) {
        left.push(alone.hit("lonely", rate, T0));
        await alone.sync();
      }
      expect(left).toEqual([4, 3, 2, 1, 0, -1, -1]);
      expect(errors).toHaveLength(1);
    } finally {
      alone.close();
      broken.disconnect();
    }
  });
});
