/**
 * `npm start` as a supervisor runs it: SIGTERM goes to the npm process, and the server must get it
 * too, shut down and leave no process behind (no `sh -c` between npm and node to swallow it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./process.js";

const ROOT = join(import.meta.dirname, "..", "..");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-npm-start-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function within(ms: number, condition: () => boolean | Promise<boolean>): Promise<boolean> {
  for (const started = performance.now(); performance.now() - started < ms; ) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

/** Waits for the "latchkey listening" line and returns the pid it was logged by. */
function listeningPid(npm: ChildProcess, log: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen:\n${log()}`)), 30_000);
    npm.on("exit", () => reject(new Error(`npm start exited:\n${log()}`)));
    npm.stdout?.on("data", () => {
      const line = log()
        .split("\n")
        .find((l) => l.includes('"msg":"latchkey listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { pid: number }).pid);
    });
  });
}

describe("npm start", () => {
  it("passes SIGTERM to the server, which stops and leaves no process behind", async () => {
    const port = await freePort();
    const { MALLOC_ARENA_MAX: _, ...env } = process.env;
    const npm = spawn("npm", ["start", "--silent"], {
      cwd: ROOT,
      env: {
        ...env,
        DATA_DIR: dir,
        PORT: String(port),
        HOST: "127.0.0.1",
        LATCHKEY_SECRET: randomBytes(32).toString("hex"),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    npm.stdout.on("data", (chunk) => {
      log += chunk;
    });
    npm.stderr.on("data", (chunk) => {
      log += chunk;
    });
    const npmExited = new Promise<void>((resolve) => npm.on("exit", () => resolve()));
    const pid = await listeningPid(npm, () => log);
    try {
      expect(pid).not.toBe(npm.pid);
      expect(await accepts(port)).toBe(true);
      // The default the start script gives, which the server must still get.
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      expect(environ).toContain("MALLOC_ARENA_MAX=2");
      // And the young generation's bound (README, Operations).
      const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
      expect(argv).toContain("--max-semi-space-size=4");

      npm.kill("SIGTERM");
      expect(await within(5_000, () => !alive(pid)), `server ${pid} still runs:\n${log}`).toBe(true);
      expect(await accepts(port)).toBe(false);
      await Promise.race([npmExited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      expect(npm.exitCode !== null || npm.signalCode !== null).toBe(true);
      expect(log).toContain('"signal":"SIGTERM"');
      expect(log).toContain("latchkey stopped");
    } finally {
      if (alive(pid)) process.kill(pid, "SIGKILL");
      if (npm.exitCode === null) npm.kill("SIGKILL");
    }
  }, 60_000);
});
