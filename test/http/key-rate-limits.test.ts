import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { DAY_MS } from "../../src/core/time.js";
import { composeLatchkey } from "../../src/main.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const ORDERS = "/api/oms/pvt/orders/1234";
const KEYS = "/v1/accounts/acme/keys";

describe.each(["sqlite", "postgres"] as const)("per-key rate limits and quotas on %s", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(kind);
    // Start on a window boundary, so a window does not end in the middle of a test.
    h.advance(60_000 - (h.deps.clock.now() % 60_000));
  });
  afterAll(() => h.close());

  async function create(body: Record<string, unknown>, as?: Credentials) {
    return h.request("POST", KEYS, { body: { roles: [OMS_READ], ...body }, ...(as ? { as } : {}) });
  }

  function authorize(creds: Credentials, uri = ORDERS) {
    return h.request("GET", "/v1/authorize", {
      as: creds,
      headers: { "x-original-method": "GET", "x-original-uri": uri },
    });
  }

  function verify(creds: Credentials, extra: Record<string, unknown> = {}) {
    return h.request("POST", "/v1/verify", { as: null, body: { ...creds, ...extra } });
  }

  function credsOf(res: { body: { key: { appKey: string }; appToken: string } }): Credentials {
    return { appKey: res.body.key.appKey, appToken: res.body.appToken };
  }

  it("refuses bad limits and quotas with a precise 400, writing nothing", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rateLimit: { limit: -1, windowSeconds: 60 } }, /rateLimit\.limit/],
      [{ rateLimit: { limit: 0, windowSeconds: 60 } }, /rateLimit\.limit/],
      [{ rateLimit: { limit: 10, windowSeconds: 0 } }, /rateLimit\.windowSeconds/],
      [{ rateLimit: { limit: 10, windowSeconds: 86_401 } }, /rateLimit\.windowSeconds/],
      [{ rateLimit: { limit: 1e12, windowSeconds: 60 } }, /rateLimit\.limit/],
      [{ rateLimit: { limit: 1.5, windowSeconds: 60 } }, /rateLimit\.limit/],
      [{ rateLimit: { limit: 10 } }, /rateLimit\.windowSeconds/],
      [{ rateLimit: { limit: 10, windowSeconds: 60, burst: 3 } }, /rateLimit/],
      [{ quota: { remaining: -1 } }, /quota\.remaining/],
      [{ quota: { remaining: 1e16 } }, /quota\.remaining/],
      [{ quota: { remaining: 10, refill: { amount: 10, every: "week" } } }, /quota\.refill\.every/],
      [{ quota: { remaining: 10, refill: { amount: 0, every: "day" } } }, /quota\.refill\.amount/],
      [{ quota: "lots" }, /quota/],
    ];
    const before = (await h.request("GET", `${KEYS}?limit=100`)).body.total;
    for (const [body, path] of cases) {
      const res = await create({ name: "bad-limits", ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
      expect(`${res.body.detail} ${JSON.stringify(res.body.errors ?? [])}`).toMatch(path);
    }
    expect((await h.request("GET", `${KEYS}?limit=100`)).body.total).toBe(before);
  });

  it("limits calls per window: RateLimit headers, 429 KEY_RATE_LIMITED with Retry-After, open again next window", async () => {
    const res = await create({ name: "limited", rateLimit: { limit: 3, windowSeconds: 60 } });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatchObject({ rateLimit: { limit: 3, windowSeconds: 60 }, quota: null });
    const creds = credsOf(res);
    h.advance(1000);
    const first = await authorize(creds);
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-limit")).toBe("3");
    expect(first.headers.get("ratelimit-remaining")).toBe("2");
    expect(first.headers.get("ratelimit-reset")).toBe("59");
    expect((await verify(creds)).body).toMatchObject({
      valid: true,
      rateLimit: { limit: 3, remaining: 1, reset: 59 },
      quota: null,
    });
    // A refused grant (403) counts against the rate limit too: the caller was served a decision.
    const denied = await authorize(creds, "/api/catalog/pvt/product/1");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("ratelimit-remaining")).toBe("0");
    const over = await authorize(creds);
    expect(over.status).toBe(429);
    expect(over.headers.get("x-auth-code")).toBe("KEY_RATE_LIMITED");
    expect(over.headers.get("retry-after")).toBe("59");
    expect((await verify(creds)).body).toMatchObject({
      valid: false,
      code: "KEY_RATE_LIMITED",
      retryAfter: 59,
    });
    const me = await h.request("GET", "/v1/me", { as: creds });
    expect(me.status).toBe(429);
    expect(me.body.code).toBe("KEY_RATE_LIMITED");
    expect(me.headers.get("retry-after")).toBe("59");
    // A wrong token is not the key's caller: told nothing of the limit.
    const wrong = await verify({ appKey: creds.appKey, appToken: h.owner.appToken });
    expect(wrong.body.code).toBe("INVALID_CREDENTIALS");
    h.advance(60_000);
    expect((await authorize(creds)).status).toBe(200);
  });

  it("spends a quota on allowed calls only, refuses with QUOTA_EXHAUSTED at zero, keeps it across a restart", async () => {
    const res = await create({ name: "metered", quota: { remaining: 3, refill: null } });
    expect(res.body.key.quota).toEqual({ remaining: 3, refill: null, refillsAt: null });
    const creds = credsOf(res);
    // Wrong tokens, an inactive key and refused grants spend nothing.
    await verify({ appKey: creds.appKey, appToken: h.owner.appToken });
    expect((await authorize(creds, "/api/catalog/pvt/product/1")).status).toBe(403);
    expect((await verify(creds, { resource: "EditOrders" })).body.code).toBe("RESOURCE_NOT_GRANTED");
    await h.request("PATCH", `${KEYS}/${creds.appKey}`, { body: { active: false } });
    expect((await verify(creds)).body.code).toBe("KEY_INACTIVE");
    await h.request("PATCH", `${KEYS}/${creds.appKey}`, { body: { active: true } });
    expect((await verify(creds)).body).toMatchObject({ valid: true, quota: { remaining: 2 } });
    const gate = await authorize(creds);
    expect(gate.status).toBe(200);
    expect(gate.headers.get("x-latchkey-quota-remaining")).toBe("1");
    expect(gate.headers.get("ratelimit-limit")).toBeNull();
    // Written by the usage flush, not by the call: the key shows it once flushed.
    await h.services.usage.flush();
    expect((await h.request("GET", `${KEYS}/${creds.appKey}`)).body.quota.remaining).toBe(1);

    // A restarted instance (a new verification path over the same database) reads what was written.
    const config = loadConfig({
      LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
      PUBLIC_URL: "http://localhost",
      RATE_LIMIT_FAILURES: "0",
    });
    const restarted = composeLatchkey(config, { store: h.store, logger: h.logger, clock: h.deps.clock });
    const again = await restarted.app.request("/v1/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(creds),
    });
    expect(await again.json()).toMatchObject({ valid: true, quota: { remaining: 0 } });
    const exhausted = await restarted.app.request("/v1/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(creds),
    });
    expect(await exhausted.json()).toMatchObject({
      valid: false,
      code: "QUOTA_EXHAUSTED",
      quota: { remaining: 0 },
    });
    await restarted.services.usage.flush();
    const me = await restarted.app.request("/v1/me", {
      headers: { "x-api-appkey": creds.appKey, "x-api-apptoken": creds.appToken },
    });
    expect(me.status).toBe(429);
    expect(((await me.json()) as { code: string }).code).toBe("QUOTA_EXHAUSTED");
    // No refill: no Retry-After, the account gives a new quota.
    expect(me.headers.get("retry-after")).toBeNull();
    expect((await h.request("GET", `${KEYS}/${creds.appKey}`)).body.quota.remaining).toBe(0);
    const topped = await h.request("PATCH", `${KEYS}/${creds.appKey}`, { body: { quota: { remaining: 5 } } });
    expect(topped.status).toBe(200);
    expect((await authorize(creds)).status).toBe(200);
  });

  it("refills a daily quota at the next UTC midnight", async () => {
    const res = await create({ name: "daily", quota: { remaining: 1, refill: { amount: 2, every: "day" } } });
    const creds = credsOf(res);
    expect((await authorize(creds)).status).toBe(200);
    const out = await authorize(creds);
    expect(out.status).toBe(429);
    expect(out.headers.get("x-auth-code")).toBe("QUOTA_EXHAUSTED");
    const now = h.deps.clock.now();
    const midnight = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
    expect(out.headers.get("retry-after")).toBe(String(Math.ceil((midnight - now) / 1000)));
    await h.services.usage.flush();
    h.advance(midnight - now);
    const next = await authorize(creds);
    expect(next.status).toBe(200);
    expect(next.headers.get("x-latchkey-quota-remaining")).toBe("1");
    await h.services.usage.flush();
    const shown = (await h.request("GET", `${KEYS}/${creds.appKey}`)).body.quota;
    expect(shown).toMatchObject({ remaining: 1, refill: { amount: 2, every: "day" } });
  });

  it("audits changes with before and after, clears with null, exports the columns", async () => {
    const res = await create({ name: "audited-limits" });
    const { appKey } = credsOf(res);
    const set = await h.request("PATCH", `${KEYS}/${appKey}`, {
      body: {
        rateLimit: { limit: 100, windowSeconds: 60 },
        quota: { remaining: 10, refill: { amount: 10, every: "month" } },
      },
    });
    expect(set.status).toBe(200);
    const exported = await h.request("GET", `${KEYS}/export?format=json`);
    const row = exported.body.generated.find((r: { label: string }) => r.label === "audited-limits");
    expect(row).toMatchObject({ rateLimit: "100/60s", quotaRemaining: "10", quotaRefill: "10/month" });
    const cleared = await h.request("PATCH", `${KEYS}/${appKey}`, { body: { rateLimit: null, quota: null } });
    expect(cleared.body).toMatchObject({ rateLimit: null, quota: null });
    const audit = await h.request("GET", `/v1/accounts/acme/audit?target=${appKey}`);
    const changes = audit.body.items
      .filter((e: { action: string }) => e.action === "key.controls_changed")
      .map((e: { data: unknown }) => e.data);
    expect(changes).toEqual(
      expect.arrayContaining([
        {
          before: { rateLimit: null, quota: null },
          after: {
            rateLimit: { limit: 100, windowSeconds: 60 },
            quota: { remaining: 10, refill: { amount: 10, every: "month" } },
          },
        },
        {
          before: {
            rateLimit: { limit: 100, windowSeconds: 60 },
            quota: { remaining: 10, refill: { amount: 10, every: "month" } },
          },
          after: { rateLimit: null, quota: null },
        },
      ]),
    );
  });

  it("a key editing keys gives no looser limits than its own and cannot change its own", async () => {
    const editorRes = await create({
      name: "limited-editor",
      roles: [1],
      rateLimit: { limit: 1000, windowSeconds: 60 },
      quota: { remaining: 500, refill: { amount: 500, every: "day" } },
    });
    const editor = credsOf(editorRes);
    const as = (body: unknown) => ({ as: editor, body });
    const own = await h.request("PATCH", `${KEYS}/${editor.appKey}`, as({ quota: { remaining: 10_000 } }));
    expect(own.status).toBe(403);
    expect(own.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const faster = await h.request(
      "POST",
      KEYS,
      as({ name: "faster", rateLimit: { limit: 100, windowSeconds: 1 } }),
    );
    expect(faster.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const unlimited = await h.request("POST", KEYS, as({ name: "unlimited", rateLimit: null }));
    expect(unlimited.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const bigger = await h.request("POST", KEYS, as({ name: "bigger", quota: { remaining: 501 } }));
    expect(bigger.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const monthly = await h.request(
      "POST",
      KEYS,
      as({ name: "monthly", quota: { remaining: 10, refill: { amount: 500, every: "month" } } }),
    );
    expect(monthly.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
    const slower = await h.request(
      "POST",
      KEYS,
      as({ name: "slower", rateLimit: { limit: 100, windowSeconds: 60 }, quota: { remaining: 50 } }),
    );
    expect(slower.status).toBe(201);
    // Naming none, a new key inherits the editor's.
    const child = await h.request("POST", KEYS, as({ name: "inheriting" }));
    expect(child.status).toBe(201);
    expect(child.body.key).toMatchObject({
      rateLimit: { limit: 1000, windowSeconds: 60 },
      quota: { remaining: 500, refill: { amount: 500, every: "day" } },
    });
  });
});
