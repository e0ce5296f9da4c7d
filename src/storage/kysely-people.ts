/**
 * User, membership, session and custom-role queries of the Kysely store.
 *
 * Secrets: users carry password hashes and sessions are keyed by the SHA-256 of the cookie secret;
 * neither plaintext reaches this file. Functions that write several rows expect the caller
 * (kysely-store.ts) to run them in one transaction.
 */
import type { Kysely, Selectable } from "kysely";
import { hasNul } from "./kysely-keys.js";
import type { Database, RolesTable, UsersTable } from "./schema.js";
import type { CustomRoleRecord, MemberRecord, MemberStatus, SessionRecord, UserRecord } from "./store.js";

export const toUser = (r: Selectable<UsersTable>): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});

export const toSession = (r: Selectable<Database["sessions"]>): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export const toRole = (r: Selectable<RolesTable>): CustomRoleRecord => ({
  id: r.id,
  account: r.account,
  name: r.name,
  resources: JSON.parse(r.resources) as string[],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function findUser(
  db: Kysely<Database>,
  by: "id" | "email",
  value: string,
): Promise<UserRecord | undefined> {
  if (hasNul(value)) return undefined;
  // Emails are stored lower-cased, so matching lower-cases the probe rather than the column.
  const probe = by === "email" ? value.toLowerCase() : value;
  const r = await db.selectFrom("users").selectAll().where(by, "=", probe).executeTakeFirst();
  return r && toUser(r);
}

/**
 * Members (active and invited) sorted by email, each with the roles held (or offered) in the
 * account; one member when userId given.
 */
export async function listMembers(
  db: Kysely<Database>,
  account: string,
  userId?: string,
): Promise<MemberRecord[]> {
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
  }));
}

/** Active members of the account holding the role: what the last-Owner rule counts. */
export async function countActiveUsersWithRole(
  db: Kysely<Database>,
  account: string,
  roleId: number,
): Promise<number> {
  const r = await db
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

/**
 * Removes the membership, and with it the user's roles there. With `status`, only a membership in
 * that status: the condition is part of the delete, so a concurrent status change cannot slip between.
 */
export async function removeMember(
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

export async function replaceUserRoles(
  db: Kysely<Database>,
  account: string,
  userId: string,
  roleIds: number[],
): Promise<void> {
  await db.deleteFrom("user_roles").where("account", "=", account).where("user_id", "=", userId).execute();
  const rows = [...new Set(roleIds)].map((role_id) => ({ account, user_id: userId, role_id }));
  if (rows.length > 0) await db.insertInto("user_roles").values(rows).execute();
}

export async function countGrants(
  db: Kysely<Database>,
  table: "user_roles" | "key_roles",
  account: string,
  roleId: number,
): Promise<number> {
  const r = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as("n"))
    .where("account", "=", account)
    .where("role_id", "=", roleId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Role ids the account's own generated keys hold there (external keys' grants are not counted). */
export async function ownKeysRoleIds(db: Kysely<Database>, account: string): Promise<number[]> {
  const rows = await db
    .selectFrom("key_roles")
    .innerJoin("keys", "keys.id", "key_roles.key_id")
    .select("key_roles.role_id")
    .distinct()
    .where("key_roles.account", "=", account)
    .where("keys.account", "=", account)
    .execute();
  return rows.map((row) => Number(row.role_id)).sort((a, b) => a - b);
}

/**
 * Every role id held in the account by a user or key that holds `roleId` there (`roleId` included):
 * what editing that role acts on.
 */
export async function coHeldRoleIds(
  db: Kysely<Database>,
  account: string,
  roleId: number,
): Promise<number[]> {
  const users = await db
    .selectFrom("user_roles as held")
    .innerJoin("user_roles as other", (join) =>
      join.onRef("other.user_id", "=", "held.user_id").onRef("other.account", "=", "held.account"),
    )
    .select("other.role_id")
    .distinct()
    .where("held.account", "=", account)
    .where("held.role_id", "=", roleId)
    .execute();
  const keys = await db
    .selectFrom("key_roles as held")
    .innerJoin("key_roles as other", (join) =>
      join.onRef("other.key_id", "=", "held.key_id").onRef("other.account", "=", "held.account"),
    )
    .select("other.role_id")
    .distinct()
    .where("held.account", "=", account)
    .where("held.role_id", "=", roleId)
    .execute();
  return [...new Set([...users, ...keys].map((row) => Number(row.role_id)))].sort((a, b) => a - b);
}

export async function insertRole(
  db: Kysely<Database>,
  role: Omit<CustomRoleRecord, "id">,
): Promise<CustomRoleRecord> {
  const row = {
    account: role.account,
    name: role.name,
    name_lower: role.name.toLowerCase(),
    resources: JSON.stringify(role.resources),
    created_at: role.createdAt,
    updated_at: role.updatedAt,
  };
  return toRole(await db.insertInto("roles").values(row).returningAll().executeTakeFirstOrThrow());
}

export async function updateRole(
  db: Kysely<Database>,
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
  const r = await db
    .updateTable("roles")
    .set(set)
    .where("account", "=", account)
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Also withdraws the role from every user and key holding it in the account: no dangling grants. */
export async function deleteRole(db: Kysely<Database>, account: string, id: number): Promise<boolean> {
  const r = await db
    .deleteFrom("roles")
    .where("account", "=", account)
    .where("id", "=", id)
    .executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) return false;
  await db.deleteFrom("user_roles").where("account", "=", account).where("role_id", "=", id).execute();
  await db.deleteFrom("key_roles").where("account", "=", account).where("role_id", "=", id).execute();
  return true;
}
