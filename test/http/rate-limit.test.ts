/**
 * Failed-authentication limits over HTTP (SPEC §6): management-API key authentication and admin
 * sign-in, per client address, with the harness's clock (no sleeping). Requests come from chosen
 * TCP peer addresses, as @hono/node-server hands them to the app.
 */
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";
import { countStoreCalls } from "../support/limits.js";
import { tamperedLast } from "../support/tampered.js";

const ATTACKER = "203.0.113.66";
const INTEGRATION = "198.51.100.10";
const LIMIT = 5;
const WINDOW = 60;

let h: Harness;
afterEach(() => h.close());

interface Call {
  as?: Credentials;
  body?: unknown;
  headers?: Record<string, string>;
}

async function from(ip: string, method: string, path: string, call: Call = {}) {
  const headers: Record<string, string> = { ...call.headers };
  if (call.as) {
    headers["x-api-appkey"] = call.as.appKey;
    headers["x-api-apptoken"] = call.as.appToken;
  }
  if (call.body !== undefined) headers["content-type"] = "application/json";
  const init = { method, headers, ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }) };
  const res = await h.app.request(path, init, { incoming: { socket: { remoteAddress: ip } } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
}

describe("failed appKey/appToken authentication", () => {
  it("blocks the failing address with 429 and Retry-After, and only that address", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: LIMIT, windowSeconds: WINDOW } });
    const key = await h.createKey("erp", [2]);
    const wrong = { appKey: key.appKey, appToken: h.owner.appToken };
    for (let i = 0; i < LIMIT; i++) {
      expect((await from(ATTACKER, "GET", "/v1/me", { as: wrong })).status).toBe(401);
    }
    // The attempt past the limit still answers 401; the address is blocked from then on.
    expect((await from(ATTACKER, "GET", "/v1/me", { as: wrong })).status).toBe(401);
    h.advance(15_000);
    const blocked = await from(ATTACKER, "GET", "/v1/me", { as: wrong });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("content-type")).toContain("application/problem+json");
    expect(blocked.headers.get("retry-after")).toBe("45");
    expect(blocked.body).toMatchObject({ code: "RATE_LIMITED", status: 429, retryAfter: 45 });
    expect(blocked.text).not.toContain(h.owner.appToken);

    // The key's own caller, elsewhere, is never refused because of the attacker's failures.
    const me = await from(INTEGRATION, "GET", "/v1/me", { as: key });
    expect([me.status, me.body.principal.appKey]).toEqual([200, key.appKey]);
    const list = await from(INTEGRATION, "GET", "/v1/accounts/acme/keys", { as: key });
    expect(list.status).toBe(200);
    // The blocked address is still served with a correct token: only failures are refused...
    const correct = await from(ATTACKER, "GET", "/v1/me", { as: key });
    expect([correct.status, correct.body.principal.appKey]).toEqual([200, key.appKey]);
    // ...and an appKey the cache does not hold costs one lookup of the address's allowance, then
    // none: it is known as unknown.
    const calls = countStoreCalls(h.store);
    const nosuch = { ...key, appKey: "appkey-acme-NOSUCH" };
    const unknown = await from(ATTACKER, "GET", "/v1/me", { as: nosuch });
    expect([unknown.status, unknown.body.code, calls.count()]).toEqual([429, "RATE_LIMITED", 1]);
    expect((await from(ATTACKER, "GET", "/v1/me", { as: nosuch })).status).toBe(429);
    expect(calls.count()).toBe(1);

    h.advance(45_000);
    expect((await from(ATTACKER, "GET", "/v1/me", { as: wrong })).status).toBe(401);
    expect((await from(ATTACKER, "GET", "/v1/me", { as: key })).status).toBe(200);
  });

  it("counts malformed and half-sent credentials as failures", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 2, windowSeconds: WINDOW } });
    const forged = { appKey: h.owner.appKey, appToken: tamperedLast(h.owner.appToken) };
    await from(ATTACKER, "GET", "/v1/me", { as: forged });
    await from(ATTACKER, "GET", "/v1/me", { headers: { "x-api-appkey": h.owner.appKey } });
    await from(ATTACKER, "GET", "/v1/me", { headers: { "x-api-apptoken": "lkt_nothing" } });
    const res = await from(ATTACKER, "GET", "/v1/me", { as: forged });
    expect([res.status, res.headers.get("retry-after")]).toEqual([429, "60"]);
    const half = await from(ATTACKER, "GET", "/v1/me", { headers: { "x-api-appkey": h.owner.appKey } });
    expect(half.status).toBe(429);
    // None of these made the owner's key known; the blocked address still has lookups left in its
    // allowance, so the owner's correct token is read and served from there.
    expect((await from(ATTACKER, "GET", "/v1/me", { as: h.owner })).status).toBe(200);
    expect((await from(INTEGRATION, "GET", "/v1/me", { as: h.owner })).status).toBe(200);
  });

  it("does not count successes, and is off unless configured", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 1, windowSeconds: WINDOW } });
    for (let i = 0; i < 5; i++)
      expect((await from(INTEGRATION, "GET", "/v1/me", { as: h.owner })).status).toBe(200);
    await h.close();

    h = await createHarness();
    const wrong = { appKey: h.owner.appKey, appToken: "lkt_nope" };
    for (let i = 0; i < 50; i++) await from(ATTACKER, "GET", "/v1/me", { as: wrong });
    expect((await from(ATTACKER, "GET", "/v1/me", { as: h.owner })).status).toBe(200);
  });
});

describe("failed sign-ins", () => {
  const login = (ip: string, password: string, email = "owner@acme.test") =>
    from(ip, "POST", "/v1/auth/login", { body: { email, password } });

  it("block the address, whatever the email, while other addresses sign in", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: WINDOW } });
    // Other emails each time, so that only the address goes over the limit (emails count too).
    for (let i = 0; i < 3; i++)
      expect((await login(ATTACKER, `wrong password ${i}`, `user${i}@acme.test`)).status).toBe(401);
    expect((await login(ATTACKER, "still wrong", "owner@acme.test")).status).toBe(401);
    const refused = await login(ATTACKER, OWNER_PASSWORD);
    expect([refused.status, refused.body.code, refused.headers.get("retry-after")]).toEqual([
      429,
      "RATE_LIMITED",
      "60",
    ]);
    expect(refused.text).not.toContain(OWNER_PASSWORD);
    expect(refused.headers.get("set-cookie")).toBeNull();

    expect((await login(INTEGRATION, OWNER_PASSWORD)).status).toBe(200);
    h.advance(WINDOW * 1000);
    expect((await login(ATTACKER, OWNER_PASSWORD)).status).toBe(200);
  });
});

describe("behind a trusted proxy", () => {
  it("counts the address the proxy appended, whatever the client put first", async () => {
    h = await createHarness("sqlite", {
      rateLimit: { failures: 2, windowSeconds: WINDOW },
      trustProxy: true,
    });
    const wrong = { appKey: h.owner.appKey, appToken: "lkt_nope" };
    for (let i = 0; i < 3; i++) {
      const spoofed = { "x-forwarded-for": `10.9.9.${i}, ${ATTACKER}` };
      await from("127.0.0.1", "GET", "/v1/me", { as: wrong, headers: spoofed });
    }
    const again = await from("127.0.0.1", "GET", "/v1/me", {
      as: wrong,
      headers: { "x-forwarded-for": `10.9.9.200, ${ATTACKER}` },
    });
    expect(again.status).toBe(429);
    // Putting the blocked address first does not make another client's failure count against it.
    const other = await from("127.0.0.1", "GET", "/v1/me", {
      as: wrong,
      headers: { "x-forwarded-for": `${ATTACKER}, ${INTEGRATION}` },
    });
    expect(other.status).toBe(401);
  });
});

describe("RATE_LIMIT_FAILURES and RATE_LIMIT_WINDOW", () => {
  it("default to 30 failures per 60 s, and take 0 to turn limiting off", () => {
    expect(loadConfig({})).toMatchObject({ rateLimitFailures: 30, rateLimitWindowSeconds: 60 });
    expect(loadConfig({ RATE_LIMIT_FAILURES: "0", RATE_LIMIT_WINDOW: "5m" })).toMatchObject({
      rateLimitFailures: 0,
      rateLimitWindowSeconds: 300,
    });
  });

  it("name each bad value", () => {
    expect(() => loadConfig({ RATE_LIMIT_FAILURES: "-1", RATE_LIMIT_WINDOW: "0" })).toThrow(
      /RATE_LIMIT_FAILURES: must be an integer 0-1000000.*\n.*RATE_LIMIT_WINDOW: must be a duration of 1-86400/s,
    );
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: "2d" })).toThrow(/RATE_LIMIT_WINDOW/);
  });
});
