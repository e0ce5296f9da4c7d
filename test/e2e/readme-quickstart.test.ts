/**
 * The README's quick start and its "Moving to PostgreSQL", followed as written by a new operator:
 * the shell lines of their code blocks are read out of README.md and run, in a directory of their
 * own that holds the project (symlinks to this checkout, which `npm test` has installed and built:
 * `npm ci` is the one step not run again here). What is changed in the lines: the port (the
 * documented 8080 may be taken on a test machine, so a free one stands in for it everywhere) and
 * the example database address (`TARGET=…`), which becomes a fresh database on the test server.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sectionCommands } from "../support/readme.js";
import { TEST_PG_URL } from "../support/stores.js";
import { freePort } from "./process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const run = promisify(execFile);
const database = `latchkey_readme_${randomBytes(4).toString("hex")}`;

let dir: string;
let port: string;
let env: NodeJS.ProcessEnv;
let server: { process: ChildProcess; log: () => string } | undefined;
const credentials = { appKey: "", appToken: "" };

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs `script` with bash in the project's directory until it logs "latchkey listening". */
async function startServing(script: string): Promise<{ process: ChildProcess; log: () => string }> {
  const child = spawn("bash", ["-c", script], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  for (const started = Date.now(); !log.includes('"msg":"latchkey listening"'); ) {
    if (Date.now() - started > 90_000 || child.exitCode !== null)
      throw new Error(`the server did not listen:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: child, log: () => log };
}

async function stopServing(): Promise<void> {
  const serving = server?.process;
  server = undefined;
  if (!serving || serving.exitCode !== null) return;
  const exited = new Promise((resolve) => serving.once("exit", resolve));
  serving.kill("SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (serving.exitCode === null) serving.kill("SIGKILL");
}

const withPort = (command: string) => command.replaceAll(":8080", `:${port}`);

/** `curl` of the quick start, as written, with the key init printed. */
async function me(curl: string): Promise<{ principal?: { type?: string; appKey?: string } }> {
  const answer = await run("bash", ["-c", withPort(curl)], {
    cwd: dir,
    env: { ...env, APPKEY: credentials.appKey, APPTOKEN: credentials.appToken },
  });
  return JSON.parse(answer.stdout);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-quickstart-"));
  for (const entry of readdirSync(ROOT)) {
    if (entry === "data" || entry === ".git") continue;
    await symlink(join(ROOT, entry), join(dir, entry));
  }
  port = String(await freePort());
  env = { ...process.env, PORT: port, HOST: "127.0.0.1", LOG_LEVEL: "info" };
  for (const name of ["DATA_DIR", "DATABASE_URL", "REDIS_URL", "LATCHKEY_SECRET", "PUBLIC_URL", "PGPASSWORD"])
    delete env[name];
});

afterAll(async () => {
  await stopServing();
  await admin(`drop database if exists ${database}`).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe("README, followed as written", () => {
  const quickStart = sectionCommands(README, "## Quick start");
  const curl = quickStart.find((line) => line.startsWith("curl "));

  it("quick start: serves on the embedded database, creates an account, answers /v1/me with the printed key", async () => {
    expect(quickStart.slice(0, 2)).toEqual(["npm ci && npm start", "npm test"]);
    // `npm start`, in the background, as the first line's second half.
    server = await startServing("exec npm start --silent");
    expect(server.log()).toContain('"database":"sqlite"');

    const init = quickStart.find((line) => line.startsWith("npx latchkey init"));
    expect(init).toBeDefined();
    expect(curl).toBeDefined();
    const created = await run("bash", ["-c", withPort(init as string)], { cwd: dir, env });
    const field = (name: string) => new RegExp(`^\\s*${name}:\\s+(\\S+)`, "m").exec(created.stdout)?.[1];
    credentials.appKey = field("appKey") ?? "";
    credentials.appToken = field("appToken") ?? "";
    expect(credentials.appKey).toMatch(/^appkey-mystore-/);
    expect(field("database")).toBe(join(dir, "data", "latchkey.db"));

    expect((await me(curl as string)).principal).toMatchObject({ type: "key", appKey: credentials.appKey });
  }, 240_000);

  it("moving to PostgreSQL: the same key works on the copy, started as the section says", async () => {
    expect(credentials.appKey, "the quick start ran first").not.toBe("");
    const lines = sectionCommands(README, "### Moving to PostgreSQL");
    const target = lines.findIndex((line) => line.startsWith("TARGET="));
    expect(target).toBeGreaterThanOrEqual(0);
    expect(lines.at(-1)).toBe('DATABASE_URL="$TARGET" npm start');
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${database}`;
    lines[target] = `TARGET=${url.href}`;
    await admin(`create database ${database}`);

    // 1. Stop the server.
    await stopServing();
    // 2. and 3., as one shell session: the exports hold for the start at the end.
    server = await startServing(`set -e\n${lines.map(withPort).join("\n")}`);
    expect(server.log()).toContain('"database":"postgres"');
    expect(server.log()).not.toContain(credentials.appToken);

    expect((await me(curl as string)).principal).toMatchObject({ type: "key", appKey: credentials.appKey });
  }, 240_000);
});
