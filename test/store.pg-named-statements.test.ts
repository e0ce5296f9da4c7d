/**
 * Named statements on PostgreSQL (storage/named-statements.ts), against the real server: a named
 * text is prepared once per connection and reused; a table changed under a prepared `select *`
 * (a newer instance migrating while this one runs), or a server connection that lost what was
 * prepared (a pooler in transaction mode), does not break the statement; the store's key
 * lookup is one of them and keeps answering across such a change.
 */
import { randomBytes } from "node:crypto";
import { CompiledQuery, Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nameStatement, withNamedStatements } from "../src/storage/named-statements.js";
import type { KeyRecord } from "../src/storage/store.js";
import { newKey, useStore } from "./support/store-fixtures.js";
import { TEST_PG_URL } from "./support/stores.js";

describe("PostgreSQL named statements", () => {
  const schema = `named_${randomBytes(6).toString("hex")}`;
  let pool: pg.Pool;
  let db: Kysely<Record<string, never>>;
  const run = async (sql: string, parameters: unknown[] = []) =>
    (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, parameters))).rows;
  const prepared = async (marker: string) =>
    (
      await run("select name, statement from pg_prepared_statements where statement like $1", [`%${marker}%`])
    ).filter((row) => !String(row.statement).includes("pg_prepared_statements"));

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    // One connection: every statement below runs on the same session, so what it prepared shows.
    pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 1, options: `-c search_path=${schema}` });
    db = new Kysely({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
    await run("create table t (a integer not null)");
    await run("insert into t values (1), (2)");
  });

  afterAll(async () => {
    await run(`drop schema ${schema} cascade`);
    await db.destroy();
  });

  it("prepares a named text once per connection and runs it with new parameters; other texts stay unnamed", async () => {
    const named = "select a + $1::integer as n from t where a = $2 /* named-once */";
    nameStatement(named);
    expect(await run(named, [10, 1])).toEqual([{ n: 11 }]);
    expect(await run(named, [20, 2])).toEqual([{ n: 22 }]);
    const rows = await prepared("named-once");
    expect(rows).toHaveLength(1);
    expect(String(rows[0]?.name)).toMatch(/^latchkey_\d+$/);
    expect(await run("select a from t where a = $1 /* not-named */", [2])).toEqual([{ a: 2 }]);
    expect(await prepared("not-named")).toEqual([]);
  });

  it("answers a prepared select * after its table gained a column, and sends it unnamed from then on", async () => {
    const star = "select * from t where a = $1 /* star */";
    nameStatement(star);
    expect(await run(star, [1])).toEqual([{ a: 1 }]);
    await run("alter table t add column b text");
    // PostgreSQL refuses the prepared statement ("cached plan must not change result type").
    expect(await run(star, [1])).toEqual([{ a: 1, b: null }]);
    expect(await run(star, [2])).toEqual([{ a: 2, b: null }]);
  });

  it("answers when the server connection lost its prepared statements (a pooler in transaction mode)", async () => {
    const text = "select a from t where a = $1 /* switched */";
    nameStatement(text);
    expect(await run(text, [1])).toEqual([{ a: 1 }]);
    expect(await prepared("switched")).toHaveLength(1);
    // What a transaction-mode pooler does to a session: the next statement meets a server
    // connection that never prepared it, while the client believes it did.
    await run("deallocate all");
    expect(await run(text, [2])).toEqual([{ a: 2 }]);
    expect(await run(text, [1])).toEqual([{ a: 1 }]);
    // From then on this connection sends the text unnamed: nothing is prepared again.
    expect(await prepared("switched")).toEqual([]);
  });
});

describe("PostgreSQL key lookups through the store", () => {
  const db = useStore("postgres");

  it("reads a key with its tokens and roles again after a column was added to keys", async () => {
    const account = await db.account();
    const key = newKey(account, "ERP", { roleIds: [2, 5] });
    await db.store.keys.create(key);
    const before = (await db.store.keys.getByAppKey(key.appKey)) as KeyRecord;
    expect(before.roleIds).toEqual([2, 5]);
    expect(await db.store.keys.getByAppKey(key.appKey)).toEqual(before);
    await db.raw().schema.alterTable("keys").addColumn("added_by_a_newer_version", "text").execute();
    expect(await db.store.keys.getByAppKey(key.appKey)).toEqual(before);
    expect(await db.store.keys.getByAppKey(key.appKey)).toEqual(before);
  });
});
