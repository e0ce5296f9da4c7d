/**
 * scripts/test-env.sh, which `npm test` and .ci/run start with. Its "cannot" paths run with a PATH
 * holding only stand-ins (an `id` that answers the uid asked for, an `apt-get` that writes down its
 * arguments and installs nothing), so nothing on this machine is installed or started; servers are
 * looked for on ports where nothing listens. The last case runs it for real on this machine, with
 * PostgreSQL and Redis running, and checks that it reaches for apt-get not at all.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./e2e/process.js";

const SCRIPT = join(import.meta.dirname, "..", "scripts", "test-env.sh");
const BASH = existsSync("/bin/bash") ? "/bin/bash" : "/usr/bin/bash";

let dir: string;
let nothingThere: { TEST_DATABASE_URL: string; TEST_REDIS_URL: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-test-env-"));
  const [pgPort, redisPort] = [await freePort(), await freePort()];
  nothingThere = {
    TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/test`,
    TEST_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * A directory for PATH with `id -u` answering `uid` and, if asked, an apt-get that only writes
 * its arguments down; `aptCalls()` reads them back.
 */
async function bin(name: string, uid: number, withApt: boolean) {
  const path = join(dir, name);
  const log = join(path, "apt.log");
  await mkdir(path);
  await script(join(path, "id"), `echo ${uid}`);
  if (withApt) await script(join(path, "apt-get"), `echo "$*" >> ${log}`);
  const aptCalls = async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { path, aptCalls };
}

async function script(file: string, body: string): Promise<void> {
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
}

function run(env: Record<string, string>): Promise<{ code: number; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(BASH, [SCRIPT], { env });
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, stderr, ms: performance.now() - started }));
  });
}

describe("scripts/test-env.sh", () => {
  it("stops at once without root, one line per missing piece saying how to get it", async () => {
    const user = await bin("user", 1000, true);
    const res = await run({
      PATH: user.path,
      CHROMIUM_PATH: join(dir, "no-chromium"),
      NGINX_PATH: join(dir, "no-nginx"),
      ...nothingThere,
    });
    expect(res.code).toBe(1);
    expect(res.ms).toBeLessThan(5_000);
    const lines = res.stderr.trimEnd().split("\n");
    const pg = new URL(nothingThere.TEST_DATABASE_URL);
    const redis = new URL(nothingThere.TEST_REDIS_URL);
    expect(lines).toEqual([
      `chromium: CHROMIUM_PATH=${dir}/no-chromium is not an executable; point it at Chromium or unset it (browser tests)`,
      `nginx: NGINX_PATH=${dir}/no-nginx is not an executable; point it at nginx or unset it (gateway tests)`,
      ...["curl", "jq", "python3"].map(
        (tool) =>
          `${tool}: not found; install it with \`sudo apt-get install -y ${tool}\` (the integrator examples in docs/integrators.md run with it)`,
      ),
      "psql: not found; install it with `sudo apt-get install -y postgresql-client` (makes the test database)",
      `PostgreSQL: nothing answers at 127.0.0.1:${pg.port} and it is not installed; install it with \`sudo apt-get install -y postgresql\` (store and end-to-end tests), or set TEST_DATABASE_URL`,
      `Redis: nothing answers at 127.0.0.1:${redis.port} and redis-server is not installed; install it with \`sudo apt-get install -y redis-server\` (rate-limit and multi-instance tests)`,
      "test-env: 8 missing, nothing installed (not root) (see README, Running the tests)",
    ]);
    expect(await user.aptCalls()).toEqual([]);
  });

  it("says why nothing was installed when apt alone would have done it", async () => {
    const user = await bin("user-apt", 1000, true);
    const res = await run({
      PATH: user.path,
      CHROMIUM_PATH: "/bin/sh",
      NGINX_PATH: "/bin/sh",
      ...nothingThere,
    });
    expect(res.code).toBe(1);
    const lines = res.stderr.trimEnd().split("\n");
    expect(lines.map((line) => line.split(":")[0])).toEqual([
      "curl",
      "jq",
      "python3",
      "psql",
      "PostgreSQL",
      "Redis",
      "test-env",
    ]);
    expect(lines.at(-1)).toBe(
      "test-env: 6 missing, nothing installed (not root) (see README, Running the tests)",
    );
    expect(await user.aptCalls()).toEqual([]);
  });

  it("as root without apt-get, names the same pieces, without sudo", async () => {
    const root = await bin("root-no-apt", 0, false);
    const res = await run({
      PATH: root.path,
      CHROMIUM_PATH: "/bin/sh",
      NGINX_PATH: "/bin/sh",
      ...nothingThere,
    });
    expect(res.code).toBe(1);
    expect(res.ms).toBeLessThan(5_000);
    expect(res.stderr).toContain("psql: not found; install it with `apt-get install -y postgresql-client`");
    expect(res.stderr).not.toContain("sudo");
    expect(res.stderr).toContain("6 missing, nothing installed (no apt-get)");
  });

  it.runIf(existsSync("/etc/debian_version"))(
    "as root on Debian, runs apt-get for exactly what is missing, then reports what still is",
    async () => {
      const root = await bin("root", 0, true);
      const res = await run({
        PATH: root.path,
        CHROMIUM_PATH: "/bin/sh",
        NGINX_PATH: "/bin/sh",
        ...nothingThere,
      });
      expect(await root.aptCalls()).toEqual([
        "update -q",
        "install -y -q --no-install-recommends curl jq python3 postgresql-client postgresql redis-server",
      ]);
      expect(res.stderr).toContain(
        "test-env: installing with apt-get: curl jq python3 postgresql-client postgresql redis-server",
      );
      // The stand-in installed nothing, so the same six pieces are still missing.
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("test-env: 6 still missing after apt-get (see README, Running the tests)");
    },
  );

  it("on a machine that has everything running, does nothing and never reaches apt-get", async () => {
    const ready = await bin("ready", 0, true);
    const env: Record<string, string> = {
      PATH: `${ready.path}:${process.env.PATH ?? ""}`,
      CHROMIUM_PATH: "/bin/sh",
      NGINX_PATH: "/bin/sh",
    };
    for (const name of ["TEST_DATABASE_URL", "TEST_REDIS_URL"]) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    const res = await run(env);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.ms).toBeLessThan(5_000);
    expect(await ready.aptCalls()).toEqual([]);
  });
});
