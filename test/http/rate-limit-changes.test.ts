/**
 * A key change never locks a failure-limited address out of a key it was being served: the cache
 * reads a changed key again at once, so right after a rename, a role edit, a renewal (its new
 * token included), a deactivation and reactivation, or an unknown change heard from the fan-out,
 * the key's valid token is served from an address whose lookup allowance is spent, with no lookup
 * of its own. Only a key this instance never read is refused there.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { countStoreCalls, requestFrom } from "../support/limits.js";

const BLOCKED = "203.0.113.9";
const ELSEWHERE = "198.51.100.20";
const OMS_READ = 10;
const CATALOG = 20;

let h: Harness;
let key: Credentials;
let other: Credentials;

function authorize(credentials: Credentials, from = BLOCKED) {
  return requestFrom(h, from, "GET", "/v1/authorize", {
    headers: {
      "x-api-appkey": credentials.appKey,
      "x-api-apptoken": credentials.appToken,
      "x-original-method": "GET",
      "x-original-uri": "/api/oms/pvt/orders/1234",
    },
  });
}

const verify = (credentials: Credentials) =>
  requestFrom(h, BLOCKED, "POST", "/v1/verify", { body: credentials });
const keyPath = () => `/v1/accounts/acme/keys/${key.appKey}`;

/** The status `authorize` answers, and how many store calls answering it made. */
async function served(credentials: Credentials): Promise<[number, number]> {
  const calls = countStoreCalls(h.store);
  try {
    const { status } = await authorize(credentials);
    return [status, calls.count()];
  } finally {
    calls.restore();
  }
}

beforeEach(async () => {
  h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: 60 } });
  const created = await h.createKey("erp", [OMS_READ]);
  key = { appKey: created.appKey, appToken: created.appToken };
  other = await h.createKey("other");
  expect((await authorize(key)).status).toBe(200);
  // Blocked by wrong tokens, then its lookups spent on made-up appKeys.
  const wrong = { appKey: key.appKey, appToken: other.appToken };
  for (let i = 0; i < 4; i++) expect((await authorize(wrong)).status).toBe(401);
  expect((await authorize(wrong)).status).toBe(429);
  for (let i = 0; i < 8; i++) {
    const madeUp = { appKey: `appkey-acme-MADEU${String.fromCharCode(65 + i)}`, appToken: key.appToken };
    expect((await authorize(madeUp)).status).toBe(429);
  }
  const cold = await h.createKey("cold", [OMS_READ]);
  expect((await authorize(cold)).status).toBe(429);
  expect(await served(key)).toEqual([200, 0]);
});

afterEach(() => h.close());

describe("a blocked address whose lookups are spent", () => {
  it("is served its key right after the key is renamed or its roles edited", async () => {
    expect((await h.request("PATCH", keyPath(), { body: { name: "renamed" } })).status).toBe(200);
    expect(await served(key)).toEqual([200, 0]);
    // The new roles answer at once: authenticated (not 429), without the route's resource.
    expect((await h.request("PUT", `${keyPath()}/roles`, { body: { roles: [CATALOG] } })).status).toBe(200);
    expect(await served(key)).toEqual([403, 0]);
    const both = { roles: [OMS_READ, CATALOG] };
    expect((await h.request("PUT", `${keyPath()}/roles`, { body: both })).status).toBe(200);
    expect(await served(key)).toEqual([200, 0]);
    const verified = await verify(key);
    expect([verified.status, verified.body.valid]).toEqual([200, true]);
  });

  it("is served the old and the new token right after a renewal, and only the new one once it completes", async () => {
    const renewed = await h.request("POST", `${keyPath()}/renewal`);
    expect(renewed.status).toBe(201);
    const fresh = { appKey: key.appKey, appToken: renewed.body.appToken as string };
    expect(await served(fresh)).toEqual([200, 0]);
    expect(await served(key)).toEqual([200, 0]);
    expect((await h.request("POST", `${keyPath()}/renewal/complete`)).status).toBe(200);
    expect(await served(fresh)).toEqual([200, 0]);
    expect(await served(key)).toEqual([429, 0]);
  });

  it("gets 429 for a deactivated or deleted key at once, and is served again after a reactivation", async () => {
    expect((await h.request("PATCH", keyPath(), { body: { active: false } })).status).toBe(200);
    expect(await served(key)).toEqual([429, 0]);
    expect((await h.request("PATCH", keyPath(), { body: { active: true } })).status).toBe(200);
    expect(await served(key)).toEqual([200, 0]);
    expect((await h.request("DELETE", keyPath())).status).toBe(204);
    expect(await served(key)).toEqual([429, 0]);
    expect((await authorize(key, ELSEWHERE)).status).toBe(401);
  });

  it("is served after a change heard from another instance, or an unknown one", async () => {
    const updatedAt = h.deps.clock.now();
    await h.store.keys.update("acme", key.appKey, { name: "renamed elsewhere", updatedAt });
    h.deps.changes.deliver({ kind: "key", appKey: key.appKey });
    expect(await served(key)).toEqual([200, 0]);
    h.deps.changes.deliver({ kind: "all" });
    // Nothing is read on an unknown change; the key's last state holds the token, so it is read.
    const [status, calls] = await served(key);
    expect([status, calls > 0]).toEqual([200, true]);
    expect(await served(key)).toEqual([200, 0]);
  });
});
