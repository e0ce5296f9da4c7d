/**
 * Upgrading a database that holds data from before the key-lifecycle migration: its tokens become
 * the keys' current tokens, and renewal works on them, on SQLite and real PostgreSQL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { buildMigrations } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open.js";
import type { Database } from "../src/storage/schema.js";
import type { Dialect, Store } from "../src/storage/store.js";
import { hex, newToken, T0 } from "./support/store-fixtures.js";
import { dropTestSchema, TEST_PG_URL } from "./support/stores.js";

/** Writes one account, key and token the way release 0001 did. */
async function seedAt0001(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const initial = buildMigrations(dialect)["0001_initial"];
  if (initial === undefined) throw new Error("0001_initial missing");
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ "0001_initial": initial }) },
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
  const [account, keyId, tokenId] = [`acct-${hex()}`, `k${hex()}`, `t${hex()}`];
  const appKey = `appkey-${account}-ABCDEF`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const times = { created_at: T0, updated_at: T0, token_created_at: T0, last_used_at: 0 };
  const key = { id: keyId, app_key: appKey, account, name: "Legacy", name_lower: "legacy", active: 1 };
  await db
    .insertInto("keys")
    .values({ ...key, ...times })
    .execute();
  // `slot` did not exist yet: the row is written as 0001 knew it.
  const token = { id: tokenId, key_id: keyId, hash: `h${hex(16)}`, created_at: T0 };
  await db
    .insertInto("tokens")
    .values(token as Database["tokens"])
    .execute();
  return { appKey, keyId, tokenId };
}

async function checkUpgrade(store: Store, seeded: { appKey: string; keyId: string; tokenId: string }) {
  await store.migrate();
  const key = await store.getKeyByAppKey(seeded.appKey);
  expect(key?.tokens.map((t) => t.id)).toEqual([seeded.tokenId]);
  const pending = newToken(T0 + 1000);
  await store.addPendingToken(seeded.keyId, pending, T0 + 1000);
  expect(await store.dropOldToken(seeded.keyId, T0 + 2000)).toBe(true);
  expect((await store.getKeyByAppKey(seeded.appKey))?.tokens).toEqual([pending]);
}

describe("Store upgrade to 0002_key_lifecycle", () => {
  it("keeps existing tokens as the current ones on sqlite", async () => {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-upgrade-"));
    const file = join(dir, "latchkey.db");
    try {
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
      const seeded = await seedAt0001(db, "sqlite");
      await db.destroy();
      const store = await openStore({ kind: "sqlite", file });
      await checkUpgrade(store, seeded).finally(() => store.close());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps existing tokens as the current ones on postgres", async () => {
    const schema = `test_${hex()}`;
    const store = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
    try {
      const pool = new pg.Pool({ connectionString: TEST_PG_URL, options: `-c search_path=${schema}` });
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      const seeded = await seedAt0001(db, "postgres", schema);
      await db.destroy();
      await checkUpgrade(store, seeded);
    } finally {
      await store.close();
      await dropTestSchema(schema);
    }
  });
});
