/**
 * Start-up hardening of what latchkey keeps at rest, against the real binary (bin/latchkey.mjs over
 * dist/: build first): the SQLite database and its -wal and -shm files are owner-only, also when
 * they were not; a secret file is held to LATCHKEY_SECRET's rule; a secret that does not open the
 * sealed JWT signing keys stops `serve` and `signing-keys rotate` with one line, on SQLite and
 * PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./databases.js";
import { freePort, runCli, type Served, serve } from "./process.js";

const WRONG_SECRET =
  "LATCHKEY_SECRET does not open the signing keys sealed in the database: it is not the secret they were sealed with";

let dir: string;
/** NODE_OPTIONS that start the process with umask 000: every mode below is latchkey's own doing. */
let openUmask: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-startup-storage-"));
  const preload = join(dir, "umask.mjs");
  await writeFile(preload, "process.umask(0o000);\n");
  openUmask = `--import=${pathToFileURL(preload).href}`;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function modeOf(file: string): string {
  return (statSync(file).mode & 0o777).toString(8).padStart(4, "0");
}

function sqliteFiles(dataDir: string): string[] {
  const db = join(dataDir, "latchkey.db");
  return [db, `${db}-wal`, `${db}-shm`];
}

/** Runs `serve` expecting it to stop at start; should it listen instead, on loopback, and not for long. */
async function serveExpectingRefusal(env: Record<string, string>) {
  const address = { HOST: "127.0.0.1", PORT: String(await freePort()) };
  return runCli(["serve"], { ...env, ...address }, { killAfterMs: 15_000 });
}

/**
 * `serve`, once it has logged that it listens: /healthz answers a little before the SIGTERM handler
 * is installed, and a stop sent in between ends the process by the signal (code -1).
 */
async function serveReady(env: Record<string, string>): Promise<Served> {
  const server = await serve(env);
  const deadline = Date.now() + 15_000;
  while (!server.log().includes('"msg":"latchkey listening"')) {
    if (Date.now() > deadline) throw new Error(`no "latchkey listening" line:\n${server.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return server;
}

async function init(env: Record<string, string>) {
  const res = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as { appKey: string; appToken: string };
}

function appTokenLogin(url: string, key: { appKey: string; appToken: string }) {
  return fetch(`${url}/v1/auth/apptoken`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ appKey: key.appKey, appToken: key.appToken }),
  });
}

describe("SQLite files at rest", () => {
  it("creates the data directory 0700 and the database, WAL and SHM 0600, even under umask 000", async () => {
    const dataDir = join(dir, "fresh", "data");
    const env = { DATA_DIR: dataDir, LATCHKEY_SECRET: "", DATABASE_URL: "", NODE_OPTIONS: openUmask };
    const server = await serveReady(env);
    try {
      expect(modeOf(dataDir)).toBe("0700");
      expect(modeOf(join(dataDir, "secret"))).toBe("0600");
      for (const file of sqliteFiles(dataDir)) expect(modeOf(file), file).toBe("0600");
      // Writes by the server (the first signing key) and by a CLI process beside it.
      const owner = await init(env);
      expect((await appTokenLogin(server.url, owner)).status).toBe(200);
      expect(statSync(`${join(dataDir, "latchkey.db")}-wal`).size).toBeGreaterThan(0);
      for (const file of sqliteFiles(dataDir)) expect(modeOf(file), file).toBe("0600");
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(modeOf(join(dataDir, "latchkey.db"))).toBe("0600");
  });

  it("tightens a database, WAL, SHM and secret left readable by others, and says so in the log", async () => {
    const dataDir = join(dir, "loose");
    const env = { DATA_DIR: dataDir, LATCHKEY_SECRET: "", DATABASE_URL: "" };
    const migrated = await runCli(["migrate"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const [db, wal, shm] = sqliteFiles(dataDir) as [string, string, string];
    expect(modeOf(db)).toBe("0600");
    // As an older latchkey left them: SQLite's default 0644, and a WAL and SHM of the same mode.
    await chmod(db, 0o644);
    await writeFile(wal, "", { mode: 0o644 });
    await writeFile(shm, "", { mode: 0o644 });
    await chmod(wal, 0o644);
    await chmod(shm, 0o644);
    const secret = join(dataDir, "secret");
    await writeFile(secret, `${"s".repeat(40)}\n`, { mode: 0o644 });
    await chmod(secret, 0o644);
    const server = await serveReady(env);
    try {
      for (const file of [db, wal, shm, secret]) expect(modeOf(file), file).toBe("0600");
      const warning = server
        .log()
        .split("\n")
        .find((line) => line.includes("tightened to 0600"));
      expect(warning).toBeDefined();
      const logged = JSON.parse(warning ?? "{}") as { level: string; files: unknown };
      expect(logged.level).toBe("warn");
      expect(logged.files).toEqual([
        { file: db, was: "0644", tightened: true },
        { file: wal, was: "0644", tightened: true },
        { file: shm, was: "0644", tightened: true },
        { file: secret, was: "0644", tightened: true },
      ]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("the secret file", () => {
  it("refuses a DATA_DIR/secret shorter than 32 characters like LATCHKEY_SECRET (exit 1)", async () => {
    const dataDir = join(dir, "short-secret");
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, "secret");
    await writeFile(file, "only-nineteen-chars\n", { mode: 0o600 });
    const res = await serveExpectingRefusal({ DATA_DIR: dataDir, LATCHKEY_SECRET: "", DATABASE_URL: "" });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`latchkey: secret file ${file}: must be at least 32 characters, got 19\n`);
    // The same words as for the variable.
    const fromEnv = await serveExpectingRefusal({
      DATA_DIR: dataDir,
      LATCHKEY_SECRET: "only-nineteen-chars",
    });
    expect(fromEnv.stderr).toContain("LATCHKEY_SECRET: must be at least 32 characters, got 19");
  });
});

describe("a LATCHKEY_SECRET that does not open the signing keys", () => {
  async function expectRefused(env: Record<string, string>) {
    const served = await serveExpectingRefusal(env);
    expect(served.code).toBe(1);
    expect(served.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(served.stderr).toContain(`latchkey: ${WRONG_SECRET}`);
    expect(served.stdout).not.toContain("latchkey listening");
    const rotated = await runCli(["signing-keys", "rotate"], env);
    expect(rotated.code).toBe(1);
    expect(rotated.stderr).toContain(`latchkey: ${WRONG_SECRET}`);
  }

  it("stops serve and signing-keys rotate on SQLite; rotate --secret-changed replaces the keys", async () => {
    const dataDir = join(dir, "wrong-sqlite");
    const env = { DATA_DIR: dataDir, LATCHKEY_SECRET: "", DATABASE_URL: "" };
    const owner = await init(env);
    const created = await runCli(["signing-keys", "rotate", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const { kid } = JSON.parse(created.stdout) as { kid: string };
    const wrong = { ...env, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
    await expectRefused(wrong);

    const replaced = await runCli(["signing-keys", "rotate", "--secret-changed", "--json"], wrong);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ previousKid: kid });
    const server = await serveReady(wrong);
    try {
      expect((await appTokenLogin(server.url, owner)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // Now the generated secret is the one that does not open them.
    await expectRefused(env);
  }, 90_000);

  it("stops serve and signing-keys rotate on PostgreSQL", async () => {
    const database = await createTestDatabase("latchkey_secret");
    const env = {
      DATA_DIR: join(dir, "wrong-postgres"),
      DATABASE_URL: database.url,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    };
    try {
      await init(env);
      const created = await runCli(["signing-keys", "rotate"], env);
      expect(created.code, created.stderr).toBe(0);
      await expectRefused({ ...env, LATCHKEY_SECRET: randomBytes(32).toString("hex") });
      // The right secret still starts.
      const server = await serveReady(env);
      expect(await server.stop()).toBe(0);
    } finally {
      await database.drop();
    }
  }, 90_000);
});
