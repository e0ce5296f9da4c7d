/**
 * The Store over Kysely, one implementation for SQLite and PostgreSQL.
 *
 * Secrets: tokens and sessions arrive here as SHA-256 hashes and passwords as password hashes; this
 * file never sees a plaintext secret. Audit `data` is stored as given: callers keep secrets out of it.
 *
 * Atomicity: methods that write several rows run in their own transaction, or in the caller's when
 * reached through `transaction()`. Unique violations surface as StoreConflict naming the rule.
 */
import { type Kysely, type Selectable, sql } from "kysely";
import { hydrateKeys, listKeyPage } from "./kysely-keys.js";
import { migrateToLatest } from "./migrations.js";
import type { AuditEventsTable, Database, RolesTable, UsersTable } from "./schema.js";
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

/** SQLite names the table and columns of the violated unique index in its message. */
const SQLITE_UNIQUE = new Map<string, ConflictName>([
  ["accounts.name", "account"],
  ["users.email", "user_email"],
  ["roles.account, roles.name_lower", "role_name"],
  ["keys.account, keys.name_lower", "key_name"],
  ["keys.app_key", "app_key"],
  ["tokens.hash", "token_hash"],
]);

/** PostgreSQL reports the constraint (index) name; these names are fixed by migrations.ts. */
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

async function guard<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const name = conflictOf(err);
    throw name === undefined ? err : new StoreConflict(name);
  }
}

const toUser = (r: Selectable<UsersTable>): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});

const toRole = (r: Selectable<RolesTable>): CustomRoleRecord => ({
  id: r.id,
  account: r.account,
  name: r.name,
  resources: JSON.parse(r.resources) as string[],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

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

const unique = (ids: number[]): number[] => [...new Set(ids)];

export class KyselyOps implements StoreOps {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly inTransaction: boolean,
  ) {}

  /** Multi-statement writes join the caller's transaction, or open their own. */
  private atomic<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.inTransaction ? fn(this.db) : this.db.transaction().execute(fn);
  }

  async createAccount(a: AccountRecord): Promise<void> {
    await guard(this.db.insertInto("accounts").values({ name: a.name, created_at: a.createdAt }).execute());
  }

  async getAccount(name: string): Promise<AccountRecord | undefined> {
    const r = await this.db.selectFrom("accounts").selectAll().where("name", "=", name).executeTakeFirst();
    return r && { name: r.name, createdAt: r.created_at };
  }

  async createUser(u: UserRecord): Promise<void> {
    const row = { id: u.id, email: u.email.toLowerCase(), password_hash: u.passwordHash, created_at: u.createdAt };
    await guard(this.db.insertInto("users").values(row).execute());
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const r = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return r && toUser(r);
  }

  async getUserByEmail(email: string): Promise<UserRecord | undefined> {
    const r = await this.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", email.toLowerCase())
      .executeTakeFirst();
    return r && toUser(r);
  }

  /** Idempotent: adding an existing member keeps the original `addedAt`. */
  async addMember(account: string, userId: string, addedAt: number): Promise<void> {
    await this.db
      .insertInto("account_members")
      .values({ account, user_id: userId, added_at: addedAt })
      .onConflict((oc) => oc.columns(["account", "user_id"]).doNothing())
      .execute();
  }

  removeMember(account: string, userId: string): Promise<boolean> {
    return this.atomic(async (db) => {
      await db.deleteFrom("user_roles").where("account", "=", account).where("user_id", "=", userId).execute();
      const r = await db
        .deleteFrom("account_members")
        .where("account", "=", account)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async getMember(account: string, userId: string): Promise<MemberRecord | undefined> {
    return (await this.members(account, userId))[0];
  }

  listMembers(account: string): Promise<MemberRecord[]> {
    return this.members(account);
  }

  private async members(account: string, userId?: string): Promise<MemberRecord[]> {
    let q = this.db
      .selectFrom("account_members as m")
      .innerJoin("users as u", "u.id", "m.user_id")
      .select(["u.id", "u.email", "u.created_at", "m.added_at"])
      .where("m.account", "=", account);
    let roles = this.db.selectFrom("user_roles").select(["user_id", "role_id"]).where("account", "=", account);
    if (userId !== undefined) {
      q = q.where("m.user_id", "=", userId);
      roles = roles.where("user_id", "=", userId);
    }
    const rows = await q.orderBy("u.email").execute();
    const grants = await roles.orderBy("role_id").execute();
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      createdAt: r.created_at,
      addedAt: r.added_at,
      roleIds: grants.filter((g) => g.user_id === r.id).map((g) => g.role_id),
    }));
  }

  async listUserAccounts(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("account_members")
      .select("account")
      .where("user_id", "=", userId)
      .orderBy("account")
      .execute();
    return rows.map((r) => r.account);
  }

  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void> {
    return this.atomic(async (db) => {
      await db.deleteFrom("user_roles").where("account", "=", account).where("user_id", "=", userId).execute();
      const rows = unique(roleIds).map((role_id) => ({ account, user_id: userId, role_id }));
      if (rows.length > 0) await db.insertInto("user_roles").values(rows).execute();
    });
  }

  async countUsersWithRole(account: string, roleId: number): Promise<number> {
    return this.countGrants("user_roles", account, roleId);
  }

  private async countGrants(table: "user_roles" | "key_roles", account: string, roleId: number): Promise<number> {
    const r = await this.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as("n"))
      .where("account", "=", account)
      .where("role_id", "=", roleId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async createSession(s: SessionRecord): Promise<void> {
    const row = { id_hash: s.idHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt };
    await this.db.insertInto("sessions").values(row).execute();
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const r = await this.db.selectFrom("sessions").selectAll().where("id_hash", "=", idHash).executeTakeFirst();
    return r && { idHash: r.id_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
  }

  /** A session whose `expiresAt` is reached (<= now) is expired. */
  async deleteExpiredSessions(now: number): Promise<number> {
    const r = await this.db.deleteFrom("sessions").where("expires_at", "<=", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async createRole(role: Omit<CustomRoleRecord, "id">): Promise<CustomRoleRecord> {
    const row = {
      account: role.account,
      name: role.name,
      name_lower: role.name.toLowerCase(),
      resources: JSON.stringify(role.resources),
      created_at: role.createdAt,
      updated_at: role.updatedAt,
    };
    const r = await guard(this.db.insertInto("roles").values(row).returningAll().executeTakeFirstOrThrow());
    return toRole(r);
  }

  async getRole(account: string, id: number): Promise<CustomRoleRecord | undefined> {
    const r = await this.db
      .selectFrom("roles")
      .selectAll()
      .where("account", "=", account)
      .where("id", "=", id)
      .executeTakeFirst();
    return r && toRole(r);
  }

  /** In creation order (by id). */
  async listRoles(account: string): Promise<CustomRoleRecord[]> {
    const rows = await this.db.selectFrom("roles").selectAll().where("account", "=", account).orderBy("id").execute();
    return rows.map(toRole);
  }

  async updateRole(
    account: string,
    id: number,
    patch: { name: string; resources: string[]; updatedAt: number },
  ): Promise<boolean> {
    const set = {
      name: patch.name,
      name_lower: patch.name.toLowerCase(),
      resources: JSON.stringify(patch.resources),
      updated_at: patch.updatedAt,
    };
    const query = this.db.updateTable("roles").set(set).where("account", "=", account).where("id", "=", id);
    const r = await guard(query.executeTakeFirst());
    return Number(r.numUpdatedRows) > 0;
  }

  /** Also withdraws the role from every user and key holding it in the account: no dangling grants. */
  deleteRole(account: string, id: number): Promise<boolean> {
    return this.atomic(async (db) => {
      const r = await db.deleteFrom("roles").where("account", "=", account).where("id", "=", id).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await db.deleteFrom("user_roles").where("account", "=", account).where("role_id", "=", id).execute();
      await db.deleteFrom("key_roles").where("account", "=", account).where("role_id", "=", id).execute();
      return true;
    });
  }

  async countRoleHolders(account: string, roleId: number): Promise<number> {
    const users = await this.countGrants("user_roles", account, roleId);
    return users + (await this.countGrants("key_roles", account, roleId));
  }

  createKey(key: NewKey): Promise<void> {
    return guard(
      this.atomic(async (db) => {
        await db
          .insertInto("keys")
          .values({
            id: key.id,
            app_key: key.appKey,
            account: key.account,
            name: key.name,
            name_lower: key.name.toLowerCase(),
            active: key.active ? 1 : 0,
            created_at: key.createdAt,
            updated_at: key.createdAt,
            token_created_at: key.token.createdAt,
            last_used_at: 0,
          })
          .execute();
        const t = key.token;
        await db.insertInto("tokens").values({ id: t.id, key_id: key.id, hash: t.hash, created_at: t.createdAt }).execute();
        const grants = unique(key.roleIds).map((role_id) => ({ account: key.account, key_id: key.id, role_id }));
        if (grants.length > 0) await db.insertInto("key_roles").values(grants).execute();
      }),
    );
  }

  async getKeyByAppKey(appKey: string): Promise<KeyRecord | undefined> {
    const rows = await this.db.selectFrom("keys").selectAll().where("app_key", "=", appKey).execute();
    return (await hydrateKeys(this.db, rows))[0];
  }

  listKeys(query: KeyListQuery): Promise<KeyListPage> {
    return listKeyPage(this.db, query);
  }

  updateKey(account: string, appKey: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    const set = {
      updated_at: patch.updatedAt,
      ...(patch.name === undefined ? {} : { name: patch.name, name_lower: patch.name.toLowerCase() }),
      ...(patch.active === undefined ? {} : { active: patch.active ? 1 : 0 }),
    };
    return guard(
      this.atomic(async (db) => {
        const query = db.updateTable("keys").set(set).where("account", "=", account).where("app_key", "=", appKey);
        const r = await query.executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) return undefined;
        const rows = await db.selectFrom("keys").selectAll().where("app_key", "=", appKey).execute();
        return (await hydrateKeys(db, rows))[0];
      }),
    );
  }

  setKeyRoles(account: string, keyId: string, roleIds: number[]): Promise<void> {
    return this.atomic(async (db) => {
      await db.deleteFrom("key_roles").where("account", "=", account).where("key_id", "=", keyId).execute();
      const rows = unique(roleIds).map((role_id) => ({ account, key_id: keyId, role_id }));
      if (rows.length > 0) await db.insertInto("key_roles").values(rows).execute();
    });
  }

  async getKeyRoleIds(account: string, keyId: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom("key_roles")
      .select("role_id")
      .where("account", "=", account)
      .where("key_id", "=", keyId)
      .orderBy("role_id")
      .execute();
    return rows.map((r) => r.role_id);
  }

  /** Grants in every account go too, so accounts that added the key as external lose it at once. */
  deleteKey(account: string, appKey: string): Promise<boolean> {
    return this.atomic(async (db) => {
      const key = await db
        .selectFrom("keys")
        .select("id")
        .where("account", "=", account)
        .where("app_key", "=", appKey)
        .executeTakeFirst();
      if (key === undefined) return false;
      await db.deleteFrom("key_roles").where("key_id", "=", key.id).execute();
      await db.deleteFrom("tokens").where("key_id", "=", key.id).execute();
      await db.deleteFrom("keys").where("id", "=", key.id).execute();
      return true;
    });
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
    const rows = await this.db
      .selectFrom("audit_events")
      .selectAll()
      .where("account", "=", account)
      .orderBy("seq", "desc")
      .limit(limit)
      .execute();
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

  migrate(): Promise<void> {
    return migrateToLatest(this.db, this.dialect);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
