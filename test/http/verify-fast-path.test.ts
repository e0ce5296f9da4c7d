import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalogFile } from "../../src/catalog/load.js";
import { defaultCatalogFile } from "../../src/config.js";
import { createFastPath } from "../../src/http/fast-path.js";
import { createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const OTHER = 20;
const ORDERS = "/api/oms/pvt/orders/1234";
/** Headers of a forward-auth answer that both paths must send alike. */
const ANSWER_HEADERS = [
  "x-auth-account",
  "x-auth-appkey",
  "x-auth-key-type",
  "x-auth-code",
  "www-authenticate",
  "retry-after",
];

describe("/v1/authorize fast path (node:http) answers as the application route does", () => {
  let h: Harness;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    h = await createHarness("sqlite");
    const fastPath = createFastPath({
      verifier: h.services.verifier,
      catalog: loadCatalogFile(defaultCatalogFile()),
      trustProxy: false,
      logger: h.logger,
    });
    server = createServer((req, res) => {
      if (!fastPath(req, res)) res.writeHead(404, { "x-not-fast": "1" }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  async function both(headers: Record<string, string>) {
    const fast = await fetch(`${base}/v1/authorize`, { headers });
    const routed = await h.request("GET", "/v1/authorize", { as: null, headers });
    return { fast, routed };
  }

  function answered(headers: Headers) {
    return Object.fromEntries(
      ANSWER_HEADERS.flatMap((name) => {
        const value = headers.get(name);
        return value === null ? [] : [[name, value]];
      }),
    );
  }

  it.each([
    ["a key holding the route's resource", "read", 200],
    ["a wrong token", "wrong", 401],
    ["a key without the route's resource", "other", 403],
    ["no credentials", "none", 401],
    ["no original URI", "no-uri", 400],
    ["an X-API-Account that is not an account name", "bad-account", 400],
  ] as const)("%s", async (_name, kind, status) => {
    const read = await h.createKey(`fast-read-${kind}`, [OMS_READ]);
    const other = await h.createKey(`fast-other-${kind}`, [OTHER]);
    const creds =
      kind === "other" ? other : kind === "wrong" ? { appKey: read.appKey, appToken: other.appToken } : read;
    const headers: Record<string, string> = {
      "x-original-method": "GET",
      ...(kind === "no-uri" ? {} : { "x-original-uri": ORDERS }),
      ...(kind === "none" ? {} : { "x-api-appkey": creds.appKey, "x-api-apptoken": creds.appToken }),
      ...(kind === "bad-account" ? { "x-api-account": "Not-An-Account" } : {}),
    };
    const { fast, routed } = await both(headers);
    expect(fast.status).toBe(status);
    expect(routed.status).toBe(status);
    expect(answered(fast.headers)).toEqual(answered(routed.headers));
    expect(fast.headers.get("content-length")).toBe("0");
    expect(fast.headers.get("cache-control")).toBe("no-store");
    expect(await fast.text()).toBe("");
    if (status === 200) {
      expect(answered(fast.headers)).toEqual({
        "x-auth-account": "acme",
        "x-auth-appkey": read.appKey,
        "x-auth-key-type": "generated",
      });
    }
  });

  it("serves a key imported by hash with its own token shape, and refuses that shape for a native key", async () => {
    const token = "IMPORTEDVTEXTOKEN".padEnd(110, "Z");
    const tokenHash = createHash("sha256").update(token, "utf8").digest("hex");
    const appKey = "vtexappkey-acme-FASTIM";
    const imported = await h.request("POST", "/v1/accounts/acme/keys/import", {
      body: { keys: [{ name: "fast imported", appKey, tokenHash, roles: [OMS_READ] }] },
    });
    expect(imported.status).toBe(201);
    const native = await h.createKey("fast native", [OMS_READ]);
    const request = (key: string, appToken: string) => ({
      "x-original-method": "GET",
      "x-original-uri": ORDERS,
      "x-api-appkey": key,
      "x-api-apptoken": appToken,
    });
    const ok = await both(request(appKey, token));
    expect([ok.fast.status, ok.routed.status]).toEqual([200, 200]);
    expect(ok.fast.headers.get("x-auth-appkey")).toBe(appKey);
    const refused = await both(request(native.appKey, token));
    expect([refused.fast.status, refused.routed.status]).toEqual([401, 401]);
    expect(refused.fast.headers.get("x-auth-code")).toBe("INVALID_CREDENTIALS");
  });

  it("leaves every other path to the application", async () => {
    const res = await fetch(`${base}/v1/authorizex`);
    expect(res.status).toBe(404);
    expect(res.headers.get("x-not-fast")).toBe("1");
  });
});

describe("/v1/verify fast path (node:http) answers as the application route does", () => {
  let h: Harness;
  let server: Server;
  let base: string;
  /** Requests the fast path read and handed to the application (anything but a plain verification). */
  let handedOver = 0;

  beforeAll(async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 8, windowSeconds: 60 } });
    const listener = getRequestListener(h.app.fetch);
    const application: RequestListener = (req, res) => {
      handedOver++;
      void listener(req, res);
    };
    const fastPath = createFastPath({
      verifier: h.services.verifier,
      catalog: loadCatalogFile(defaultCatalogFile()),
      trustProxy: false,
      logger: h.logger,
      application,
    });
    server = createServer((req, res) => {
      if (!fastPath(req, res)) application(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  /** The same request through the server (fast path first) and through the application alone. */
  async function both(body: string, headers: Record<string, string> = {}) {
    const init = { method: "POST", body, headers: { "content-type": "application/json", ...headers } };
    const before = handedOver;
    const fast = await fetch(`${base}/v1/verify`, init);
    const viaApplication = handedOver > before;
    const routed = await h.app.request("/v1/verify", init);
    const read = async (res: Response) => {
      const text = await res.text();
      const json = JSON.parse(text) as Record<string, unknown>;
      delete json.requestId;
      return json;
    };
    return {
      fast,
      routed,
      viaApplication,
      fastBody: await read(fast),
      routedBody: await read(routed),
    };
  }

  /** `detail` may name the caller's address, which differs: the server's has a socket, app.request() none. */
  function same(r: Awaited<ReturnType<typeof both>>, exceptDetail = false) {
    expect(r.fast.status).toBe(r.routed.status);
    if (exceptDetail) {
      delete r.fastBody.detail;
      delete r.routedBody.detail;
    }
    expect(r.fastBody).toEqual(r.routedBody);
    for (const name of ["content-type", "cache-control", "retry-after"])
      expect(r.fast.headers.get(name), name).toBe(r.routed.headers.get(name));
    expect(r.fast.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9._-]+$/);
  }

  it("answers a plain verification itself, with the route's body and headers", async () => {
    const read = await h.createKey("vfast-read", [OMS_READ]);
    const other = await h.createKey("vfast-other", [OTHER]);
    const cases = [
      { appKey: read.appKey, appToken: read.appToken, resource: "ViewOrders" },
      { appKey: read.appKey, appToken: read.appToken },
      { appKey: other.appKey, appToken: other.appToken, resource: "ViewOrders" },
      { appKey: read.appKey, appToken: other.appToken },
      { appKey: "vtexappkey-nobody-XXXXXX", appToken: read.appToken },
      { appKey: read.appKey, appToken: read.appToken, account: "acme" },
      { appKey: read.appKey, appToken: read.appToken, account: "elsewhere" },
    ];
    for (const body of cases) {
      const r = await both(JSON.stringify(body));
      same(r);
      expect(r.fast.status).toBe(200);
      expect(r.viaApplication).toBe(false);
    }
    const ok = await both(JSON.stringify(cases[0]));
    expect(ok.fastBody).toMatchObject({ valid: true, code: "OK", allowed: true, appKey: read.appKey });
  });

  it("answers a browser's request with the key's refusal, as the route does", async () => {
    const read = await h.createKey("vfast-browser", [OMS_READ]);
    const r = await both(JSON.stringify({ appKey: read.appKey, appToken: read.appToken }), {
      origin: "https://shop.example",
    });
    same(r);
    expect(r.viaApplication).toBe(false);
    expect(r.fastBody).toMatchObject({ valid: false, code: "BROWSER_REQUEST_REFUSED" });
  });

  it("echoes a plain X-Request-Id and logs the request line", async () => {
    const read = await h.createKey("vfast-id", [OMS_READ]);
    const res = await fetch(`${base}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "trace-4242" },
      body: JSON.stringify({ appKey: read.appKey, appToken: read.appToken }),
    });
    expect(res.headers.get("x-request-id")).toBe("trace-4242");
    expect(((await res.json()) as { valid: boolean }).valid).toBe(true);
    const line = h.logLines.map((l) => JSON.parse(l)).find((l) => l.requestId === "trace-4242");
    expect(line).toMatchObject({ msg: "request", method: "POST", path: "/v1/verify", status: 200 });
    expect(h.logLines.join("\n")).not.toContain(read.appToken);
  });

  it.each([
    ["not JSON", "{appKey:", "INVALID_JSON"],
    ["a missing appToken", JSON.stringify({ appKey: "vtexappkey-acme-ABCDEF" }), "VALIDATION_FAILED"],
    ["an unknown field", JSON.stringify({ appKey: "a", appToken: "b", role: 1 }), "VALIDATION_FAILED"],
    [
      "an unknown resource",
      JSON.stringify({ appKey: "a", appToken: "b", resource: "Nope" }),
      "UNKNOWN_RESOURCE",
    ],
    [
      "a clientIp from a caller that is not a trusted proxy",
      JSON.stringify({ appKey: "a", appToken: "b", clientIp: "203.0.113.7" }),
      "CLIENT_IP_NOT_TRUSTED",
    ],
    ["a JSON array", "[1,2]", "VALIDATION_FAILED"],
  ])("hands %s to the application, which answers its precise 400", async (_name, body, code) => {
    const r = await both(body);
    same(r, code === "CLIENT_IP_NOT_TRUSTED");
    expect(r.fast.status).toBe(400);
    expect(r.viaApplication).toBe(true);
    expect(r.fastBody.code).toBe(code);
  });

  it("leaves other content types, methods and large or chunked bodies to the application", async () => {
    const plain = await fetch(`${base}/v1/verify`, {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { code: string }).code).toBe("INVALID_JSON");
    const get = await fetch(`${base}/v1/verify`);
    expect(get.status).toBe(404);
    const big = JSON.stringify({ appKey: "a", appToken: "b".repeat(20_000) });
    const large = await fetch(`${base}/v1/verify`, {
      method: "POST",
      body: big,
      headers: { "content-type": "application/json" },
    });
    expect(large.status).toBe(400);
    expect(((await large.json()) as { code: string }).code).toBe("VALIDATION_FAILED");
  });

  it("answers the failure limiter's 429 as the route does, Retry-After included", async () => {
    const read = await h.createKey("vfast-limited", [OMS_READ]);
    const wrong = JSON.stringify({ appKey: read.appKey, appToken: `${read.appToken.slice(0, -2)}zz` });
    let last: Response | undefined;
    for (let i = 0; i < 40; i++) {
      last = await fetch(`${base}/v1/verify`, {
        method: "POST",
        body: wrong,
        headers: { "content-type": "application/json" },
      });
      if (last.status === 429) break;
      await last.text();
    }
    expect(last?.status).toBe(429);
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
    const problem = (await last?.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({
      code: "RATE_LIMITED",
      status: 429,
      type: "urn:latchkey:error:RATE_LIMITED",
    });
    expect(last?.headers.get("content-type")).toBe("application/problem+json");
  });

  it("survives a client that goes away mid-body, and keeps serving", async () => {
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/v1/verify`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": "200" },
      });
      req.on("error", () => resolve());
      req.write('{"appKey":"a",');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    const read = await h.createKey("vfast-after-abort", [OMS_READ]);
    const r = await both(JSON.stringify({ appKey: read.appKey, appToken: read.appToken }));
    expect(r.fast.status).toBe(200);
  });
});
