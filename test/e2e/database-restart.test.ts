/**
 * PostgreSQL restarted under running instances: A reaches it directly, B through a loopback proxy
 * that the test kills (every connection of B drops, its pooled ones and its LISTEN one, as a
 * restart drops them) and then brings back on the same port. While B cannot reach the database it
 * stays up, /readyz answers 503 naming it, and requests that need it get 503 UNAVAILABLE, never a
 * 500. Once it is back B recovers without a restart: ready again, serving, and hearing A's changes
 * (a key deactivated on A is refused by B within 1 s).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { authorizeStatus, overHttp, timeUntil } from "../support/instances.js";
import { TEST_PG_URL } from "../support/stores.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { callAs, runCli, type Served, serve } from "./process.js";

const OMS_READ = 10;
const PG_PORT = Number(new URL(TEST_PG_URL).port || 5432);

let database: TestDatabase;
let dataDir: string;
let owner: { appKey: string; appToken: string };
let proxy: TcpProxy;
let a: Served;
let b: Served;

beforeAll(async () => {
  database = await createTestDatabase("latchkey_pgrestart");
  dataDir = await mkdtemp(join(tmpdir(), "latchkey-pgrestart-"));
  const env = {
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    LOG_LEVEL: "info",
  };
  const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
  expect(init.code, init.stderr).toBe(0);
  owner = JSON.parse(init.stdout);
  proxy = await startTcpProxy(PG_PORT);
  const proxied = new URL(database.url);
  proxied.port = String(proxy.port);
  [a, b] = await Promise.all([serve(env), serve({ ...env, DATABASE_URL: proxied.toString() })]);
}, 30_000);

afterAll(async () => {
  await Promise.all([a, b].map((s) => (s && s.child.exitCode === null ? s.stop() : undefined)));
  await proxy?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const authorize = (server: Served, key: { appKey: string; appToken: string }) =>
  authorizeStatus(overHttp(server.url), key);

async function readyz(server: Served) {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { dependency?: string } };
}

it("keeps B up and answering 503 while PostgreSQL is gone, and recovers it without a restart", async () => {
  const created = await callAs(a.url, owner, "POST", "/v1/accounts/acme/keys", {
    name: "erp",
    roles: [OMS_READ],
  });
  expect(created.status).toBe(201);
  const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
  const path = `/v1/accounts/acme/keys/${key.appKey}`;
  const leaked = await callAs(a.url, owner, "POST", "/v1/accounts/acme/keys", { name: "leaked", roles: [] });
  expect(leaked.status).toBe(201);
  expect(await timeUntil(async () => (await readyz(b)).status === 200, 10_000)).toBeGreaterThanOrEqual(0);
  // B's pool holds idle connections, and its key cache the key.
  expect((await callAs(b.url, owner, "GET", "/v1/accounts/acme/keys")).status).toBe(200);
  expect(await authorize(b, key)).toBe(200);

  await proxy.close();
  const down = await readyz(b);
  expect(down.status).toBe(503);
  expect(down.body.dependency).toBe("database");
  expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  // What needs the database: the gateway's check (the cache is not trusted once the bus is seen
  // down, within the 1 s bound), an API call, a sign-in, a leak report.
  expect(await timeUntil(async () => (await authorize(b, key)) === 503, 1000)).toBeGreaterThanOrEqual(0);
  const answers = [
    await callAs(b.url, owner, "GET", "/v1/accounts/acme/keys"),
    await callAs(b.url, owner, "POST", "/v1/auth/login", { email: "owner@acme.test", password: "x" }),
    await callAs(b.url, owner, "POST", "/v1/credentials/revoke", { tokens: [leaked.json.appToken] }),
  ];
  for (const answer of answers) expect(answer).toMatchObject({ status: 503, json: { code: "UNAVAILABLE" } });
  // Changed on A meanwhile: B cannot have heard of it.
  expect((await callAs(a.url, owner, "PATCH", path, { active: false })).status).toBe(200);

  proxy = await startTcpProxy(PG_PORT, proxy.port);
  expect(await timeUntil(async () => (await readyz(b)).status === 200, 15_000)).toBeGreaterThanOrEqual(0);
  expect(await authorize(b, key)).toBe(401);
  expect((await callAs(b.url, owner, "GET", "/v1/accounts/acme/keys")).status).toBe(200);
  // And B hears A's changes again.
  expect((await callAs(a.url, owner, "PATCH", path, { active: true })).status).toBe(200);
  expect(await timeUntil(async () => (await authorize(b, key)) === 200, 1000)).toBeGreaterThanOrEqual(0);
  expect((await callAs(a.url, owner, "PATCH", path, { active: false })).status).toBe(200);
  const refused = await timeUntil(async () => (await authorize(b, key)) === 401, 1000);
  expect(refused).toBeGreaterThanOrEqual(0);
  expect(refused).toBeLessThan(1000);

  expect(b.child.exitCode).toBeNull();
  expect(b.log()).not.toMatch(/"status":500/);
  expect(b.log()).not.toContain("unhandled error");
}, 30_000);
