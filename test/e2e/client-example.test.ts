/**
 * The integrator example (examples/client/orders-service.mjs) as an integrator runs it: its own
 * process, importing the built `latchkey/client`, in front of a real `latchkey serve`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callAs, freePort, runCli, type Served, serve } from "./process.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "examples", "client", "orders-service.mjs");

interface Key {
  appKey: string;
  appToken: string;
}

const as = (key: Key, extra: Record<string, string> = {}) => ({
  headers: { "x-api-appkey": key.appKey, "x-api-apptoken": key.appToken, ...extra },
});

describe("the latchkey/client example service", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let latchkey: Served;
  let service: string;
  let reader: Key;
  let bare: Key;

  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "latchkey-e2e-client-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, LATCHKEY_SECRET: randomBytes(32).toString("hex") };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const owner = JSON.parse(init.stdout) as Key;
    latchkey = await serve(env);
    cleanups.push(() => latchkey.stop());

    const role = await callAs(latchkey.url, owner, "POST", "/v1/accounts/acme/roles", {
      name: "Order reader",
      resources: ["ViewOrders"],
    });
    expect(role.status).toBe(201);
    const create = async (roles: number[]): Promise<Key> => {
      const res = await callAs(latchkey.url, owner, "POST", "/v1/accounts/acme/keys", {
        name: `key ${roles.length} ${randomBytes(3).toString("hex")}`,
        roles,
      });
      expect(res.status).toBe(201);
      return { appKey: res.json.key.appKey, appToken: res.json.appToken };
    };
    reader = await create([role.json.id]);
    bare = await create([]);

    const port = await freePort();
    service = `http://127.0.0.1:${port}`;
    const child: ChildProcess = spawn(process.execPath, [EXAMPLE], {
      env: { ...process.env, LATCHKEY_URL: latchkey.url, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    cleanups.push(() => {
      child.kill("SIGTERM");
      return exited;
    });
    const started = Date.now();
    while (!output.includes("orders service on")) {
      if (child.exitCode !== null || Date.now() - started > 30_000)
        throw new Error(`the example did not start (exit ${child.exitCode}):\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("lets a key holding ViewOrders read orders, with latchkey's answer", async () => {
    const res = await fetch(`${service}/orders`, as(reader));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      account: "acme",
      caller: reader.appKey,
      orders: [{ id: "1001", total: 42 }],
    });
  });

  it("refuses a key without the resource (403), a wrong token and no credentials (401)", async () => {
    const cases: [RequestInit, number, string][] = [
      [as(bare), 403, "RESOURCE_NOT_GRANTED"],
      [{ ...as(reader), method: "POST" }, 403, "RESOURCE_NOT_GRANTED"],
      [as({ appKey: reader.appKey, appToken: bare.appToken }), 401, "INVALID_CREDENTIALS"],
      [{}, 401, "MISSING_CREDENTIALS"],
      [as(reader, { "x-api-account": "elsewhere" }), 403, "ACCOUNT_NOT_GRANTED"],
    ];
    for (const [init, status, code] of cases) {
      const res = await fetch(`${service}/orders`, init);
      expect([res.status, await res.json()]).toEqual([status, { code }]);
    }
  });

  it("calls latchkey's API with the caller's key through the typed client", async () => {
    const res = await fetch(`${service}/whoami`, as(reader));
    expect([res.status, await res.json()]).toEqual([200, { accounts: ["acme"] }]);
  });
});
