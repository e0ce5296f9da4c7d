/**
 * Per-key rate limits and quotas on the hot path (docs/key-controls.md "Rate limit and quota").
 * Every check is local and synchronous: nothing here makes a verification wait on the network.
 *
 * Rate limits count calls in fixed windows aligned to the epoch (so every instance agrees on the
 * window). An instance admits a call while `shared + unsent < limit`, where `unsent` are the calls it
 * admitted that Redis has not counted yet and `shared` the window's total Redis last told it
 * (every instance's calls it had counted). Unsent calls go to Redis in one pipelined batch every
 * `syncMs` (100 ms), or at once (without the call waiting) when a key's unsent calls reach its
 * batch size: `batchOf(limit)`, a tenth of the limit between 1 and 100. Without Redis each instance
 * counts alone. A Redis fault never fails a call: counts stay local until it answers again.
 *
 * How far N instances can overshoot: each instance alone never admits more than the limit in a
 * window; what it cannot see are the other instances' unsent calls. So a window admits at most
 * `limit + (N - 1) × U`, where U is the most calls one instance holds unsent: its batch size, or
 * the calls it admits for the key during one sync interval plus one Redis round trip if that is
 * more. While Redis is away, each instance counts alone: at most N × limit.
 *
 * Quotas are counted by quota-counts.ts, whose counts go to Redis in the same pipeline; its header
 * gives their bound, the same as the rate limits'.
 */
import type { Redis } from "ioredis";
import { batchOf, type ControlState } from "../core/key-controls.js";
import { createQuotaCounts } from "./quota-counts.js";

/** INCRBY with the window's expiry set on first use; returns the window's total. */
const ADD_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

interface Bucket {
  windowStart: number;
  /** Admitted, not yet sent to Redis. */
  unsent: number;
  /** Sent, not yet answered. */
  sending: number;
  /** The window's total as Redis last answered (own sent calls included). */
  shared: number;
  windowMs: number;
}

export interface AllowanceOptions {
  clock: { now(): number };
  /** Shared counters; each instance counts alone when absent. */
  redis?: Redis | undefined;
  prefix?: string;
  /** Where quota counts live in Redis (default "latchkey:key-quota:"). */
  quotaPrefix?: string;
  /** How often unsent calls go to Redis (default 100 ms). */
  syncMs?: number;
  onRedisError?: (error: unknown) => void;
  onRedisRecovered?: () => void;
}

export type Allowances = ReturnType<typeof createAllowances>;

export function createAllowances(options: AllowanceOptions) {
  const { clock, redis } = options;
  const prefix = options.prefix ?? "latchkey:key-rate:";
  const buckets = new Map<string, Bucket>();
  const quotas = createQuotaCounts({
    redis,
    prefix: options.quotaPrefix ?? "latchkey:key-quota:",
    syncNow: () => syncNow(),
    failing: () => redisFailing,
  });
  /** The bucket of the last `hit`, for the `resetIn` that follows it. */
  let lastKeyId: string | null = null;
  let lastBucket: Bucket | undefined;
  let syncing = false;
  let syncSoon = false;
  let redisFailing = false;
  const timer = redis ? setInterval(() => void sync(), options.syncMs ?? 100) : undefined;
  timer?.unref();

  /**
   * Counts one call of the key against its rate limit. Returns the calls left in the window after
   * this one, or -1 when the window is full (the call is refused and not counted).
   */
  function hit(keyId: string, rate: NonNullable<ControlState["rateLimit"]>, now: number): number {
    const { limit, windowMs } = rate;
    const windowStart = now - (now % windowMs);
    let bucket = buckets.get(keyId);
    if (bucket === undefined) {
      bucket = { windowStart, unsent: 0, sending: 0, shared: 0, windowMs };
      buckets.set(keyId, bucket);
    } else if (bucket.windowStart !== windowStart || bucket.windowMs !== windowMs) {
      bucket.windowStart = windowStart;
      bucket.windowMs = windowMs;
      bucket.unsent = 0;
      bucket.sending = 0;
      bucket.shared = 0;
    }
    lastKeyId = keyId;
    lastBucket = bucket;
    const used = bucket.shared + bucket.sending + bucket.unsent;
    if (used >= limit) return -1;
    bucket.unsent++;
    if (redis && bucket.unsent >= batchOf(limit)) syncNow();
    return limit - used - 1;
  }

  /** Seconds until the key's current window ends (at least 1). */
  function resetIn(keyId: string, now: number): number {
    // Asked right after `hit` of the same key: its bucket without another lookup.
    const bucket = keyId === lastKeyId ? lastBucket : buckets.get(keyId);
    if (bucket === undefined) return 1;
    return Math.max(1, Math.ceil((bucket.windowStart + bucket.windowMs - now) / 1000));
  }

  /** Looks at Redis at the next turn of the event loop (the caller does not wait). */
  function syncNow(): void {
    if (syncSoon) return;
    syncSoon = true;
    setImmediate(() => void sync());
  }

  function reportFailure(error: unknown): void {
    if (redisFailing) return;
    redisFailing = true;
    options.onRedisError?.(error);
  }

  /** Sends every key's unsent calls and spends to Redis in one pipeline and takes in the totals. */
  async function sync(): Promise<void> {
    syncSoon = false;
    if (!redis || syncing) return;
    const now = clock.now();
    const sent: [string, Bucket, number, number][] = [];
    for (const [keyId, bucket] of buckets) {
      if (bucket.windowStart + bucket.windowMs <= now && bucket.sending === 0) {
        buckets.delete(keyId);
        if (keyId === lastKeyId) lastKeyId = null;
        continue;
      }
      if (bucket.unsent === 0) continue;
      sent.push([keyId, bucket, bucket.unsent, bucket.windowStart]);
      bucket.sending += bucket.unsent;
      bucket.unsent = 0;
    }
    const counts = quotas.due(now);
    if (sent.length === 0 && counts.length === 0) return;
    syncing = true;
    try {
      const pipeline = redis.pipeline();
      for (const [keyId, bucket, count, windowStart] of sent) {
        pipeline.eval(ADD_SCRIPT, 1, `${prefix}${keyId}:${windowStart}`, count, bucket.windowMs + 1000);
      }
      quotas.send(pipeline, counts, now);
      const results = (await pipeline.exec()) ?? [];
      let failed: unknown = null;
      sent.forEach(([, bucket, count, windowStart], i) => {
        const [error, total] = results[i] ?? [new Error("Redis gave no answer"), null];
        failed ??= error;
        if (bucket.windowStart !== windowStart) return;
        bucket.sending -= count;
        // Not counted in Redis: counted here alone.
        if (error) bucket.shared += count;
        else bucket.shared = Math.max(bucket.shared + count, Number(total));
      });
      counts.forEach((counted, i) => {
        const [error, total] = results[sent.length + i] ?? [new Error("Redis gave no answer"), null];
        failed ??= error;
        if (!error) quotas.took(counted, Number(total ?? 0));
      });
      if (failed !== null) reportFailure(failed);
      else if (redisFailing) {
        redisFailing = false;
        options.onRedisRecovered?.();
      }
    } catch (error) {
      // Counted here alone until Redis answers again.
      for (const [, bucket, count, windowStart] of sent) {
        if (bucket.windowStart !== windowStart) continue;
        bucket.sending -= count;
        bucket.shared += count;
      }
      reportFailure(error);
    } finally {
      syncing = false;
    }
  }

  return {
    hit,
    resetIn,
    spend: quotas.spend,
    quotaLeft: quotas.quotaLeft,
    quotasLeft: quotas.quotasLeft,
    refillIn: quotas.refillIn,
    takeSpends: quotas.takeSpends,
    written: quotas.written,
    putBack: quotas.putBack,
    sync,
    close() {
      if (timer) clearInterval(timer);
      buckets.clear();
      lastKeyId = null;
    },
  };
}
