/**
 * Real stores for tests: SQLite in a fresh temporary directory, PostgreSQL in a fresh random schema
 * of the test database, both migrated. `cleanup()` closes the store and removes what it created, so
 * test files can run in parallel without sharing rows.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStore } from "../../src/storage/open.js";
import type { Store } from "../../src/storage/store.js";

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestStore {
  store: Store;
  cleanup(): Promise<void>;
}

export async function openTestStore(kind: "sqlite" | "postgres"): Promise<TestStore> {
  return kind === "sqlite" ? openSqliteTestStore() : openPostgresTestStore();
}

async function openSqliteTestStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-test-"));
  const store = await openStore({ kind: "sqlite", file: join(dir, "latchkey.db") });
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgresTestStore(): Promise<TestStore> {
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const store = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
  await store.migrate();
  return {
    store,
    async cleanup() {
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
