/**
 * `latchkey verify-audit`, the real binary reading the database named by the environment: exit 0 on
 * an intact log, exit 1 naming the first broken event once a stored row was edited behind latchkey's
 * back (SQLite file and PostgreSQL database), exit 2 on bad usage.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./databases.js";
import { runCli } from "./process.js";

interface Target {
  env: Record<string, string>;
  /** Runs one SQL statement on the database, as someone with direct access would. */
  exec(statement: string, params: unknown[]): Promise<{ id: string; seq: number }[]>;
  close(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-verify-audit-"));
  return {
    env: { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex") },
    async exec(statement, params) {
      const db = new SqliteDatabase(join(dir, "latchkey.db"));
      try {
        const prepared = db.prepare(statement);
        if (prepared.reader) return prepared.all(...params) as { id: string; seq: number }[];
        prepared.run(...params);
        return [];
      } finally {
        db.close();
      }
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresTarget(): Promise<Target> {
  const database = await createTestDatabase("latchkey_audit");
  const dir = await mkdtemp(join(tmpdir(), "latchkey-verify-audit-"));
  return {
    env: { DATA_DIR: dir, DATABASE_URL: database.url, LATCHKEY_SECRET: randomBytes(32).toString("hex") },
    async exec(statement, params) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const numbered = statement.replace(
          /\?/g,
          (_, offset: number) => `$${statement.slice(0, offset).split("?").length}`,
        );
        return (await client.query(numbered, params)).rows.map((r) => ({ id: r.id, seq: Number(r.seq) }));
      } finally {
        await client.end();
      }
    },
    async close() {
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ["SQLite", sqliteTarget],
  ["PostgreSQL", postgresTarget],
] as const)("latchkey verify-audit on %s", { timeout: 90_000 }, (_label, open) => {
  let target: Target;

  beforeAll(async () => {
    target = await open();
    for (const account of ["acme", "beta"]) {
      const init = await runCli(
        ["init", "--account", account, "--email", `owner@${account}.test`, "--json"],
        target.env,
      );
      expect(init.code, init.stderr).toBe(0);
    }
  });
  afterAll(() => target?.close());

  it("exits 0 on an intact log, every account checked", async () => {
    const res = await runCli(["verify-audit", "--json"], target.env);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({ ok: true, checked: 6, firstBroken: null });
    expect(report.accounts.map((a: { account: string }) => a.account)).toEqual(["acme", "beta"]);
    const human = await runCli(["verify-audit", "--account", "beta"], target.env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("Audit log intact: 3 event(s) in 1 account(s).");
  });

  it("exits 1 naming the first broken event once a stored row was edited", async () => {
    const rows = await target.exec("select id, seq from audit_events where account = ? order by seq", [
      "acme",
    ]);
    const middle = rows[1] as { id: string; seq: number };
    await target.exec("update audit_events set data = ? where id = ?", [
      '{"after":{"email":"evil@x.test"}}',
      middle.id,
    ]);
    const json = await runCli(["verify-audit", "--json"], target.env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      firstBroken: { account: "acme", id: middle.id, seq: middle.seq, reason: "hash_mismatch" },
    });
    const human = await runCli(["verify-audit", "--account", "acme"], target.env);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`BROKEN in acme at event ${middle.id}`);
    // The other account's chain is its own: still intact.
    expect((await runCli(["verify-audit", "--account", "beta"], target.env)).code).toBe(0);
  });

  it("exits 2 on a bad account name", async () => {
    const res = await runCli(["verify-audit", "--account", "Not An Account"], target.env);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("--account");
  });
});
