/**
 * Real stores for tests: SQLite in a fresh temporary directory, PostgreSQL in a fresh random schema
 * of the test database, both migrated. `cleanup()` closes the store and removes what it created, so
 * test files can run in parallel without sharing rows. `raw()` is a second connection to the same
 * database, for checks below the Store port.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { openStore } from "../../src/storage/open.js";
import type { Database } from "../../src/storage/schema.js";
import type { Store } from "../../src/storage/store.js";

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestStore {
  store: Store;
  /** Opened on first use, closed by `cleanup()`. */
  raw(): Kysely<Database>;
  cleanup(): Promise<void>;
}

/** A Kysely handle on a SQLite file, or on a schema of the PostgreSQL test database. */
export function openRawDb(at: { file: string } | { schema: string }): Kysely<Database> {
  if ("file" in at) {
    return new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(at.file) }) });
  }
  const pool = new pg.Pool({ connectionString: TEST_PG_URL, options: `-c search_path=${at.schema}` });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function lazyRaw(at: { file: string } | { schema: string }) {
  let raw: Kysely<Database> | undefined;
  return {
    get: () => {
      raw ??= openRawDb(at);
      return raw;
    },
    close: () => raw?.destroy(),
  };
}

export async function openTestStore(kind: "sqlite" | "postgres"): Promise<TestStore> {
  return kind === "sqlite" ? openSqliteTestStore() : openPostgresTestStore();
}

async function openSqliteTestStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-test-"));
  const file = join(dir, "latchkey.db");
  const store = await openStore({ kind: "sqlite", file });
  await store.migrate();
  const raw = lazyRaw({ file });
  return {
    store,
    raw: raw.get,
    async cleanup() {
      await raw.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgresTestStore(): Promise<TestStore> {
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const store = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
  await store.migrate();
  const raw = lazyRaw({ schema });
  return {
    store,
    raw: raw.get,
    async cleanup() {
      await raw.close();
      await store.close();
      await dropTestSchema(schema);
    },
  };
}

export async function dropTestSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}
