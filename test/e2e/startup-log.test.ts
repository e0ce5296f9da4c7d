/**
 * What `latchkey serve` says at start about the settings an operator most often leaves at their
 * default: where share links and emails point (PUBLIC_URL, with a warning while it is this
 * machine), and whether Redis is in use, named without its password.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, serve } from "./process.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-startup-log-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Line {
  level: string;
  msg: string;
  publicUrl?: string;
  redis?: string;
}

async function startLog(env: Record<string, string>): Promise<{ lines: Line[]; raw: string }> {
  const server = await serve({
    DATA_DIR: await mkdtemp(join(dir, "data-")),
    LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    LOG_LEVEL: "info",
    ...env,
  });
  expect(await server.stop()).toBe(0);
  const raw = server.log();
  const lines = raw
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Line);
  return { lines, raw };
}

const PUBLIC_URL_WARNING =
  "PUBLIC_URL is this machine: share links and emails point there; set PUBLIC_URL to the URL others reach latchkey at";

describe("start-up log", () => {
  it("with the defaults: says Redis is not in use and warns that PUBLIC_URL is localhost", async () => {
    const { lines } = await startLog({ PUBLIC_URL: "", REDIS_URL: "" });
    const settings = lines.find((line) => line.msg === "start-up settings");
    // serve() sets PORT, so the default PUBLIC_URL names that port.
    expect(settings).toMatchObject({ level: "info", redis: "not in use", workers: 1 });
    expect(settings?.publicUrl).toMatch(/^http:\/\/localhost:\d+$/);
    const warning = lines.find((line) => line.msg === PUBLIC_URL_WARNING);
    expect(warning).toMatchObject({ level: "warn", publicUrl: settings?.publicUrl });
    // After the listening line, so that it is the last thing an operator reads at start.
    const listening = lines.findIndex((line) => line.msg === "latchkey listening");
    expect(listening).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(warning as Line)).toBeGreaterThan(listening);
  }, 60_000);

  it("warns for a loopback address too", async () => {
    const { lines } = await startLog({ PUBLIC_URL: "http://[::1]:8080" });
    expect(lines.find((line) => line.msg === PUBLIC_URL_WARNING)?.publicUrl).toBe("http://[::1]:8080");
  }, 60_000);

  it("names Redis by host and port only, and does not warn for a public PUBLIC_URL", async () => {
    const port = await freePort();
    const { lines, raw } = await startLog({
      PUBLIC_URL: "https://keys.example.com",
      REDIS_URL: `redis://latchkey:s3cret-redis-pw@127.0.0.1:${port}/2`,
    });
    expect(lines.find((line) => line.msg === "start-up settings")).toMatchObject({
      publicUrl: "https://keys.example.com",
      redis: `redis://127.0.0.1:${port}`,
    });
    expect(lines.find((line) => line.msg === PUBLIC_URL_WARNING)).toBeUndefined();
    expect(raw).not.toContain("s3cret-redis-pw");
  }, 60_000);
});
