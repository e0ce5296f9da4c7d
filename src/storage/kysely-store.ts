/**
 * The Store over Kysely, one implementation for SQLite and PostgreSQL.
 *
 * Secrets: tokens and sessions arrive here as SHA-256 hashes and passwords as password hashes; no
 * plaintext secret passes through. Audit `data` is stored as given: callers keep secrets out of it.
 *
 * Atomicity: methods that write several rows run in a transaction of their own, or in the caller's
 * when reached through `transaction()`. Unique violations surface as StoreConflict naming the rule.
 */
import { type Kysely, sql } from "kysely";
import * as audit from "./kysely-audit.js";
import { guard } from "./kysely-conflicts.js";
import * as external from "./kysely-external.js";
import * as keys from "./kysely-keys.js";
import * as lifecycle from "./kysely-lifecycle.js";
import * as outbox from "./kysely-outbox.js";
import * as people from "./kysely-people.js";
import * as signingKeys from "./kysely-signing-keys.js";
import * as usage from "./kysely-usage.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import type {
  AccountRecord,
  AuditEventInput,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  ChainedAuditEvent,
  CustomRoleRecord,
  Dialect,
  ExternalKeyRecord,
  InvitationCode,
  KeyListPage,
  KeyListQuery,
  KeyPatch,
  KeyRecord,
  MemberRecord,
  NewKey,
  NotificationInput,
  NotificationRecord,
  ResourceUseRecord,
  SessionRecord,
  SettingsVersion,
  ShareLinkRecord,
  ShareReveal,
  SigningKeyRecord,
  Store,
  StoredSettings,
  StoreOps,
  TokenRecord,
  UsageBatch,
  UsageDay,
  UserRecord,
} from "./store.js";

export class KyselyOps implements StoreOps {
  constructor(
    protected readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly inTransaction: boolean,
  ) {}

  /**
   * Multi-statement writes join the caller's transaction, or open their own. Kysely's transactions
   * do not nest, so one reached through `transaction()` must not open another.
   */
  private atomic<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return guard(this.inTransaction ? fn(this.db) : this.db.transaction().execute(fn));
  }

  async createAccount(a: AccountRecord): Promise<void> {
    await guard(this.db.insertInto("accounts").values({ name: a.name, created_at: a.createdAt }).execute());
  }

  async getAccount(name: string): Promise<AccountRecord | undefined> {
    const r = await this.db.selectFrom("accounts").selectAll().where("name", "=", name).executeTakeFirst();
    return r && { name: r.name, createdAt: r.created_at };
  }

  /**
   * A no-op update of the account row. PostgreSQL: the row's lock, in the FOR NO KEY UPDATE mode
   * (no key column changes), so writes that only reference the account (a new key, a grant) are
   * not held up; SQLite: the database's write lock.
   */
  async lockGrants(account: string): Promise<boolean> {
    const r = await this.db
      .updateTable("accounts")
      .set((eb) => ({ created_at: eb.ref("created_at") }))
      .where("name", "=", account)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async createUser(u: UserRecord): Promise<void> {
    const row = {
      id: u.id,
      email: u.email.toLowerCase(),
      password_hash: u.passwordHash,
      created_at: u.createdAt,
    };
    await guard(this.db.insertInto("users").values(row).execute());
  }

  getUserById(id: string): Promise<UserRecord | undefined> {
    return people.findUser(this.db, "id", id);
  }

  getUserByEmail(email: string): Promise<UserRecord | undefined> {
    return people.findUser(this.db, "email", email);
  }

  /** Idempotent: adding an existing member keeps the original `addedAt`, status and roles. */
  async addMember(
    account: string,
    userId: string,
    addedAt: number,
    invitation?: { invitedBy: string | null; code: InvitationCode },
  ): Promise<void> {
    const status = invitation ? ("invited" as const) : ("active" as const);
    const row = {
      account,
      user_id: userId,
      added_at: addedAt,
      status,
      invited_by: invitation?.invitedBy ?? null,
      invitation_hash: invitation?.code.hash ?? null,
      invitation_expires_at: invitation?.code.expiresAt ?? null,
    };
    await this.db
      .insertInto("account_members")
      .values(row)
      .onConflict((oc) => oc.columns(["account", "user_id"]).doNothing())
      .execute();
  }

  removeMember(account: string, userId: string): Promise<boolean> {
    return this.atomic((db) => people.removeMember(db, account, userId));
  }

  async acceptInvitation(account: string, userId: string): Promise<boolean> {
    const r = await this.db
      .updateTable("account_members")
      .set({ status: "active", invitation_hash: null, invitation_expires_at: null })
      .where("account", "=", account)
      .where("user_id", "=", userId)
      .where("status", "=", "invited")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  declineInvitation(account: string, userId: string): Promise<boolean> {
    return this.atomic((db) => people.removeMember(db, account, userId, "invited"));
  }

  async getMember(account: string, userId: string): Promise<MemberRecord | undefined> {
    return (await people.listMembers(this.db, account, userId))[0];
  }

  /** Sorted by email. */
  listMembers(account: string): Promise<MemberRecord[]> {
    return people.listMembers(this.db, account);
  }

  async listUserAccounts(userId: string): Promise<string[]> {
    const q = this.db
      .selectFrom("account_members")
      .select("account")
      .where("user_id", "=", userId)
      .where("status", "=", "active");
    return (await q.orderBy("account").execute()).map((r) => r.account);
  }

  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void> {
    return this.atomic((db) => people.replaceUserRoles(db, account, userId, roleIds));
  }

  countUsersWithRole(account: string, roleId: number): Promise<number> {
    return people.countActiveUsersWithRole(this.db, account, roleId);
  }

  async createSession(s: SessionRecord): Promise<void> {
    const row = { id_hash: s.idHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt };
    await this.db.insertInto("sessions").values(row).execute();
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const r = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("id_hash", "=", idHash)
      .executeTakeFirst();
    return r && people.toSession(r);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
  }

  /** A session is expired once `now` reaches its `expiresAt`. */
  async deleteExpiredSessions(now: number): Promise<number> {
    const r = await this.db.deleteFrom("sessions").where("expires_at", "<=", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  createRole(role: Omit<CustomRoleRecord, "id">): Promise<CustomRoleRecord> {
    return guard(people.insertRole(this.db, role));
  }

  async getRole(account: string, id: number): Promise<CustomRoleRecord | undefined> {
    const q = this.db.selectFrom("roles").selectAll().where("account", "=", account).where("id", "=", id);
    const r = await q.executeTakeFirst();
    return r && people.toRole(r);
  }

  /** In creation order (by id). */
  async listRoles(account: string): Promise<CustomRoleRecord[]> {
    const rows = await this.db
      .selectFrom("roles")
      .selectAll()
      .where("account", "=", account)
      .orderBy("id")
      .execute();
    return rows.map(people.toRole);
  }

  updateRole(
    account: string,
    id: number,
    patch: { name: string; resources: string[]; updatedAt: number },
  ): Promise<boolean> {
    return guard(people.updateRole(this.db, account, id, patch));
  }

  deleteRole(account: string, id: number): Promise<boolean> {
    return this.atomic((db) => people.deleteRole(db, account, id));
  }

  async countRoleHolders(account: string, roleId: number): Promise<number> {
    const users = await people.countGrants(this.db, "user_roles", account, roleId);
    return users + (await people.countGrants(this.db, "key_roles", account, roleId));
  }

  coHeldRoleIds(account: string, roleId: number): Promise<number[]> {
    return people.coHeldRoleIds(this.db, account, roleId);
  }

  ownKeysRoleIds(account: string): Promise<number[]> {
    return people.ownKeysRoleIds(this.db, account);
  }

  createKey(key: NewKey): Promise<void> {
    return this.atomic((db) => keys.insertKey(db, key));
  }

  getKeyByAppKey(appKey: string): Promise<KeyRecord | undefined> {
    return keys.getKey(this.db, appKey);
  }

  findKeyById(account: string, id: string): Promise<KeyRecord | undefined> {
    return keys.findKeyById(this.db, account, id);
  }

  findKeyByTokenHash(hash: string): Promise<KeyRecord | undefined> {
    return keys.getKeyByTokenHash(this.db, hash);
  }

  listKeys(query: KeyListQuery): Promise<KeyListPage> {
    return keys.listKeyPage(this.db, query);
  }

  updateKey(account: string, appKey: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    return this.atomic((db) => keys.updateKey(db, account, appKey, patch));
  }

  setKeyRoles(account: string, keyId: string, roleIds: number[]): Promise<void> {
    return this.atomic((db) => keys.replaceKeyRoles(db, account, keyId, roleIds));
  }

  getKeyRoleIds(account: string, keyId: string): Promise<number[]> {
    return keys.keyRoleIds(this.db, account, keyId);
  }

  deleteKey(account: string, appKey: string): Promise<boolean> {
    return this.atomic((db) => keys.deleteKey(db, account, appKey));
  }

  addPendingToken(keyId: string, token: TokenRecord, updatedAt: number): Promise<void> {
    return this.atomic((db) => lifecycle.addPendingToken(db, keyId, token, updatedAt));
  }

  dropOldToken(keyId: string, updatedAt: number): Promise<boolean> {
    return this.atomic((db) => lifecycle.dropOldToken(db, keyId, updatedAt));
  }

  dropPendingToken(keyId: string, updatedAt: number): Promise<boolean> {
    return this.atomic((db) => lifecycle.dropPendingToken(db, keyId, updatedAt));
  }

  createShareLink(link: ShareLinkRecord, sealed: string): Promise<void> {
    return guard(lifecycle.createShareLink(this.db, link, sealed));
  }

  revealShareLink(idHash: string, now: number): Promise<ShareReveal> {
    return this.atomic((db) => lifecycle.revealShareLink(db, idHash, now));
  }

  latestShareLink(keyId: string): Promise<ShareLinkRecord | undefined> {
    return lifecycle.latestShareLink(this.db, keyId);
  }

  purgeExpiredShareLinks(now: number): Promise<number> {
    return lifecycle.purgeExpiredShareLinks(this.db, now);
  }

  addExternalKey(account: string, keyId: string, addedAt: number, id: string): Promise<void> {
    return guard(external.addExternalKey(this.db, account, keyId, addedAt, id));
  }

  async getExternalKey(account: string, keyId: string): Promise<ExternalKeyRecord | undefined> {
    return (await external.listExternalKeys(this.db, account, { keyId }))[0];
  }

  async findExternalKeyById(account: string, id: string): Promise<ExternalKeyRecord | undefined> {
    return (await external.listExternalKeys(this.db, account, { id }))[0];
  }

  listExternalKeys(account: string): Promise<ExternalKeyRecord[]> {
    return external.listExternalKeys(this.db, account);
  }

  removeExternalKey(account: string, keyId: string): Promise<boolean> {
    return this.atomic((db) => external.removeExternalKey(db, account, keyId));
  }

  listExternalAccounts(keyId: string): Promise<string[]> {
    return external.listExternalAccounts(this.db, keyId);
  }

  getSettings(account: string): Promise<Record<string, unknown> | undefined> {
    return outbox.getSettings(this.db, account);
  }

  getStoredSettings(account: string): Promise<StoredSettings | undefined> {
    return outbox.getStoredSettings(this.db, account);
  }

  putSettings(account: string, settings: Record<string, unknown>, updatedAt: number): Promise<number> {
    return outbox.putSettings(this.db, account, settings, updatedAt);
  }

  putSettingsIfUnchanged(
    account: string,
    settings: Record<string, unknown>,
    updatedAt: number,
    read: SettingsVersion | undefined,
  ): Promise<number | undefined> {
    return outbox.putSettingsIfUnchanged(this.db, account, settings, updatedAt, read);
  }

  listAccounts(): Promise<string[]> {
    return outbox.listAccounts(this.db);
  }

  markAlert(tokenId: string, level: string, at: number): Promise<boolean> {
    return outbox.markAlert(this.db, tokenId, level, at);
  }

  listUnusedKeys(account: string, before: number, limit: number): Promise<KeyRecord[]> {
    return outbox.listUnusedKeys(this.db, account, before, limit);
  }

  enqueueNotification(notification: NotificationInput): Promise<void> {
    return outbox.enqueueNotification(this.db, notification);
  }

  claimNotifications(now: number, leaseUntil: number, limit: number): Promise<NotificationRecord[]> {
    return outbox.claimNotifications(this.db, this.dialect, now, leaseUntil, limit);
  }

  markNotificationSent(id: string, sentAt: number): Promise<void> {
    return outbox.markNotificationSent(this.db, id, sentAt);
  }

  markNotificationFailed(id: string, error: string, retryAt: number | null): Promise<void> {
    return outbox.markNotificationFailed(this.db, id, error, retryAt);
  }

  listNotifications(account: string, limit: number): Promise<NotificationRecord[]> {
    return outbox.listNotifications(this.db, account, limit);
  }

  recordUsage(batch: UsageBatch): Promise<void> {
    return this.atomic((db) => usage.recordUsage(db, batch));
  }

  getUsage(keyId: string, fromDay: number, toDay: number): Promise<UsageDay[]> {
    return usage.getUsage(this.db, keyId, fromDay, toDay);
  }

  listResourceUse(account: string): Promise<ResourceUseRecord[]> {
    return usage.listResourceUse(this.db, account);
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return signingKeys.listSigningKeys(this.db);
  }

  insertSigningKey(key: SigningKeyRecord): Promise<boolean> {
    return signingKeys.insertSigningKey(this.db, key);
  }

  retireSigningKey(kid: string, at: number): Promise<boolean> {
    return signingKeys.retireSigningKey(this.db, kid, at);
  }

  deleteSigningKeysRetiredBefore(before: number): Promise<number> {
    return signingKeys.deleteSigningKeysRetiredBefore(this.db, before);
  }

  appendAudit(event: AuditEventInput): Promise<void> {
    return this.atomic((db) => audit.appendAudit(db, event));
  }

  listAudit(account: string, limit: number): Promise<AuditEventRecord[]> {
    return audit.listAudit(this.db, account, limit);
  }

  listAuditEvents(query: AuditQuery): Promise<ChainedAuditEvent[]> {
    return audit.listAuditEvents(this.db, query);
  }

  getAuditHead(account: string): Promise<AuditHead | undefined> {
    return audit.getAuditHead(this.db, account);
  }

  listAuditAccounts(): Promise<string[]> {
    return audit.listAuditAccounts(this.db);
  }
}

export class KyselyStore extends KyselyOps implements Store {
  constructor(db: Kysely<Database>, dialect: Dialect) {
    super(db, dialect, false);
  }

  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(new KyselyOps(trx, this.dialect, true)));
  }

  private migrating: Promise<void> | undefined;

  /** Concurrent calls on one store share a single run; other instances are handled in migrations.ts. */
  migrate(): Promise<void> {
    this.migrating ??= migrateToLatest(this.db, this.dialect).finally(() => {
      this.migrating = undefined;
    });
    return this.migrating;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
