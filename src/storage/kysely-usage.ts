/**
 * Usage counts (table `key_usage`), `keys.last_used_at` and an external key's last use in each
 * account that added it (`external_keys.last_used_at`), written in batches by the usage
 * recorder. A batch is a few multi-row statements in one transaction, whatever its size: counts
 * are added to what is stored (several instances flush their own increments), `last_used_at` only
 * moves forward, and rows for keys deleted since the batch was collected are skipped.
 */
import { type Kysely, sql } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import type { Database } from "./schema.js";
import type { ResourceUseRecord, UsageBatch, UsageDay, UsageRepository } from "./store.js";

const CHUNK = 500;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

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
  // Only additions match: a key's use in its own account, or in one that never added it, updates nothing.
  for (const rows of chunks(batch.accounts ?? [])) {
    const values = sql.join(rows.map((r) => sql`(${r.keyId}, ${r.account}, cast(${r.at} as bigint))`));
    await sql`update external_keys set last_used_at = v.column3 from (values ${values}) as v
      where external_keys.key_id = v.column1 and external_keys.account = v.column2
        and external_keys.last_used_at < v.column3`.execute(db);
  }
}

export class KyselyUsage extends KyselyRepository implements UsageRepository {
  record(batch: UsageBatch): Promise<void> {
    return this.atomic((db) => recordUsage(db, batch));
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
