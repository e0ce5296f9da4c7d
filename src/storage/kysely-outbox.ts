/**
 * What the scheduler reads and writes (SPEC §2.3): account settings, renewal alert marks, keys for
 * the unused-key policy, and the notification outbox. Payloads and settings are JSON text; neither
 * may carry a token (the services build them).
 */
import type { Kysely, Selectable } from "kysely";
import { hydrateKeys } from "./kysely-keys.js";
import type { Database, NotificationsTable } from "./schema.js";
import type {
  Dialect,
  KeyRecord,
  NotificationChannel,
  NotificationInput,
  NotificationRecord,
  NotificationStatus,
  SettingsVersion,
  StoredSettings,
} from "./store.js";

const MAX_ERROR_LENGTH = 500;

export async function getSettings(
  db: Kysely<Database>,
  account: string,
): Promise<Record<string, unknown> | undefined> {
  const r = await db
    .selectFrom("account_settings")
    .select("settings")
    .where("account", "=", account)
    .executeTakeFirst();
  return r && (JSON.parse(r.settings) as Record<string, unknown>);
}

export async function getStoredSettings(
  db: Kysely<Database>,
  account: string,
): Promise<StoredSettings | undefined> {
  const r = await db
    .selectFrom("account_settings")
    .select(["settings", "revision", "updated_at"])
    .where("account", "=", account)
    .executeTakeFirst();
  return (
    r && {
      settings: JSON.parse(r.settings) as Record<string, unknown>,
      revision: r.revision,
      updatedAt: r.updated_at,
    }
  );
}

export async function putSettings(
  db: Kysely<Database>,
  account: string,
  settings: Record<string, unknown>,
  updatedAt: number,
): Promise<number> {
  const r = await db
    .insertInto("account_settings")
    .values({ account, settings: JSON.stringify(settings), updated_at: updatedAt, revision: 1 })
    .onConflict((oc) =>
      oc.column("account").doUpdateSet((eb) => ({
        settings: eb.ref("excluded.settings"),
        updated_at: eb.ref("excluded.updated_at"),
        revision: eb("account_settings.revision", "+", 1),
      })),
    )
    .returning("revision")
    .executeTakeFirstOrThrow();
  return r.revision;
}

/**
 * The condition is in the statement itself (the insert's conflict, the update's WHERE), not in an
 * earlier read: PostgreSQL re-checks the WHERE against the row a concurrent writer committed, and a
 * concurrent first insert makes this one do nothing. updated_at is compared too, so a write by an
 * instance of a release that did not bump the revision still counts as a change.
 */
export async function putSettingsIfUnchanged(
  db: Kysely<Database>,
  account: string,
  settings: Record<string, unknown>,
  updatedAt: number,
  read: SettingsVersion | undefined,
): Promise<number | undefined> {
  const text = JSON.stringify(settings);
  if (read === undefined) {
    const r = await db
      .insertInto("account_settings")
      .values({ account, settings: text, updated_at: updatedAt, revision: 1 })
      .onConflict((oc) => oc.column("account").doNothing())
      .returning("revision")
      .executeTakeFirst();
    return r?.revision;
  }
  const r = await db
    .updateTable("account_settings")
    .set((eb) => ({ settings: text, updated_at: updatedAt, revision: eb("revision", "+", 1) }))
    .where("account", "=", account)
    .where("revision", "=", read.revision)
    .where("updated_at", "=", read.updatedAt)
    .returning("revision")
    .executeTakeFirst();
  return r?.revision;
}

export async function listAccounts(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom("accounts").select("name").orderBy("name").execute()).map((r) => r.name);
}

/** The primary key decides, so of several schedulers marking at once exactly one gets true. */
export async function markAlert(
  db: Kysely<Database>,
  tokenId: string,
  level: string,
  at: number,
): Promise<boolean> {
  const r = await db
    .insertInto("alert_marks")
    .values({ token_id: tokenId, level, at })
    .onConflict((oc) => oc.columns(["token_id", "level"]).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Two range conditions rather than max(), which the dialects spell differently (max / greatest). */
export async function listUnusedKeys(
  db: Kysely<Database>,
  account: string,
  before: number,
  limit: number,
): Promise<KeyRecord[]> {
  const rows = await db
    .selectFrom("keys")
    .selectAll()
    .where("account", "=", account)
    .where("active", "=", 1)
    .where("created_at", "<", before)
    .where("last_used_at", "<", before)
    .orderBy("id")
    .limit(limit)
    .execute();
  return hydrateKeys(db, rows);
}

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

export async function enqueueNotification(db: Kysely<Database>, n: NotificationInput): Promise<void> {
  await db
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
export async function claimNotifications(
  db: Kysely<Database>,
  dialect: Dialect,
  now: number,
  leaseUntil: number,
  limit: number,
): Promise<NotificationRecord[]> {
  const due = db
    .selectFrom("notifications")
    .select("id")
    .where("status", "=", "pending")
    .where("next_attempt_at", "<=", now)
    .orderBy("next_attempt_at")
    .orderBy("id")
    .limit(limit)
    .$if(dialect === "postgres", (q) => q.forUpdate().skipLocked());
  const rows = await db
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
export async function markNotificationSent(db: Kysely<Database>, id: string, sentAt: number): Promise<void> {
  await db
    .updateTable("notifications")
    .set((eb) => ({ status: "sent", sent_at: sentAt, attempts: eb("attempts", "+", 1) }))
    .where("id", "=", id)
    .execute();
}

export async function markNotificationFailed(
  db: Kysely<Database>,
  id: string,
  error: string,
  retryAt: number | null,
): Promise<void> {
  const next = retryAt === null ? { status: "failed" } : { status: "pending", next_attempt_at: retryAt };
  await db
    .updateTable("notifications")
    .set((eb) => ({ ...next, last_error: errorText(error), attempts: eb("attempts", "+", 1) }))
    .where("id", "=", id)
    .execute();
}

/**
 * Error text comes from remote servers: PostgreSQL refuses NUL in text, and a cut must not leave
 * half a surrogate pair behind.
 */
function errorText(error: string): string {
  const text = error.replaceAll("\u0000", "").slice(0, MAX_ERROR_LENGTH);
  return /[\uD800-\uDBFF]$/.test(text) ? text.slice(0, -1) : text;
}

export async function listNotifications(
  db: Kysely<Database>,
  account: string,
  limit: number,
): Promise<NotificationRecord[]> {
  const rows = await db
    .selectFrom("notifications")
    .selectAll()
    .where("account", "=", account)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toNotification);
}
