/**
 * Per-account key counts (table `key_counts`), so the total of an unfiltered key listing is one row
 * read instead of a count over every key of the account.
 *
 * Every statement that inserts or deletes a `keys` row or flips `keys.active` is followed, in the
 * same transaction, by `bumpKeyCounts`; only kysely-keys.ts writes those rows. The increment is one
 * upsert: PostgreSQL takes the count row's lock, so concurrent writes in one account apply their
 * changes one after the other (the first insert of the row included), and SQLite serializes writers.
 * A rolled-back write rolls its change back with it.
 */
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import type { KeyListQuery } from "./store.js";

export async function bumpKeyCounts(
  db: Kysely<Database>,
  account: string,
  total: number,
  active: number,
): Promise<void> {
  await db
    .insertInto("key_counts")
    .values({ account, total, active })
    .onConflict((oc) =>
      oc.column("account").doUpdateSet((eb) => ({
        total: eb("key_counts.total", "+", eb.ref("excluded.total")),
        active: eb("key_counts.active", "+", eb.ref("excluded.active")),
      })),
    )
    .execute();
}

/** The stored counts answer a query filtered by status alone; any other filter needs a real count. */
export function hasStoredTotal(query: KeyListQuery): boolean {
  return (
    (query.q === undefined || query.q === "") &&
    query.roleId === undefined &&
    query.tokenCreatedFrom === undefined &&
    query.tokenCreatedBefore === undefined &&
    query.expiresFrom === undefined &&
    query.expiresBefore === undefined &&
    query.hasExpiry === undefined &&
    query.control === undefined
  );
}

/** An account without a row has no keys. */
export async function storedTotal(
  db: Kysely<Database>,
  account: string,
  status: KeyListQuery["status"],
): Promise<number> {
  const row = await db
    .selectFrom("key_counts")
    .select(["total", "active"])
    .where("account", "=", account)
    .executeTakeFirst();
  if (row === undefined) return 0;
  if (status === "active") return row.active;
  return status === "inactive" ? row.total - row.active : row.total;
}
