/**
 * Opens the store for the configured database. Does not migrate: callers run `store.migrate()` at
 * start (and `latchkey migrate` does it on demand).
 *
 * pg is imported only when a PostgreSQL store is opened, so that a SQLite server never loads it.
 *
 * The PostgreSQL URL may carry a password; it is handed to pg only and never logged here.
 *
 * The SQLite files hold token hashes, sealed secrets and the audit log: they are kept owner-only
 * (0600, in a directory created 0700), like DATA_DIR/secret.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type pg from "pg";
import { createKyselyStore } from "./kysely-store.js";
import { withNamedStatements } from "./named-statements.js";
import type { Database } from "./schema.js";
import type { Dialect, Store } from "./store.js";

export type OpenStoreOptions =
  | {
      kind: "sqlite";
      file: string;
      /** Told of database files found readable or writable by others, after tightening them. */
      onLooseFiles?: (files: LooseFile[]) => void;
    }
  | PostgresOptions;

export interface PostgresOptions {
  kind: "postgres";
  url: string;
  schema?: string;
  /** Told of a pooled connection that dropped while idle (a restart, a network cut); see `openPostgres`. */
  onConnectionLost?: (error: Error) => void;
}

export interface LooseFile {
  file: string;
  /** The mode found, in octal ("0644"). */
  was: string;
  /** False when the chmod was refused (a file of another user): the mode is unchanged. */
  tightened: boolean;
}

const INT8_OID = 20;
/** Schema names go into a connection option and DDL unquoted, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const PRIVATE_FILE = 0o600;
const PRIVATE_DIR = 0o700;
/** A new connection (or a free one, when all are busy) not had by then fails the query: no request hangs on it. */
const CONNECT_TIMEOUT_MS = 5_000;

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { db, dialect } = await openDatabase(opts);
  return createKyselyStore(db, dialect);
}

/**
 * The Kysely handle the store is built on, opened exactly as `openStore` opens it (file modes,
 * pragmas, pool settings): for work below the Store port, such as copying a whole database (copy.ts).
 */
export async function openDatabase(
  opts: OpenStoreOptions,
): Promise<{ db: Kysely<Database>; dialect: Dialect }> {
  if (opts.kind === "postgres") return { db: await openPostgres(opts), dialect: "postgres" };
  if (opts.file !== ":memory:") {
    const loose = securePrivateFiles(opts.file);
    if (loose.length > 0) opts.onLooseFiles?.(loose);
  }
  return { db: openSqlite(opts.file), dialect: "sqlite" };
}

/**
 * Makes the database owner-only before SQLite opens it, creating it empty when absent (SQLite takes
 * an empty file for a new database). Left to SQLite it would be created 0644 under the usual umask.
 * SQLite creates the -wal and -shm files with the database file's own mode whatever the umask
 * (os_unix.c, findCreateFileMode and unixOpenSharedMemory), in this process and in any later one,
 * CLI commands included: so securing the database file secures them; a process-wide umask would
 * cover this process only, and every other file it writes. Existing -wal and -shm files from an
 * older start are tightened too, and so is DATA_DIR/secret. Returns the files that were looser.
 */
function securePrivateFiles(file: string): LooseFile[] {
  mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR });
  closeSync(openSync(file, "a", PRIVATE_FILE));
  const loose: LooseFile[] = [];
  // The secret file (secret.ts) lives beside the database: one written by hand may be loose too.
  for (const path of [file, `${file}-wal`, `${file}-shm`, join(dirname(file), "secret")]) {
    const mode = modeOf(path);
    if (mode === undefined || (mode & 0o077) === 0) continue;
    loose.push({ file: path, was: mode.toString(8).padStart(4, "0"), tightened: chmodPrivate(path) });
  }
  return loose;
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function chmodPrivate(path: string): boolean {
  try {
    chmodSync(path, PRIVATE_FILE);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EPERM") return false;
    throw error;
  }
}

function openSqlite(file: string): Kysely<Database> {
  const database = new SqliteDatabase(file);
  database.pragma("journal_mode = WAL");
  // FULL: each commit syncs the WAL before latchkey answers, so an acknowledged change survives a power
  // loss as it does on PostgreSQL. NORMAL would survive a killed process only, and the commits since
  // the last checkpoint lost to a power cut could bring back a token that was renewed away or a key
  // that was deactivated. The sync costs about 0.2-0.3 ms a write transaction; reads pay nothing.
  database.pragma("synchronous = FULL");
  // SQLite leaves foreign keys off unless asked, per connection; the schema's cascades rely on them.
  database.pragma("foreign_keys = ON");
  // A CLI command and the server may share the file: wait for the writer instead of failing at once.
  database.pragma("busy_timeout = 5000");
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
}

/** Distinct statements kept prepared; latchkey issues a few hundred distinct ones at most. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every statement on every execution; preparing costs more than
 * running most of latchkey's lookups (a quarter of a cold key lookup in the verification profile).
 * This keeps prepared statements by SQL text, least recently used out first. A statement still
 * iterating (`busy`) is never handed out twice: a fresh one is prepared instead.
 */
export function withStatementCache(database: SqliteDatabase.Database): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const prepare = database.prepare.bind(database);
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== "prepare") return Reflect.get(target, property, receiver);
      return (source: string) => {
        const cached = cache.get(source);
        if (cached !== undefined && !cached.busy) {
          cache.delete(source);
          cache.set(source, cached);
          return cached;
        }
        const statement = prepare(source);
        if (cached === undefined) {
          cache.set(source, statement);
          if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        }
        return statement;
      };
    },
  });
}

async function openPostgres(opts: PostgresOptions): Promise<Kysely<Database>> {
  const { url, schema } = opts;
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
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Names latchkey in pg_stat_activity; `latchkey init` looks for it to tell whether a server
    // uses the database (cli/serving.ts). An application_name in the URL takes precedence.
    application_name: "latchkey",
  });
  // A pooled connection that the server or the network drops emits 'error', idle or checked out
  // between two queries; that must not end the process: the query in flight (if any) fails, the
  // pool discards the connection, and the next query opens a new one.
  pool.on("error", (error) => opts.onConnectionLost?.(error));
  pool.on("connect", (client) => {
    client.on("error", () => {});
    // A sequential scan starts at the table's head. A listing's total counted up to 1,000 matches
    // (kysely-keys.ts) may be a scan of `keys` stopped early; synchronized, such a scan starts where
    // another one stopped and can wrap round the whole table (62–65 ms against 5 at 1,000,000 keys).
    // A SET rather than a start-up option, which poolers such as PgBouncer refuse; queued before
    // the connection's first query. Behind a transaction pooler it may not reach every server
    // connection: those scan as PostgreSQL does by default.
    client.query("set synchronize_seqscans = off").catch(() => {});
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
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
