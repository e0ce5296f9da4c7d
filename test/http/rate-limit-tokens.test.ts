/**
 * The failure limiter never refuses a valid token (SPEC §6): an address over the limit still gets
 * its valid appKey/appToken and JWT calls served, on /v1/authorize (node:http fast path and Hono
 * route alike), /v1/verify, the management API, app-token login and VTEX login; what would fail
 * gets 429, and an appKey the cache does not hold costs no lookup. The fast path's requests come
 * from 127.0.0.1, so the route's are sent from there too: both count in one bucket.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFastPath } from "../../src/http/fast-path.js";
import { connectLimiterRedis } from "../../src/verify/rate-limit.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";
import { type Call, countStoreCalls, requestFrom } from "../support/limits.js";

const ADDRESS = "127.0.0.1";
const ELSEWHERE = "198.51.100.20";
const OMS_READ = 10;
const ORDERS = "/api/oms/pvt/orders/1234";
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Waits for the limiter's Redis round trips (failures are counted without holding the answer). */
async function until(condition: () => boolean) {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

let h: Harness;
let server: Server | undefined;
let fastBase = "";

afterEach(async () => {
  if (server) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
  await h.close();
});

async function setUp(windowSeconds = 60) {
  h = await createHarness("sqlite", { rateLimit: { failures: 30, windowSeconds } });
  const fastPath = createFastPath({
    verifier: h.services.verifier,
    catalog: h.deps.catalog,
    trustProxy: false,
    logger: h.logger,
  });
  const listening = createServer((req, res) => {
    if (!fastPath(req, res)) res.writeHead(404).end();
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, ADDRESS, resolve));
  fastBase = `http://${ADDRESS}:${(listening.address() as AddressInfo).port}`;
}

const from = (ip: string, method: string, path: string, call?: Call) =>
  requestFrom(h, ip, method, path, call);

function gatewayHeaders(credentials: Credentials | string): Record<string, string> {
  const presented =
    typeof credentials === "string"
      ? { authorization: `Bearer ${credentials}` }
      : { "x-api-appkey": credentials.appKey, "x-api-apptoken": credentials.appToken };
  return { "x-original-method": "GET", "x-original-uri": ORDERS, ...presented };
}

/** /v1/authorize through the node:http fast path, from 127.0.0.1. */
async function fast(credentials: Credentials | string) {
  const res = await fetch(`${fastBase}/v1/authorize`, { headers: gatewayHeaders(credentials) });
  return { status: res.status, headers: res.headers };
}

/** /v1/authorize through the Hono route, from 127.0.0.1. */
async function routed(credentials: Credentials | string) {
  return from(ADDRESS, "GET", "/v1/authorize", { headers: gatewayHeaders(credentials) });
}

/** A key made through the API, as the credentials alone (request bodies are strict). */
async function createKey(name: string, roles: number[] = []): Promise<Credentials> {
  const { appKey, appToken } = await h.createKey(name, roles);
  return { appKey, appToken };
}

const verify = (credentials: Credentials) => from(ADDRESS, "POST", "/v1/verify", { body: credentials });

/** 100 well-formed wrong tokens for `key`, half through each /v1/authorize path. */
async function sendBadTokens(key: Credentials, wrongToken: string) {
  const wrong = { appKey: key.appKey, appToken: wrongToken };
  for (let i = 0; i < 100; i++) {
    const res = i % 2 === 0 ? await fast(wrong) : await routed(wrong);
    // The failure past the limit is still answered; the address is blocked from then on.
    expect(res.status).toBe(i <= 30 ? 401 : 429);
  }
  return wrong;
}

/** Spends the blocked address's lookups with made-up appKeys (each refused 429). */
async function spendLookups(appToken: string) {
  for (let i = 0; i < 40; i++) {
    const appKey = `appkey-acme-MADE${String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26))}`;
    expect((await verify({ appKey, appToken })).status).toBe(429);
  }
}

describe("an address over the failure limit", () => {
  it("is still served for the correct token and a valid JWT, on every path", async () => {
    await setUp();
    const key = await createKey("erp", [OMS_READ]);
    const other = await createKey("other");
    const login = await from(ELSEWHERE, "POST", "/v1/auth/apptoken", { body: key });
    expect(login.status).toBe(200);
    const jwt = login.body.token as string;
    const wrong = await sendBadTokens(key, other.appToken);

    // Failures are refused alike by both paths (one decision function).
    const [fastRefused, routeRefused] = [await fast(wrong), await routed(wrong)];
    for (const refused of [fastRefused, routeRefused]) {
      expect([refused.status, refused.headers.get("x-auth-code")]).toEqual([429, "RATE_LIMITED"]);
      expect(refused.headers.get("retry-after")).toBe("60");
    }

    for (const answer of [await fast(key), await routed(key), await fast(jwt), await routed(jwt)]) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-auth-appkey")).toBe(key.appKey);
    }
    const verified = await verify(key);
    expect([verified.status, verified.body.valid, verified.body.allowed]).toEqual([200, true, null]);
    expect((await verify(wrong)).status).toBe(429);

    const me = await from(ADDRESS, "GET", "/v1/me", { as: key });
    expect([me.status, me.body.principal.appKey]).toEqual([200, key.appKey]);
    const meByJwt = await from(ADDRESS, "GET", "/v1/me", { jwt });
    expect([meByJwt.status, meByJwt.body.principal.appKey]).toEqual([200, key.appKey]);
    expect((await from(ADDRESS, "GET", "/v1/me", { as: wrong })).status).toBe(429);
    expect((await from(ADDRESS, "GET", "/v1/me", { jwt: `${jwt}x` })).status).toBe(429);

    const again = await from(ADDRESS, "POST", "/v1/auth/apptoken", { body: key });
    expect([again.status, typeof again.body.token]).toEqual([200, "string"]);
    expect((await from(ADDRESS, "POST", "/v1/auth/apptoken", { body: wrong })).status).toBe(429);
    const vtex = await from(ADDRESS, "POST", "/api/vtexid/apptoken/login", {
      body: { appkey: key.appKey, apptoken: key.appToken },
    });
    expect([vtex.status, vtex.body.authStatus]).toEqual([200, "Success"]);
    const vtexWrong = await from(ADDRESS, "POST", "/api/vtexid/apptoken/login", {
      body: { appkey: wrong.appKey, apptoken: wrong.appToken },
    });
    expect([vtexWrong.status, Object.keys(vtexWrong.body)]).toEqual([429, ["Message"]]);

    // Password sign-in stays strict: the right password from this address is refused.
    const signIn = await from(ADDRESS, "POST", "/v1/auth/login", {
      body: { email: "owner@acme.test", password: OWNER_PASSWORD },
    });
    expect([signIn.status, signIn.body.code]).toEqual([429, "RATE_LIMITED"]);
  });

  it("gets the same answers from the fast path and the route, whatever it presents", async () => {
    await setUp();
    const key = await createKey("erp", [OMS_READ]);
    const other = await createKey("other", [20]);
    expect((await fast(key)).status).toBe(200);
    expect((await fast(other)).status).toBe(403);
    await sendBadTokens(key, other.appToken);
    const names = ["x-auth-account", "x-auth-appkey", "x-auth-key-type", "x-auth-code", "retry-after"];
    const answered = (res: { status: number; headers: Headers }) => [
      res.status,
      ...names.map((name) => res.headers.get(name)),
    ];
    const cases: [Credentials | string, number][] = [
      [key, 200],
      [other, 403],
      [{ appKey: key.appKey, appToken: other.appToken }, 429],
      [{ appKey: "appkey-acme-NOSUCH", appToken: key.appToken }, 429],
      [{ appKey: key.appKey, appToken: "lkt_malformed" }, 429],
      ["not.a.jwt", 429],
    ];
    for (const [credentials, status] of cases) {
      const [viaFast, viaRoute] = [await fast(credentials), await routed(credentials)];
      expect(viaFast.status).toBe(status);
      expect(answered(viaFast)).toEqual(answered(viaRoute));
    }
  });

  it("serves a valid key it never read, and looks up no more than its allowance", async () => {
    await setUp();
    const key = await createKey("erp", [OMS_READ]);
    const other = await createKey("other");
    expect((await fast(key)).status).toBe(200);
    await sendBadTokens(key, other.appToken);
    // `fresh` exists but was never read by this instance since it was made: it is served.
    const fresh = await createKey("fresh", [OMS_READ]);
    const served = await fast(fresh);
    expect([served.status, served.headers.get("x-auth-appkey")]).toEqual([200, fresh.appKey]);

    // Made-up appKeys spend the address's lookups (as many a window as failures allowed)...
    const calls = countStoreCalls(h.store);
    try {
      await spendLookups(key.appToken);
      expect(calls.count()).toBeGreaterThan(0);
      expect(calls.count()).toBeLessThanOrEqual(31 * 2);
      // ...then an appKey the cache cannot answer for gets 429 with no lookup, on every path.
      const unknown = { appKey: "appkey-acme-NOSUCH", appToken: key.appToken };
      const cold = await createKey("cold", [OMS_READ]);
      const before = calls.count();
      for (const credentials of [unknown, cold]) {
        expect((await fast(credentials)).status).toBe(429);
        expect((await routed(credentials)).status).toBe(429);
        expect((await verify(credentials)).status).toBe(429);
        expect((await from(ADDRESS, "GET", "/v1/me", { as: credentials })).status).toBe(429);
        expect((await from(ADDRESS, "POST", "/v1/auth/apptoken", { body: credentials })).status).toBe(429);
        const vtex = await from(ADDRESS, "POST", "/api/vtexid/apptoken/login", {
          body: { appkey: credentials.appKey, apptoken: credentials.appToken },
        });
        expect(vtex.status).toBe(429);
      }
      expect(calls.count()).toBe(before);
      // Keys already read are still served, and the address's allowance is its own.
      expect((await fast(key)).status).toBe(200);
      expect((await fast(fresh)).status).toBe(200);
      expect((await from(ELSEWHERE, "POST", "/v1/verify", { body: cold })).body.valid).toBe(true);
      expect(calls.count()).toBeGreaterThan(before);
    } finally {
      calls.restore();
    }
  });

  it("gets a key read again once its cached state expired, for the token it held only", async () => {
    await setUp(600);
    const key = await createKey("erp", [OMS_READ]);
    const other = await createKey("other", [OMS_READ]);
    expect((await fast(key)).status).toBe(200);
    expect((await fast(other)).status).toBe(200);
    await sendBadTokens(key, other.appToken);
    h.advance(120_000);
    await spendLookups(key.appToken);

    const calls = countStoreCalls(h.store);
    try {
      // `other`'s expired state does not hold this token: refused with no lookup.
      expect((await fast({ appKey: other.appKey, appToken: key.appToken })).status).toBe(429);
      expect(calls.count()).toBe(0);
      // `key`'s does: the key is read again and the call is served.
      const served = await fast(key);
      expect([served.status, served.headers.get("x-auth-appkey")]).toEqual([200, key.appKey]);
      expect(calls.count()).toBeGreaterThan(0);
    } finally {
      calls.restore();
    }
  });
});

describe("with counters shared through Redis", () => {
  const prefix = `latchkey-test:${process.pid}-${Date.now()}:`;
  let redis: Redis;
  let second: Harness;

  beforeAll(async () => {
    redis = await connectLimiterRedis(REDIS_URL);
    await new Promise((resolve) => redis.once("ready", resolve));
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("an instance learns the block at its next failure, and still serves valid tokens", async () => {
    const shared = { rateLimit: { failures: 3, windowSeconds: 60 }, limiterRedis: { client: redis, prefix } };
    h = await createHarness("sqlite", shared);
    second = await createHarness("sqlite", shared);
    try {
      const attacker = "203.0.113.77";
      const wrong = { appKey: h.owner.appKey, appToken: second.owner.appToken };
      for (let i = 0; i < 4; i++) await requestFrom(h, attacker, "GET", "/v1/me", { as: wrong });
      await until(() => h.services.limiter.blockedFor(attacker) > 0);
      expect((await requestFrom(h, attacker, "GET", "/v1/me", { as: wrong })).status).toBe(429);

      // The second instance has its owner key cached, and no failure of its own from the attacker yet.
      expect((await requestFrom(second, ELSEWHERE, "GET", "/v1/me", { as: second.owner })).status).toBe(200);
      const secondWrong = { appKey: second.owner.appKey, appToken: h.owner.appToken };
      expect((await requestFrom(second, attacker, "GET", "/v1/me", { as: secondWrong })).status).toBe(401);
      await until(() => second.services.limiter.blockedFor(attacker) > 0);
      expect((await requestFrom(second, attacker, "GET", "/v1/me", { as: secondWrong })).status).toBe(429);
      expect((await requestFrom(second, attacker, "GET", "/v1/me", { as: second.owner })).status).toBe(200);
      const signIn = await requestFrom(second, attacker, "POST", "/v1/auth/login", {
        body: { email: "owner@acme.test", password: OWNER_PASSWORD },
      });
      expect(signIn.status).toBe(429);

      // Emails too: failures on the first instance block the email on the second one.
      for (let i = 0; i < 4; i++) {
        await requestFrom(h, `192.0.2.${i + 1}`, "POST", "/v1/auth/login", {
          body: { email: "owner@acme.test", password: `wrong ${i}` },
        });
      }
      const taught = await requestFrom(second, "192.0.2.50", "POST", "/v1/auth/login", {
        body: { email: " Owner@ACME.test", password: "wrong again" },
      });
      expect(taught.status).toBe(401);
      const refused = await requestFrom(second, "192.0.2.51", "POST", "/v1/auth/login", {
        body: { email: "owner@acme.test", password: OWNER_PASSWORD },
      });
      expect(refused.status).toBe(429);
      const stored = await redis.keys(`${prefix}*`);
      expect(stored.some((name) => name.startsWith(`${prefix}sign-in-failures:`))).toBe(true);
      expect(stored.join("\n")).not.toMatch(/owner|acme/i);
    } finally {
      await second.close();
    }
  });
});
