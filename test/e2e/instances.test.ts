/**
 * Several server instances on one PostgreSQL: a change made through one instance is seen by the
 * others within a second, through PostgreSQL LISTEN/NOTIFY, or through Redis pub/sub when
 * REDIS_URL is set. Both instances are real `latchkey serve` processes with warm caches; usage
 * counted by both is flushed at shutdown and adds up.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authorizeStatus,
  cacheMisses as missesOf,
  overHttp,
  timeUntil as pollUntil,
} from "../support/instances.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { callAs, runCli, type Served, serve } from "./process.js";

const OMS_READ = 10;

describe.each([
  ["PostgreSQL LISTEN/NOTIFY", false],
  ["Redis pub/sub", true],
] as const)("two instances on one PostgreSQL, changes through %s", (_label, withRedis) => {
  let env: Record<string, string>;
  let a: Served;
  let b: Served;
  let owner: { appKey: string; appToken: string };
  let database: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase("latchkey_multi");
    dataDir = await mkdtemp(join(tmpdir(), "latchkey-multi-"));
    env = {
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      LOG_LEVEL: "info",
      ...(withRedis ? { REDIS_URL: "redis://127.0.0.1:6379" } : {}),
    };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout);
    [a, b] = await Promise.all([serve(env), serve(env)]);
  });

  afterAll(async () => {
    await Promise.all([a, b].map((s) => (s && s.child.exitCode === null ? s.stop() : undefined)));
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const call = (server: Served, method: string, path: string, body?: unknown) =>
    callAs(server.url, owner, method, path, body);

  const authorize = (server: Served, key: { appKey: string; appToken: string }) =>
    authorizeStatus(overHttp(server.url), key);

  /** Milliseconds until `server` answers `status` for `key`, polling every 10 ms, or -1 after 3 s. */
  const timeUntil = (server: Served, key: { appKey: string; appToken: string }, status: number) =>
    pollUntil(async () => (await authorize(server, key)) === status);

  it("refuses a key on the other instance within 1 s of its deactivation, role change or deletion", async () => {
    const created = await call(a, "POST", "/v1/accounts/acme/keys", { name: "erp", roles: [OMS_READ] });
    expect(created.status).toBe(201);
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    const path = `/v1/accounts/acme/keys/${key.appKey}`;
    // Both instances have the key cached as allowed.
    expect(await authorize(a, key)).toBe(200);
    expect(await authorize(b, key)).toBe(200);

    expect((await call(a, "PATCH", path, { active: false })).status).toBe(200);
    expect(await authorize(a, key)).toBe(401);
    const deactivated = await timeUntil(b, key, 401);
    expect(deactivated).toBeGreaterThanOrEqual(0);
    expect(deactivated).toBeLessThan(1000);

    expect((await call(b, "PATCH", path, { active: true })).status).toBe(200);
    const reactivated = await timeUntil(a, key, 200);
    expect(reactivated).toBeGreaterThanOrEqual(0);
    expect(reactivated).toBeLessThan(1000);

    expect((await call(a, "PUT", `${path}/roles`, { roles: [] })).status).toBe(200);
    const rolesTaken = await timeUntil(b, key, 403);
    expect(rolesTaken).toBeGreaterThanOrEqual(0);
    expect(rolesTaken).toBeLessThan(1000);

    expect((await call(b, "PUT", `${path}/roles`, { roles: [OMS_READ] })).status).toBe(200);
    expect(await timeUntil(a, key, 200)).toBeGreaterThanOrEqual(0);
    expect((await call(b, "DELETE", path)).status).toBe(204);
    const deleted = await timeUntil(a, key, 401);
    expect(deleted).toBeGreaterThanOrEqual(0);
    expect(deleted).toBeLessThan(1000);
  });

  /** The other instance's count of verifications its key cache could not answer. */
  const cacheMisses = (server: Served) => missesOf(overHttp(server.url));

  it("has a key renewed on the other instance cached again with its new token before it is asked for", async () => {
    const created = await call(a, "POST", "/v1/accounts/acme/keys", { name: "renewed", roles: [OMS_READ] });
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    expect(await authorize(b, key)).toBe(200);
    const renewed = await call(a, "POST", `/v1/accounts/acme/keys/${key.appKey}/renewal`);
    expect(renewed.status).toBe(201);
    // b hears of the change within 1 s and reads the key again then, not when it is next asked.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const misses = await cacheMisses(b);
    expect(await authorize(b, { appKey: key.appKey, appToken: renewed.json.appToken })).toBe(200);
    expect(await authorize(b, key)).toBe(200);
    expect(await cacheMisses(b)).toBe(misses);
  });

  it("sees a custom role edited on the other instance within 1 s", async () => {
    const role = await call(a, "POST", "/v1/accounts/acme/roles", {
      name: "Readers",
      resources: ["ViewOrders"],
    });
    expect(role.status).toBe(201);
    const created = await call(a, "POST", "/v1/accounts/acme/keys", {
      name: "reader",
      roles: [role.json.id],
    });
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    expect(await authorize(b, key)).toBe(200);
    const edited = await call(a, "PUT", `/v1/accounts/acme/roles/${role.json.id}`, {
      name: "Readers",
      resources: ["ViewProducts"],
    });
    expect(edited.status).toBe(200);
    const took = await timeUntil(b, key, 403);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThan(1000);
  });

  it("adds up usage counted on both instances, written at shutdown", async () => {
    const created = await call(a, "POST", "/v1/accounts/acme/keys", { name: "counted", roles: [OMS_READ] });
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    for (let i = 0; i < 4; i++) expect(await authorize(a, key)).toBe(200);
    for (let i = 0; i < 3; i++) expect(await authorize(b, key)).toBe(200);
    expect(await b.stop()).toBe(0);
    b = await serve(env);
    const usage = await call(b, "GET", `/v1/accounts/acme/keys/${key.appKey}/usage?days=1`);
    // b's counts were written at its shutdown; a's by its timer (every 5 s) or not yet.
    expect(usage.json.total.ok === 3 || usage.json.total.ok === 7).toBe(true);
    expect(await a.stop()).toBe(0);
    a = await serve(env);
    const both = await call(a, "GET", `/v1/accounts/acme/keys/${key.appKey}/usage?days=1`);
    expect(both.json.total).toEqual({ ok: 7, denied: 0 });
    expect(both.json.lastUsedAt).not.toBeNull();
  });
});
