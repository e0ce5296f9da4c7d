/**
 * The README's quick start, followed as written by a new operator: the shell lines of its code
 * blocks are read out of README.md and run, in a directory of their own that holds the project
 * (symlinks to this checkout, which `npm test` has installed and built: `npm ci` is the one step
 * not run again here). The only change made to the lines is the port: the documented 8080 may be
 * taken on a test machine, so a free one stands in for it everywhere.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sectionCommands } from "../support/readme.js";
import { freePort } from "./process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

let dir: string;
let server: ChildProcess | undefined;
let log = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-quickstart-"));
  for (const entry of readdirSync(ROOT)) {
    if (entry === "data" || entry === ".git") continue;
    await symlink(join(ROOT, entry), join(dir, entry));
  }
});

afterAll(async () => {
  server?.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (server?.exitCode === null) server.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("README quick start, as written", () => {
  it("serves on the embedded database, creates an account and answers /v1/me with the printed key", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const commands = sectionCommands(readme, "## Quick start");
    expect(commands.slice(0, 2)).toEqual(["npm ci && npm start", "npm test"]);
    const port = String(await freePort());
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: port, HOST: "127.0.0.1", LOG_LEVEL: "info" };
    for (const name of ["DATA_DIR", "DATABASE_URL", "REDIS_URL", "LATCHKEY_SECRET", "PUBLIC_URL"])
      delete env[name];
    const withPort = (command: string) => command.replaceAll(":8080", `:${port}`);

    // `npm start`, in the background, as the first line's second half.
    server = spawn("bash", ["-c", "exec npm start --silent"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout?.on("data", (chunk) => {
      log += chunk;
    });
    server.stderr?.on("data", (chunk) => {
      log += chunk;
    });
    for (const started = Date.now(); !log.includes('"msg":"latchkey listening"'); ) {
      if (Date.now() - started > 90_000 || server.exitCode !== null)
        throw new Error(`npm start did not listen:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(log).toContain('"database":"sqlite"');

    const rest = commands.slice(2);
    const init = rest.find((line) => line.startsWith("npx latchkey init"));
    const curl = rest.find((line) => line.startsWith("curl "));
    expect(init).toBeDefined();
    expect(curl).toBeDefined();
    const created = await run("bash", ["-c", withPort(init as string)], { cwd: dir, env });
    const field = (name: string) => new RegExp(`^\\s*${name}:\\s+(\\S+)`, "m").exec(created.stdout)?.[1];
    const appKey = field("appKey");
    const appToken = field("appToken");
    expect(appKey).toMatch(/^appkey-mystore-/);
    expect(field("database")).toBe(join(dir, "data", "latchkey.db"));

    const me = await run("bash", ["-c", withPort(curl as string)], {
      cwd: dir,
      env: { ...env, APPKEY: appKey as string, APPTOKEN: appToken as string },
    });
    const body = JSON.parse(me.stdout) as { principal?: { type?: string; appKey?: string } };
    expect(body.principal).toMatchObject({ type: "key", appKey });
  }, 240_000);
});
