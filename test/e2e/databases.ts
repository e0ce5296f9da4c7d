/**
 * Throwaway PostgreSQL databases for end-to-end tests: each real `latchkey` process under test gets a
 * database of its own on the server of TEST_PG_URL, which `drop()` removes again, even while
 * connections to it are still open.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { TEST_PG_URL } from "../support/stores.js";

export interface TestDatabase {
  /** `prefix` and a random suffix: a plain lower-case identifier, used unquoted. */
  name: string;
  /** TEST_PG_URL pointing at this database. */
  url: string;
  /** Drops the database (if it still exists), closing the connections left open to it. */
  drop(): Promise<void>;
}

/** Runs one statement on the test server, outside any database of a test. */
async function onServer(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Creates an empty database named `${prefix}_` and ten hex digits, e.g. `latchkey_cli_0a1b2c3d4e`. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await onServer(`create database ${name}`);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => onServer(`drop database if exists ${name} with (force)`),
  };
}
