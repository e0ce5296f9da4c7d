/**
 * Where the time of one key listing goes: runs `store.keys.list` in-process over the bench database
 * with Kysely's query log on, times each SQL statement it issues (page, count, hydration), and asks
 * the database for the plan of each (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE).
 *
 * The SQL is the store's own (captured, not rewritten), so the plans are those the server runs.
 */
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { createKyselyStore } from "../dist/storage/kysely-store.js";
import { median } from "./lib.mjs";

/** Decodes a `nextCursor` of the keys API into the store's keyset position. */
export function decodeCursor(cursor) {
  const [, , value, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  return { value, id };
}

function openTracedStore(storeOptions, captured) {
  const log = (event) => {
    if (event.level === "query") {
      captured.push({
        sql: event.query.sql,
        parameters: [...event.query.parameters],
        ms: event.queryDurationMillis,
      });
    }
  };
  if (storeOptions.kind === "sqlite") {
    const database = new SqliteDatabase(storeOptions.file, { readonly: true });
    const db = new Kysely({ dialect: new SqliteDialect({ database }), log });
    return { store: createKyselyStore(db, "sqlite"), database };
  }
  const pool = new pg.Pool({ connectionString: storeOptions.url, max: 1 });
  return {
    store: createKyselyStore(new Kysely({ dialect: new PostgresDialect({ pool }), log }), "postgres"),
    pool,
  };
}

/** The statement's role in a listing, from its shape (the stored per-account total counts as "count"). */
function labelOf(sql) {
  if (/count\(\*\)|from "key_counts"/.test(sql)) return "count";
  if (/^select [^(]* from "tokens"/.test(sql)) return "hydrate tokens";
  if (/^select [^(]* from "key_roles"/.test(sql)) return "hydrate roles";
  if (/^select "keys"\.\*/.test(sql)) return "page";
  return "other";
}

function sqlitePlan(database, sql, parameters) {
  const rows = database.prepare(`explain query plan ${sql}`).all(...parameters);
  const depth = new Map([[0, -1]]);
  return rows
    .map((row) => {
      const level = (depth.get(row.parent) ?? -1) + 1;
      depth.set(row.id, level);
      return `${"  ".repeat(level)}${row.detail}`;
    })
    .join("\n");
}

async function pgPlan(pool, sql, parameters) {
  const { rows } = await pool.query(`explain (analyze, buffers, costs off) ${sql}`, parameters);
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}

/**
 * For each named listing query: median time of each statement over `runs` executions, the SQL and
 * the plan. `queries` maps a label to a KeyListQuery.
 */
export async function explainListings(storeOptions, queries, { runs = 15 } = {}) {
  const captured = [];
  const { store, database, pool } = openTracedStore(storeOptions, captured);
  const results = [];
  try {
    for (const [name, query] of Object.entries(queries)) {
      const perStatement = new Map();
      for (let i = 0; i < runs + 3; i++) {
        captured.length = 0;
        await store.keys.list(query);
        if (i < 3) continue;
        for (const q of captured) {
          const entry = perStatement.get(q.sql) ?? { label: labelOf(q.sql), ...q, times: [] };
          entry.times.push(q.ms);
          perStatement.set(q.sql, entry);
        }
      }
      const statements = [];
      for (const entry of perStatement.values()) {
        const plan = database
          ? sqlitePlan(database, entry.sql, entry.parameters)
          : await pgPlan(pool, entry.sql, entry.parameters);
        statements.push({ label: entry.label, ms: median(entry.times), sql: entry.sql, plan });
      }
      results.push({ name, statements });
    }
  } finally {
    await store.close();
  }
  return results;
}

/** Long IN lists and array literals shortened, so that plans stay readable. */
function shorten(text) {
  return text
    .replace(/\((?:\$\d+|\?)(?:, (?:\$\d+|\?)){3,}\)/g, (list) => `(… ${list.split(",").length} parameters)`)
    .replace(/'\{[^}]{80,}\}'/g, "'{…}'");
}

/** Markdown: one table of statement times per query, then SQL and plan of the slow statements. */
export function plansMarkdown(kind, results, slowMs = 2) {
  const lines = [`### ${kind}: statements of one listing (in-process, median of 15)`, ""];
  lines.push("| query | page ms | count ms | hydrate ms | other ms |", "|---|---:|---:|---:|---:|");
  for (const { name, statements } of results) {
    const sum = (label) =>
      statements
        .filter((s) => s.label.startsWith(label))
        .reduce((acc, s) => acc + s.ms, 0)
        .toFixed(2);
    lines.push(`| ${name} | ${sum("page")} | ${sum("count")} | ${sum("hydrate")} | ${sum("other")} |`);
  }
  for (const { name, statements } of results) {
    for (const s of statements.filter((st) => st.ms >= slowMs || st.label === "count")) {
      lines.push(
        "",
        `#### ${kind} · ${name} · ${s.label} (${s.ms.toFixed(2)} ms)`,
        "",
        "```sql",
        shorten(s.sql),
        "```",
      );
      lines.push("", "```", shorten(s.plan), "```");
    }
  }
  return lines.join("\n");
}
