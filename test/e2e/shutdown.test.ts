/**
 * `latchkey serve` always ends after SIGTERM: with the reader of its stdout gone, and with a
 * request that never finishes (SHUTDOWN_TIMEOUT). A mail already started (a password-reset link)
 * is sent before it exits.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtp } from "../notify/peers.js";
import { BIN, freePort, requestInFlight } from "./process.js";

const SECRET = randomBytes(32).toString("hex");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-shutdown-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function start(env: Record<string, string>, dataDir = dir) {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve"], {
    env: {
      ...process.env,
      LOG_LEVEL: "debug",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      LATCHKEY_SECRET: SECRET,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (chunk) => {
    log += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const url = `http://127.0.0.1:${port}`;
  for (const started = performance.now(); ; ) {
    const up = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (up) break;
    if (performance.now() - started > 30_000 || child.exitCode !== null)
      throw new Error(`latchkey serve did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { child, url, exited, log: () => log };
}

describe("shutdown", () => {
  it("exits after SIGTERM although its stdout is blocked and then its reader gone", async () => {
    const server = await start({ SHUTDOWN_TIMEOUT: "20" });
    // The reader stops reading: the pipe fills and log lines pile up in the server.
    server.child.stdout.pause();
    for (let i = 0; i < 15; i++)
      await Promise.all(
        Array.from({ length: 100 }, () => fetch(`${server.url}/healthz`).then((r) => r.text())),
      );
    const signalled = performance.now();
    server.child.kill("SIGTERM");
    // Then the reader goes away (a supervisor that dies with it).
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.child.stdout.destroy();
    const exit = await Promise.race([
      server.exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
    ]);
    if (exit === null) server.child.kill("SIGKILL");
    expect(exit).not.toBeNull();
    expect(exit?.code).toBe(0);
    // Well inside SHUTDOWN_TIMEOUT: the failing stdout held nothing up.
    expect((exit?.at ?? Number.POSITIVE_INFINITY) - signalled).toBeLessThan(10_000);
  }, 60_000);

  it("exits with code 1 at SHUTDOWN_TIMEOUT when a request does not finish", async () => {
    const server = await start({ SHUTDOWN_TIMEOUT: "2" });
    // A client that announces a body and never sends it keeps its request in flight.
    const hanging = await requestInFlight(server.url);
    const signalled = performance.now();
    server.child.kill("SIGTERM");
    const exit = await Promise.race([
      server.exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
    ]);
    if (exit === null) server.child.kill("SIGKILL");
    hanging.destroy();
    expect(exit?.code).toBe(1);
    const took = (exit?.at ?? Number.POSITIVE_INFINITY) - signalled;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(6000);
    expect(server.log()).toContain("shutdown deadline passed");
  }, 60_000);

  it("sends a reset mail already started before it exits", async () => {
    const smtp = await startSmtp({ acceptAfterMs: 1500 });
    const own = await mkdtemp(join(tmpdir(), "latchkey-shutdown-mail-"));
    try {
      const init = spawnSync(
        process.execPath,
        [BIN, "init", "--account", "acme", "--email", "owner@acme.test", "--password", "owner's password 1"],
        { env: { ...process.env, DATA_DIR: own, LATCHKEY_SECRET: SECRET }, encoding: "utf8" },
      );
      expect(init.status, init.stderr).toBe(0);
      const server = await start({ SHUTDOWN_TIMEOUT: "20", SMTP_URL: smtp.url }, own);
      const asked = await fetch(`${server.url}/v1/auth/password-reset`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "owner@acme.test" }),
      });
      expect(asked.status).toBe(202);
      // The mail server takes 1.5 s to accept the connection; SIGTERM comes at once.
      server.child.kill("SIGTERM");
      const exit = await Promise.race([
        server.exited,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
      ]);
      if (exit === null) server.child.kill("SIGKILL");
      expect(exit?.code).toBe(0);
      expect(smtp.mails.map((mail) => mail.to)).toEqual([["owner@acme.test"]]);
      expect(smtp.mails[0]?.text).toMatch(/reset-password#code=/);
    } finally {
      await smtp.close();
      await rm(own, { recursive: true, force: true });
    }
  }, 60_000);
});
