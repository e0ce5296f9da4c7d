/**
 * The append-only audit log of the Kysely store. `data` is stored as given: callers keep tokens and
 * passwords out of it.
 */
import type { Kysely, Selectable } from "kysely";
import type { AuditEventsTable, Database } from "./schema.js";
import type { ActorType, AuditEventInput, AuditEventRecord } from "./store.js";

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
  data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
});

export async function appendAudit(db: Kysely<Database>, e: AuditEventInput): Promise<void> {
  await db
    .insertInto("audit_events")
    .values({
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
      data: e.data === null ? null : JSON.stringify(e.data),
    })
    .execute();
}

export async function listAudit(
  db: Kysely<Database>,
  account: string,
  limit: number,
): Promise<AuditEventRecord[]> {
  const q = db.selectFrom("audit_events").selectAll().where("account", "=", account);
  const rows = await q.orderBy("seq", "desc").limit(limit).execute();
  return rows.map(toAudit);
}
