/**
 * What copy.ts needs to know of a database's tables, read from the database itself rather than
 * from a list kept by hand: a table added by a future migration is copied without anyone
 * remembering to name it here. Kysely's migration bookkeeping is the one exception (the target has
 * its own, written by its own migration run), and so are SQLite's internal tables and its key
 * search index.
 */
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";
import type { Dialect } from "./store.js";

/** Kysely's bookkeeping of applied migrations: each database keeps its own. */
const BOOKKEEPING = new Set(["kysely_migration", "kysely_migration_lock"]);

/**
 * SQLite's key search index (migration 0023): the FTS5 table, its shadow tables and its rowid map.
 * Derived from `keys`, which the target indexes itself (PostgreSQL: its pg_trgm indexes).
 */
const SQLITE_SEARCH_INDEX = /^keys_search(_rows|_data|_idx|_content|_docsize|_config)?$/;

export interface TableShape {
  name: string;
  /** In the table's own order. */
  columns: string[];
  /** Type of each column, lower-cased: on PostgreSQL its udt_name (`text`, `int8`, `int4`, `bool`, …). */
  types: Map<string, string>;
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[];
  /** Other tables its foreign keys point at. */
  references: string[];
  /** Columns whose values come from a sequence (PostgreSQL identity or serial, SQLite AUTOINCREMENT). */
  sequenced: string[];
}

export type Tables = Map<string, TableShape>;

export async function describeTables(db: Kysely<Database>, dialect: Dialect): Promise<Tables> {
  return dialect === "sqlite" ? describeSqlite(db) : describePostgres(db);
}

async function describeSqlite(db: Kysely<Database>): Promise<Tables> {
  const { rows: names } = await sql<{ name: string }>`
    select name from sqlite_master
     where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by name`.execute(db);
  const tables: Tables = new Map();
  for (const { name } of names) {
    if (BOOKKEEPING.has(name) || SQLITE_SEARCH_INDEX.test(name)) continue;
    const { rows: columns } = await sql<{ name: string; type: string; pk: number }>`
      select name, type, pk from pragma_table_info(${name}) order by cid`.execute(db);
    const { rows: fks } = await sql<{ ref: string }>`
      select "table" as ref from pragma_foreign_key_list(${name})`.execute(db);
    const { rows: auto } = await sql<{ n: number }>`
      select count(*) as n from sqlite_master
       where type = 'table' and name = ${name} and sql like '%autoincrement%'`.execute(db);
    const primaryKey = columns
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    tables.set(name, {
      name,
      columns: columns.map((c) => c.name),
      types: new Map(columns.map((c) => [c.name, c.type.toLowerCase()])),
      primaryKey,
      references: unique(fks.map((f) => f.ref)),
      sequenced: (auto[0]?.n ?? 0) > 0 ? primaryKey : [],
    });
  }
  return tables;
}

async function describePostgres(db: Kysely<Database>): Promise<Tables> {
  const { rows: names } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
     where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  const { rows: columns } = await sql<{ table: string; column: string; type: string; sequenced: boolean }>`
    select table_name as "table", column_name as "column", udt_name as type,
           (is_identity = 'YES' or coalesce(column_default, '') like 'nextval(%') as sequenced
      from information_schema.columns
     where table_schema = current_schema() order by table_name, ordinal_position`.execute(db);
  const { rows: keys } = await sql<{ table: string; column: string }>`
    select cl.relname as "table", a.attname as "column"
      from pg_index i
      join pg_class cl on cl.oid = i.indrelid
      join pg_namespace n on n.oid = cl.relnamespace
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indisprimary and n.nspname = current_schema()
     order by cl.relname, array_position(i.indkey::int2[], a.attnum)`.execute(db);
  const { rows: fks } = await sql<{ table: string; ref: string }>`
    select cl.relname as "table", ref.relname as ref
      from pg_constraint c
      join pg_class cl on cl.oid = c.conrelid
      join pg_class ref on ref.oid = c.confrelid
      join pg_namespace n on n.oid = cl.relnamespace
     where c.contype = 'f' and n.nspname = current_schema()`.execute(db);
  const tables: Tables = new Map();
  for (const { name } of names) {
    if (BOOKKEEPING.has(name)) continue;
    const own = columns.filter((c) => c.table === name);
    tables.set(name, {
      name,
      columns: own.map((c) => c.column),
      types: new Map(own.map((c) => [c.column, c.type.toLowerCase()])),
      primaryKey: keys.filter((k) => k.table === name).map((k) => k.column),
      references: unique(fks.filter((f) => f.table === name).map((f) => f.ref)),
      sequenced: own.filter((c) => c.sequenced).map((c) => c.column),
    });
  }
  return tables;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

/**
 * The tables in an order that inserts every referenced row before the rows pointing at it (a
 * depth-first walk of the foreign keys in `graph`, by name for a stable order). A cycle cannot be
 * inserted table by table and is an error.
 */
export function insertionOrder(names: string[], graph: Tables): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`foreign keys form a cycle: ${[...path, name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const ref of graph.get(name)?.references ?? []) {
      if (ref !== name && names.includes(ref)) visit(ref, [...path, name]);
    }
    state.set(name, "done");
    order.push(name);
  };
  for (const name of [...names].sort()) visit(name, []);
  return order;
}
