/**
 * Per-key quotas on the hot path (docs/key-controls.md "Rate limit and quota"), for allowance.ts:
 * every check is local and synchronous; allowance.ts sends the counts to Redis with the rate
 * limits' batches (`due`, `send`, `took`).
 *
 * The database is the record: the usage flush (usage.ts, every 5 s) writes each instance's spends
 * as decrements, so instances compose; a graceful stop writes the last spends, a crash loses at
 * most one flush interval of them from the database (latchkey never holds a request to write a
 * spend). An instance's view from the database is the remaining count the key cache read less its
 * own spends since; alone, it sees other instances' spends only when it reads the key again (the
 * cache's time to live, at most 60 s, or at once on a change).
 *
 * With Redis, a quota's count is also kept there, named by the key, the quota's setting (its
 * `setAt`: a PATCH of the quota starts a fresh count, and the flush writes only spends of the
 * setting in force) and the refill period: a hash with one field per instance holding all of that
 * instance's spends in the count. Each sync writes the instance's own total (a total, never
 * lowered: a resend is harmless, and a count Redis lost is written back whole when it answers) and
 * takes back the sum of the other instances' fields, for every key spent from or looked at within
 * `QUOTA_LOOK_MS`. An instance admits a call while both views have calls left: the database's, and
 * what the count started with less the others' spends Redis reported and all of its own. So the
 * overshoot bound is the rate limits' (allowance.ts): `count + (N - 1) × U`, U the calls one
 * instance admits before the others hear of them (its batch, a tenth of the count, or more). An
 * instance's first calls of a key, or of a new count, are decided before Redis has answered, from
 * the database view, and are part of its U. While Redis is away each instance counts its own
 * spends on top of the others' it last heard of; an instance never forgets those within a count.
 * Counts expire at the end of their period (plus a margin), or 30 days after their last spend
 * without refill: the database holds the spends meanwhile.
 */
import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import {
  batchOf,
  nextQuotaPeriod,
  type QuotaState,
  quotaBaseAt,
  quotaPeriod,
  quotaRemaining,
} from "../core/key-controls.js";
import type { QuotaSpend } from "../storage/store.js";

/**
 * A quota count is a hash of each instance's spends in it (field: the instance, value: all its
 * spends there, never lowered). Setting a total rather than adding to one makes a resend harmless
 * and lets a count Redis lost be written again whole. Renews the expiry; returns the sum of the
 * other instances' fields.
 */
const QUOTA_SCRIPT = `
local own = tonumber(ARGV[2])
local was = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if own > was then redis.call('HSET', KEYS[1], ARGV[1], own) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local fields = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #fields, 2 do
  if fields[i] ~= ARGV[1] then others = others + tonumber(fields[i + 1]) end
end
return others`;

/** A quota count lives in Redis to the end of its period and this long more (instances' clocks differ). */
const PERIOD_MARGIN_MS = 3_600_000;
/** A count without refill lives this long after its last spend (the database holds it meanwhile). */
const UNREFILLED_TTL_MS = 30 * 86_400_000;
/** Keys whose quota was spent or looked at this recently have their count read at every sync. */
const QUOTA_LOOK_MS = 10_000;

interface QuotaEntry {
  /** The read the database view started from (a new read of the key starts it again). */
  basis: QuotaState;
  /** The count this entry holds: the quota's setting (`setAt`) and the refill period. */
  setAt: number;
  period: number;
  /** The calls the count started with (`quotaBaseAt`). */
  base: number;
  /** Calls left in the count as the read says (what the usage flush had written). */
  readLeft: number;
  /** Spent here and not held by the read. */
  spent: number;
  /** Spent here in the count (all of it: Redis holds it as this instance's field, see `QUOTA_SCRIPT`). */
  own: number;
  /** `own` as Redis last took it. */
  sent: number;
  /** The other instances' spends in the count, as Redis last answered. */
  others: number;
  /** Last spend or look, for the sync (only keys in use are asked about). */
  touched: number;
  /** In `inUse` (each sync looks at those keys only, not at every key ever seen). */
  inUse: boolean;
  /** Spent under `pendingSetAt` in `pendingPeriod`, not yet taken by the usage flush. */
  pending: number;
  pendingSetAt: number;
  pendingPeriod: number;
  /** Taken by the flush and not yet written. */
  writing: number;
}

/** One quota count in a sync: this instance's spends in it, of the entry's count as it was then. */
export interface QuotaSync {
  keyId: string;
  entry: QuotaEntry;
  own: number;
  setAt: number;
  period: number;
}

export interface QuotaCountOptions {
  /** Shared counts; each instance counts from the database alone when absent. */
  redis: Redis | undefined;
  prefix: string;
  /** Asks for a sync at the next turn of the event loop (the caller does not wait). */
  syncNow(): void;
  /** Redis is known not to answer (the management API's reads skip it). */
  failing(): boolean;
}

export type QuotaCounts = ReturnType<typeof createQuotaCounts>;

export function createQuotaCounts(options: QuotaCountOptions) {
  const { redis, prefix: quotaPrefix, syncNow } = options;
  /** This instance's field in the counts (a restart is a new instance; the old field stays). */
  const instance = randomUUID();
  const quotas = new Map<string, QuotaEntry>();
  /** Keys spent from or looked at within `QUOTA_LOOK_MS`, or with spends Redis has not taken. */
  const inUse = new Map<string, QuotaEntry>();
  /** Spends of an ended period or setting still to write (rare: one turned between two flushes). */
  let carried: QuotaSpend[] = [];

  /** The key's quota entry, moved to the count `quota` holds at `now`; created when first seen. */
  function quotaEntry(keyId: string, quota: QuotaState, now: number): QuotaEntry {
    const period = quotaPeriod(quota.refill, now);
    let entry = quotas.get(keyId);
    if (entry === undefined) {
      entry = {
        basis: quota,
        setAt: quota.setAt,
        period,
        base: quotaBaseAt(quota, period),
        readLeft: quotaRemaining(quota, quota.period, now),
        spent: 0,
        own: 0,
        sent: 0,
        others: 0,
        touched: now,
        inUse: redis !== undefined,
        pending: 0,
        pendingSetAt: quota.setAt,
        pendingPeriod: period,
        writing: 0,
      };
      quotas.set(keyId, entry);
      // What the other instances spent, as soon as Redis answers.
      if (redis) {
        inUse.set(keyId, entry);
        syncNow();
      }
      return entry;
    }
    entry.touched = now;
    if (redis && !entry.inUse) {
      entry.inUse = true;
      inUse.set(keyId, entry);
    }
    const fresh = entry.setAt !== quota.setAt || entry.period !== period;
    if (fresh) {
      // A new setting of the quota, or a new period: a fresh count, in Redis too.
      entry.setAt = quota.setAt;
      entry.period = period;
      entry.base = quotaBaseAt(quota, period);
      entry.own = 0;
      entry.sent = 0;
      entry.others = 0;
      if (redis) syncNow();
    }
    if (fresh || entry.basis !== quota) {
      // A new read: it holds what was written, not what waits to be.
      entry.basis = quota;
      entry.readLeft = quotaRemaining(quota, quota.period, now);
      const same = entry.pendingSetAt === entry.setAt && entry.pendingPeriod === period;
      entry.spent = same ? entry.pending + entry.writing : 0;
    }
    return entry;
  }

  /**
   * Calls left in the entry's count: what the read left less what was spent here since, and with
   * Redis also what the count started with less every instance's spends Redis told of (and this
   * one's it has not counted yet); the lower of the two.
   */
  function leftOf(entry: QuotaEntry): number {
    const read = entry.readLeft - entry.spent;
    if (!redis) return read;
    return Math.min(read, entry.base - entry.others - entry.own);
  }

  /**
   * Spends one call of the key's quota. Returns the calls left after this one, or -1 when none was
   * left (nothing spent).
   */
  function spend(keyId: string, quota: QuotaState, now: number): number {
    const entry = quotaEntry(keyId, quota, now);
    const left = leftOf(entry);
    if (left <= 0) return -1;
    entry.spent++;
    if (redis) {
      entry.own++;
      if (entry.own - entry.sent >= batchOf(entry.base)) syncNow();
    }
    if (entry.pendingSetAt !== entry.setAt || entry.pendingPeriod !== entry.period) {
      if (entry.pending > 0) {
        carried.push({ keyId, setAt: entry.pendingSetAt, period: entry.pendingPeriod, spent: entry.pending });
      }
      entry.pendingSetAt = entry.setAt;
      entry.pendingPeriod = entry.period;
      entry.pending = 0;
      entry.writing = 0;
    }
    entry.pending++;
    return left - 1;
  }

  /** The calls left in the key's quota, spending none. */
  function quotaLeft(keyId: string, quota: QuotaState, now: number): number {
    return Math.max(0, leftOf(quotaEntry(keyId, quota, now)));
  }

  /**
   * Calls left in the keys' quotas as verification counts them, for the management API, from a
   * fresh read of each key: what it says less this instance's spends not yet written, and with
   * Redis (one round trip, skipped while it is failing) less every instance's spends it holds. Keys
   * without a quota, or when no instance shares counts, are left out (the stored count stands).
   */
  async function quotasLeft(
    keys: readonly { id: string; quota: QuotaState | null }[],
    now: number,
  ): Promise<Map<string, number>> {
    const left = new Map<string, number>();
    if (!redis || options.failing()) return left;
    const counted: [string, QuotaState, number, QuotaEntry | undefined][] = [];
    for (const { id, quota } of keys) {
      if (quota === null) continue;
      const period = quotaPeriod(quota.refill, now);
      const entry = quotas.get(id);
      const same = entry !== undefined && entry.setAt === quota.setAt && entry.period === period;
      counted.push([id, quota, period, same ? entry : undefined]);
    }
    if (counted.length === 0) return left;
    const pipeline = redis.pipeline();
    for (const [id, quota, period] of counted) pipeline.hvals(`${quotaPrefix}${id}:${quota.setAt}:${period}`);
    const results = await pipeline.exec().catch(() => null);
    if (results === null) return left;
    counted.forEach(([id, quota, period, entry], i) => {
      const [error, fields] = results[i] ?? [new Error("Redis gave no answer"), null];
      if (error || !Array.isArray(fields)) return;
      const spent = fields.reduce((sum: number, value) => sum + Number(value), 0);
      const same =
        entry !== undefined && entry.pendingSetAt === entry.setAt && entry.pendingPeriod === period;
      const unwritten = same ? entry.pending + entry.writing : 0;
      const unsent = entry === undefined ? 0 : entry.own - entry.sent;
      const read = quotaRemaining(quota, quota.period, now) - unwritten;
      left.set(id, Math.max(0, Math.min(read, quotaBaseAt(quota, period) - spent - unsent)));
    });
    return left;
  }

  /** Seconds until the quota refills; null when it never does. */
  function refillIn(quota: QuotaState, now: number): number | null {
    const next = nextQuotaPeriod(quota.refill, quotaPeriod(quota.refill, now));
    return Number.isFinite(next) ? Math.max(1, Math.ceil((next - now) / 1000)) : null;
  }

  /** The spends waiting to be written, for the usage flush; they count as being written until `written`. */
  function takeSpends(): QuotaSpend[] {
    const taken = carried;
    carried = [];
    for (const [keyId, entry] of quotas) {
      if (entry.pending === 0) continue;
      taken.push({ keyId, setAt: entry.pendingSetAt, period: entry.pendingPeriod, spent: entry.pending });
      entry.writing += entry.pending;
      entry.pending = 0;
    }
    return taken;
  }

  const holds = (entry: QuotaEntry | undefined, spend: QuotaSpend): entry is QuotaEntry =>
    entry !== undefined && entry.pendingSetAt === spend.setAt && entry.pendingPeriod === spend.period;

  /** Spends the store has written. */
  function written(spends: readonly QuotaSpend[]): void {
    for (const spend of spends) {
      const entry = quotas.get(spend.keyId);
      if (holds(entry, spend)) entry.writing = Math.max(0, entry.writing - spend.spent);
    }
  }

  /** Spends the store did not write: they wait for the next flush. */
  function putBack(spends: readonly QuotaSpend[]): void {
    for (const spend of spends) {
      const entry = quotas.get(spend.keyId);
      if (holds(entry, spend)) {
        entry.writing = Math.max(0, entry.writing - spend.spent);
        entry.pending += spend.spent;
      } else carried.push(spend);
    }
  }

  /** The Redis hash of a quota's count, named by its setting and period. */
  const quotaKey = (keyId: string, entry: QuotaEntry) =>
    `${quotaPrefix}${keyId}:${entry.setAt}:${entry.period}`;

  /** How long Redis keeps a count: to the end of its period (and a margin), or a while idle without refill. */
  function quotaTtl(entry: QuotaEntry, now: number): number {
    const next = nextQuotaPeriod(entry.basis.refill, entry.period);
    return Number.isFinite(next) ? Math.max(0, next - now) + PERIOD_MARGIN_MS : UNREFILLED_TTL_MS;
  }

  /**
   * The counts to send at this sync: keys in use are sent even with no new spend (others' spends
   * show here, and a count Redis lost gets this instance's spends back).
   */
  function due(now: number): QuotaSync[] {
    const counts: QuotaSync[] = [];
    for (const [keyId, entry] of inUse) {
      if (entry.own === entry.sent && now - entry.touched >= QUOTA_LOOK_MS) {
        inUse.delete(keyId);
        entry.inUse = false;
        continue;
      }
      counts.push({ keyId, entry, own: entry.own, setAt: entry.setAt, period: entry.period });
    }
    return counts;
  }

  /** Adds the counts to the sync's pipeline (one answer each, in order, for `took`). */
  function send(pipeline: ChainableCommander, counts: readonly QuotaSync[], now: number): void {
    for (const { keyId, entry, own } of counts) {
      pipeline.eval(QUOTA_SCRIPT, 1, quotaKey(keyId, entry), instance, own, quotaTtl(entry, now));
    }
  }

  /**
   * Takes in the other instances' total of a count. Their spends only grow: a lower total is a
   * count Redis lost, and what was known stays until they send theirs again.
   */
  function took({ entry, own, setAt, period }: QuotaSync, others: number): void {
    if (entry.setAt !== setAt || entry.period !== period) return;
    entry.sent = Math.max(entry.sent, own);
    entry.others = Math.max(entry.others, others);
  }

  return {
    spend,
    quotaLeft,
    quotasLeft,
    refillIn,
    takeSpends,
    written,
    putBack,
    due,
    send,
    took,
  };
}
