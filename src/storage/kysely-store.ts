/**
 * The Store over Kysely, one implementation for SQLite and PostgreSQL.
 *
 * Secrets: tokens and sessions arrive here as SHA-256 hashes and passwords as password hashes; no
 * plaintext secret passes through. Audit `data` is stored as given: callers keep secrets out of it.
 *
 * Atomicity: methods that write several rows run in a transaction of their own, or in the caller's
 * when reached through `transaction()`. Unique violations surface as StoreConflict naming the rule.
 */
import { type Kysely, type Selectable, sql } from "kysely";
import * as keys from "./kysely-keys.js";
import * as people from "./kysely-people.js";
import { migrateToLatest } from "./migrations.js";
import type { AuditEventsTable, Database } from "./schema.js";
import {
  type AccountRecord,
  type ActorType,
  type AuditEventInput,
  type AuditEventRecord,
  type ConflictName,
  type CustomRoleRecord,
  type Dialect,
  type KeyListPage,
  type KeyListQuery,
  type KeyPatch,
  type KeyRecord,
  type MemberRecord,
  type NewKey,
  type SessionRecord,
  type Store,
  StoreConflict,
  type StoreOps,
  type UserRecord,
} from "./store.js";

/** SQLite names the table and columns of the violated unique index (or primary key). */
const SQLITE_UNIQUE = new Map<string, ConflictName>([
  ["accounts.name", "account"],
  ["users.email", "user_email"],
  ["roles.account, roles.name_lower", "role_name"],
  ["keys.account, keys.name_lower", "key_name"],
  ["keys.app_key", "app_key"],
  ["tokens.hash", "token_hash"],
]);

/** PostgreSQL names the constraint or unique index; these names are fixed by migrations.ts. */
const PG_UNIQUE = new Map<string, ConflictName>([
  ["accounts_pkey", "account"],
  ["users_email_key", "user_email"],
  ["roles_account_name", "role_name"],
  ["keys_account_name", "key_name"],
  ["keys_app_key", "app_key"],
  ["tokens_hash_key", "token_hash"],
]);

function conflictOf(err: unknown): ConflictName | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, constraint } = err as Error & { code?: unknown; constraint?: unknown };
  if (code === "23505" && typeof constraint === "string") return PG_UNIQUE.get(constraint);
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    const columns = /constraint failed: (.+)$/.exec(err.message)?.[1];
    return columns === undefined ? undefined : SQLITE_UNIQUE.get(columns);
  }
  return undefined;
}

/** Other errors (including unique rules without a ConflictName, such as a reused id) pass unchanged. */
async function guard<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const name = conflictOf(err);
    throw name === undefined ? err : new StoreConflict(name);
  }
}

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

export class KyselyOps implements StoreOps {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly inTransaction: boolean,
  ) {}

  /** Multi-statement writes join the caller's transaction, or open their own. */
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

  /** Idempotent: adding an existing member keeps the original `addedAt` and roles. */
  async addMember(account: string, userId: string, addedAt: number): Promise<void> {
    await this.db
      .insertInto("account_members")
      .values({ account, user_id: userId, added_at: addedAt })
      .onConflict((oc) => oc.columns(["account", "user_id"]).doNothing())
      .execute();
  }

  removeMember(account: string, userId: string): Promise<boolean> {
    return this.atomic((db) => people.removeMember(db, account, userId));
  }

  async getMember(account: string, userId: string): Promise<MemberRecord | undefined> {
    return (await people.listMembers(this.db, account, userId))[0];
  }

  /** Sorted by email. */
  listMembers(account: string): Promise<MemberRecord[]> {
    return people.listMembers(this.db, account);
  }

  async listUserAccounts(userId: string): Promise<string[]> {
    const q = this.db.selectFrom("account_members").select("account").where("user_id", "=", userId);
    return (await q.orderBy("account").execute()).map((r) => r.account);
  }

  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void> {
    return this.atomic((db) => people.replaceUserRoles(db, account, userId, roleIds));
  }

  countUsersWithRole(account: string, roleId: number): Promise<number> {
    return people.countGrants(this.db, "user_roles", account, roleId);
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

  createKey(key: NewKey): Promise<void> {
    return this.atomic((db) => keys.insertKey(db, key));
  }

  getKeyByAppKey(appKey: string): Promise<KeyRecord | undefined> {
    return keys.getKey(this.db, appKey);
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

  async appendAudit(e: AuditEventInput): Promise<void> {
    await this.db
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

  async listAudit(account: string, limit: number): Promise<AuditEventRecord[]> {
    const q = this.db.selectFrom("audit_events").selectAll().where("account", "=", account);
    const rows = await q.orderBy("seq", "desc").limit(limit).execute();
    return rows.map(toAudit);
  }
}

export class KyselyStore extends KyselyOps implements Store {
  constructor(
    db: Kysely<Database>,
    readonly dialect: Dialect,
  ) {
    super(db, false);
  }

  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(new KyselyOps(trx, true)));
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
