/** Accounts of the Kysely store. */
import { guard } from "./kysely-conflicts.js";
import { KyselyRepository } from "./kysely-scope.js";
import type { AccountProfile, AccountRecord, AccountRepository } from "./store.js";

export class KyselyAccounts extends KyselyRepository implements AccountRepository {
  async create(a: AccountRecord): Promise<void> {
    await guard(this.db.insertInto("accounts").values({ name: a.name, created_at: a.createdAt }).execute());
  }

  async get(name: string): Promise<AccountRecord | undefined> {
    const r = await this.db.selectFrom("accounts").selectAll().where("name", "=", name).executeTakeFirst();
    return r && { name: r.name, createdAt: r.created_at };
  }

  async getProfile(name: string): Promise<AccountProfile | undefined> {
    const r = await this.db
      .selectFrom("accounts")
      .select(["display_name", "hosts"])
      .where("name", "=", name)
      .executeTakeFirst();
    return r && { displayName: r.display_name, hosts: JSON.parse(r.hosts) as string[] };
  }

  async setProfile(name: string, profile: AccountProfile): Promise<boolean> {
    const r = await this.db
      .updateTable("accounts")
      .set({ display_name: profile.displayName, hosts: JSON.stringify(profile.hosts) })
      .where("name", "=", name)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async list(): Promise<string[]> {
    const rows = await this.db.selectFrom("accounts").select("name").orderBy("name").execute();
    return rows.map((r) => r.name);
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
}
