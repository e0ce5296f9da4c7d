/**
 * The SQLite statement cache (storage/open.ts `withStatementCache`): a statement is prepared once
 * per SQL text and reused, one still iterating is never handed out again, and the cache is bounded.
 */
import SqliteDatabase from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { withStatementCache } from "../src/storage/open.js";

describe("SQLite statement cache", () => {
  function database() {
    const raw = new SqliteDatabase(":memory:");
    raw.exec("create table t (n integer)");
    raw.exec("insert into t values (1), (2), (3)");
    let prepared = 0;
    const prepare = raw.prepare.bind(raw);
    raw.prepare = ((source: string) => {
      prepared += 1;
      return prepare(source);
    }) as typeof raw.prepare;
    return { db: withStatementCache(raw), prepared: () => prepared };
  }

  it("prepares a statement once and reuses it with new parameters", () => {
    const { db, prepared } = database();
    const first = db.prepare("select n from t where n = ?");
    expect(first.get(1)).toEqual({ n: 1 });
    const again = db.prepare("select n from t where n = ?");
    expect(again).toBe(first);
    expect(again.get(3)).toEqual({ n: 3 });
    expect(prepared()).toBe(1);
    db.prepare("select n from t where n > ?");
    expect(prepared()).toBe(2);
  });

  it("prepares a fresh statement while the cached one is still iterating", () => {
    const { db } = database();
    const sql = "select n from t order by n";
    const iterating = db.prepare(sql);
    const rows = iterating.iterate();
    expect(rows.next().value).toEqual({ n: 1 });
    const other = db.prepare(sql);
    expect(other).not.toBe(iterating);
    expect(other.all()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect([...rows]).toEqual([{ n: 2 }, { n: 3 }]);
    expect(db.prepare(sql)).toBe(iterating);
  });

  it("keeps at most 500 statements, the least recently used going first", () => {
    const { db, prepared } = database();
    const first = db.prepare("select 0");
    for (let i = 1; i <= 500; i++) db.prepare(`select ${i}`);
    expect(prepared()).toBe(501);
    expect(db.prepare("select 500")).toBe(db.prepare("select 500"));
    expect(prepared()).toBe(501);
    expect(db.prepare("select 0")).not.toBe(first);
    expect(prepared()).toBe(502);
  });
});
