/**
 * Users, membership and sessions of the Kysely store.
 *
 * Secrets: users carry password hashes and sessions are keyed by the SHA-256 of the cookie secret;
 * neither plaintext reaches this file.
 */
import type { Kysely, Selectable } from "kysely";
import { guard } from "./kysely-conflicts.js";
import { hasNul } from "./kysely-keys.js";
import { KyselyRepository } from "./kysely-scope.js";
import type { Database, UsersTable } from "./schema.js";
import type {
  InvitationCode,
  MemberRecord,
  MemberStatus,
  PasswordResetRecord,
  PasswordResetRepository,
  PeopleRepository,
  SessionRecord,
  SessionRepository,
  UserRecord,
} from "./store.js";

const toUser = (r: Selectable<UsersTable>): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  mustChangePassword: r.must_change_password === 1,
  passwordPending: r.password_pending === 1,
});

export class KyselyPeople extends KyselyRepository implements PeopleRepository {
  async createUser(u: UserRecord): Promise<void> {
    const row = {
      id: u.id,
      email: u.email.toLowerCase(),
      password_hash: u.passwordHash,
      created_at: u.createdAt,
      must_change_password: u.mustChangePassword ? 1 : 0,
      password_pending: u.passwordPending ? 1 : 0,
    };
    await guard(this.db.insertInto("users").values(row).execute());
  }

  getUserById(id: string): Promise<UserRecord | undefined> {
    return this.findUser("id", id);
  }

  getUserByEmail(email: string): Promise<UserRecord | undefined> {
    return this.findUser("email", email);
  }

  private async findUser(by: "id" | "email", value: string): Promise<UserRecord | undefined> {
    if (hasNul(value)) return undefined;
    // Emails are stored lower-cased, so matching lower-cases the probe rather than the column.
    const probe = by === "email" ? value.toLowerCase() : value;
    const r = await this.db.selectFrom("users").selectAll().where(by, "=", probe).executeTakeFirst();
    return r && toUser(r);
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
      name: null,
    };
    await this.db
      .insertInto("account_members")
      .values(row)
      .onConflict((oc) => oc.columns(["account", "user_id"]).doNothing())
      .execute();
  }

  removeMember(account: string, userId: string): Promise<boolean> {
    return this.atomic((db) => removeMembership(db, account, userId));
  }

  async getMember(account: string, userId: string): Promise<MemberRecord | undefined> {
    return (await listMembers(this.db, account, userId))[0];
  }

  listMembers(account: string): Promise<MemberRecord[]> {
    return listMembers(this.db, account);
  }

  async listUserAccounts(userId: string): Promise<string[]> {
    const q = this.db
      .selectFrom("account_members")
      .select("account")
      .where("user_id", "=", userId)
      .where("status", "=", "active");
    return (await q.orderBy("account").execute()).map((r) => r.account);
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
    return this.atomic((db) => removeMembership(db, account, userId, "invited"));
  }

  async setMemberName(account: string, userId: string, name: string | null): Promise<void> {
    await this.db
      .updateTable("account_members")
      .set({ name })
      .where("account", "=", account)
      .where("user_id", "=", userId)
      .execute();
  }

  async setPendingPassword(userId: string, passwordHash: string): Promise<boolean> {
    const r = await this.db
      .updateTable("users")
      .set({ password_hash: passwordHash, password_pending: 0 })
      .where("id", "=", userId)
      .where("password_pending", "=", 1)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async setPassword(userId: string, passwordHash: string, mustChange: boolean): Promise<boolean> {
    if (hasNul(userId)) return false;
    const r = await this.db
      .updateTable("users")
      .set({ password_hash: passwordHash, must_change_password: mustChange ? 1 : 0 })
      .where("id", "=", userId)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void> {
    return this.atomic(async (db) => {
      await db
        .deleteFrom("user_roles")
        .where("account", "=", account)
        .where("user_id", "=", userId)
        .execute();
      const rows = [...new Set(roleIds)].map((role_id) => ({ account, user_id: userId, role_id }));
      if (rows.length > 0) await db.insertInto("user_roles").values(rows).execute();
    });
  }

  /** What the last-Owner rule counts. */
  async countUsersWithRole(account: string, roleId: number): Promise<number> {
    const r = await this.db
      .selectFrom("user_roles as g")
      .innerJoin("account_members as m", (join) =>
        join.onRef("m.account", "=", "g.account").onRef("m.user_id", "=", "g.user_id"),
      )
      .select((eb) => eb.fn.countAll().as("n"))
      .where("g.account", "=", account)
      .where("g.role_id", "=", roleId)
      .where("m.status", "=", "active")
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

/**
 * Members (active and invited) sorted by email, each with the roles held (or offered) in the
 * account; one member when userId given.
 */
async function listMembers(db: Kysely<Database>, account: string, userId?: string): Promise<MemberRecord[]> {
  if (userId !== undefined && hasNul(userId)) return [];
  let members = db
    .selectFrom("account_members as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .select([
      "u.id",
      "u.email",
      "u.created_at",
      "m.added_at",
      "m.status",
      "m.invited_by",
      "m.invitation_hash",
      "m.invitation_expires_at",
      "m.name",
    ])
    .where("m.account", "=", account);
  let grants = db.selectFrom("user_roles").select(["user_id", "role_id"]).where("account", "=", account);
  if (userId !== undefined) {
    members = members.where("m.user_id", "=", userId);
    grants = grants.where("user_id", "=", userId);
  }
  const rows = await members.orderBy("u.email").execute();
  const roles = new Map<string, number[]>();
  for (const g of await grants.orderBy("role_id").execute()) {
    roles.set(g.user_id, [...(roles.get(g.user_id) ?? []), g.role_id]);
  }
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    createdAt: r.created_at,
    addedAt: r.added_at,
    roleIds: roles.get(r.id) ?? [],
    status: r.status === "invited" ? "invited" : "active",
    invitedBy: r.invited_by,
    invitationCode:
      r.invitation_hash !== null && r.invitation_expires_at !== null
        ? { hash: r.invitation_hash, expiresAt: Number(r.invitation_expires_at) }
        : null,
    name: r.name,
  }));
}

/**
 * Removes the membership, and with it the user's roles there. With `status`, only a membership in
 * that status: the condition is part of the delete, so a concurrent status change cannot slip between.
 */
async function removeMembership(
  db: Kysely<Database>,
  account: string,
  userId: string,
  status?: MemberStatus,
): Promise<boolean> {
  let members = db.deleteFrom("account_members").where("account", "=", account).where("user_id", "=", userId);
  if (status !== undefined) members = members.where("status", "=", status);
  const r = await members.executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) return false;
  // The foreign key cascades too; deleting explicitly keeps this independent of SQLite's per-connection
  // foreign_keys setting.
  await db.deleteFrom("user_roles").where("account", "=", account).where("user_id", "=", userId).execute();
  return true;
}

const toSession = (r: Selectable<Database["sessions"]>): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export class KyselySessions extends KyselyRepository implements SessionRepository {
  async create(s: SessionRecord): Promise<void> {
    const row = { id_hash: s.idHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt };
    await this.db.insertInto("sessions").values(row).execute();
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const r = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("id_hash", "=", idHash)
      .executeTakeFirst();
    return r && toSession(r);
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
  }

  async deleteForUser(userId: string, keep?: string): Promise<number> {
    let q = this.db.deleteFrom("sessions").where("user_id", "=", userId);
    if (keep !== undefined) q = q.where("id_hash", "!=", keep);
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }

  async deleteExpired(now: number): Promise<number> {
    const r = await this.db.deleteFrom("sessions").where("expires_at", "<=", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

const toReset = (r: Selectable<Database["password_resets"]>): PasswordResetRecord => ({
  codeHash: r.code_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

export class KyselyPasswordResets extends KyselyRepository implements PasswordResetRepository {
  async create(reset: PasswordResetRecord): Promise<void> {
    const row = {
      code_hash: reset.codeHash,
      user_id: reset.userId,
      created_at: reset.createdAt,
      expires_at: reset.expiresAt,
      used_at: reset.usedAt,
    };
    await this.db.insertInto("password_resets").values(row).execute();
  }

  async get(codeHash: string): Promise<PasswordResetRecord | undefined> {
    const r = await this.db
      .selectFrom("password_resets")
      .selectAll()
      .where("code_hash", "=", codeHash)
      .executeTakeFirst();
    return r && toReset(r);
  }

  async markUsed(codeHash: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable("password_resets")
      .set({ used_at: at })
      .where("code_hash", "=", codeHash)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async expireUnused(userId: string, at: number): Promise<void> {
    await this.db
      .updateTable("password_resets")
      .set({ expires_at: at })
      .where("user_id", "=", userId)
      .where("used_at", "is", null)
      .where("expires_at", ">", at)
      .execute();
  }

  async deleteExpired(before: number): Promise<number> {
    const r = await this.db.deleteFrom("password_resets").where("expires_at", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
