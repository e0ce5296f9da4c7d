/**
 * The verification endpoints under the failed-authentication limit, and their metrics: per client
 * address (X-Forwarded-For believed with TRUST_PROXY), with the harness's clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
let h: Harness;
afterEach(() => h.close());

function authorize(from: string, appKey: string, appToken: string) {
  return h.request("GET", "/v1/authorize", {
    as: null,
    headers: {
      "x-forwarded-for": from,
      "x-api-appkey": appKey,
      "x-api-apptoken": appToken,
      "x-original-method": "GET",
      "x-original-uri": "/api/oms/pvt/orders",
    },
  });
}

describe("failed authentications on /v1/authorize and /v1/verify", () => {
  it("answers 429 with Retry-After to the failing address's failures only; valid tokens pass everywhere", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: 60 }, trustProxy: true });
    const key = await h.createKey("erp", [OMS_READ]);
    const other = await h.createKey("other");
    for (let i = 0; i < 4; i++)
      expect((await authorize("203.0.113.9", key.appKey, other.appToken)).status).toBe(401);
    await new Promise((resolve) => setImmediate(resolve));
    h.advance(20_000);
    const blocked = await authorize("203.0.113.9", key.appKey, other.appToken);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBe("40");
    // The right token from the blocked address is served: only failures are refused.
    expect((await authorize("203.0.113.9", key.appKey, key.appToken)).status).toBe(200);
    // The integration, from its own address, is never refused because of the attacker.
    expect((await authorize("198.51.100.7", key.appKey, key.appToken)).status).toBe(200);
    const verify = (appToken: string) =>
      h.request("POST", "/v1/verify", {
        as: null,
        headers: { "x-forwarded-for": "203.0.113.9" },
        body: { appKey: key.appKey, appToken },
      });
    const refused = await verify(other.appToken);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("40");
    expect(refused.body.code).toBe("RATE_LIMITED");
    const served = await verify(key.appToken);
    expect([served.status, served.body.valid, served.body.code]).toEqual([200, true, "OK"]);
    h.advance(41_000);
    expect((await authorize("203.0.113.9", key.appKey, key.appToken)).status).toBe(200);
  });

  it("counts malformed tokens as failures without looking anything up", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 2, windowSeconds: 60 }, trustProxy: true });
    const key = await h.createKey("erp", [OMS_READ]);
    const keys = h.store.keys as unknown as { getByAppKey: (...args: unknown[]) => unknown };
    const original = keys.getByAppKey;
    let reads = 0;
    keys.getByAppKey = (...args: unknown[]) => {
      reads++;
      return original.apply(h.store.keys, args);
    };
    const forged = `${key.appToken.slice(0, -1)}${key.appToken.endsWith("A") ? "B" : "A"}`;
    for (let i = 0; i < 3; i++)
      expect((await authorize("203.0.113.10", "appkey-acme-NOSUCH", forged)).status).toBe(401);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await authorize("203.0.113.10", "appkey-acme-NOSUCH", forged)).status).toBe(429);
    keys.getByAppKey = original;
    expect(reads).toBe(0);
  });
});

describe("metrics of the verification path", () => {
  it("count verifications by outcome and cache hits, and never show a token", async () => {
    h = await createHarness("sqlite");
    const key = await h.createKey("erp", [OMS_READ]);
    const value = async (name: string, labels: string) => {
      const text = (await h.request("GET", "/metrics", { as: null })).text;
      const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const allowed = await value("latchkey_verifications_total", 'outcome="allowed"');
    const invalid = await value("latchkey_verifications_total", 'outcome="invalid"');
    const hits = await value("latchkey_key_cache_requests_total", 'result="hit"');
    for (let i = 0; i < 3; i++)
      expect((await authorize("198.51.100.1", key.appKey, key.appToken)).status).toBe(200);
    expect((await authorize("198.51.100.1", key.appKey, h.owner.appToken)).status).toBe(401);
    expect(await value("latchkey_verifications_total", 'outcome="allowed"')).toBe(allowed + 3);
    expect(await value("latchkey_verifications_total", 'outcome="invalid"')).toBe(invalid + 1);
    expect(await value("latchkey_key_cache_requests_total", 'result="hit"')).toBeGreaterThanOrEqual(hits + 3);
    await h.services.usage.flush();
    const text = (await h.request("GET", "/metrics", { as: null })).text;
    expect(text).toMatch(/latchkey_usage_flush_total\{result="ok"\} [1-9]/);
    expect(text).not.toContain(key.appToken);
  });
});
