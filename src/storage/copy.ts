/**
 * Copies a whole latchkey database (the embedded SQLite file or a PostgreSQL database) into an
 * empty PostgreSQL database, table by table, so a deployment can move without new keys for its
 * integrations: every row keeps its values, ids and sequence numbers.
 *
 * - Which tables: every table of the source but Kysely's bookkeeping (copy-tables.ts), in
 *   foreign-key order. A source table or column the target lacks stops the copy before any write.
 * - Refusal: a target holding any latchkey row is refused (CopyRefused "TARGET_NOT_EMPTY"),
 *   checked before it is migrated and again under lock inside the write transaction.
 * - Atomicity: the target is migrated to the latest schema first (the project's own migrations),
 *   then every row is written in one transaction, with the tables locked against other writers.
 *   Any failure, or the process ending (Ctrl-C), rolls it back: the target is left empty, and
 *   running the copy again works.
 * - Consistency: the source is read in one transaction (a snapshot; on PostgreSQL repeatable read,
 *   read only), so a server still writing to it cannot tear the copy.
 * - Verification, before the commit: each table's row count in the target equals the source's, and
 *   the caller's `check` (the audit chains, services/database-copy.ts) passes on both snapshots.
 * - Sequences: each identity or serial column of the target is set past the highest id copied and
 *   past the source's own high-water mark, so ids are neither reused nor collide after the copy.
 *
 * Secrets: token hashes, password hashes and sealed secrets pass through as stored, never
 * decoded; nothing here logs a row, and no error names a URL (the target's may hold a password).
 */
import { type Kysely, sql } from "kysely";
import { describeTables, insertionOrder, type TableShape, type Tables } from "./copy-tables.js";
import { storeOpsOn } from "./kysely-store.js";
import { migrateToLatest } from "./migrations.js";
import { type OpenStoreOptions, openDatabase, type PostgresOptions } from "./open.js";
import type { Database } from "./schema.js";
import type { Dialect, StoreOps } from "./store.js";

export type CopyRefusal = "TARGET_NOT_EMPTY" | "SCHEMA_MISMATCH" | "COPY_CHECK_FAILED";

/** A copy refused or undone for a reason the operator can act on; nothing was written. */
export class CopyRefused extends Error {
  constructor(
    readonly code: CopyRefusal,
    message: string,
  ) {
    super(message);
    this.name = "CopyRefused";
  }
}

export interface CopyOptions {
  source: OpenStoreOptions;
  target: PostgresOptions;
  /** Rows per INSERT (default 1000), lowered for wide tables to stay within PostgreSQL's 65535 parameters. */
  batchRows?: number;
  /**
   * Runs once every row is written, on the source snapshot and on the target's open transaction;
   * throwing undoes the copy.
   */
  check?: (source: StoreOps, target: StoreOps) => Promise<void>;
  /** Told of each table once it is copied. */
  onTable?: (table: CopiedTable) => void;
}

export interface CopiedTable {
  name: string;
  rows: number;
}

export interface CopyReport {
  /** In the order they were written (foreign-key order). */
  tables: CopiedTable[];
  rows: number;
  /** The next value of each sequence in the target, as set. */
  sequences: { table: string; column: string; next: number }[];
}

const DEFAULT_BATCH_ROWS = 1000;
const MAX_PARAMETERS = 65535;

type Row = Record<string, unknown>;

export async function copyDatabase(opts: CopyOptions): Promise<CopyReport> {
  const source = await openDatabase(opts.source);
  try {
    const target = await openDatabase(opts.target);
    try {
      await migrateToLatest(source.db, source.dialect);
      const from = await describeTables(source.db, source.dialect);
      // Before the target's migrations run: a refused target is left exactly as it was.
      await refuseRows(target.db, from, await describeTables(target.db, "postgres"));
      await migrateToLatest(target.db, "postgres");
      return await copyAll(opts, source, from, target.db);
    } finally {
      await target.db.destroy();
    }
  } finally {
    await source.db.destroy();
  }
}

async function copyAll(
  opts: CopyOptions,
  source: { db: Kysely<Database>; dialect: Dialect },
  from: Tables,
  target: Kysely<Database>,
): Promise<CopyReport> {
  const to = await describeTables(target, "postgres");
  const order = insertionOrder([...from.keys()], to);
  checkShapes(order, from, to);
  const snapshot =
    source.dialect === "postgres"
      ? source.db.transaction().setIsolationLevel("repeatable read").setAccessMode("read only")
      : source.db.transaction();
  return snapshot.execute((src) =>
    target.transaction().execute(async (dst) => {
      await sql`lock table ${sql.join(order.map((t) => sql.id(t)))} in exclusive mode`.execute(dst);
      await refuseRows(dst, from, to);
      const tables: CopiedTable[] = [];
      for (const name of order) {
        const table = await copyTable(src, dst, must(from, name), must(to, name), opts.batchRows);
        tables.push(table);
        opts.onTable?.(table);
      }
      const sequences = await advanceSequences(src, source.dialect, dst, order, to);
      await opts.check?.(storeOpsOn(src, source.dialect, true), storeOpsOn(dst, "postgres", true));
      return { tables, rows: tables.reduce((sum, t) => sum + t.rows, 0), sequences };
    }),
  );
}

function must(tables: Tables, name: string): TableShape {
  const table = tables.get(name);
  if (table === undefined) throw new CopyRefused("SCHEMA_MISMATCH", `the target has no table ${name}`);
  return table;
}

/** Every source table and column must have a place in the target, or its data would be dropped. */
function checkShapes(order: string[], from: Tables, to: Tables): void {
  const missing = order.filter((name) => !to.has(name));
  if (missing.length > 0) {
    throw new CopyRefused(
      "SCHEMA_MISMATCH",
      `the target has no table ${missing.join(", ")} after its migrations: is the source from a newer latchkey?`,
    );
  }
  for (const name of order) {
    const columns = must(to, name).columns;
    const lost = must(from, name).columns.filter((c) => !columns.includes(c));
    if (lost.length > 0) {
      throw new CopyRefused("SCHEMA_MISMATCH", `the target's table ${name} has no column ${lost.join(", ")}`);
    }
  }
}

/** Rows in any of latchkey's tables (the source's) refuse the target; other tables are not ours. */
async function refuseRows(db: Kysely<Database>, ours: Tables, tables: Tables): Promise<void> {
  for (const name of [...tables.keys()].filter((t) => ours.has(t)).sort()) {
    const { rows } = await sql<{ one: number }>`select 1 as one from ${sql.id(name)} limit 1`.execute(db);
    if (rows.length > 0) {
      throw new CopyRefused(
        "TARGET_NOT_EMPTY",
        `the target database is not empty (table ${name} has rows): copy only writes into an empty database`,
      );
    }
  }
}

/**
 * Reads the table in primary-key order, a page at a time (keyset paging, so a big table costs one
 * index range scan per page), and inserts each page with one statement. The next page is read
 * while the database still works on the last insert.
 */
async function copyTable(
  src: Kysely<Database>,
  dst: Kysely<Database>,
  from: TableShape,
  to: TableShape,
  batchRows = DEFAULT_BATCH_ROWS,
): Promise<CopiedTable> {
  const columns = from.columns;
  const pageSize = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMETERS / columns.length)));
  const key = from.primaryKey.length > 0 ? from.primaryKey : columns;
  let copied = 0;
  let after: Row | undefined;
  let writing: Promise<void> = Promise.resolve();
  try {
    for (;;) {
      const page = await readPage(src, from.name, key, after, pageSize, copied);
      await writing;
      if (page.length === 0) break;
      writing = insertRows(dst, to, columns, page);
      // Awaited on the next turn; marked handled meanwhile, so a failure is not reported twice.
      writing.catch(() => {});
      copied += page.length;
      after = page[page.length - 1];
      if (page.length < pageSize) break;
    }
  } finally {
    await writing;
  }
  const expected = await countRows(src, from.name);
  const written = await countRows(dst, from.name);
  if (copied !== expected || written !== expected) {
    throw new CopyRefused(
      "COPY_CHECK_FAILED",
      `table ${from.name}: ${expected} row(s) in the source, ${copied} read, ${written} in the target`,
    );
  }
  return { name: from.name, rows: copied };
}

function readPage(
  db: Kysely<Database>,
  table: string,
  key: string[],
  after: Row | undefined,
  limit: number,
  offset: number,
): Promise<Row[]> {
  const keyList = sql.join(key.map((c) => sql.id(c)));
  const keyed = key.length > 0 && after !== undefined;
  const where = keyed ? sql`where (${keyList}) > (${sql.join(key.map((c) => after[c]))})` : sql``;
  // A table without a primary key is paged by offset over all its columns (ordered, in the snapshot).
  const skip = keyed || offset === 0 ? sql`` : sql`offset ${offset}`;
  return sql<Row>`select * from ${sql.id(table)} ${where} order by ${keyList} limit ${limit} ${skip}`
    .execute(db)
    .then((r) => r.rows);
}

/**
 * One INSERT per page. Each column goes as one array parameter, unnested on the server: a page of
 * 1000 rows is then a statement of a few parameters instead of thousands, which PostgreSQL parses
 * and binds several times faster. A table with an array column (none today) is sent as VALUES.
 * OVERRIDING SYSTEM VALUE: ids of `generated always` identity columns are copied, not made anew.
 */
async function insertRows(
  db: Kysely<Database>,
  to: TableShape,
  columns: string[],
  rows: Row[],
): Promise<void> {
  const names = sql.join(columns.map((c) => sql.id(c)));
  const typeOf = (c: string) => to.types.get(c) ?? "text";
  const convert = (row: Row, c: string) => toTarget(row[c], typeOf(c), to.name, c);
  if (columns.some((c) => typeOf(c).startsWith("_") || !PLAIN_TYPE.test(typeOf(c)))) {
    const values = rows.map((row) => sql`(${sql.join(columns.map((c) => convert(row, c)))})`);
    await sql`insert into ${sql.id(to.name)} (${names}) overriding system value values ${sql.join(values)}`.execute(
      db,
    );
    return;
  }
  const arrays = columns.map((c) => sql`${rows.map((row) => convert(row, c))}::${sql.raw(typeOf(c))}[]`);
  await sql`insert into ${sql.id(to.name)} (${names}) overriding system value
    select * from unnest(${sql.join(arrays)})`.execute(db);
}

/** A type name that may be written into the statement as it is (a udt_name such as int8 or text). */
const PLAIN_TYPE = /^[a-z][a-z0-9_]*$/;

/**
 * A stored value as the target column takes it. Both dialects hold latchkey's values alike (the
 * conventions of schema.ts: integer milliseconds, 0/1 flags, JSON as text), so values pass as
 * read; SQLite's dynamic typing is what needs care (a number in a text column becomes its text).
 */
function toTarget(value: unknown, type: string, table: string, column: string): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) {
    if (type === "bytea") return value;
    throw new CopyRefused(
      "SCHEMA_MISMATCH",
      `${table}.${column} holds binary data but the target column is ${type}`,
    );
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && type === "bool") return value !== 0;
  if (typeof value === "number" && TEXT_TYPES.has(type)) return String(value);
  return value;
}

const TEXT_TYPES = new Set(["text", "varchar", "bpchar"]);

async function countRows(db: Kysely<Database>, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.id(table)}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** Sets each target sequence past the highest value copied and the source's own high-water mark. */
async function advanceSequences(
  src: Kysely<Database>,
  dialect: Dialect,
  dst: Kysely<Database>,
  order: string[],
  to: Tables,
): Promise<CopyReport["sequences"]> {
  const set: CopyReport["sequences"] = [];
  for (const table of order) {
    for (const column of must(to, table).sequenced) {
      const { rows } = await sql<{ top: number | string | null }>`
        select max(${sql.id(column)}) as top from ${sql.id(table)}`.execute(dst);
      const copied = rows[0]?.top;
      const marks = [copied, await highWater(src, dialect, table, column)]
        .filter((v) => v !== null && v !== undefined)
        .map(Number);
      if (marks.length === 0) continue;
      const last = Math.max(...marks);
      await sql`select setval(pg_get_serial_sequence(${quoteIdent(table)}, ${column}), ${last}, true)`.execute(
        dst,
      );
      set.push({ table, column, next: last + 1 });
    }
  }
  return set;
}

/** The last value the source's own sequence handed out (deleted rows included), or null. */
async function highWater(
  src: Kysely<Database>,
  dialect: Dialect,
  table: string,
  column: string,
): Promise<number | null> {
  if (dialect === "sqlite") {
    const { rows: kept } = await sql<{ name: string }>`
      select name from sqlite_master where name = 'sqlite_sequence'`.execute(src);
    if (kept.length === 0) return null;
    const { rows } = await sql<{ seq: number }>`
      select seq from sqlite_sequence where name = ${table}`.execute(src);
    return rows[0]?.seq ?? null;
  }
  const { rows } = await sql<{ last: number | string | null }>`
    select pg_sequence_last_value(pg_get_serial_sequence(${quoteIdent(table)}, ${column})::regclass) as last
  `.execute(src);
  const last = rows[0]?.last;
  return last === null || last === undefined ? null : Number(last);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
