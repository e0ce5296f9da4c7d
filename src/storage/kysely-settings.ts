/** Account settings of the Kysely store: one JSON document per account, with a revision. */
import { KyselyRepository } from "./kysely-scope.js";
import type { SettingsRepository, SettingsVersion, StoredSettings } from "./store.js";

export class KyselySettings extends KyselyRepository implements SettingsRepository {
  async get(account: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.db
      .selectFrom("account_settings")
      .select("settings")
      .where("account", "=", account)
      .executeTakeFirst();
    return r && (JSON.parse(r.settings) as Record<string, unknown>);
  }

  async getStored(account: string): Promise<StoredSettings | undefined> {
    const r = await this.db
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

  async put(account: string, settings: Record<string, unknown>, updatedAt: number): Promise<number> {
    const r = await this.db
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
  async putIfUnchanged(
    account: string,
    settings: Record<string, unknown>,
    updatedAt: number,
    read: SettingsVersion | undefined,
  ): Promise<number | undefined> {
    const text = JSON.stringify(settings);
    if (read === undefined) {
      const r = await this.db
        .insertInto("account_settings")
        .values({ account, settings: text, updated_at: updatedAt, revision: 1 })
        .onConflict((oc) => oc.column("account").doNothing())
        .returning("revision")
        .executeTakeFirst();
      return r?.revision;
    }
    const r = await this.db
      .updateTable("account_settings")
      .set((eb) => ({ settings: text, updated_at: updatedAt, revision: eb("revision", "+", 1) }))
      .where("account", "=", account)
      .where("revision", "=", read.revision)
      .where("updated_at", "=", read.updatedAt)
      .returning("revision")
      .executeTakeFirst();
    return r?.revision;
  }
}
