/**
 * Opens the store for the configured database. Does not migrate: callers run `store.migrate()` at
 * start (and `latchkey migrate` does it on demand).
 *
 * pg is imported only when a PostgreSQL store is opened, so that a SQLite server never loads it.
 *
 * The PostgreSQL URL may carry a password; it is handed to pg only and never logged here.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type pg from "pg";
import { KyselyStore } from "./kysely-store.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

export type OpenStoreOptions =
  | { kind: "sqlite"; file: string }
  | { kind: "postgres"; url: string; schema?: string };

const INT8_OID = 20;
/** Schema names go into a connection option and DDL unquoted, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  return opts.kind === "sqlite" ? openSqlite(opts.file) : openPostgres(opts.url, opts.schema);
}

function openSqlite(file: string): Store {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const database = new SqliteDatabase(file);
  database.pragma("journal_mode = WAL");
  // NORMAL is durable across application crashes in WAL mode; only a power loss may drop the last commits.
  database.pragma("synchronous = NORMAL");
  // SQLite leaves foreign keys off unless asked, per connection; the schema's cascades rely on them.
  database.pragma("foreign_keys = ON");
  // A CLI command and the server may share the file: wait for the writer instead of failing at once.
  database.pragma("busy_timeout = 5000");
  return new KyselyStore(new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), "sqlite");
}

async function openPostgres(url: string, schema?: string): Promise<Store> {
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const { default: driver } = await import("pg");
  if (schema !== undefined) await createSchema(driver, url, schema);
  const pool = new driver.Pool({
    connectionString: url,
    // int8 (bigint times, count(*)) as JS numbers: ms timestamps and counts stay far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID ? Number : driver.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    // Set at connection start-up, so every pooled connection resolves tables in the schema.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  return new KyselyStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), "postgres");
}

async function createSchema(driver: typeof pg, url: string, schema: string): Promise<void> {
  const client = new driver.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } catch (err) {
    // Two instances creating the schema at once: the loser's "if not exists" can still collide.
    if ((err as { code?: unknown }).code !== "23505") throw err;
  } finally {
    await client.end();
  }
}
