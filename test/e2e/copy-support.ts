/**
 * Reading both ends of `latchkey copy` straight from the databases, below latchkey: which tables a
 * database holds (found here independently of the copier) and how many rows each has.
 */
import SqliteDatabase from "better-sqlite3";
import pg from "pg";

/** Kysely's migration bookkeeping: each database keeps its own, so it is not copied. */
const BOOKKEEPING = ["kysely_migration", "kysely_migration_lock"];
/** SQLite's key search index (FTS5 table, shadow tables, rowid map): derived from keys, not copied. */
const SQLITE_SEARCH_INDEX = /^keys_search(_rows|_data|_idx|_content|_docsize|_config)?$/;

export type Counts = Record<string, number>;

export function sqliteCounts(file: string): Counts {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    const names = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
      )
      .all() as { name: string }[];
    const counts: Counts = {};
    for (const { name } of names) {
      if (BOOKKEEPING.includes(name) || SQLITE_SEARCH_INDEX.test(name)) continue;
      counts[name] = (db.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n;
    }
    return counts;
  } finally {
    db.close();
  }
}

export async function pgQuery<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function pgCounts(url: string): Promise<Counts> {
  const names = await pgQuery<{ name: string }>(
    url,
    `select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
  );
  const counts: Counts = {};
  for (const { name } of names) {
    if (BOOKKEEPING.includes(name)) continue;
    const [row] = await pgQuery<{ n: number }>(url, `select count(*)::int as n from "${name}"`);
    counts[name] = row?.n ?? -1;
  }
  return counts;
}

/** Rows of one table from SQLite, ordered, as plain values (numbers and text). */
export function sqliteRows(file: string, query: string): unknown[] {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    return db.prepare(query).all();
  } finally {
    db.close();
  }
}
