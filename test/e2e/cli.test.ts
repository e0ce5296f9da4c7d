/**
 * The remote commands as an operator runs them: the real `latchkey` binary (bin/latchkey.mjs over
 * dist/: build first) against a real `latchkey serve`, on SQLite and, more briefly, PostgreSQL.
 * Credentials come from `latchkey init`, as in the README. Checked along the way: exit codes 0, 1
 * and 2, --json output that parses, and that no token ever reaches the stdout of list, show or
 * export.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { freePort, runCli, type Served, serve } from "./process.js";

interface Credentials {
  appKey: string;
  appToken: string;
}

const TOKEN = /lkt_[0-9A-Za-z]{46}/g;

async function initAccount(env: Record<string, string>, account: string): Promise<Credentials> {
  const init = await runCli(
    ["init", "--account", account, "--email", `owner@${account}.test`, "--json"],
    env,
  );
  expect(init.code, init.stderr).toBe(0);
  const { appKey, appToken } = JSON.parse(init.stdout) as Credentials;
  return { appKey, appToken };
}

/** Runs a remote command as `as` against `server`; the environment names no other account. */
function remoteCli(server: () => Served) {
  return (args: string[], as: Credentials, extra: Record<string, string> = {}) =>
    runCli(args, {
      LATCHKEY_URL: server().url,
      LATCHKEY_APPKEY: as.appKey,
      LATCHKEY_APPTOKEN: as.appToken,
      LATCHKEY_ACCOUNT: "",
      ...extra,
    });
}

async function isValid(server: Served, appKey: string, appToken: string): Promise<boolean> {
  const res = await fetch(`${server.url}/v1/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ appKey, appToken }),
  });
  return ((await res.json()) as { valid: boolean }).valid;
}

describe("latchkey remote commands on SQLite", () => {
  let dir: string;
  let server: Served;
  let acme: Credentials;
  let beta: Credentials;
  const lk = remoteCli(() => server);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-cli-e2e-"));
    const env = { DATA_DIR: dir, LATCHKEY_SECRET: randomBytes(32).toString("hex"), DATABASE_URL: "" };
    acme = await initAccount(env, "acme");
    beta = await initAccount(env, "beta");
    server = await serve({ ...env, LOG_LEVEL: "warn" });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("takes a key through its life: create, list, roles, renew, export, deactivate, delete", async () => {
    const created = await lk(["keys", "create", "ERP sync", "--role", "10", "--json"], acme);
    expect(created.code, created.stderr).toBe(0);
    const { key, appToken: firstToken } = JSON.parse(created.stdout);
    const appKey: string = key.appKey;
    expect(key.roles).toEqual([{ id: 10, name: "OMS - Read only" }]);
    expect(created.stderr).toContain("only time the appToken is shown");

    const [list, listJson, show] = await Promise.all([
      lk(["keys", "list"], acme),
      lk(["keys", "list", "--q", "ERP", "--json"], acme),
      lk(["keys", "show", appKey], acme),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${appKey} +ERP sync +active +OMS - Read only +- +never`));
    expect(JSON.parse(listJson.stdout).items.map((k: { appKey: string }) => k.appKey)).toEqual([appKey]);
    expect(show.stdout).toMatch(/token created: +\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    for (const out of [list.stdout, listJson.stdout, show.stdout]) expect(out).not.toMatch(TOKEN);

    const roles = await lk(["keys", "roles", appKey, "--role", "10", "--role", "11", "--json"], acme);
    expect(roles.code, roles.stderr).toBe(0);
    expect(JSON.parse(roles.stdout).roles.map((r: { id: number }) => r.id)).toEqual([10, 11]);

    const renewed = await lk(["keys", "renew", appKey], acme);
    expect(renewed.code, renewed.stderr).toBe(0);
    const printed = renewed.stdout.match(TOKEN) ?? [];
    expect(printed).toHaveLength(1);
    const newToken = printed[0] as string;
    expect(newToken).not.toBe(firstToken);
    expect(renewed.stderr).toContain("only time the appToken is shown");
    expect(renewed.stderr).toContain(`latchkey keys complete-renewal ${appKey}`);
    expect(await isValid(server, appKey, firstToken)).toBe(true);
    expect(await isValid(server, appKey, newToken)).toBe(true);

    const completed = await lk(["keys", "complete-renewal", appKey], acme);
    expect(completed.code, completed.stderr).toBe(0);
    expect(await isValid(server, appKey, firstToken)).toBe(false);
    expect(await isValid(server, appKey, newToken)).toBe(true);

    const file = join(dir, "keys.csv");
    const exported = await lk(["keys", "export", "--format", "csv", "--output", file, "--json"], acme);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ file, format: "csv" });
    expect(exported.stderr).toBe("");
    const csv = await readFile(file, "utf8");
    expect(csv.split("\r\n")[0]).toMatch(/^type,id,keyName,label,roles,creationDate,/);
    expect(csv).toContain(appKey);
    for (const text of [csv, exported.stdout]) expect(text).not.toMatch(TOKEN);
    expect((await readdir(dir)).filter((name) => name.includes(".part"))).toEqual([]);

    const off = await lk(["keys", "deactivate", appKey, "--json"], acme);
    expect(JSON.parse(off.stdout).status).toBe("inactive");
    expect(await isValid(server, appKey, newToken)).toBe(false);
    const on = await lk(["keys", "activate", appKey], acme);
    expect(on.stdout).toContain(`Key ${appKey} is active.`);
    expect(await isValid(server, appKey, newToken)).toBe(true);

    const unconfirmed = await lk(["keys", "delete", appKey], acme);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("--yes");
    const deleted = await lk(["keys", "delete", appKey, "--yes"], acme);
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await lk(["keys", "show", appKey, "--json"], acme);
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stderr).error).toMatchObject({ code: "KEY_NOT_FOUND", status: 404 });
  });

  it("adds, lists, regrants and removes an external key between two accounts", async () => {
    const added = await lk(["external", "add", beta.appKey, "--role", "10", "--json"], acme);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ appKey: beta.appKey, account: "beta" });
    const list = await lk(["external", "list"], acme);
    expect(list.stdout).toMatch(new RegExp(`${beta.appKey} +beta +active +OMS - Read only`));
    const none = await lk(["external", "roles", beta.appKey, "--none", "--json"], acme);
    expect(JSON.parse(none.stdout).roles).toEqual([]);
    const removed = await lk(["external", "remove", beta.appKey, "--yes"], acme);
    expect(removed.code, removed.stderr).toBe(0);
    const after = await lk(["external", "list", "--json"], acme);
    expect(JSON.parse(after.stdout).items).toEqual([]);
  });

  it("creates, lists and deletes a custom role, and manages a user's roles", async () => {
    const role = await lk(["roles", "create", "Key auditors", "--resource", "ViewApiKeys", "--json"], acme);
    expect(role.code, role.stderr).toBe(0);
    const { id } = JSON.parse(role.stdout);
    const user = await lk(["users", "create", "ana@acme.test", "--role", String(id), "--json"], acme);
    expect(user.code, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout).password).toEqual(expect.any(String));

    const [roles, users] = await Promise.all([lk(["roles", "list"], acme), lk(["users", "list"], acme)]);
    expect(roles.stdout).toMatch(new RegExp(`^ *${id} +Key auditors +custom +ViewApiKeys$`, "m"));
    expect(users.stdout).toMatch(/ana@acme\.test +Key auditors/);

    const inUse = await lk(["roles", "delete", String(id), "--yes", "--json"], acme);
    expect(inUse.code).toBe(1);
    expect(JSON.parse(inUse.stderr).error.code).toBe("ROLE_IN_USE");
    const regranted = await lk(["users", "roles", "ana@acme.test", "--role", "2"], acme);
    expect(regranted.stdout).toContain("User ana@acme.test now holds: User Administrator - RESTRICTED.");
    const [dropped, removed] = await Promise.all([
      lk(["roles", "delete", String(id), "--yes"], acme),
      lk(["users", "delete", "ana@acme.test", "--yes"], acme),
    ]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(removed.code, removed.stderr).toBe(0);
  });

  it("reads and changes settings", async () => {
    const set = await lk(
      ["settings", "set", "--renewal-period", "6", "--email", "ops@acme.test", "--max-token-age-days", "365"],
      acme,
    );
    expect(set.code, set.stderr).toBe(0);
    const got = await lk(["settings", "get", "--json"], acme);
    expect(JSON.parse(got.stdout)).toMatchObject({
      renewalPeriodMonths: 6,
      notifications: { emails: ["ops@acme.test"], webhooks: [] },
      policies: { deactivateUnusedDays: null, maxTokenAgeDays: 365 },
    });
  });

  it("lists, exports and verifies the audit log, and reviews access", async () => {
    const [list, verify, review] = await Promise.all([
      lk(["audit", "list", "--action", "key.", "--json"], acme),
      lk(["audit", "verify"], acme),
      lk(["keys", "review", "--days", "30", "--json"], acme),
    ]);
    expect(list.code, list.stderr).toBe(0);
    const events = JSON.parse(list.stdout).items as { action: string }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.action.startsWith("key."))).toBe(true);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/The audit chain of acme is intact: \d+ event\(s\) checked\./);
    expect(JSON.parse(review.stdout)).toMatchObject({ days: 30, items: expect.any(Array) });
    // The bootstrap key holds Owner: the review says to replace it.
    expect(JSON.parse(review.stdout).items).toEqual(
      expect.arrayContaining([expect.objectContaining({ appKey: acme.appKey })]),
    );

    const file = join(dir, "audit.json");
    const exported = await lk(["audit", "export", "--format", "json", "--output", file], acme);
    expect(exported.code, exported.stderr).toBe(0);
    const { items } = JSON.parse(await readFile(file, "utf8")) as { items: { action: string }[] };
    expect(items.map((event) => event.action)).toContain("key.created");
    expect(await readFile(file, "utf8")).not.toMatch(TOKEN);

    // Someone edits an event of beta's chain behind latchkey's back: verify says so and exits 1.
    const db = new SqliteDatabase(join(dir, "latchkey.db"));
    try {
      db.prepare(
        "update audit_events set action = 'key.renamed' where seq = (select min(seq) from audit_events where account = 'beta')",
      ).run();
    } finally {
      db.close();
    }
    const broken = await lk(["audit", "verify", "--json"], beta);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({
      ok: false,
      firstBroken: { reason: expect.any(String) },
    });
  });

  it("exits 1 on a refused or failed operation and 2 on bad usage", async () => {
    const created = await lk(["keys", "create", "No roles", "--json"], acme);
    const bare: Credentials = JSON.parse(created.stdout).key;
    bare.appToken = JSON.parse(created.stdout).appToken;
    const down = `http://127.0.0.1:${await freePort()}`;
    const [forbidden, unreachable, badOption, noToken, help] = await Promise.all([
      lk(["keys", "list", "--json"], bare),
      lk(["keys", "list"], acme, { LATCHKEY_URL: down }),
      lk(["keys", "list", "--colour"], acme),
      lk(["keys", "list"], acme, { LATCHKEY_APPTOKEN: "" }),
      lk(["keys", "renew", "--help"], acme),
    ]);
    expect(forbidden.code).toBe(1);
    expect(JSON.parse(forbidden.stderr).error).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`latchkey: CONNECTION_FAILED: cannot reach ${down}: ECONNREFUSED`);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("unknown option '--colour'");
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("LATCHKEY_APPTOKEN");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: latchkey keys renew [options] <appKey>");
  });
});

describe("latchkey remote commands on PostgreSQL", () => {
  let database: TestDatabase;
  let dir: string;
  let server: Served;
  let owner: Credentials;
  const lk = remoteCli(() => server);

  beforeAll(async () => {
    database = await createTestDatabase("latchkey_cli");
    dir = await mkdtemp(join(tmpdir(), "latchkey-cli-pg-"));
    const env = {
      DATA_DIR: dir,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: database.url,
    };
    owner = await initAccount(env, "acme");
    server = await serve({ ...env, LOG_LEVEL: "warn" });
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates, lists, exports and deletes a key", async () => {
    const created = await lk(["keys", "create", "Warehouse", "--role", "30", "--json"], owner);
    expect(created.code, created.stderr).toBe(0);
    const { appKey } = JSON.parse(created.stdout).key;
    const file = join(dir, "keys.json");
    const [list, exported] = await Promise.all([
      lk(["keys", "list", "--json"], owner),
      lk(["keys", "export", "--format", "json", "--output", file], owner),
    ]);
    expect(JSON.parse(list.stdout).items.map((k: { appKey: string }) => k.appKey)).toContain(appKey);
    expect(exported.code, exported.stderr).toBe(0);
    const json = await readFile(file, "utf8");
    expect(JSON.parse(json).generated.map((k: { keyName: string }) => k.keyName)).toContain(appKey);
    expect(json).not.toMatch(TOKEN);
    const deleted = await lk(["keys", "delete", appKey, "--yes"], owner);
    expect(deleted.code, deleted.stderr).toBe(0);
  });
});
