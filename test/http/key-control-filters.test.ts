import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS } from "../../src/core/time.js";
import { createHarness, type Harness } from "../support/harness.js";

const KEYS = "/v1/accounts/acme/keys";

/** GET …/keys?expiry= and ?control=: the keys each filter selects, and precise 400s for bad values. */
describe.each(["sqlite", "postgres"] as const)("key list filters by expiry and control on %s", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(kind);
    const allowBrowser = await h.request("PUT", "/v1/accounts/acme/settings/api-keys", {
      body: {
        renewalPeriodMonths: 3,
        notifications: { emails: [], webhooks: [] },
        policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, allowBrowserKeys: true },
      },
    });
    expect(allowBrowser.status).toBe(200);
    const now = h.deps.clock.now();
    const at = (days: number) => new Date(now + days * DAY_MS).toISOString();
    const keys: Record<string, Record<string, unknown>> = {
      "f-expired": { expiresAt: at(1) },
      "f-soon": { expiresAt: at(13), ipAllowlist: ["203.0.113.0/24"] },
      "f-edge": { expiresAt: at(15) },
      "f-later": { expiresAt: at(90), metadata: { plan: "gold" } },
      "f-plain": {},
      "f-browser": { allowBrowser: true },
      "f-rate": { rateLimit: { limit: 100, windowSeconds: 60 } },
      "f-quota": { quota: { remaining: 0, refill: null } },
      "f-metered": {
        expiresAt: at(10),
        rateLimit: { limit: 5, windowSeconds: 1 },
        quota: { remaining: 500, refill: { amount: 500, every: "day" } },
      },
    };
    for (const [name, controls] of Object.entries(keys)) {
      const res = await h.request("POST", KEYS, { body: { name, ...controls } });
      expect(res.status).toBe(201);
    }
    // f-expired is past its expiry; f-soon at 11 days, f-edge at 13 (now soon), f-metered at 8,
    // f-later at 88.
    h.advance(2 * DAY_MS);
  });
  afterAll(() => h.close());

  async function names(query: string): Promise<string[]> {
    const res = await h.request("GET", `${KEYS}?${query}&sort=name&order=asc`);
    expect(res.status).toBe(200);
    const items = res.body.items as { name: string }[];
    expect(res.body.total).toBe(items.length);
    return items.map((key) => key.name).filter((name) => name.startsWith("f-"));
  }

  it("selects by expiry with the badge's bounds", async () => {
    expect(await names("expiry=expired")).toEqual(["f-expired"]);
    expect(await names("expiry=soon")).toEqual(["f-edge", "f-metered", "f-soon"]);
    expect(await names("expiry=ok")).toEqual(["f-later"]);
    expect(await names("expiry=any")).toEqual(["f-edge", "f-expired", "f-later", "f-metered", "f-soon"]);
    expect(await names("expiry=none")).toEqual(["f-browser", "f-plain", "f-quota", "f-rate"]);
    // Every key the filter lists shows the same expiry in its view.
    const soon = await h.request("GET", `${KEYS}?expiry=soon`);
    expect(soon.body.items.map((key: { expiry: string }) => key.expiry)).toEqual(["soon", "soon", "soon"]);
  });

  it("selects by control, and combines with the other filters", async () => {
    expect(await names("control=ipAllowlist")).toEqual(["f-soon"]);
    expect(await names("control=metadata")).toEqual(["f-later"]);
    expect(await names("control=allowBrowser")).toEqual(["f-browser"]);
    expect(await names("control=rateLimit")).toEqual(["f-metered", "f-rate"]);
    // A quota used up (remaining 0) is still a quota.
    expect(await names("control=quota")).toEqual(["f-metered", "f-quota"]);
    expect(await names("control=quota&expiry=soon")).toEqual(["f-metered"]);
    expect(await names("control=rateLimit&expiry=none")).toEqual(["f-rate"]);
    expect(await names("control=ipAllowlist&expiry=soon&status=active")).toEqual(["f-soon"]);
    expect(await names("control=metadata&expiry=soon")).toEqual([]);
    expect(await names("expiry=soon&q=edge")).toEqual(["f-edge"]);
  });

  it("counts the filtered total, not the account's (status alone uses the stored count)", async () => {
    const all = await h.request("GET", `${KEYS}?status=active`);
    const filtered = await h.request("GET", `${KEYS}?status=active&expiry=soon&limit=1`);
    expect(filtered.body.items).toHaveLength(1);
    expect(filtered.body.total).toBe(3);
    expect(all.body.total).toBeGreaterThan(3);
  });

  it("refuses unknown values with a 400 naming the parameter", async () => {
    for (const [query, path] of [
      ["expiry=tomorrow", "expiry"],
      ["control=ip", "control"],
      ["control=ratelimit", "control"],
      ["control=quotas", "control"],
      ["expiry=", "expiry"],
    ] as const) {
      const res = await h.request("GET", `${KEYS}?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
      expect(res.body.errors).toEqual([expect.objectContaining({ path })]);
    }
    // The refusal of a control names every value the filter takes.
    const res = await h.request("GET", `${KEYS}?control=quotas`);
    for (const value of ["ipAllowlist", "metadata", "allowBrowser", "rateLimit", "quota"])
      expect(res.body.errors[0].message).toContain(`"${value}"`);
  });
});
