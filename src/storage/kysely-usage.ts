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
import { CompiledQuery, type Kysely } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import { nameStatement } from "./named-statements.js";
import type { Database } from "./schema.js";
import type { Dialect, ResourceUseRecord, UsageBatch, UsageDay, UsageRepository } from "./store.js";
import { inLockOrder } from "./usage-order.js";

const CHUNK = 256;

/**
 * Rows in statements of at most 256. On SQLite the rest comes in decreasing powers of two (300
 * rows: 256, 32, 8, 4), so that statements have a handful of shapes: SQLite prepares each
 * statement text once and keeps it (open.ts `withStatementCache`), and with a statement of every
 * size, flush after flush prepared and kept a new multi-row statement of up to a megabyte of native
 * memory each, which grew the process by hundreds of megabytes at 100,000 keys. PostgreSQL keeps
 * nothing: there the rest goes in one statement (one round trip).
 */
function chunks<T>(rows: readonly T[], dialect: Dialect): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; ) {
    let size = Math.min(CHUNK, rows.length - i);
    if (dialect === "sqlite") {
      size = CHUNK;
      while (size > rows.length - i) size >>= 1;
    }
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}

/** PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply run again. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

const ATTEMPTS = 3;

/**
 * One multi-row statement `before (values (…), …) as v after`, as SQL text with placeholders and
 * its parameters. Built by hand rather than with Kysely's `sql` template: a flush writes thousands
 * of rows, and the template's query tree (several objects per value, compiled every time) was most
 * of a flush's CPU and garbage. `cells` gives each column's placeholder wrapper (`?` is replaced by
 * the dialect's placeholder), in the order the row's values come.
 */
function valuesQuery(
  dialect: Dialect,
  before: string,
  cells: readonly string[],
  after: string,
  rows: readonly (readonly unknown[])[],
): CompiledQuery {
  const parameters: unknown[] = [];
  let text = `${before} (values `;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as readonly unknown[];
    text += r === 0 ? "(" : ", (";
    for (let c = 0; c < cells.length; c++) {
      parameters.push(row[c]);
      const placeholder = dialect === "postgres" ? `$${parameters.length}` : "?";
      text += (c === 0 ? "" : ", ") + (cells[c] as string).replace("?", placeholder);
    }
    text += ")";
  }
  text = `${text}) as v ${after}`;
  // A full chunk has the same text every time: on PostgreSQL it is parsed and planned once per
  // connection (planning was a quarter of a 256-row upsert's time), the shorter rest is not.
  if (dialect === "postgres" && rows.length === CHUNK) nameStatement(text);
  return CompiledQuery.raw(text, parameters);
}

async function recordUsage(db: Kysely<Database>, dialect: Dialect, batch: UsageBatch): Promise<void> {
  const run = async (
    rows: readonly (readonly unknown[])[],
    before: string,
    cells: readonly string[],
    after: string,
  ) => {
    for (const chunk of chunks(rows, dialect))
      await db.executeQuery(valuesQuery(dialect, before, cells, after, chunk));
  };
  await run(
    batch.counts.map((r) => [r.keyId, r.day, r.ok, r.denied]),
    "insert into key_usage (key_id, day, ok, denied) select v.column1, v.column2, v.column3, v.column4 from",
    ["?", "cast(? as integer)", "cast(? as bigint)", "cast(? as bigint)"],
    `where exists (select 1 from keys where keys.id = v.column1)
      on conflict (key_id, day) do update
      set ok = key_usage.ok + excluded.ok, denied = key_usage.denied + excluded.denied`,
  );
  await run(
    batch.resources.map((r) => [r.keyId, r.account, r.resource, r.at]),
    "insert into key_resource_use (key_id, account, resource, last_used_at) select v.column1, v.column2, v.column3, v.column4 from",
    ["?", "?", "?", "cast(? as bigint)"],
    `where exists (select 1 from keys where keys.id = v.column1)
      on conflict (key_id, account, resource) do update
      set last_used_at = case when excluded.last_used_at > key_resource_use.last_used_at
        then excluded.last_used_at else key_resource_use.last_used_at end`,
  );
  await run(
    batch.lastUsed.map((r) => [r.keyId, r.at]),
    "update keys set last_used_at = v.column2 from",
    ["?", "cast(? as bigint)"],
    "where keys.id = v.column1 and keys.last_used_at < v.column2",
  );
  await run(
    (batch.tokens ?? []).map((r) => [r.tokenId, r.at]),
    "update tokens set last_used_at = v.column2 from",
    ["?", "cast(? as bigint)"],
    "where tokens.id = v.column1 and tokens.last_used_at < v.column2",
  );
  await run(
    (batch.quotas ?? []).map((r) => [r.keyId, r.period, r.spent, r.setAt]),
    `update keys set
      quota_remaining = case when keys.quota_period = v.column2
        then (case when keys.quota_remaining > v.column3 then keys.quota_remaining - v.column3 else 0 end)
        else (case when keys.quota_refill_amount > v.column3 then keys.quota_refill_amount - v.column3 else 0 end)
      end,
      quota_period = v.column2
      from`,
    ["?", "cast(? as bigint)", "cast(? as bigint)", "cast(? as bigint)"],
    `where keys.id = v.column1 and keys.quota_remaining is not null and keys.quota_set_at = v.column4
        and (keys.quota_period = v.column2
          or (keys.quota_period < v.column2 and keys.quota_refill_amount is not null))`,
  );
  // Only additions match: a key's use in its own account, or in one that never added it, updates nothing.
  await run(
    (batch.accounts ?? []).map((r) => [r.keyId, r.account, r.at]),
    "update external_keys set last_used_at = v.column3 from",
    ["?", "?", "cast(? as bigint)"],
    `where external_keys.key_id = v.column1 and external_keys.account = v.column2
        and external_keys.last_used_at < v.column3`,
  );
}

export class KyselyUsage extends KyselyRepository implements UsageRepository {
  async record(batch: UsageBatch): Promise<void> {
    const ordered = inLockOrder(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.scope.atomicUnsynced((db) => recordUsage(db, this.scope.dialect, ordered));
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
