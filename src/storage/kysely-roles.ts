/** Custom roles of the Kysely store, and who holds them (users' and keys' grants). */
import type { Kysely, Selectable } from "kysely";
import { guard } from "./kysely-conflicts.js";
import { KyselyRepository } from "./kysely-scope.js";
import type { Database, RolesTable } from "./schema.js";
import type { CustomRoleRecord, RoleRepository } from "./store.js";

const toRole = (r: Selectable<RolesTable>): CustomRoleRecord => ({
  id: r.id,
  account: r.account,
  name: r.name,
  resources: JSON.parse(r.resources) as string[],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class KyselyRoles extends KyselyRepository implements RoleRepository {
  async create(role: Omit<CustomRoleRecord, "id">): Promise<CustomRoleRecord> {
    const row = {
      account: role.account,
      name: role.name,
      name_lower: role.name.toLowerCase(),
      resources: JSON.stringify(role.resources),
      created_at: role.createdAt,
      updated_at: role.updatedAt,
    };
    return toRole(
      await guard(this.db.insertInto("roles").values(row).returningAll().executeTakeFirstOrThrow()),
    );
  }

  async get(account: string, id: number): Promise<CustomRoleRecord | undefined> {
    const q = this.db.selectFrom("roles").selectAll().where("account", "=", account).where("id", "=", id);
    const r = await q.executeTakeFirst();
    return r && toRole(r);
  }

  async list(account: string): Promise<CustomRoleRecord[]> {
    const rows = await this.db
      .selectFrom("roles")
      .selectAll()
      .where("account", "=", account)
      .orderBy("id")
      .execute();
    return rows.map(toRole);
  }

  async update(
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
    const r = await guard(
      this.db
        .updateTable("roles")
        .set(set)
        .where("account", "=", account)
        .where("id", "=", id)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) > 0;
  }

  /** Withdraws the role from its holders in the same transaction: no dangling grants. */
  delete(account: string, id: number): Promise<boolean> {
    return this.atomic(async (db) => {
      const r = await db
        .deleteFrom("roles")
        .where("account", "=", account)
        .where("id", "=", id)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await db.deleteFrom("user_roles").where("account", "=", account).where("role_id", "=", id).execute();
      await db.deleteFrom("key_roles").where("account", "=", account).where("role_id", "=", id).execute();
      return true;
    });
  }

  async countHolders(account: string, roleId: number): Promise<number> {
    const users = await countGrants(this.db, "user_roles", account, roleId);
    return users + (await countGrants(this.db, "key_roles", account, roleId));
  }

  /** `roleId` included: what editing that role acts on. */
  async coHeldRoleIds(account: string, roleId: number): Promise<number[]> {
    const users = await this.db
      .selectFrom("user_roles as held")
      .innerJoin("user_roles as other", (join) =>
        join.onRef("other.user_id", "=", "held.user_id").onRef("other.account", "=", "held.account"),
      )
      .select("other.role_id")
      .distinct()
      .where("held.account", "=", account)
      .where("held.role_id", "=", roleId)
      .execute();
    const keys = await this.db
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

  /** External keys' grants in the account are not counted. */
  async ownKeysRoleIds(account: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom("key_roles")
      .innerJoin("keys", "keys.id", "key_roles.key_id")
      .select("key_roles.role_id")
      .distinct()
      .where("key_roles.account", "=", account)
      .where("keys.account", "=", account)
      .execute();
    return rows.map((row) => Number(row.role_id)).sort((a, b) => a - b);
  }
}

async function countGrants(
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
