/**
 * `latchkey copy --to`, the real binary (build first): a SQLite deployment with keys, roles, users,
 * an external key, a pending renewal, a share link, settings with a webhook, usage and signing keys
 * moves to a fresh PostgreSQL database, and a server started there accepts every old credential,
 * keeps the audit chains and hands out new ids past the copied ones. Also: a non-empty target is
 * refused untouched, a copy that fails midway leaves the target empty (and can be run again), and
 * PostgreSQL → PostgreSQL works the same way. The README's command is the one run.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sectionCommands } from "../support/readme.js";
import { type Counts, pgCounts, pgQuery, sqliteCounts, sqliteRows } from "./copy-support.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { callAs, runCli, serve } from "./process.js";

interface Credentials {
  appKey: string;
  appToken: string;
}

const TOKEN = /lkt_[0-9A-Za-z]{46}/;
/** Trust authentication ignores it; the copy must never print it. */
const PASSWORD = "n0t-Printed-3v3r";

function withPassword(url: string): string {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
}

/** The `latchkey copy` line of the README's "Moving to PostgreSQL" section, as its arguments. */
function readmeCopyArgs(target: string): string[] {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const line = sectionCommands(readme, "### Moving to PostgreSQL").find((l) =>
    l.startsWith("npx latchkey copy"),
  );
  expect(line, "README shows `npx latchkey copy --to …`").toBeDefined();
  const args = (line ?? "").replace(/^npx latchkey /, "").split(" ");
  return args.map((arg) => (arg.replaceAll('"', "") === "$TARGET" ? target : arg));
}

async function initAccount(env: Record<string, string>, account: string): Promise<Credentials> {
  const init = await runCli(
    ["init", "--account", account, "--email", `owner@${account}.test`, "--json"],
    env,
  );
  expect(init.code, init.stderr).toBe(0);
  return JSON.parse(init.stdout) as Credentials;
}

async function isValid(url: string, key: Credentials, account?: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...key, ...(account === undefined ? {} : { account }) }),
  });
  return ((await res.json()) as { valid: boolean }).valid;
}

describe("latchkey copy", { timeout: 180_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let file: string;
  const dbs: TestDatabase[] = [];
  let acme: Credentials;
  let beta: Credentials;
  let erpOld: Credentials;
  let erpNew: Credentials;
  let shareId: string;
  let customRole: number;

  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase("latchkey_copy");
    dbs.push(db);
    return db;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-copy-"));
    file = join(dir, "latchkey.db");
    env = {
      DATA_DIR: dir,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: "",
      LOG_LEVEL: "warn",
    };
    acme = await initAccount(env, "acme");
    beta = await initAccount(env, "beta");
    const server = await serve(env);
    try {
      const role = await callAs(server.url, acme, "POST", "/v1/accounts/acme/roles", {
        name: "Key readers",
        resources: ["ViewApiKeys"],
      });
      expect(role.status, role.text).toBe(201);
      customRole = role.json.id;
      const erp = await callAs(server.url, acme, "POST", "/v1/accounts/acme/keys", {
        name: "ERP sync",
        roles: [customRole],
      });
      expect(erp.status, erp.text).toBe(201);
      erpOld = { appKey: erp.json.key.appKey, appToken: erp.json.appToken };
      const renewed = await callAs(
        server.url,
        acme,
        "POST",
        `/v1/accounts/acme/keys/${erpOld.appKey}/renewal`,
        {},
      );
      expect(renewed.status, renewed.text).toBe(201);
      erpNew = { appKey: erpOld.appKey, appToken: renewed.json.appToken };
      const linked = await callAs(server.url, acme, "POST", "/v1/accounts/acme/keys", {
        name: "Partner",
        delivery: "link",
      });
      expect(linked.status, linked.text).toBe(201);
      shareId = String(linked.json.shareUrl).split("/share/")[1] ?? "";
      const user = await callAs(server.url, acme, "POST", "/v1/accounts/acme/users", {
        email: "ops@acme.test",
        roles: [customRole],
      });
      expect(user.status, user.text).toBe(201);
      const external = await callAs(server.url, beta, "POST", "/v1/accounts/beta/external-keys", {
        appKey: erpOld.appKey,
        roles: [2],
      });
      expect(external.status, external.text).toBe(201);
      const settings = await runCli(
        [
          "settings",
          "set",
          "--renewal-period",
          "6",
          "--webhook",
          "https://hooks.acme.test/latchkey",
          "--json",
        ],
        {
          LATCHKEY_URL: server.url,
          LATCHKEY_APPKEY: acme.appKey,
          LATCHKEY_APPTOKEN: acme.appToken,
          LATCHKEY_ACCOUNT: "",
        },
      );
      expect(settings.code, settings.stderr).toBe(0);
      const login = await fetch(`${server.url}/v1/auth/apptoken`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(erpNew),
      });
      expect(login.status).toBe(200);
      for (let i = 0; i < 3; i++) expect(await isValid(server.url, erpOld)).toBe(true);
    } finally {
      // SIGTERM writes the last usage counts: they are part of what is copied.
      expect(await server.stop()).toBe(0);
    }
    const counts = sqliteCounts(file);
    for (const table of [
      "key_usage",
      "signing_keys",
      "share_links",
      "external_keys",
      "account_settings",
      "roles",
    ]) {
      expect(counts[table], `${table} has rows in the source`).toBeGreaterThan(0);
    }
  }, 120_000);

  afterAll(async () => {
    for (const db of dbs) await db.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("moves a SQLite deployment to PostgreSQL: every table, the old tokens, the audit chain, new ids after", async () => {
    const target = await database();
    const started = performance.now();
    const copy = await runCli([...readmeCopyArgs(withPassword(target.url)), "--json"], env);
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.stdout.endsWith("}\n")).toBe(true);
    for (const output of [copy.stdout, copy.stderr]) {
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toMatch(TOKEN);
    }
    const report = JSON.parse(copy.stdout);
    expect(report.source).toEqual({ kind: "sqlite", location: file });
    expect(report.target.location).toBe(`postgres://postgres@${new URL(target.url).host}/${target.name}`);
    expect(report.auditChain.ok).toBe(true);
    console.log(`copy of ${report.rows} rows took ${Math.round(performance.now() - started)} ms`);

    // Every table of the source, found here without the copier's help, has as many rows in the target.
    const source = sqliteCounts(file);
    const copied = await pgCounts(target.url);
    expect(Object.keys(report.tables.map((t: { name: string }) => t.name).sort())).toEqual(
      Object.keys(Object.keys(source).sort()),
    );
    expect(copied).toEqual(source);
    for (const { name, rows } of report.tables) expect(rows, name).toBe(source[name]);

    // Hashes and sealed secrets byte for byte; audit events with their own seq and hashes.
    const same = async (query: string) =>
      expect(await pgQuery(target.url, query)).toEqual(sqliteRows(file, query));
    await same("select id, key_id, hash, slot from tokens order by id");
    await same("select id_hash, sealed from share_links order by id_hash");
    await same("select kid, sealed_private_key, public_jwk from signing_keys order by kid");
    await same("select id, password_hash from users order by id");
    await same("select account, settings from account_settings order by account");
    await same(
      "select cast(seq as integer) as seq, id, hash, prev_hash, data from audit_events order by seq",
    );

    const audit = await runCli(["verify-audit", "--json"], { ...env, DATABASE_URL: target.url });
    expect(audit.code, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout).checked).toBe(source.audit_events);

    const server = await serve({
      ...env,
      DATABASE_URL: target.url,
      DATA_DIR: await mkdtemp(join(dir, "pg-")),
    });
    try {
      expect(await isValid(server.url, erpOld)).toBe(true);
      expect(await isValid(server.url, erpNew)).toBe(true);
      expect(await isValid(server.url, erpOld, "beta")).toBe(true);
      expect((await callAs(server.url, acme, "GET", "/v1/me")).status).toBe(200);
      const revealed = await fetch(`${server.url}/v1/shares/${shareId}/reveal`, { method: "POST" });
      expect(revealed.status).toBe(200);
      expect(((await revealed.json()) as { appToken: string }).appToken).toMatch(TOKEN);
      // New rows take ids past the copied ones: a custom role, audit events, a key.
      const role = await callAs(server.url, acme, "POST", "/v1/accounts/acme/roles", {
        name: "After the move",
        resources: ["ViewApiKeys"],
      });
      expect(role.status, role.text).toBe(201);
      expect(role.json.id).toBeGreaterThan(customRole);
      const key = await callAs(server.url, acme, "POST", "/v1/accounts/acme/keys", {
        name: "After the move",
      });
      expect(key.status, key.text).toBe(201);
      expect(await isValid(server.url, { appKey: key.json.key.appKey, appToken: key.json.appToken })).toBe(
        true,
      );
    } finally {
      await server.stop();
    }
    const after = await runCli(["verify-audit", "--json"], { ...env, DATABASE_URL: target.url });
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).checked).toBeGreaterThan(source.audit_events ?? 0);
  });

  it("refuses a target that holds latchkey rows, with one line and exit 1, and writes nothing", async () => {
    const target = await database();
    await initAccount({ ...env, DATABASE_URL: target.url }, "other");
    const before = await pgCounts(target.url);
    const refused = await runCli(["copy", "--to", withPassword(target.url)], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^latchkey: the target database is not empty \(table \w+ has rows\)[^\n]*\n$/,
    );
    expect(refused.stderr).not.toContain(PASSWORD);
    expect(await pgCounts(target.url)).toEqual(before);

    const json = await runCli(["copy", "--to", target.url, "--json"], env);
    expect(json.code).toBe(1);
    expect(json.stdout).toBe("");
    expect(JSON.parse(json.stderr)).toEqual({
      error: { code: "TARGET_NOT_EMPTY", detail: expect.stringContaining("not empty"), status: null },
    });
    expect(await pgCounts(target.url)).toEqual(before);
  });

  it("leaves the target empty when a row fails midway, and copies on the next run", async () => {
    const target = await database();
    const migrated = await runCli(["migrate"], { ...env, DATABASE_URL: target.url });
    expect(migrated.code, migrated.stderr).toBe(0);
    // The pending renewal's token (slot 1) breaks this: tokens come after accounts, keys and more.
    await pgQuery(target.url, "alter table tokens add constraint copy_breaks check (slot = 0)");
    const failed = await runCli(["copy", "--to", target.url], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("copy_breaks");
    const empty = await pgCounts(target.url);
    expect(Object.values(empty).every((n) => n === 0)).toBe(true);
    expect(Object.keys(empty).sort()).toEqual(Object.keys(sqliteCounts(file)).sort());

    await pgQuery(target.url, "alter table tokens drop constraint copy_breaks");
    const again = await runCli(["copy", "--to", target.url, "--json"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await pgCounts(target.url)).toEqual(sqliteCounts(file));
  });

  it("copies a table no one listed, and fails loudly when the target has no place for it", async () => {
    const future = await mkdtemp(join(dir, "future-"));
    await copyFile(file, join(future, "latchkey.db"));
    const db = new SqliteDatabase(join(future, "latchkey.db"));
    db.exec(
      "create table future_table (id integer primary key, note text); insert into future_table values (1, 'a'), (2, 'b')",
    );
    db.close();
    const futureEnv = { ...env, DATA_DIR: future };
    const target = await database();
    const refused = await runCli(["copy", "--to", target.url, "--json"], futureEnv);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr).error).toMatchObject({
      code: "SCHEMA_MISMATCH",
      detail: expect.stringContaining("future_table"),
    });
    expect(Object.values(await pgCounts(target.url)).every((n) => n === 0)).toBe(true);

    await pgQuery(target.url, "create table future_table (id integer primary key, note text)");
    const copied = await runCli(["copy", "--to", target.url], futureEnv);
    expect(copied.code, copied.stderr).toBe(0);
    expect(await pgQuery(target.url, "select id, note from future_table order by id")).toEqual([
      { id: 1, note: "a" },
      { id: 2, note: "b" },
    ]);
    expect(await pgCounts(target.url)).toEqual(sqliteCounts(join(future, "latchkey.db")));
  });

  it("copies PostgreSQL to PostgreSQL, and refuses bad usage with exit 2", async () => {
    const first = await database();
    expect((await runCli(["copy", "--to", first.url], env)).code).toBe(0);
    const second = await database();
    const pgEnv = { ...env, DATABASE_URL: withPassword(first.url) };
    const copy = await runCli(["copy", "--to", second.url], pgEnv);
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.stdout).toContain(
      `from postgres://postgres@${new URL(first.url).host}/${first.name} (PostgreSQL)`,
    );
    expect(copy.stdout).not.toContain(PASSWORD);
    const counts: Counts = await pgCounts(second.url);
    expect(counts).toEqual(await pgCounts(first.url));
    expect(counts).toEqual(sqliteCounts(file));
    const audit = await runCli(["verify-audit"], { ...env, DATABASE_URL: second.url });
    expect(audit.code, audit.stderr).toBe(0);

    const itself = await runCli(["copy", "--to", first.url], pgEnv);
    expect(itself.code).toBe(2);
    const notPg = await runCli(["copy", "--to", `mysql://root:${PASSWORD}@db/latchkey`], env);
    expect(notPg.code).toBe(2);
    expect(notPg.stderr).not.toContain(PASSWORD);
    expect((await runCli(["copy"], env)).code).toBe(2);
  });
});
