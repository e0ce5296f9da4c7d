import { describe, expect, it } from "vitest";
import {
  checkControls,
  controlState,
  EXPIRY_FILTERS,
  exceedsCaller,
  expiresSoon,
  expiryRange,
  formatRateLimit,
  formatRefill,
  isBrowserRequest,
  MAX_QUOTA,
  MAX_RATE_LIMIT,
  NO_CONTROLS,
  nextQuotaPeriod,
  parseRateLimit,
  parseRefill,
  type Quota,
  quotaPeriod,
  quotaRemaining,
  validateIpAllowlist,
  validateMetadata,
  validateQuota,
  validateRateLimit,
} from "../../src/core/key-controls.js";
import { expiryOf } from "../../src/core/key-view.js";
import { DAY_MS } from "../../src/core/time.js";
import { decideKeyAuth } from "../../src/core/verification.js";

const NOW = Date.parse("2027-01-01T00:00:00Z");
const state = (controls: Partial<typeof NO_CONTROLS>) => controlState({ ...NO_CONTROLS, ...controls });

describe("decideKeyAuth with controls", () => {
  const expired = state({ expiresAt: NOW });
  const office = state({ ipAllowlist: ["203.0.113.0/24", "2001:db8::/32"] });
  it.each([
    ["no controls", null, { now: NOW, ip: "198.51.100.1" }, { ok: true }],
    ["expired at this instant", expired, { now: NOW, ip: null }, { ok: false, reason: "KEY_EXPIRED" }],
    ["not yet expired", expired, { now: NOW - 1, ip: null }, { ok: true }],
    ["inside the allowlist", office, { now: NOW, ip: "203.0.113.200" }, { ok: true }],
    ["IPv4-mapped inside", office, { now: NOW, ip: "::ffff:203.0.113.7" }, { ok: true }],
    ["IPv6 inside", office, { now: NOW, ip: "2001:db8:ffff::1" }, { ok: true }],
    ["outside", office, { now: NOW, ip: "203.0.114.1" }, { ok: false, reason: "IP_NOT_ALLOWED" }],
    ["unknown address", office, { now: NOW, ip: null }, { ok: false, reason: "IP_NOT_ALLOWED" }],
    ["not an address", office, { now: NOW, ip: "nonsense" }, { ok: false, reason: "IP_NOT_ALLOWED" }],
    ["address checked by the caller", office, { now: NOW }, { ok: true }],
    ["a browser", null, { now: NOW, browser: true }, { ok: false, reason: "BROWSER_REQUEST_REFUSED" }],
    ["a browser, key allows it", state({ allowBrowser: true }), { now: NOW, browser: true }, { ok: true }],
  ] as const)("%s", (_name, controls, facts, expected) => {
    expect(decideKeyAuth({ active: true, controls }, true, facts)).toEqual(expected);
  });

  it("says nothing of controls to a wrong token or for an inactive key", () => {
    const facts = { now: NOW, ip: "198.51.100.1", browser: true };
    expect(decideKeyAuth({ active: true, controls: expired }, false, facts)).toEqual({
      ok: false,
      reason: "WRONG_TOKEN",
    });
    expect(decideKeyAuth({ active: false, controls: expired }, true, facts)).toEqual({
      ok: false,
      reason: "INACTIVE",
    });
  });

  it("parses the allowlist once, when the state is made", () => {
    const made = state({ ipAllowlist: ["10.0.0.0/8"], metadata: { a: "é" } });
    expect(made?.ipBlocks?.words).toHaveLength(8); // one block: four words of network, four of mask
    expect(made?.metadataJson).toBe('{"a":"é"}');
    expect(Buffer.from(made?.metadataHeader ?? "", "base64url").toString("utf8")).toBe('{"a":"é"}');
    expect(controlState(NO_CONTROLS)).toBeNull();
    expect(checkControls(null, { now: NOW, ip: "1.2.3.4" })).toBeNull();
  });

  it("shares one compiled allowlist between keys that have the same, and only those", () => {
    const a = state({ ipAllowlist: ["10.0.0.0/8", "192.0.2.1/32"] });
    const b = state({ ipAllowlist: ["10.0.0.0/8", "192.0.2.1/32"] });
    const c = state({ ipAllowlist: ["10.0.0.0/8"] });
    expect(a?.ipBlocks).toBe(b?.ipBlocks);
    expect(c?.ipBlocks).not.toBe(a?.ipBlocks);
    const facts = (ip: string) => ({ now: NOW, ip });
    expect(checkControls(a, facts("192.0.2.1"))).toBeNull();
    expect(checkControls(c, facts("192.0.2.1"))).toBe("IP_NOT_ALLOWED");
    expect(checkControls(b, facts("192.0.2.1"))).toBeNull();
    expect(checkControls(c, facts("10.9.9.9"))).toBeNull();
  });
});

describe("validateIpAllowlist", () => {
  it("canonicalises blocks", () => {
    expect(validateIpAllowlist(["192.0.2.7", " 10.0.0.0/8", "2001:DB8:0:0::/64", "::1"])).toEqual({
      ok: true,
      value: ["192.0.2.7", "10.0.0.0/8", "2001:db8::/64", "::1"],
    });
  });

  it.each([
    [["10.0.0.1/8"], "ipAllowlist.0", /e\.g\. 10\.0\.0\.0\/8/],
    [["2001:db8::1/32"], "ipAllowlist.0", /e\.g\. 2001:db8::\/32/],
    [["10.0.0.0/33"], "ipAllowlist.0", /not an IPv4 or IPv6/],
    [["fe80::1%eth0"], "ipAllowlist.0", /not an IPv4 or IPv6/],
    [["010.0.0.0/8"], "ipAllowlist.0", /not an IPv4 or IPv6/],
    [["1.2.3.4", "1.2.3.4/32"], "ipAllowlist.1", /listed twice/],
  ])("refuses %j at %s", (entries, path, message) => {
    const result = validateIpAllowlist(entries);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.path).toBe(path);
      expect(result.error.message).toMatch(message);
    }
  });

  it("takes at most 100 entries", () => {
    const entries = Array.from({ length: 101 }, (_, i) => `10.${i}.0.0/16`);
    expect(validateIpAllowlist(entries).ok).toBe(false);
    expect(validateIpAllowlist(entries.slice(0, 100)).ok).toBe(true);
  });
});

describe("validateMetadata", () => {
  it("takes objects up to 4096 bytes of JSON (UTF-8)", () => {
    expect(validateMetadata({ plan: "gold" })).toBeNull();
    const fits = { v: "x".repeat(4096 - 8) };
    expect(JSON.stringify(fits).length).toBe(4096);
    expect(validateMetadata(fits)).toBeNull();
    expect(validateMetadata({ v: "é".repeat(2045) })?.message).toMatch(/4098 bytes/);
    expect(validateMetadata([1])?.message).toMatch(/JSON object/);
    expect(validateMetadata("text")?.message).toMatch(/JSON object/);
  });
});

describe("exceedsCaller", () => {
  const caller = { ...NO_CONTROLS, expiresAt: NOW, ipAllowlist: ["10.0.0.0/8"] };
  it.each([
    [{ ...caller }, null],
    [{ ...caller, expiresAt: NOW - 1, ipAllowlist: ["10.1.0.0/16", "10.2.3.4"] }, null],
    [{ ...caller, expiresAt: null }, /expiry/],
    [{ ...caller, expiresAt: NOW + 1 }, /expiry/],
    [{ ...caller, ipAllowlist: null }, /IP allowlist/],
    [{ ...caller, ipAllowlist: ["0.0.0.0/0"] }, /0\.0\.0\.0\/0 is outside/],
  ])("%j", (wanted, expected) => {
    const why = exceedsCaller(caller, wanted);
    if (expected === null) expect(why).toBeNull();
    else expect(why).toMatch(expected);
  });

  it("lets an unrestricted caller give anything", () => {
    expect(exceedsCaller(NO_CONTROLS, { ...NO_CONTROLS, allowBrowser: true })).toBeNull();
  });
});

describe("isBrowserRequest and expiresSoon", () => {
  it("sees Origin and Sec-Fetch-* only", () => {
    const of = (headers: Record<string, string>) => isBrowserRequest((name) => headers[name]);
    expect(of({})).toBe(false);
    expect(of({ "user-agent": "Mozilla/5.0" })).toBe(false);
    expect(of({ origin: "null" })).toBe(true);
    expect(of({ "sec-fetch-site": "none" })).toBe(true);
    expect(of({ "sec-fetch-mode": "navigate" })).toBe(true);
    // Node's fetch sends this alone on every request: a server, not a browser.
    expect(of({ "sec-fetch-mode": "cors" })).toBe(false);
    // A page of another site, or of a sibling subdomain, is a browser page to refuse.
    expect(
      of({ origin: "https://shop.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }),
    ).toBe(true);
    expect(of({ origin: "https://app.acme.test", "sec-fetch-site": "same-site" })).toBe(true);
    // A page this server served (the /docs explorer's Try it out) is not an integration's client code.
    expect(
      of({ origin: "http://localhost", "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }),
    ).toBe(false);
  });

  it("warns within 14 days, not after expiry", () => {
    expect(expiresSoon(NOW + 14 * DAY_MS, NOW)).toBe(true);
    expect(expiresSoon(NOW + 14 * DAY_MS + 1, NOW)).toBe(false);
    expect(expiresSoon(NOW, NOW)).toBe(false);
    expect(expiresSoon(null, NOW)).toBe(false);
  });
});

describe("expiryRange (the list's expiry filter)", () => {
  /** Whether a stored expiry falls in the range, as the storage layer's where clauses read it. */
  function selects(filter: (typeof EXPIRY_FILTERS)[number], expiresAt: number | null): boolean {
    const range = expiryRange(filter, NOW);
    if (!range.hasExpiry) return expiresAt === null;
    if (expiresAt === null) return false;
    if (range.expiresFrom !== undefined && expiresAt < range.expiresFrom) return false;
    return range.expiresBefore === undefined || expiresAt < range.expiresBefore;
  }

  it("selects exactly the keys whose view shows that expiry, at every boundary", () => {
    const offsets = [-DAY_MS, -1, 0, 1, 14 * DAY_MS - 1, 14 * DAY_MS, 14 * DAY_MS + 1, 90 * DAY_MS];
    for (const expiresAt of [null, ...offsets.map((offset) => NOW + offset)]) {
      const shown = expiryOf(expiresAt, NOW);
      for (const filter of EXPIRY_FILTERS) {
        const expected = filter === "any" ? shown !== "none" : filter === shown;
        expect(selects(filter, expiresAt), `${filter} at ${expiresAt}`).toBe(expected);
      }
    }
  });
});

describe("rate limits and quotas", () => {
  it("a key with neither keeps ControlState null (no allocation on the hot path)", () => {
    expect(state({})).toBeNull();
    expect(state({ rateLimit: { limit: 5, windowSeconds: 2 } })?.rateLimit).toEqual({
      limit: 5,
      windowMs: 2000,
    });
  });

  it.each([
    [{ limit: 1, windowSeconds: 1 }, null],
    [{ limit: 0, windowSeconds: 1 }, "rateLimit.limit"],
    [{ limit: -3, windowSeconds: 1 }, "rateLimit.limit"],
    [{ limit: MAX_RATE_LIMIT + 1, windowSeconds: 1 }, "rateLimit.limit"],
    [{ limit: 10, windowSeconds: 0 }, "rateLimit.windowSeconds"],
    [{ limit: 10, windowSeconds: 86_401 }, "rateLimit.windowSeconds"],
    [{ limit: 10, windowSeconds: 1.5 }, "rateLimit.windowSeconds"],
  ])("validateRateLimit(%j)", (value, path) => {
    expect(validateRateLimit(value)?.path ?? null).toBe(path);
  });

  it.each([
    [{ remaining: 0, refill: null }, null],
    [{ remaining: -1, refill: null }, "quota.remaining"],
    [{ remaining: MAX_QUOTA + 1, refill: null }, "quota.remaining"],
    [{ remaining: 1, refill: { amount: 0, every: "day" } }, "quota.refill.amount"],
    [{ remaining: 1, refill: { amount: 5, every: "week" } }, "quota.refill.every"],
  ])("validateQuota(%j)", (value, path) => {
    expect(validateQuota(value as Quota)?.path ?? null).toBe(path);
  });

  it("reads and writes the CLI's text forms", () => {
    expect(parseRateLimit("100/60s")).toEqual({ limit: 100, windowSeconds: 60 });
    expect(parseRateLimit("1000/1m")).toEqual({ limit: 1000, windowSeconds: 60 });
    expect(parseRateLimit("5/1h")).toEqual({ limit: 5, windowSeconds: 3600 });
    expect(parseRateLimit("5/30")).toEqual({ limit: 5, windowSeconds: 30 });
    expect(parseRateLimit("5 per minute")).toBeUndefined();
    expect(parseRefill("10000/month")).toEqual({ amount: 10000, every: "month" });
    expect(parseRefill("10/week")).toBeUndefined();
    expect(formatRateLimit({ limit: 100, windowSeconds: 60 })).toBe("100/60s");
    expect(formatRefill({ amount: 7, every: "day" })).toBe("7/day");
  });

  it("refill periods start at UTC midnight and on the first of the month", () => {
    const at = Date.parse("2027-01-31T23:59:00Z");
    expect(quotaPeriod({ amount: 1, every: "day" }, at)).toBe(Date.parse("2027-01-31T00:00:00Z"));
    expect(quotaPeriod({ amount: 1, every: "month" }, at)).toBe(Date.parse("2027-01-01T00:00:00Z"));
    expect(nextQuotaPeriod({ amount: 1, every: "month" }, Date.parse("2027-12-01T00:00:00Z"))).toBe(
      Date.parse("2028-01-01T00:00:00Z"),
    );
    expect(quotaPeriod(null, at)).toBe(0);
    const quota = { remaining: 2, refill: { amount: 9, every: "day" as const } };
    expect(quotaRemaining(quota, Date.parse("2027-01-31T00:00:00Z"), at)).toBe(2);
    expect(quotaRemaining(quota, Date.parse("2027-01-30T00:00:00Z"), at)).toBe(9);
  });

  it.each([
    [{ rateLimit: { limit: 10, windowSeconds: 60 }, quota: { remaining: 100, refill: null } }, null],
    [{ rateLimit: { limit: 1, windowSeconds: 60 }, quota: { remaining: 100, refill: null } }, null],
    [{ rateLimit: { limit: 11, windowSeconds: 60 }, quota: { remaining: 100, refill: null } }, /rate limit/],
    [{ rateLimit: { limit: 2, windowSeconds: 1 }, quota: { remaining: 100, refill: null } }, /rate limit/],
    [{ rateLimit: null, quota: { remaining: 1, refill: null } }, /rate limit/],
    [{ rateLimit: { limit: 10, windowSeconds: 60 }, quota: null }, /quota/],
    [{ rateLimit: { limit: 10, windowSeconds: 60 }, quota: { remaining: 101, refill: null } }, /remaining/],
    [
      {
        rateLimit: { limit: 10, windowSeconds: 60 },
        quota: { remaining: 1, refill: { amount: 1, every: "day" } },
      },
      /refill/,
    ],
  ])("exceedsCaller for a caller at 10/60s with 100 calls: %j", (limits, expected) => {
    const caller = {
      ...NO_CONTROLS,
      rateLimit: { limit: 10, windowSeconds: 60 },
      quota: { remaining: 100, refill: null },
    };
    const why = exceedsCaller(caller, { ...NO_CONTROLS, ...(limits as Partial<typeof NO_CONTROLS>) });
    if (expected === null) expect(why).toBeNull();
    else expect(why).toMatch(expected);
  });
});
