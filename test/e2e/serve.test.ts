/**
 * End to end against the real `latchkey` process on both databases: init through the CLI, the
 * management API over HTTP, graceful shutdown. Then the secrets check: every token and password
 * seen is searched for in the database files (SQLite file + WAL) or tables (PostgreSQL) and in the
 * captured server log. None may be found.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./databases.js";
import { callAs, runCli, type Served, serve } from "./process.js";

type Kind = "sqlite" | "postgres";

async function prepare(
  kind: Kind,
): Promise<{ env: Record<string, string>; dump(): Promise<string>; drop(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), "latchkey-e2e-"));
  const base = { DATA_DIR: dataDir, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
  if (kind === "sqlite") {
    return {
      env: base,
      async dump() {
        const files = await readdir(dataDir);
        const parts = await Promise.all(files.map((f) => readFile(join(dataDir, f), "latin1")));
        return parts.join("\n");
      },
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const database = await createTestDatabase("latchkey_e2e");
  return {
    env: { ...base, DATABASE_URL: database.url },
    async dump() {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const tables = await client.query<{ t: string }>(
          "select quote_ident(table_schema) || '.' || quote_ident(table_name) as t from information_schema.tables where table_schema not in ('pg_catalog','information_schema')",
        );
        const rows = await Promise.all(
          tables.rows.map(({ t }) => client.query(`select x::text as row from ${t} x`)),
        );
        return rows.flatMap((r) => r.rows.map((row: { row: string }) => row.row)).join("\n");
      } finally {
        await client.end();
      }
    },
    async drop() {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe.each<Kind>(["sqlite", "postgres"])("latchkey serve on %s", (kind) => {
  let env: Record<string, string>;
  let server: Served;
  let dump: () => Promise<string>;
  let drop: () => Promise<void>;
  const secrets: string[] = [];
  const bodies: string[] = [];
  let owner: { appKey: string; appToken: string; password: string };

  /** Calls the API as the owner, or as `as`; every answer is kept for the secrets check. */
  async function call(
    method: string,
    path: string,
    body?: unknown,
    as: { appKey: string; appToken: string } = owner,
  ) {
    const res = await callAs(server.url, as, method, path, body);
    bodies.push(res.text);
    return res;
  }

  beforeAll(async () => {
    ({ env, dump, drop } = await prepare(kind));
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout);
    secrets.push(owner.appToken, owner.password);
    server = await serve(env);
  });

  afterAll(async () => {
    if (server.child.exitCode === null) await server.stop();
    await drop();
  });

  it("refuses a second init of the same account with exit 1, and bad usage with exit 2", async () => {
    const again = await runCli(["init", "--account", "acme", "--email", "x@acme.test", "--json"], env);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr).error.code).toBe("ACCOUNT_EXISTS");
    expect((await runCli(["init", "--account", "acme"], env)).code).toBe(2);
    expect((await runCli(["init", "--account", "Bad_Name", "--email", "x@acme.test"], env)).code).toBe(2);
    expect((await runCli(["frobnicate"], env)).code).toBe(2);
    expect((await runCli(["migrate", "--json"], env)).code).toBe(0);
  });

  it("serves health, readiness, the OpenAPI document and its rendering", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe("3.1.0");
    const page = await fetch(`${server.url}/docs`);
    expect(await page.text()).toContain("swagger-ui-bundle.js");
    expect(await (await fetch(`${server.url}/docs/assets/init.js`)).text()).toContain("/openapi.json");
    expect((await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
  });

  it("runs the key lifecycle over HTTP", async () => {
    const created = await call("POST", "/v1/accounts/acme/keys", { name: "ERP", roles: [10] });
    expect(created.status).toBe(201);
    secrets.push(created.json.appToken);
    const erp = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    expect((await call("GET", "/v1/me", undefined, erp)).json.accounts[0].resources).toEqual(["ViewOrders"]);
    const path = `/v1/accounts/acme/keys/${created.json.key.appKey}`;
    expect((await call("PATCH", path, { name: "ERP main", active: false })).json.status).toBe("inactive");
    expect((await call("GET", "/v1/me", undefined, erp)).status).toBe(401);
    expect((await call("PUT", `${path}/roles`, { roles: [2] })).json.roles[0].id).toBe(2);
    expect((await call("GET", "/v1/accounts/acme/keys?q=erp")).json.total).toBe(1);
    const second = await call("POST", "/v1/accounts/acme/keys", { name: "Marketing" });
    secrets.push(second.json.appToken);
    expect((await call("DELETE", `/v1/accounts/acme/keys/${second.json.key.appKey}`)).status).toBe(204);
  });

  it("runs users, roles and sign-in over HTTP", async () => {
    const role = await call("POST", "/v1/accounts/acme/roles", {
      name: "Readers",
      resources: ["ViewApiKeys"],
    });
    expect(role.status).toBe(201);
    const user = await call("POST", "/v1/accounts/acme/users", {
      email: "ann@acme.test",
      roles: [role.json.id],
    });
    expect(user.status).toBe(201);
    secrets.push(user.json.password);
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ann@acme.test", password: user.json.password }),
    });
    expect(login.status).toBe(200);
    const cookies = login.headers.getSetCookie().map((c) => c.split(";")[0] as string);
    secrets.push(...cookies.map((c) => c.split("=")[1] as string));
    const list = await fetch(`${server.url}/v1/accounts/acme/keys`, {
      headers: { cookie: cookies.join("; ") },
    });
    expect(list.status).toBe(200);
    bodies.push(await list.text());
    expect((await call("GET", "/v1/accounts/acme/users")).json.items).toHaveLength(2);
    expect((await call("GET", "/v1/accounts/acme/roles")).json.items.length).toBeGreaterThan(5);
    expect((await call("GET", "/v1/resources")).status).toBe(200);
  });

  it("shuts down gracefully on SIGTERM and keeps no secret anywhere", async () => {
    expect(await server.stop()).toBe(0);
    expect(server.log()).toContain("latchkey stopped");
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const stored = await dump();
    expect(stored.length).toBeGreaterThan(1000);
    expect(stored).toContain(owner.appKey);
    const log = server.log();
    expect(log).toContain("request");
    for (const secret of secrets) {
      expect(stored.includes(secret), "a secret is stored in plain").toBe(false);
      expect(log.includes(secret), "a secret is in the server log").toBe(false);
    }
    const lists = bodies.filter((b) => b.includes('"items"')).join("\n");
    for (const secret of secrets)
      expect(lists.includes(secret), "a secret is in a list response").toBe(false);
  });
});
