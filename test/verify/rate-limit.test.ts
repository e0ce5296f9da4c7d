/**
 * The failure limiter on its own: the in-memory counting with an injected clock, address buckets,
 * bounded memory, then the Redis counters against the real Redis (127.0.0.1:6379 unless
 * TEST_REDIS_URL says otherwise), each run under its own key prefix.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressKey,
  connectLimiterRedis,
  createCounterTable,
  createEmailLimiter,
  createFailureLimiter,
  emailKey,
} from "../../src/verify/rate-limit.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

function clockAt(start = Date.parse("2026-11-26T10:00:00Z")) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function fail(limiter: { recordFailure(ip: string | null): Promise<void> }, ip: string, times: number) {
  for (let i = 0; i < times; i++) await limiter.recordFailure(ip);
}

describe("the in-memory failure limiter", () => {
  it("blocks an address past the limit until its window ends, with the seconds left", async () => {
    const clock = clockAt();
    const limiter = createFailureLimiter({ limit: 3, windowSeconds: 60, clock });
    await fail(limiter, "203.0.113.7", 3);
    expect(limiter.blockedFor("203.0.113.7")).toBe(0);
    clock.advance(20_000);
    await limiter.recordFailure("203.0.113.7");
    // The window opened at the first failure: 40 s of it are left.
    expect(limiter.blockedFor("203.0.113.7")).toBe(40);
    clock.advance(39_500);
    expect(limiter.blockedFor("203.0.113.7")).toBe(1);
    clock.advance(500);
    expect(limiter.blockedFor("203.0.113.7")).toBe(0);
  });

  it("starts a fresh count in each window", async () => {
    const clock = clockAt();
    const limiter = createFailureLimiter({ limit: 2, windowSeconds: 10, clock });
    await fail(limiter, "198.51.100.1", 2);
    clock.advance(10_000);
    await fail(limiter, "198.51.100.1", 2);
    expect(limiter.blockedFor("198.51.100.1")).toBe(0);
    await limiter.recordFailure("198.51.100.1");
    expect(limiter.blockedFor("198.51.100.1")).toBe(10);
  });

  it("counts each address on its own", async () => {
    const limiter = createFailureLimiter({ limit: 1, windowSeconds: 60, clock: clockAt() });
    await fail(limiter, "192.0.2.1", 2);
    expect(limiter.blockedFor("192.0.2.1")).toBe(60);
    expect(limiter.blockedFor("192.0.2.2")).toBe(0);
    expect(limiter.blockedFor(null)).toBe(0);
  });

  it("is off with a limit of 0", async () => {
    const limiter = createFailureLimiter({ limit: 0, windowSeconds: 60, clock: clockAt() });
    await fail(limiter, "192.0.2.1", 1000);
    expect(limiter.blockedFor("192.0.2.1")).toBe(0);
  });

  it("tracks at most maxAddresses, dropping the oldest", async () => {
    const clock = clockAt();
    const limiter = createFailureLimiter({ limit: 1, windowSeconds: 60, clock, maxAddresses: 3 });
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) {
      await fail(limiter, ip, 2);
      clock.advance(1000);
    }
    expect(limiter.blockedFor("10.0.0.1")).toBe(0);
    for (const ip of ["10.0.0.2", "10.0.0.3", "10.0.0.4"]) expect(limiter.blockedFor(ip)).toBeGreaterThan(0);
  });

  it("drops expired addresses before live ones", async () => {
    const clock = clockAt();
    const limiter = createFailureLimiter({ limit: 1, windowSeconds: 10, clock, maxAddresses: 2 });
    await fail(limiter, "10.0.0.1", 1);
    clock.advance(5000);
    await fail(limiter, "10.0.0.2", 2);
    clock.advance(6000);
    // 10.0.0.1's window has ended: it goes, and 10.0.0.2 (blocked) stays.
    await fail(limiter, "10.0.0.3", 2);
    expect(limiter.blockedFor("10.0.0.2")).toBe(4);
    expect(limiter.blockedFor("10.0.0.3")).toBe(10);
  });
});

describe("addressKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
  ])("%s counts as %s", (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  it("puts requests without an address in one bucket and bounds odd values", () => {
    expect(addressKey(null)).toBe("unknown");
    expect(addressKey("")).toBe("unknown");
    expect(addressKey("x".repeat(500))).toHaveLength(64);
  });

  it("shares one bucket across a /64 but not across /64s", async () => {
    const limiter = createFailureLimiter({ limit: 1, windowSeconds: 60, clock: clockAt() });
    await limiter.recordFailure("2001:db8:1:2::a");
    await limiter.recordFailure("2001:db8:1:2::b");
    expect(limiter.blockedFor("2001:db8:1:2::c")).toBe(60);
    expect(limiter.blockedFor("2001:db8:1:3::a")).toBe(0);
  });
});

describe("the per-email limiter of sign-ins", () => {
  it("counts an email in one bucket however it is spelt, by a digest that does not show it", async () => {
    expect(emailKey(" Owner@ACME.test ")).toBe(emailKey("owner@acme.test"));
    expect(emailKey("owner@acme.test")).not.toBe(emailKey("other@acme.test"));
    expect(emailKey("owner@acme.test")).not.toMatch(/owner|acme/);
    expect(emailKey("not an email")).toBe(emailKey("NOT AN EMAIL"));
    const limiter = createEmailLimiter({ limit: 2, windowSeconds: 60, clock: clockAt() });
    await fail(limiter, "owner@acme.test", 2);
    await limiter.recordFailure("OWNER@acme.test");
    expect(limiter.blockedFor("owner@acme.test ")).toBe(60);
    expect(limiter.blockedFor("other@acme.test")).toBe(0);
  });
});

describe("the Redis failure limiter", () => {
  const prefix = `latchkey-test:${randomBytes(6).toString("hex")}:`;
  let redis: Redis;
  let other: Redis;

  beforeAll(async () => {
    redis = await connectLimiterRedis(REDIS_URL);
    other = await connectLimiterRedis(REDIS_URL);
    await Promise.all(
      [redis, other].map((client) => new Promise((resolve) => client.once("ready", resolve))),
    );
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await Promise.all([redis.quit(), other.quit()]);
  });

  it("shares the count between instances: each learns the block at its next failure", async () => {
    const clock = clockAt();
    const options = { limit: 3, windowSeconds: 60, clock, prefix: `${prefix}shared:` };
    const a = createFailureLimiter({ ...options, redis });
    const b = createFailureLimiter({ ...options, redis: other });
    await fail(a, "203.0.113.9", 2);
    await fail(b, "203.0.113.9", 1);
    expect([a.blockedFor("203.0.113.9"), b.blockedFor("203.0.113.9")]).toEqual([0, 0]);

    await a.recordFailure("203.0.113.9");
    expect(a.blockedFor("203.0.113.9")).toBeGreaterThanOrEqual(59);
    expect(a.blockedFor("203.0.113.9")).toBeLessThanOrEqual(60);
    // b has seen no failure since the count went over: it still answers from its own view...
    expect(b.blockedFor("203.0.113.9")).toBe(0);
    await b.recordFailure("203.0.113.9");
    expect(b.blockedFor("203.0.113.9")).toBeGreaterThanOrEqual(59);
    // ...and the window is the shared one, set once in Redis.
    const ttl = await redis.pttl(`${prefix}shared:203.0.113.9`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.get(`${prefix}shared:203.0.113.9`)).toBe("5");

    expect(a.blockedFor("203.0.113.10")).toBe(0);
    clock.advance(60_000);
    expect([a.blockedFor("203.0.113.9"), b.blockedFor("203.0.113.9")]).toEqual([0, 0]);
  });

  it("shares per-email counts under the email's digest", async () => {
    const clock = clockAt();
    const options = { limit: 2, windowSeconds: 60, clock, prefix: `${prefix}emails:` };
    const a = createEmailLimiter({ ...options, redis });
    const b = createEmailLimiter({ ...options, redis: other });
    await fail(a, "owner@acme.test", 2);
    await b.recordFailure("Owner@Acme.Test");
    expect(b.blockedFor("owner@acme.test")).toBeGreaterThanOrEqual(59);
    const keys = await redis.keys(`${prefix}emails:*`);
    expect(keys).toEqual([`${prefix}emails:${emailKey("owner@acme.test")}`]);
  });

  it("keeps limiters with other prefixes apart", async () => {
    const clock = clockAt();
    const auth = createFailureLimiter({ limit: 1, windowSeconds: 60, clock, redis, prefix: `${prefix}a:` });
    const reports = createFailureLimiter({
      limit: 1,
      windowSeconds: 60,
      clock,
      redis,
      prefix: `${prefix}b:`,
    });
    await fail(auth, "192.0.2.44", 2);
    await reports.recordFailure("192.0.2.44");
    expect(auth.blockedFor("192.0.2.44")).toBeGreaterThan(0);
    expect(reports.blockedFor("192.0.2.44")).toBe(0);
  });

  it("counts locally when Redis is unreachable, reports it once, and never throws", async () => {
    const dead = await connectLimiterRedis("redis://127.0.0.1:1");
    const errors: unknown[] = [];
    try {
      const limiter = createFailureLimiter({
        limit: 2,
        windowSeconds: 30,
        clock: clockAt(),
        redis: dead,
        prefix: `${prefix}dead:`,
        onRedisError: (error) => errors.push(error),
      });
      await fail(limiter, "198.51.100.20", 3);
      expect(limiter.blockedFor("198.51.100.20")).toBe(30);
      expect(errors).toHaveLength(1);
    } finally {
      dead.disconnect();
    }
  });
});

describe("counters held by the primary of WORKERS (createCounterTable)", () => {
  it("shares the count between workers' limiters, with the window of Redis's script", async () => {
    const clock = clockAt();
    const table = createCounterTable(clock);
    // What a worker's link does: the primary's table behind an asynchronous call.
    const shared = { increment: async (key: string, windowMs: number) => table.increment(key, windowMs) };
    const options = { limit: 3, windowSeconds: 60, clock, shared, prefix: "auth-failures:" };
    const a = createFailureLimiter(options);
    const b = createFailureLimiter(options);
    await fail(a, "203.0.113.7", 2);
    await fail(b, "203.0.113.7", 1);
    expect([a.blockedFor("203.0.113.7"), b.blockedFor("203.0.113.7")]).toEqual([0, 0]);
    // The fourth failure, on b: b learns the count past the limit and blocks until the window's end.
    clock.advance(10_000);
    await b.recordFailure("203.0.113.7");
    expect(b.blockedFor("203.0.113.7")).toBe(50);
    expect(a.blockedFor("203.0.113.7")).toBe(0);
    // a learns it at its own next failure: one failure beyond the limit per worker at most.
    await a.recordFailure("203.0.113.7");
    expect(a.blockedFor("203.0.113.7")).toBe(50);
    clock.advance(50_000);
    expect(table.increment("auth-failures:203.0.113.7", 60_000)).toEqual([1, 60_000]);
  });

  it("keeps at most maxKeys windows, dropping expired then oldest ones", () => {
    const clock = clockAt();
    const table = createCounterTable(clock, 2);
    table.increment("a", 1_000);
    table.increment("b", 60_000);
    clock.advance(2_000);
    table.increment("c", 60_000);
    // "a" expired and went; "b" and "c" are kept.
    expect(table.increment("b", 60_000)[0]).toBe(2);
    table.increment("d", 60_000);
    // Over the cap: the oldest live window ("b") went.
    expect(table.increment("b", 60_000)[0]).toBe(1);
  });

  it("counts locally when the primary does not answer, reports it once, and never throws", async () => {
    const clock = clockAt();
    const errors: unknown[] = [];
    const limiter = createFailureLimiter({
      limit: 2,
      windowSeconds: 60,
      clock,
      shared: { increment: () => Promise.reject(new Error("the primary process is gone")) },
      onRedisError: (error) => errors.push(error),
    });
    await fail(limiter, "203.0.113.7", 3);
    expect(limiter.blockedFor("203.0.113.7")).toBe(60);
    expect(errors).toHaveLength(1);
  });
});
