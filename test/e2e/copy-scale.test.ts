/**
 * `latchkey copy` at 100,000 keys: a SQLite database filled by direct inserts (the API would take
 * minutes) moves to PostgreSQL with every row, within the test's time, and a bulk key's token works
 * on a server started on the copy. The copy's duration is printed, not asserted.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { generateAppToken } from "../../src/core/tokens.js";
import { hashToken } from "../../src/crypto/token-hash.js";
import { pgCounts, sqliteCounts } from "./copy-support.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { runCli, serve } from "./process.js";

const KEYS = 100_000;
let dir: string | undefined;
let target: TestDatabase | undefined;

afterAll(async () => {
  await target?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Adds `count` active keys with one token each to the account; returns one bulk key's credentials. */
function addKeys(file: string, account: string, count: number): { appKey: string; appToken: string } {
  const db = new SqliteDatabase(file);
  const now = Date.now();
  const appToken = generateAppToken((n) => randomBytes(n), "lkt");
  const first = { appKey: `appkey-${account}-ZZBULK`, appToken };
  try {
    const key = db.prepare(
      `insert into keys (id, app_key, account, name, name_lower, active, created_at, updated_at, token_created_at, last_used_at)
       values (?, ?, ?, ?, ?, 1, ?, ?, ?, 0)`,
    );
    const token = db.prepare(
      "insert into tokens (id, key_id, hash, created_at, slot) values (?, ?, ?, ?, 0)",
    );
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        // Ids in order: each insert appends to the indexes (random ids cost several times as long).
        const id = `bulk-${String(i).padStart(7, "0")}`;
        const name = `Bulk key ${i}`;
        const appKey =
          i === 0 ? first.appKey : `appkey-${account}-B${i.toString(36).toUpperCase().padStart(5, "0")}`;
        key.run(id, appKey, account, name, name.toLowerCase(), now, now, now);
        const hash = i === 0 ? hashToken(appToken) : hashToken(`bulk token ${i}`);
        token.run(`${id}-t`, id, hash, now);
      }
      db.prepare("update key_counts set total = total + ?, active = active + ? where account = ?").run(
        count,
        count,
        account,
      );
    })();
  } finally {
    db.close();
  }
  return first;
}

it(`copies ${KEYS.toLocaleString("en")} keys from SQLite to PostgreSQL`, { timeout: 120_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-copy-scale-"));
  const file = join(dir, "latchkey.db");
  const env = {
    DATA_DIR: dir,
    LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: "",
    LOG_LEVEL: "warn",
  };
  const init = await runCli(["init", "--account", "bulk", "--email", "owner@bulk.test", "--json"], env);
  expect(init.code, init.stderr).toBe(0);
  const built = performance.now();
  const bulk = addKeys(file, "bulk", KEYS);
  console.log(`inserted ${KEYS} keys into SQLite in ${Math.round(performance.now() - built)} ms`);

  target = await createTestDatabase("latchkey_copy_scale");
  const started = performance.now();
  const copy = await runCli(["copy", "--to", target.url, "--json"], env);
  const ms = Math.round(performance.now() - started);
  expect(copy.code, copy.stderr).toBe(0);
  const report = JSON.parse(copy.stdout);
  console.log(
    `latchkey copy: ${report.rows} rows in ${report.tables.length} tables, ${ms} ms (copier ${report.durationMs} ms)`,
  );

  const source = sqliteCounts(file);
  expect(source.keys).toBe(KEYS + 1);
  expect(source.tokens).toBe(KEYS + 1);
  expect(await pgCounts(target.url)).toEqual(source);

  const server = await serve({ ...env, DATABASE_URL: target.url, DATA_DIR: await mkdtemp(join(dir, "pg-")) });
  try {
    const res = await fetch(`${server.url}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(bulk),
    });
    expect(((await res.json()) as { valid: boolean }).valid).toBe(true);
  } finally {
    await server.stop();
  }
});
