/**
 * The append-only audit log of the Kysely store, one hash chain per account (audit-chain.ts).
 * `data` is stored as given: callers keep tokens, hashes and passwords out of it.
 *
 * Chaining under concurrency: an append first upserts the account's row in audit_heads. On
 * PostgreSQL that upsert takes the row's lock until the caller's transaction ends, and a waiting
 * transaction's upsert then returns the head as the winner left it; on SQLite the single writer
 * does the same. The event's seq is drawn after the lock is held, so within an account seq order
 * is chain order.
 */
import { type Kysely, type Selectable, sql } from "kysely";
import { auditHash, chainFieldsOf, parseAuditData } from "./audit-chain.js";
import { KyselyRepository } from "./kysely-scope.js";
import type { AuditEventsTable, Database } from "./schema.js";
import type {
  ActorType,
  AuditEventInput,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  AuditRepository,
  ChainedAuditEvent,
} from "./store.js";

const toAudit = (r: Selectable<AuditEventsTable>): AuditEventRecord => ({
  seq: r.seq,
  id: r.id,
  account: r.account,
  at: r.at,
  actorType: r.actor_type as ActorType,
  actorId: r.actor_id,
  actorLabel: r.actor_label,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  ip: r.ip,
  userAgent: r.user_agent,
  requestId: r.request_id,
  data: parseAuditData(r.data) as Record<string, unknown> | null,
});

const toChained = (r: Selectable<AuditEventsTable>): ChainedAuditEvent => ({
  ...toAudit(r),
  data: parseAuditData(r.data),
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** The hash an event row must carry, given the hash of the event before it. */
export function rowHash(r: Selectable<AuditEventsTable>, prevHash: string | null): string {
  return auditHash(chainFieldsOf({ ...toAudit(r), data: parseAuditData(r.data) }), prevHash);
}

/** Rows per multi-row insert (15 columns: far below both databases' parameter limits). */
const APPEND_CHUNK = 500;

/** Locks the account's chain head (creating it on the first event) and returns its hash. */
async function lockHead(db: Kysely<Database>, account: string): Promise<string | null> {
  const head = await db
    .insertInto("audit_heads")
    .values({ account, seq: 0, hash: null })
    .onConflict((oc) => oc.column("account").doUpdateSet({ seq: (eb) => eb.ref("audit_heads.seq") }))
    .returning("hash")
    .executeTakeFirstOrThrow();
  return head.hash;
}

export class KyselyAudit extends KyselyRepository implements AuditRepository {
  /** The head lock, the insert and the head move belong together: one transaction. */
  append(e: AuditEventInput): Promise<void> {
    return this.appendMany([e]);
  }

  /**
   * One head lock per account, the events chained in memory and inserted in multi-row statements
   * (seq follows the rows' order), then one head move per account.
   */
  appendMany(events: readonly AuditEventInput[]): Promise<void> {
    return this.atomic(async (db) => {
      const accounts = [...new Set(events.map((e) => e.account))].sort();
      for (const account of accounts) {
        let prevHash = await lockHead(db, account);
        const rows = events
          .filter((e) => e.account === account)
          .map((e) => {
            const data = e.data === null ? null : JSON.stringify(e.data);
            // Hashed as it will be read back: undefined values dropped, as the JSON text drops them.
            const hash = auditHash(chainFieldsOf({ ...e, data: parseAuditData(data) }), prevHash);
            const row = {
              id: e.id,
              account: e.account,
              at: e.at,
              actor_type: e.actorType,
              actor_id: e.actorId,
              actor_label: e.actorLabel,
              action: e.action,
              target_type: e.targetType,
              target_id: e.targetId,
              ip: e.ip,
              user_agent: e.userAgent,
              request_id: e.requestId,
              data,
              prev_hash: prevHash,
              hash,
            };
            prevHash = hash;
            return row;
          });
        let lastSeq = 0;
        for (let at = 0; at < rows.length; at += APPEND_CHUNK) {
          const inserted = await db
            .insertInto("audit_events")
            .values(rows.slice(at, at + APPEND_CHUNK))
            .returning("seq")
            .execute();
          for (const row of inserted) lastSeq = Math.max(lastSeq, Number(row.seq));
        }
        await db
          .updateTable("audit_heads")
          .set({ seq: lastSeq, hash: prevHash })
          .where("account", "=", account)
          .execute();
      }
    });
  }

  async list(account: string, limit: number): Promise<AuditEventRecord[]> {
    const q = this.db.selectFrom("audit_events").selectAll().where("account", "=", account);
    const rows = await q.orderBy("seq", "desc").limit(limit).execute();
    return rows.map(toAudit);
  }

  async listEvents(query: AuditQuery): Promise<ChainedAuditEvent[]> {
    let q = this.db.selectFrom("audit_events").selectAll().where("account", "=", query.account);
    if (query.afterSeq !== undefined) q = q.where("seq", query.order === "asc" ? ">" : "<", query.afterSeq);
    if (query.maxSeq !== undefined) q = q.where("seq", "<=", query.maxSeq);
    if (query.action !== undefined) q = q.where("action", "=", query.action);
    const prefix = query.actionPrefix;
    if (prefix !== undefined) q = q.where(sql<string>`substr(action, 1, ${prefix.length})`, "=", prefix);
    const actor = query.actor;
    if (actor !== undefined)
      q = q.where((eb) => eb.or([eb("actor_id", "=", actor), eb("actor_label", "=", actor)]));
    if (query.targetId !== undefined) q = q.where("target_id", "=", query.targetId);
    if (query.from !== undefined) q = q.where("at", ">=", query.from);
    if (query.to !== undefined) q = q.where("at", "<", query.to);
    const rows = await q.orderBy("seq", query.order).limit(query.limit).execute();
    return rows.map(toChained);
  }

  async getHead(account: string): Promise<AuditHead | undefined> {
    const row = await this.db
      .selectFrom("audit_heads")
      .select(["account", "seq", "hash"])
      .where("account", "=", account)
      .executeTakeFirst();
    return row?.hash == null ? undefined : { account: row.account, seq: row.seq, hash: row.hash };
  }

  async listAccounts(): Promise<string[]> {
    const rows = await this.db
      .selectFrom("audit_heads")
      .select("account")
      .union(this.db.selectFrom("audit_events").select("account"))
      .orderBy("account")
      .execute();
    return rows.map((r) => r.account);
  }
}

/**
 * Chains the events already stored (migration 0006): per account in seq order, 500 rows at a time,
 * then records each account's head.
 */
export async function chainExistingEvents(db: Kysely<Database>): Promise<void> {
  const accounts = await db
    .selectFrom("audit_events")
    .select("account")
    .distinct()
    .orderBy("account")
    .execute();
  for (const { account } of accounts) {
    let prevHash: string | null = null;
    let lastSeq = 0;
    for (;;) {
      const rows = await db
        .selectFrom("audit_events")
        .selectAll()
        .where("account", "=", account)
        .where("seq", ">", lastSeq)
        .orderBy("seq")
        .limit(500)
        .execute();
      for (const row of rows) {
        const hash = rowHash(row, prevHash);
        await db
          .updateTable("audit_events")
          .set({ prev_hash: prevHash, hash })
          .where("seq", "=", row.seq)
          .execute();
        prevHash = hash;
        lastSeq = row.seq;
      }
      if (rows.length < 500) break;
    }
    await db.insertInto("audit_heads").values({ account, seq: lastSeq, hash: prevHash }).execute();
  }
}
