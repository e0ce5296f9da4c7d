/**
 * Forward auth through a real gateway: Debian's nginx runs the shipped example
 * (examples/nginx/latchkey.conf) in front of a stand-in API, with the real `latchkey serve` behind
 * its auth_request. Keys are made over the HTTP API. Each test speaks from its own loopback
 * address, so that the failed-authentication limit (counted per client address) of one test never
 * touches another.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EchoApi,
  NGINX,
  type Nginx,
  type Reply,
  type Seen,
  send,
  startEchoApi,
  startNginx,
} from "./gateway.js";
import { callAs, freePort, runCli, type Served, serve } from "./process.js";

const FAILURES_ALLOWED = 3;

interface Key {
  appKey: string;
  appToken: string;
}

const credentials = (key: Key, token = key.appToken) => ({
  "X-API-AppKey": key.appKey,
  "X-API-AppToken": token,
});

/** The token with its last character changed: its checksum no longer holds. */
const mistyped = (key: Key) => `${key.appToken.slice(0, -1)}${key.appToken.endsWith("x") ? "y" : "x"}`;

describe("latchkey behind nginx (auth_request)", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let server: Served;
  let api: EchoApi;
  let nginx: Nginx;
  let reader: Key;
  let bare: Key;

  /** Sends through nginx; also returns what the API saw of this request, if it got that far. */
  async function through(
    options: Parameters<typeof send>[1],
  ): Promise<Reply & { upstream: Seen | undefined }> {
    const before = api.seen.length;
    const reply = await send(nginx.port, options);
    expect(api.seen.length - before).toBeLessThanOrEqual(1);
    return { ...reply, upstream: api.seen[before] };
  }

  beforeAll(async () => {
    expect(existsSync(NGINX), `${NGINX} is missing: apt-get install nginx`).toBe(true);
    const dataDir = await mkdtemp(join(tmpdir(), "latchkey-e2e-nginx-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      TRUST_PROXY: "true",
      RATE_LIMIT_FAILURES: String(FAILURES_ALLOWED),
      RATE_LIMIT_WINDOW: "60",
    };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const owner = JSON.parse(init.stdout) as Key;
    server = await serve(env);
    cleanups.push(() => server.stop());

    const create = async (body: object): Promise<Key> => {
      const res = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", body);
      expect(res.status).toBe(201);
      const created = res.json as { key: { appKey: string }; appToken: string };
      return { appKey: created.key.appKey, appToken: created.appToken };
    };
    reader = await create({ name: "ERP orders reader", roles: [10] });
    bare = await create({ name: "No roles yet" });

    api = await startEchoApi();
    cleanups.push(() => api.close());
    nginx = await startNginx({ latchkey: new URL(server.url).host, api: api.address });
    cleanups.push(() => nginx.stop());
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it("lets a key holding the route's resource through and tells the API who calls", async () => {
    const reply = await through({
      path: "/api/oms/pvt/orders/1001?fields=items",
      headers: { ...credentials(reader), "X-Auth-Account": "other", "X-Auth-Key-Type": "external" },
    });
    expect(reply.status, reply.body).toBe(200);
    const seen = reply.upstream;
    expect(seen?.url).toBe("/api/oms/pvt/orders/1001?fields=items");
    // latchkey's answer replaced the headers the client tried to pose with.
    expect(seen?.headers["x-auth-account"]).toBe("acme");
    expect(seen?.headers["x-auth-appkey"]).toBe(reader.appKey);
    expect(seen?.headers["x-auth-key-type"]).toBe("generated");
    expect(seen?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    // The secret stops at the gateway.
    expect(seen?.headers["x-api-apptoken"]).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(reader.appToken);

    const vtexNames = await through({
      path: "/api/oms/pvt/orders",
      headers: { "X-VTEX-API-AppKey": reader.appKey, "X-VTEX-API-AppToken": reader.appToken },
    });
    expect(vtexNames.status).toBe(200);
    expect(vtexNames.upstream?.headers["x-auth-appkey"]).toBe(reader.appKey);
    expect(vtexNames.upstream?.headers["x-vtex-api-apptoken"]).toBeUndefined();
  });

  it("answers 401 without credentials or with a wrong token, and the API never sees the call", async () => {
    const from = "127.0.0.3";
    const none = await through({ path: "/api/oms/pvt/orders/1001", from });
    expect(none.status).toBe(401);
    expect(none.headers["x-auth-code"]).toBe("MISSING_CREDENTIALS");
    expect(none.headers["www-authenticate"]).toBeDefined();
    expect(none.upstream).toBeUndefined();
    // Another key's token: well formed, checksum right, not this key's.
    const wrong = await through({
      path: "/api/oms/pvt/orders/1001",
      headers: credentials(reader, bare.appToken),
      from,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers["x-auth-code"]).toBe("INVALID_CREDENTIALS");
    expect(wrong.upstream).toBeUndefined();
    const typo = await through({
      path: "/api/oms/pvt/orders/1001",
      headers: credentials(reader, mistyped(reader)),
      from,
    });
    expect(typo.status).toBe(401);
    expect(typo.headers["x-auth-code"]).toBe("MALFORMED_CREDENTIALS");
    expect(typo.upstream).toBeUndefined();
  });

  it("answers 403 for a key without the role, a method its role lacks, and routes no resource covers", async () => {
    const from = "127.0.0.5";
    const lacking = "RESOURCE_NOT_GRANTED";
    const unmapped = "ROUTE_NOT_MAPPED";
    const denied = [
      { key: bare, method: "GET", path: "/api/oms/pvt/orders/1001", code: lacking },
      { key: reader, method: "DELETE", path: "/api/oms/pvt/orders/1001", code: lacking },
      { key: reader, method: "GET", path: "/api/catalog/pvt/products/7", code: lacking },
      { key: reader, method: "GET", path: "/api/unknown/thing", code: unmapped },
      { key: reader, method: "GET", path: "/", code: unmapped },
      // nginx forwards the URI as the client sent it; dot segments and encoded slashes map to nothing.
      {
        key: reader,
        method: "GET",
        path: "/api/oms/pvt/orders/../../../catalog/pvt/products",
        code: unmapped,
      },
      {
        key: reader,
        method: "GET",
        path: "/api/oms/pvt/orders/%2e%2e/%2e%2e/%2e%2e/catalog/pvt/x",
        code: unmapped,
      },
      {
        key: reader,
        method: "GET",
        path: "/api/oms/pvt/orders%2F..%2F..%2F..%2Fcatalog/pvt/x",
        code: unmapped,
      },
    ];
    for (const { key, method, path, code } of denied) {
      const reply = await through({ path, method, headers: credentials(key), from });
      expect([method, path, reply.status, reply.headers["x-auth-code"]]).toEqual([method, path, 403, code]);
      expect(reply.upstream).toBeUndefined();
    }
  });

  it("takes the JWT of app-token login as a Bearer token and in the VtexIdclientAutCookie header", async () => {
    const from = "127.0.0.6";
    const login = await fetch(`${server.url}/v1/auth/apptoken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appKey: reader.appKey, appToken: reader.appToken }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    for (const headers of [{ Authorization: `Bearer ${token}` }, { VtexIdclientAutCookie: token }]) {
      const reply = await through({ path: "/api/oms/pvt/orders/1001", headers, from });
      expect(reply.status).toBe(200);
      expect(reply.upstream?.headers["x-auth-appkey"]).toBe(reader.appKey);
      expect(JSON.stringify(reply.upstream)).not.toContain(token);
    }
    const elsewhere = await through({
      path: "/api/catalog/pvt/products/7",
      headers: { Authorization: `Bearer ${token}` },
      from,
    });
    expect(elsewhere.status).toBe(403);
  });

  it("answers 429 with Retry-After to the failures of an address with too many; valid tokens still pass", async () => {
    const attacker = "127.0.0.4";
    const attempt = (headers: Record<string, string>) =>
      through({ path: "/api/oms/pvt/orders/1001", headers, from: attacker });
    for (let i = 0; i < FAILURES_ALLOWED; i++) {
      expect((await attempt(credentials(reader, bare.appToken))).status).toBe(401);
    }
    let limited: Reply | undefined;
    for (let i = 0; i < 2 && !limited; i++) {
      const reply = await attempt(credentials(reader, bare.appToken));
      if (reply.status === 429) limited = reply;
      else expect(reply.status).toBe(401);
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers["x-auth-code"]).toBe("RATE_LIMITED");
    const wait = Number(limited?.headers["retry-after"]);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);

    // The address's failures stay refused, and it cannot claim to be another one.
    const spoofed = await attempt({
      ...credentials(reader, bare.appToken),
      "X-Forwarded-For": "203.0.113.9",
    });
    expect(spoofed.status).toBe(429);
    expect(spoofed.headers["retry-after"]).toMatch(/^\d+$/);
    expect(spoofed.upstream).toBeUndefined();

    // Only failures are refused: a valid token from that same address passes.
    const valid = await attempt(credentials(reader));
    expect(valid.status).toBe(200);
    expect(valid.upstream?.headers["x-auth-appkey"]).toBe(reader.appKey);

    // The key's rightful caller, elsewhere, is not locked out by the wrong tokens sent for it.
    const rightful = await through({
      path: "/api/oms/pvt/orders/1001",
      headers: credentials(reader),
      from: "127.0.0.2",
    });
    expect(rightful.status).toBe(200);
    expect(rightful.upstream?.headers["x-auth-appkey"]).toBe(reader.appKey);
    expect(rightful.upstream?.headers["x-forwarded-for"]).toBe("127.0.0.2");
  });
});

describe("nginx with latchkey unreachable", () => {
  let api: EchoApi | undefined;
  let nginx: Nginx | undefined;

  beforeAll(async () => {
    api = await startEchoApi();
    nginx = await startNginx({ latchkey: `127.0.0.1:${await freePort()}`, api: api.address });
  });

  afterAll(async () => {
    await nginx?.stop();
    await api?.close();
  });

  it("fails closed with 503", async () => {
    const reply = await send(nginx?.port ?? 0, {
      path: "/api/oms/pvt/orders/1001",
      headers: { "X-API-AppKey": "appkey-acme-ABCDEF", "X-API-AppToken": "anything" },
    });
    expect(reply.status).toBe(503);
    expect(api?.seen).toHaveLength(0);
  });
});
