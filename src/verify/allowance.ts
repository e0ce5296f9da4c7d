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
 * Quotas are spent locally from the remaining count the key cache read from the database; the
 * spends are written by the usage flush (usage.ts, every 5 s) as decrements, so instances compose.
 * An instance sees other instances' spends when it reads the key again (the cache's time to live,
 * at most 60 s, or at once on a change); until then it can overshoot by what they spent. A
 * graceful stop writes the last spends; a crash loses at most one flush interval of them (the
 * calls are given back: latchkey never holds a request to write a spend).
 */
import type { Redis } from "ioredis";
import { type ControlState, nextQuotaPeriod, quotaPeriod } from "../core/key-controls.js";
import type { QuotaSpend } from "../storage/store.js";

/** Calls one instance admits before it sends them to Redis without waiting for the timer. */
export function batchOf(limit: number): number {
  return Math.max(1, Math.min(100, Math.ceil(limit / 10)));
}

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

interface QuotaEntry {
  /** The quota state the local count started from (a new read of the key starts again). */
  basis: NonNullable<ControlState["quota"]>;
  period: number;
  /** Spent since `basis` was read, in `period`. */
  spent: number;
  /** Spent in `pendingPeriod`, not yet taken by the usage flush. */
  pending: number;
  pendingPeriod: number;
  /** Taken by the flush and not yet written. */
  writing: number;
}

export interface AllowanceOptions {
  clock: { now(): number };
  /** Shared counters; each instance counts alone when absent. */
  redis?: Redis | undefined;
  prefix?: string;
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
  const quotas = new Map<string, QuotaEntry>();
  /** Spends of an ended period still to write (rare: a period turned between two flushes). */
  let carried: QuotaSpend[] = [];
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
    const used = bucket.shared + bucket.sending + bucket.unsent;
    if (used >= limit) return -1;
    bucket.unsent++;
    if (redis && bucket.unsent >= batchOf(limit) && !syncSoon) {
      syncSoon = true;
      setImmediate(() => void sync());
    }
    return limit - used - 1;
  }

  /** Seconds until the key's current window ends (at least 1). */
  function resetIn(keyId: string, now: number): number {
    const bucket = buckets.get(keyId);
    if (bucket === undefined) return 1;
    return Math.max(1, Math.ceil((bucket.windowStart + bucket.windowMs - now) / 1000));
  }

  /**
   * Spends one call of the key's quota. Returns the calls left after this one, or -1 when none was
   * left (nothing spent).
   */
  function spend(keyId: string, quota: NonNullable<ControlState["quota"]>, now: number): number {
    const period = quotaPeriod(quota.refill, now);
    const base = period > quota.period && quota.refill !== null ? quota.refill.amount : quota.remaining;
    let entry = quotas.get(keyId);
    if (entry === undefined) {
      entry = { basis: quota, period, spent: 0, pending: 0, pendingPeriod: period, writing: 0 };
      quotas.set(keyId, entry);
    } else if (entry.basis !== quota || entry.period !== period) {
      // A new read of the key (or a new period): it holds what was written, not what waits to be.
      entry.spent = entry.pendingPeriod === period ? entry.pending + entry.writing : 0;
      entry.basis = quota;
      entry.period = period;
    }
    const left = base - entry.spent;
    if (left <= 0) return -1;
    entry.spent++;
    if (entry.pendingPeriod !== period) {
      if (entry.pending > 0) carried.push({ keyId, period: entry.pendingPeriod, spent: entry.pending });
      entry.pendingPeriod = period;
      entry.pending = 0;
      entry.writing = 0;
    }
    entry.pending++;
    return left - 1;
  }

  /** The calls left in the key's quota, spending none. */
  function quotaLeft(keyId: string, quota: NonNullable<ControlState["quota"]>, now: number): number {
    const period = quotaPeriod(quota.refill, now);
    const base = period > quota.period && quota.refill !== null ? quota.refill.amount : quota.remaining;
    const entry = quotas.get(keyId);
    if (entry === undefined) return base;
    let spent = entry.spent;
    if (entry.basis !== quota || entry.period !== period) {
      spent = entry.pendingPeriod === period ? entry.pending + entry.writing : 0;
    }
    return Math.max(0, base - spent);
  }

  /** Seconds until the quota refills; null when it never does. */
  function refillIn(quota: NonNullable<ControlState["quota"]>, now: number): number | null {
    const next = nextQuotaPeriod(quota.refill, quotaPeriod(quota.refill, now));
    return Number.isFinite(next) ? Math.max(1, Math.ceil((next - now) / 1000)) : null;
  }

  /** The spends waiting to be written, for the usage flush; they count as being written until `written`. */
  function takeSpends(): QuotaSpend[] {
    const taken = carried;
    carried = [];
    for (const [keyId, entry] of quotas) {
      if (entry.pending === 0) continue;
      taken.push({ keyId, period: entry.pendingPeriod, spent: entry.pending });
      entry.writing += entry.pending;
      entry.pending = 0;
    }
    return taken;
  }

  /** Spends the store has written. */
  function written(spends: readonly QuotaSpend[]): void {
    for (const { keyId, period, spent } of spends) {
      const entry = quotas.get(keyId);
      if (entry !== undefined && entry.pendingPeriod === period)
        entry.writing = Math.max(0, entry.writing - spent);
    }
  }

  /** Spends the store did not write: they wait for the next flush. */
  function putBack(spends: readonly QuotaSpend[]): void {
    for (const spend of spends) {
      const entry = quotas.get(spend.keyId);
      if (entry !== undefined && entry.pendingPeriod === spend.period) {
        entry.writing = Math.max(0, entry.writing - spend.spent);
        entry.pending += spend.spent;
      } else carried.push(spend);
    }
  }

  function reportFailure(error: unknown): void {
    if (redisFailing) return;
    redisFailing = true;
    options.onRedisError?.(error);
  }

  /** Sends every key's unsent calls to Redis in one pipeline and takes in the totals. */
  async function sync(): Promise<void> {
    syncSoon = false;
    if (!redis || syncing) return;
    const now = clock.now();
    const sent: [string, Bucket, number, number][] = [];
    for (const [keyId, bucket] of buckets) {
      if (bucket.windowStart + bucket.windowMs <= now && bucket.sending === 0) {
        buckets.delete(keyId);
        continue;
      }
      if (bucket.unsent === 0) continue;
      sent.push([keyId, bucket, bucket.unsent, bucket.windowStart]);
      bucket.sending += bucket.unsent;
      bucket.unsent = 0;
    }
    if (sent.length === 0) return;
    syncing = true;
    try {
      const pipeline = redis.pipeline();
      for (const [keyId, bucket, count, windowStart] of sent) {
        pipeline.eval(ADD_SCRIPT, 1, `${prefix}${keyId}:${windowStart}`, count, bucket.windowMs + 1000);
      }
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
    spend,
    quotaLeft,
    refillIn,
    takeSpends,
    written,
    putBack,
    sync,
    close() {
      if (timer) clearInterval(timer);
      buckets.clear();
    },
  };
}
