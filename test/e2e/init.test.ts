/**
 * `latchkey init` as an operator meets it on day one: it names the database it wrote (SQLite file
 * or PostgreSQL location, never a password) and warns on stderr when no running server uses that
 * database, as when it is run from another directory and makes a second ./data. Its --json errors
 * have the documented shape, on stderr, and every --json output ends with a newline.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { runCli, serve } from "./process.js";

const SECRET = randomBytes(32).toString("hex");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-init-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function init(account: string, env: Record<string, string>, options: { json?: boolean; cwd?: string } = {}) {
  const args = ["init", "--account", account, "--email", `owner@${account}.test`];
  return runCli(
    options.json === false ? args : [...args, "--json"],
    { LATCHKEY_SECRET: SECRET, ...env },
    options,
  );
}

const NO_SERVER = "latchkey: warning: no latchkey server is running on ";

describe("latchkey init on SQLite", () => {
  it("names the file it wrote and warns while no server runs on it", async () => {
    const dataDir = join(dir, "alone");
    const res = await init("acme", { DATA_DIR: dataDir, DATABASE_URL: "" });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.endsWith("}\n")).toBe(true);
    const file = join(dataDir, "latchkey.db");
    expect(JSON.parse(res.stdout).database).toEqual({ kind: "sqlite", location: file });
    expect(res.stderr).toBe(
      `${NO_SERVER}${file}: start yours with DATA_DIR=${dataDir}; if yours is running, it uses another database and will not see this account.\n`,
    );
  });

  it("run from another directory without DATA_DIR, names the ./data it created there", async () => {
    const elsewhere = await mkdtemp(join(dir, "cwd-"));
    const res = await runCli(
      ["init", "--account", "acme", "--email", "owner@acme.test"],
      { DATA_DIR: "", DATABASE_URL: "", LATCHKEY_SECRET: "" },
      { cwd: elsewhere },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`  database: ${join(elsewhere, "data", "latchkey.db")} (SQLite)\n`);
    expect(res.stderr).toContain(`${NO_SERVER}${join(elsewhere, "data", "latchkey.db")}`);
  });

  it("does not warn while a server runs on the file, and does again once it stopped or died", async () => {
    const dataDir = join(dir, "served");
    const env = { DATA_DIR: dataDir, DATABASE_URL: "", LATCHKEY_SECRET: SECRET };
    const server = await serve({ ...env, LOG_LEVEL: "warn" });
    const marker = join(dataDir, "serving.json");
    try {
      expect(JSON.parse(await readFile(marker, "utf8"))).toMatchObject({
        pid: server.child.pid,
        hostname: hostname(),
        url: server.url,
      });
      const served = await init("acme", env, { json: false });
      expect(served.code, served.stderr).toBe(0);
      expect(served.stdout).toContain(`  database: ${join(dataDir, "latchkey.db")} (SQLite)\n`);
      expect(served.stderr).toBe("");
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(existsSync(marker)).toBe(false);
    const stopped = await init("beta", env);
    expect(stopped.stderr).toContain(`${NO_SERVER}${join(dataDir, "latchkey.db")}: start yours`);

    // A server killed without its shutdown leaves the file; its pid no longer runs.
    await writeFile(marker, JSON.stringify({ pid: 2 ** 22 + 1, hostname: hostname(), url: "http://x:1" }));
    const killed = await init("gamma", env);
    expect(killed.stderr).toContain(`(the one that was, pid ${2 ** 22 + 1} at http://x:1, is gone)`);
  }, 120_000);
});

describe("latchkey init on PostgreSQL", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase("latchkey_init");
  });
  afterAll(() => database.drop());

  it("names the database without its password, and warns until a server is connected", async () => {
    const withPassword = new URL(database.url);
    withPassword.password = "not-to-be-printed";
    withPassword.search = "?sslmode=disable";
    const env = { DATABASE_URL: withPassword.toString(), DATA_DIR: join(dir, "pg") };
    const location = `postgres://postgres@${withPassword.host}/${database.name}`;

    const alone = await init("acme", env);
    expect(alone.code, alone.stderr).toBe(0);
    expect(JSON.parse(alone.stdout).database).toEqual({ kind: "postgres", location });
    expect(alone.stderr).toBe(
      `latchkey: warning: no latchkey server is connected to ${location}: start yours with this DATABASE_URL; if yours is running, it uses another database and will not see this account.\n`,
    );

    const server = await serve({ ...env, LATCHKEY_SECRET: SECRET, LOG_LEVEL: "warn" });
    try {
      const served = await init("beta", env, { json: false });
      expect(served.code, served.stderr).toBe(0);
      expect(served.stdout).toContain(`  database: ${location} (PostgreSQL)\n`);
      expect(served.stderr).toBe("");
      for (const out of [alone.stdout, alone.stderr, served.stdout])
        expect(out).not.toContain("not-to-be-printed");
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe("latchkey init --json errors", () => {
  it("prints {code, detail, status} on stderr, one line, and nothing on stdout", async () => {
    const env = { DATA_DIR: join(dir, "errors"), DATABASE_URL: "" };
    expect((await init("acme", env)).code).toBe(0);
    const cases = [
      { args: ["--account", "acme", "--email", "x@acme.test"], code: "ACCOUNT_EXISTS", exit: 1 },
      { args: ["--account", "Bad_Name", "--email", "x@acme.test"], code: "VALIDATION_FAILED", exit: 2 },
      { args: ["--account", "acme"], code: "USAGE", exit: 2 },
    ];
    const runs = await Promise.all(
      cases.map(({ args }) => runCli(["init", ...args, "--json"], { ...env, LATCHKEY_SECRET: SECRET })),
    );
    for (const [i, { code, exit }] of cases.entries()) {
      const res = runs[i] as Awaited<ReturnType<typeof runCli>>;
      expect(res.code, res.stderr).toBe(exit);
      expect(res.stdout).toBe("");
      expect(res.stderr.endsWith("}\n")).toBe(true);
      expect(res.stderr.trimEnd().split("\n")).toHaveLength(1);
      const { error } = JSON.parse(res.stderr);
      expect(Object.keys(error).sort()).toEqual(["code", "detail", "status"]);
      expect(error).toMatchObject({ code, status: null });
      expect(error.detail.length).toBeGreaterThan(5);
    }
    const bad = await runCli(["init", "--account", "acme", "--email", "x@acme.test", "--json"], {
      ...env,
      PORT: "eighty",
    });
    expect(JSON.parse(bad.stderr).error).toMatchObject({ code: "USAGE", status: null });
    // Without --json, people get the message as before.
    const human = await runCli(["init", "--account", "acme", "--email", "x@acme.test"], {
      ...env,
      LATCHKEY_SECRET: SECRET,
    });
    expect(human.stderr).toBe("latchkey: Account acme already exists\n");
  }, 120_000);
});
