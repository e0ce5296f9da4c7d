/**
 * The notification outbox of the Kysely store (SPEC §2.3). Payloads are JSON text and never carry a
 * token (the services build them); error texts come from remote servers and are stored trimmed.
 */
import type { Selectable } from "kysely";
import { KyselyRepository } from "./kysely-scope.js";
import type { NotificationsTable } from "./schema.js";
import type {
  NotificationChannel,
  NotificationInput,
  NotificationRecord,
  NotificationStatus,
  OutboxRepository,
} from "./store.js";

const MAX_ERROR_LENGTH = 500;

const toNotification = (r: Selectable<NotificationsTable>): NotificationRecord => ({
  id: r.id,
  account: r.account,
  channel: r.channel as NotificationChannel,
  target: r.target,
  event: r.event,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  createdAt: r.created_at,
  status: r.status as NotificationStatus,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  sentAt: r.sent_at,
});

export class KyselyOutbox extends KyselyRepository implements OutboxRepository {
  async enqueue(n: NotificationInput): Promise<void> {
    await this.db
      .insertInto("notifications")
      .values({
        id: n.id,
        account: n.account,
        channel: n.channel,
        target: n.target,
        event: n.event,
        payload: JSON.stringify(n.payload),
        created_at: n.createdAt,
        status: "pending",
        attempts: 0,
        next_attempt_at: n.createdAt,
        last_error: null,
        sent_at: null,
      })
      .execute();
  }

  /**
   * One UPDATE leases the due rows. On PostgreSQL the subquery locks what it picks and skips rows
   * another scheduler is leasing, and the outer conditions are re-checked on rows changed meanwhile;
   * SQLite runs one writer at a time, so the statement alone is atomic. Oldest due first.
   */
  async claim(now: number, leaseUntil: number, limit: number): Promise<NotificationRecord[]> {
    const due = this.db
      .selectFrom("notifications")
      .select("id")
      .where("status", "=", "pending")
      .where("next_attempt_at", "<=", now)
      .orderBy("next_attempt_at")
      .orderBy("id")
      .limit(limit)
      .$if(this.scope.dialect === "postgres", (q) => q.forUpdate().skipLocked());
    const rows = await this.db
      .updateTable("notifications")
      .set({ next_attempt_at: leaseUntil })
      .where("id", "in", due)
      .where("status", "=", "pending")
      .where("next_attempt_at", "<=", now)
      .returningAll()
      .execute();
    return rows.map(toNotification).sort((x, y) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : 1));
  }

  /** Counts the successful attempt too: `attempts` is every delivery tried. */
  async markSent(id: string, sentAt: number): Promise<void> {
    await this.db
      .updateTable("notifications")
      .set((eb) => ({ status: "sent", sent_at: sentAt, attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .execute();
  }

  async markFailed(id: string, error: string, retryAt: number | null): Promise<void> {
    const next = retryAt === null ? { status: "failed" } : { status: "pending", next_attempt_at: retryAt };
    await this.db
      .updateTable("notifications")
      .set((eb) => ({ ...next, last_error: errorText(error), attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .execute();
  }

  async list(account: string, limit: number): Promise<NotificationRecord[]> {
    const rows = await this.db
      .selectFrom("notifications")
      .selectAll()
      .where("account", "=", account)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(toNotification);
  }
}

/**
 * Error text comes from remote servers: PostgreSQL refuses NUL in text, and a cut must not leave
 * half a surrogate pair behind.
 */
function errorText(error: string): string {
  const text = error.replaceAll("\u0000", "").slice(0, MAX_ERROR_LENGTH);
  return /[\uD800-\uDBFF]$/.test(text) ? text.slice(0, -1) : text;
}
