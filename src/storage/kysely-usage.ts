/**
 * Usage counts (table `key_usage`), `keys.last_used_at`, each token's `tokens.last_used_at` and an
 * external key's last use in each account that added it (`external_keys.last_used_at`), written in
 * batches by the usage recorder. A batch is a few multi-row statements in one transaction, whatever its size: counts
 * are added to what is stored (several instances flush their own increments), `last_used_at` only
 * moves forward, and rows for keys deleted since the batch was collected are skipped.
 *
 * Several instances flush at once and touch the same rows. Every statement takes its row locks in
 * one order (the rows are sorted by key, then by the rest of the row's key) and the statements run
 * in one order, so two flushes wait for each other instead of deadlocking. Should PostgreSQL still
 * pick a flush as a deadlock victim (a plan may visit rows in another order), the batch is tried
 * again at once, a few times, before the failure is reported.
 */
import { type Kysely, sql } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import type { Database } from "./schema.js";
import type { QuotaSpend, ResourceUseRecord, UsageBatch, UsageDay, UsageRepository } from "./store.js";

const CHUNK = 500;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

const byKey = <T extends { keyId: string }>(a: T, b: T) =>
  a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The batch with every list in lock order. */
export function inLockOrder(batch: UsageBatch): UsageBatch {
  return {
    counts: [...batch.counts].sort((a, b) => byKey(a, b) || a.day - b.day),
    resources: [...batch.resources].sort(
      (a, b) => byKey(a, b) || byText(a.account, b.account) || byText(a.resource, b.resource),
    ),
    lastUsed: [...batch.lastUsed].sort(byKey),
    accounts: [...(batch.accounts ?? [])].sort((a, b) => byKey(a, b) || byText(a.account, b.account)),
    tokens: [...(batch.tokens ?? [])].sort((a, b) => byText(a.tokenId, b.tokenId)),
    quotas: latestPeriods(batch.quotas ?? []).sort(byKey),
  };
}

/**
 * One spend per key (an update touches a row once): of two periods, the later one (the earlier
 * period has ended and was refilled; its spends no longer count), the same period's summed.
 */
function latestPeriods(spends: readonly QuotaSpend[]): QuotaSpend[] {
  const byId = new Map<string, QuotaSpend>();
  for (const spend of spends) {
    const seen = byId.get(spend.keyId);
    if (seen === undefined || spend.period > seen.period) byId.set(spend.keyId, { ...spend });
    else if (spend.period === seen.period) seen.spent += spend.spent;
  }
  return [...byId.values()];
}

/** PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply run again. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

const ATTEMPTS = 3;

async function recordUsage(db: Kysely<Database>, batch: UsageBatch): Promise<void> {
  for (const rows of chunks(batch.counts)) {
    const values = sql.join(
      rows.map(
        (r) =>
          sql`(${r.keyId}, cast(${r.day} as integer), cast(${r.ok} as bigint), cast(${r.denied} as bigint))`,
      ),
    );
    await sql`insert into key_usage (key_id, day, ok, denied)
      select v.column1, v.column2, v.column3, v.column4 from (values ${values}) as v
      where exists (select 1 from keys where keys.id = v.column1)
      on conflict (key_id, day) do update
      set ok = key_usage.ok + excluded.ok, denied = key_usage.denied + excluded.denied`.execute(db);
  }
  for (const rows of chunks(batch.resources)) {
    const values = sql.join(
      rows.map((r) => sql`(${r.keyId}, ${r.account}, ${r.resource}, cast(${r.at} as bigint))`),
    );
    await sql`insert into key_resource_use (key_id, account, resource, last_used_at)
      select v.column1, v.column2, v.column3, v.column4 from (values ${values}) as v
      where exists (select 1 from keys where keys.id = v.column1)
      on conflict (key_id, account, resource) do update
      set last_used_at = case when excluded.last_used_at > key_resource_use.last_used_at
        then excluded.last_used_at else key_resource_use.last_used_at end`.execute(db);
  }
  for (const rows of chunks(batch.lastUsed)) {
    const values = sql.join(rows.map((r) => sql`(${r.keyId}, cast(${r.at} as bigint))`));
    await sql`update keys set last_used_at = v.column2 from (values ${values}) as v
      where keys.id = v.column1 and keys.last_used_at < v.column2`.execute(db);
  }
  for (const rows of chunks(batch.tokens ?? [])) {
    const values = sql.join(rows.map((r) => sql`(${r.tokenId}, cast(${r.at} as bigint))`));
    await sql`update tokens set last_used_at = v.column2 from (values ${values}) as v
      where tokens.id = v.column1 and tokens.last_used_at < v.column2`.execute(db);
  }
  for (const rows of chunks(batch.quotas ?? [])) {
    const values = sql.join(
      rows.map((r) => sql`(${r.keyId}, cast(${r.period} as bigint), cast(${r.spent} as bigint))`),
    );
    await sql`update keys set
      quota_remaining = case when keys.quota_period = v.column2
        then (case when keys.quota_remaining > v.column3 then keys.quota_remaining - v.column3 else 0 end)
        else (case when keys.quota_refill_amount > v.column3 then keys.quota_refill_amount - v.column3 else 0 end)
      end,
      quota_period = v.column2
      from (values ${values}) as v
      where keys.id = v.column1 and keys.quota_remaining is not null
        and (keys.quota_period = v.column2
          or (keys.quota_period < v.column2 and keys.quota_refill_amount is not null))`.execute(db);
  }
  // Only additions match: a key's use in its own account, or in one that never added it, updates nothing.
  for (const rows of chunks(batch.accounts ?? [])) {
    const values = sql.join(rows.map((r) => sql`(${r.keyId}, ${r.account}, cast(${r.at} as bigint))`));
    await sql`update external_keys set last_used_at = v.column3 from (values ${values}) as v
      where external_keys.key_id = v.column1 and external_keys.account = v.column2
        and external_keys.last_used_at < v.column3`.execute(db);
  }
}

export class KyselyUsage extends KyselyRepository implements UsageRepository {
  async record(batch: UsageBatch): Promise<void> {
    const ordered = inLockOrder(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.atomic((db) => recordUsage(db, ordered));
      } catch (error) {
        if (attempt >= ATTEMPTS || !isRetryable(error)) throw error;
      }
    }
  }

  async get(keyId: string, fromDay: number, toDay: number): Promise<UsageDay[]> {
    const rows = await this.db
      .selectFrom("key_usage")
      .select(["day", "ok", "denied"])
      .where("key_id", "=", keyId)
      .where("day", ">=", fromDay)
      .where("day", "<=", toDay)
      .orderBy("day")
      .execute();
    return rows.map((row) => ({ day: Number(row.day), ok: Number(row.ok), denied: Number(row.denied) }));
  }

  async listResourceUse(account: string): Promise<ResourceUseRecord[]> {
    const rows = await this.db
      .selectFrom("key_resource_use")
      .select(["key_id", "account", "resource", "last_used_at"])
      .where("account", "=", account)
      .execute();
    return rows.map((r) => ({
      keyId: r.key_id,
      account: r.account,
      resource: r.resource,
      at: Number(r.last_used_at),
    }));
  }
}
