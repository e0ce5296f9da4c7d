/**
 * `latchkey serve` started with REDIS_URL unreachable: it serves and is ready (changes between
 * instances go through the database's change journal), says on /readyz that Redis is degraded,
 * logs each retry with its delay, and a SIGTERM while it waits ends it at once with code 0.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort, serve } from "./process.js";

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "latchkey-bus-start-"));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

it("serves with an unreachable Redis, ready but degraded, and honours SIGTERM meanwhile", async () => {
  const redisPort = await freePort();
  const server = await serve({
    DATA_DIR: dataDir,
    LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  });
  try {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      status: string;
      degraded: Array<{ dependency: string; detail: string }>;
    };
    expect(body.status).toBe("ready");
    expect(body.degraded[0]?.dependency).toBe("redis");
    expect(body.degraded[0]?.detail).toContain("database journal");
    const started = performance.now();
    while (!server.log().includes("unreachable; retrying in") && performance.now() - started < 5000)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(server.log()).toContain(`Redis at 127.0.0.1:${redisPort} unreachable; retrying in`);
  } finally {
    const stopping = performance.now();
    expect(await server.stop()).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(5000);
  }
}, 30_000);
