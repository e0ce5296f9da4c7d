/**
 * The integrators' verifier (src/client/verify.ts) against an in-process latchkey: what it caches,
 * for how long, by what, and what its Hono and Express middleware answer.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLatchkeyClient, type LatchkeyClient } from "../../src/client/client.js";
import {
  cacheKey,
  createVerifier,
  type ExpressRequestLike,
  type ExpressResponseLike,
  latchkeyExpress,
  latchkeyHono,
  VerifyFailed,
} from "../../src/client/verify.js";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
let client: LatchkeyClient;
let calls: string[];
let key: { appKey: string; appToken: string };
/** Well-formed, but another key's token. */
let wrong: { appKey: string; appToken: string };
/** Status forced on every /v1/verify answer, to stand for a failing latchkey. */
let failWith: number | undefined;

beforeAll(async () => {
  h = await createHarness();
  calls = [];
  client = createLatchkeyClient({
    baseUrl: "http://latchkey.test",
    fetch: async (request) => {
      calls.push(new URL(request.url).pathname);
      if (failWith !== undefined)
        return Response.json({ code: "UNAVAILABLE" }, { status: failWith, headers: { "retry-after": "7" } });
      return h.app.request(request);
    },
  });
  const viewer = (
    await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "Key viewer", resources: ["ViewApiKeys"] },
    })
  ).body;
  const created = await h.createKey("verified", [viewer.id]);
  key = { appKey: created.appKey, appToken: created.appToken };
  wrong = { appKey: key.appKey, appToken: (await h.createKey("other")).appToken };
});
afterAll(() => h.close());

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("createVerifier", () => {
  it("keeps a valid answer for ttlMs, then asks again", async () => {
    const time = clock();
    const verifier = createVerifier({ client, ttlMs: 5_000, now: time.now });
    calls.length = 0;
    const first = await verifier.verify(key);
    expect(first).toMatchObject({ valid: true, code: "OK", appKey: key.appKey, account: "acme" });
    expect(await verifier.verify(key)).toEqual(first);
    time.advance(4_999);
    await verifier.verify(key);
    expect(calls).toHaveLength(1);
    time.advance(1);
    await verifier.verify(key);
    expect(calls).toHaveLength(2);
  });

  it("never keeps an answer for a key with a rate limit or a quota: latchkey counts every call", async () => {
    const metered = (
      await h.request("POST", "/v1/accounts/acme/keys", {
        body: { name: "metered-client", quota: { remaining: 2 } },
      })
    ).body;
    const creds = { appKey: metered.key.appKey, appToken: metered.appToken };
    const verifier = createVerifier({ client, ttlMs: 5_000, now: clock().now });
    calls.length = 0;
    expect(await verifier.verify(creds)).toMatchObject({ valid: true, quota: { remaining: 1 } });
    expect(await verifier.verify(creds)).toMatchObject({ valid: true, quota: { remaining: 0 } });
    expect(await verifier.verify(creds)).toMatchObject({ valid: false, code: "QUOTA_EXHAUSTED" });
    expect(calls).toHaveLength(3);
  });

  it("keeps an invalid answer for invalidTtlMs only, and a different question is asked apart", async () => {
    const time = clock();
    const verifier = createVerifier({ client, now: time.now });
    calls.length = 0;
    expect(await verifier.verify(wrong)).toMatchObject({ valid: false, code: "INVALID_CREDENTIALS" });
    await verifier.verify(wrong);
    expect(calls).toHaveLength(1);
    time.advance(1_000);
    await verifier.verify(wrong);
    expect(calls).toHaveLength(2);
    expect(await verifier.verify({ ...key, resource: "ViewApiKeys" })).toMatchObject({ allowed: true });
    expect(await verifier.verify({ ...key, resource: "EditApiKeys" })).toMatchObject({ allowed: false });
    expect(calls).toHaveLength(4);
  });

  it("never caches a failure: each call asks again and throws VerifyFailed", async () => {
    const verifier = createVerifier({ client });
    calls.length = 0;
    failWith = 429;
    try {
      const failed = await verifier.verify(key).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(VerifyFailed);
      expect(failed).toMatchObject({ status: 429, code: "UNAVAILABLE", retryAfter: 7 });
      await expect(verifier.verify(key)).rejects.toBeInstanceOf(VerifyFailed);
      expect(verifier.size).toBe(0);
      expect(calls).toHaveLength(2);
    } finally {
      failWith = undefined;
    }
    expect(await verifier.verify(key)).toMatchObject({ valid: true });
  });

  it("reports an unreachable latchkey as status 0", async () => {
    const down = createLatchkeyClient({
      baseUrl: "http://latchkey.test",
      fetch: () => Promise.reject(new TypeError("fetch failed")),
    });
    await expect(createVerifier({ client: down }).verify(key)).rejects.toMatchObject({
      status: 0,
      code: "UNREACHABLE",
    });
  });

  it("asks once for identical questions in flight", async () => {
    const verifier = createVerifier({ client });
    calls.length = 0;
    const answers = await Promise.all([verifier.verify(key), verifier.verify(key), verifier.verify(key)]);
    expect(new Set(answers.map((answer) => answer.valid))).toEqual(new Set([true]));
    expect(calls).toHaveLength(1);
  });

  it("holds at most maxEntries answers, dropping the oldest", async () => {
    const verifier = createVerifier({ client, maxEntries: 2, now: clock().now });
    calls.length = 0;
    for (const account of ["acme", "other1", "other2"]) await verifier.verify({ ...key, account });
    expect(verifier.size).toBe(2);
    await verifier.verify({ ...key, account: "other2" });
    expect(calls).toHaveLength(3);
    await verifier.verify({ ...key, account: "acme" });
    expect(calls).toHaveLength(4);
    verifier.clear();
    expect(verifier.size).toBe(0);
  });

  it("keys the cache by a SHA-256 of the question, never the token", async () => {
    const hashed = await cacheKey(key);
    expect(hashed).toMatch(/^[0-9a-f]{64}$/);
    expect(hashed).not.toContain(key.appToken);
    // IP allowlists: the same credentials may be answered differently from another address.
    expect(await cacheKey({ ...key, clientIp: "203.0.113.7" })).not.toBe(hashed);
    expect(await cacheKey({ ...key, resource: "ViewApiKeys" })).not.toBe(hashed);
  });

  it.each([
    [{ ttlMs: 60_001 }, /ttlMs/],
    [{ ttlMs: -1 }, /ttlMs/],
    [{ invalidTtlMs: -1 }, /invalidTtlMs/],
    [{ maxEntries: 0 }, /maxEntries/],
  ])("refuses %j", (options, message) => {
    expect(() => createVerifier({ client, ...options })).toThrow(message);
  });
});

describe("latchkeyHono", () => {
  const verifier = () => createVerifier({ client, ttlMs: 0 });

  function service(resource?: string) {
    const app = new Hono<{ Variables: { latchkey: { appKey: string | null } } }>();
    app.use("/orders", latchkeyHono(verifier(), resource === undefined ? {} : { resource }));
    app.get("/orders", (c) => c.json({ caller: c.get("latchkey").appKey }));
    return app;
  }
  const headers = (credentials: { appKey: string; appToken: string }) => ({
    "x-api-appkey": credentials.appKey,
    "x-api-apptoken": credentials.appToken,
  });

  it("runs the route for an accepted key, with latchkey's answer", async () => {
    const res = await service("ViewApiKeys").request("/orders", { headers: headers(key) });
    expect([res.status, await res.json()]).toEqual([200, { caller: key.appKey }]);
  });

  it.each([
    ["no credentials", {}, 401, "MISSING_CREDENTIALS"],
    ["another key's token", "wrong", 401, "INVALID_CREDENTIALS"],
  ])("refuses %s", async (_, sent, status, code) => {
    const res = await service().request("/orders", { headers: sent === "wrong" ? headers(wrong) : sent });
    expect([res.status, await res.json()]).toEqual([status, { code }]);
  });

  it("refuses 403 a key without the route's resource, and 503 when latchkey fails", async () => {
    const res = await service("EditApiKeys").request("/orders", { headers: headers(key) });
    expect([res.status, await res.json()]).toEqual([403, { code: "RESOURCE_NOT_GRANTED" }]);
    failWith = 500;
    try {
      const down = await service().request("/orders", { headers: headers(key) });
      expect([down.status, await down.json()]).toEqual([503, { code: "VERIFY_UNAVAILABLE" }]);
      failWith = 429;
      const limited = await service().request("/orders", { headers: headers(key) });
      expect([limited.status, limited.headers.get("retry-after")]).toEqual([429, "7"]);
    } finally {
      failWith = undefined;
    }
  });
});

describe("latchkeyExpress", () => {
  function run(headers: ExpressRequestLike["headers"], resource?: string) {
    const middleware = latchkeyExpress(
      createVerifier({ client, ttlMs: 0 }),
      resource === undefined ? {} : { resource },
    );
    const req: ExpressRequestLike = { headers };
    const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
    const res: ExpressResponseLike = {
      status(code) {
        sent.status = code;
        return res;
      },
      set(field, value) {
        sent.headers[field] = value;
        return res;
      },
      json(body) {
        sent.body = body;
        return res;
      },
    };
    return new Promise<{ next: boolean; req: ExpressRequestLike; sent: typeof sent }>((resolve) => {
      middleware(req, res, () => resolve({ next: true, req, sent }));
      const check = setInterval(() => {
        if (sent.body !== undefined) {
          clearInterval(check);
          resolve({ next: false, req, sent });
        }
      }, 5);
    });
  }

  it("calls next with latchkey's answer on the request for an accepted key", async () => {
    const outcome = await run({ "x-api-appkey": key.appKey, "x-api-apptoken": key.appToken }, "ViewApiKeys");
    expect(outcome.next).toBe(true);
    expect(outcome.req.latchkey).toMatchObject({ valid: true, appKey: key.appKey, allowed: true });
  });

  it("answers the refusal itself, reading the X-VTEX-API-* names too", async () => {
    const outcome = await run({ "x-vtex-api-appkey": key.appKey, "x-vtex-api-apptoken": "wrong" });
    expect(outcome).toMatchObject({
      next: false,
      sent: { status: 401, body: { code: "INVALID_CREDENTIALS" } },
    });
  });
});
