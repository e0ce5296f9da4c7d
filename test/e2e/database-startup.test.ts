/**
 * `latchkey serve` started while its PostgreSQL cannot be reached (DATABASE_URL points at a closed
 * port, where a loopback proxy to the test server opens later): it listens at once, is alive but
 * not ready (naming the database), answers every other request 503 UNAVAILABLE, logs each retry
 * without the URL's password, and serves once the database appears. SIGTERM while it waits ends it
 * at once with code 0; an error that waiting does not cure (a secret that does not open the signing
 * keys) still ends the start with one line and code 1 once the database is reached.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_PG_URL } from "../support/stores.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { callAs, freePort, runCli, type Served, serve } from "./process.js";

const PASSWORD = "never-logged-7f3a";
const PG_PORT = Number(new URL(TEST_PG_URL).port || 5432);

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let owner: { appKey: string; appToken: string };
const closing: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  database = await createTestDatabase("latchkey_dbstart");
  dataDir = await mkdtemp(join(tmpdir(), "latchkey-dbstart-"));
  env = { DATA_DIR: dataDir, DATABASE_URL: database.url, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
  const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
  expect(init.code, init.stderr).toBe(0);
  owner = JSON.parse(init.stdout);
});

afterAll(async () => {
  for (const close of closing.splice(0).reverse()) await close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** DATABASE_URL through `port` (nothing listens there until a proxy is started on it), with a password. */
function throughPort(port: number): string {
  const url = new URL(database.url);
  url.port = String(port);
  url.password = PASSWORD;
  return url.toString();
}

async function serveWaiting(extra: Record<string, string> = {}): Promise<{ server: Served; port: number }> {
  const port = await freePort();
  const server = await serve({ ...env, DATABASE_URL: throughPort(port), ...extra }, { untilAlive: true });
  closing.push(async () => {
    if (server.child.exitCode === null) await server.stop();
  });
  return { server, port };
}

async function proxyOn(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(PG_PORT, port);
  closing.push(() => proxy.close());
  return proxy;
}

async function until(check: () => boolean | Promise<boolean>, withinMs: number): Promise<boolean> {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

const retries = (log: string) => log.split("\n").filter((line) => line.includes("unreachable; retrying in"));

describe("serve with the database unreachable at start", () => {
  it("is alive, not ready, answers 503, logs its retries, and serves once the database appears", async () => {
    const { server, port } = await serveWaiting();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ code: "NOT_READY", dependency: "database" });

    const api = await callAs(server.url, owner, "GET", "/v1/accounts/acme/keys");
    expect(api.status).toBe(503);
    expect(api.json).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    const vtex = await fetch(`${server.url}/api/vlm/appkeys?an=acme`, {
      headers: { "x-vtex-api-appkey": owner.appKey, "x-vtex-api-apptoken": owner.appToken },
    });
    expect(vtex.status).toBe(503);
    expect(Object.keys((await vtex.json()) as object)).toEqual(["Message"]);
    const gateway = await fetch(`${server.url}/v1/authorize`, {
      headers: { "x-api-appkey": owner.appKey, "x-api-apptoken": owner.appToken, "x-original-uri": "/x" },
    });
    expect(gateway.status).toBe(503);
    expect(gateway.headers.get("x-auth-code")).toBe("UNAVAILABLE");

    expect(await until(() => retries(server.log()).length >= 2, 5000)).toBe(true);
    const [first, second] = retries(server.log()).map((line) => JSON.parse(line));
    expect(first).toMatchObject({ level: "warn", dependency: "database", attempt: 1, retryInMs: 100 });
    expect(second).toMatchObject({ attempt: 2, retryInMs: 200 });
    expect(first.msg).toBe(`database at 127.0.0.1:${port} unreachable; retrying in 100 ms`);
    expect(server.log()).not.toContain("latchkey listening");

    await proxyOn(port);
    const readyz = async () => (await fetch(`${server.url}/readyz`)).status === 200;
    expect(await until(readyz, 15_000)).toBe(true);
    expect(server.log()).toContain('"msg":"latchkey listening"');
    const keys = await callAs(server.url, owner, "GET", "/v1/accounts/acme/keys");
    expect(keys.status).toBe(200);
    expect(keys.json.items.map((key: { appKey: string }) => key.appKey)).toContain(owner.appKey);
    expect(server.log()).not.toContain(PASSWORD);
    expect(server.log()).not.toMatch(/"level":"(error|fatal)"/);
    expect(await server.stop()).toBe(0);
  }, 30_000);

  it("exits 0 at once on SIGTERM while waiting", async () => {
    const { server } = await serveWaiting();
    expect(await until(() => retries(server.log()).length >= 1, 5000)).toBe(true);
    const signalled = performance.now();
    expect(await server.stop()).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(2000);
    expect(server.log()).toContain('"msg":"latchkey stopped"');
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  }, 30_000);

  it("still stops with one line and code 1 when the reached database refuses the secret", async () => {
    const rotated = await runCli(["signing-keys", "rotate"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const { server, port } = await serveWaiting({ LATCHKEY_SECRET: randomBytes(32).toString("hex") });
    const exited = new Promise<number>((resolve) => server.child.on("exit", (code) => resolve(code ?? -1)));
    let stderr = "";
    server.child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    await proxyOn(port);
    expect(await exited).toBe(1);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toContain(
      "latchkey: LATCHKEY_SECRET does not open the signing keys sealed in the database",
    );
    expect(server.log()).not.toContain("latchkey listening");
  }, 30_000);
});
