import { describe, expect, it } from "vitest";
import type { Key } from "../../src/core/api.js";
import { NO_CONTROLS } from "../../src/core/key-controls.js";
import { generatedKeyRow, type KeyFacts, type KeyViewContext, presentKey } from "../../src/core/key-view.js";

const day = (date: string) => Date.parse(`${date}T00:00:00Z`);

const base: KeyFacts = {
  id: "k1",
  appKey: "appkey-acme-QWERTY",
  account: "acme",
  name: "ERP sync",
  active: true,
  inactiveReason: null,
  createdAt: day("2026-01-10"),
  updatedAt: day("2026-02-01"),
  tokenCreatedAt: day("2026-01-10"),
  lastUsedAt: null,
  roleIds: [1, 7],
  tokens: [{ createdAt: day("2026-01-10") }],
  ...NO_CONTROLS,
  quotaPeriod: 0,
};

const context: KeyViewContext = {
  roleNames: new Map([
    [1, "Owner"],
    [7, "OMS - Read only"],
  ]),
  renewalPeriodMonths: 3,
  now: day("2026-03-01"),
};

describe("presentKey", () => {
  it.each<[string, Partial<KeyFacts>, Partial<KeyViewContext>, Partial<Key>]>([
    [
      "an active key with one token",
      {},
      {},
      {
        status: "active",
        active: true,
        creationDate: "2026-01-10T00:00:00.000Z",
        creationDateToken: "2026-01-10T00:00:00.000Z",
        creationDateNewToken: null,
        pendingRenewal: false,
        alert: "none",
        lastUsedAt: null,
        updatedAt: "2026-02-01T00:00:00.000Z",
      },
    ],
    ["an inactive key", { active: false }, {}, { status: "inactive", active: false, inactiveReason: null }],
    [
      "an inactive key says why",
      { active: false, inactiveReason: "leak_reported" },
      {},
      { status: "inactive", inactiveReason: "leak_reported" },
    ],
    ["an active key has no reason", { inactiveReason: "unused" }, {}, { inactiveReason: null }],
    [
      "no expiry",
      {},
      {},
      { expiresAt: null, expiry: "none", ipAllowlist: null, metadata: null, allowBrowser: false },
    ],
    ["no rate limit, no quota", {}, {}, { rateLimit: null, quota: null }],
    [
      "a rate limit",
      { rateLimit: { limit: 100, windowSeconds: 60 } },
      {},
      { rateLimit: { limit: 100, windowSeconds: 60 } },
    ],
    [
      "a quota stored for this month: as stored, refilling on the first of the next",
      { quota: { remaining: 7, refill: { amount: 50, every: "month" } }, quotaPeriod: day("2026-03-01") },
      {},
      {
        quota: {
          remaining: 7,
          refill: { amount: 50, every: "month" },
          refillsAt: "2026-04-01T00:00:00.000Z",
        },
      },
    ],
    [
      "a quota stored for an ended month: refilled",
      { quota: { remaining: 0, refill: { amount: 50, every: "month" } }, quotaPeriod: day("2026-02-01") },
      {},
      {
        quota: {
          remaining: 50,
          refill: { amount: 50, every: "month" },
          refillsAt: "2026-04-01T00:00:00.000Z",
        },
      },
    ],
    [
      "a daily quota stored yesterday: refilled",
      { quota: { remaining: 3, refill: { amount: 9, every: "day" } }, quotaPeriod: day("2026-02-28") },
      {},
      { quota: { remaining: 9, refill: { amount: 9, every: "day" }, refillsAt: "2026-03-02T00:00:00.000Z" } },
    ],
    [
      "a quota without refill never refills",
      { quota: { remaining: 0, refill: null } },
      {},
      { quota: { remaining: 0, refill: null, refillsAt: null } },
    ],
    ["expiring in 14 days", { expiresAt: day("2026-03-15") }, {}, { expiry: "soon" }],
    ["expiring in 15 days", { expiresAt: day("2026-03-16") }, {}, { expiry: "ok" }],
    [
      "expired",
      { expiresAt: day("2026-03-01") },
      {},
      { expiresAt: "2026-03-01T00:00:00.000Z", expiry: "expired" },
    ],
    [
      "a pending renewal: the current token's date, and the new one's",
      { tokens: [{ createdAt: day("2026-01-10") }, { createdAt: day("2026-02-20") }] },
      {},
      {
        creationDateToken: "2026-01-10T00:00:00.000Z",
        creationDateNewToken: "2026-02-20T00:00:00.000Z",
        pendingRenewal: true,
      },
    ],
    [
      "no token record: the key's token date",
      { tokens: [], tokenCreatedAt: day("2026-01-12") },
      {},
      { creationDateToken: "2026-01-12T00:00:00.000Z", pendingRenewal: false },
    ],
    ["orange past the renewal period", {}, { now: day("2026-04-11") }, { alert: "orange" }],
    ["red three months past it", {}, { now: day("2026-07-11") }, { alert: "red" }],
    [
      "a 6-month period is not yet orange",
      {},
      { now: day("2026-04-11"), renewalPeriodMonths: 6 },
      { alert: "none" },
    ],
    ["a last use", { lastUsedAt: day("2026-02-28") }, {}, { lastUsedAt: "2026-02-28T00:00:00.000Z" }],
    [
      "each token's last use while a renewal is pending, and the newest token's age",
      {
        tokens: [
          { createdAt: day("2026-01-10"), lastUsedAt: day("2026-02-27") },
          { createdAt: day("2026-02-20"), lastUsedAt: day("2026-02-28") },
        ],
        tokenCreatedAt: day("2026-02-20"),
      },
      {},
      {
        lastUsedAtToken: "2026-02-27T00:00:00.000Z",
        lastUsedAtNewToken: "2026-02-28T00:00:00.000Z",
        tokenAgeDays: 9,
      },
    ],
    ["no token use recorded", {}, {}, { lastUsedAtToken: null, lastUsedAtNewToken: null, tokenAgeDays: 50 }],
    [
      "roles in the key's order, a deleted one left out",
      { roleIds: [7, 99, 1] },
      {},
      {
        roles: [
          { id: 7, name: "OMS - Read only" },
          { id: 1, name: "Owner" },
        ],
      },
    ],
    ["no roles", { roleIds: [] }, {}, { roles: [] }],
  ])("%s", (_, facts, overrides, expected) => {
    const key = presentKey({ ...base, ...facts }, { ...context, ...overrides });
    expect(key).toMatchObject({
      id: "k1",
      appKey: "appkey-acme-QWERTY",
      account: "acme",
      name: "ERP sync",
      keyType: "generated",
      ...expected,
    });
  });

  it("shows only the public facts: no token or hash field", () => {
    const withSecrets = { ...base, tokens: [{ createdAt: base.createdAt, hash: "h", id: "t" }], hash: "h" };
    expect(Object.keys(presentKey(withSecrets, context)).sort()).toEqual([
      "account",
      "active",
      "alert",
      "allowBrowser",
      "appKey",
      "creationDate",
      "creationDateNewToken",
      "creationDateToken",
      "expiresAt",
      "expiry",
      "id",
      "inactiveReason",
      "ipAllowlist",
      "keyType",
      "lastUsedAt",
      "lastUsedAtNewToken",
      "lastUsedAtToken",
      "metadata",
      "name",
      "pendingRenewal",
      "quota",
      "rateLimit",
      "roles",
      "status",
      "tokenAgeDays",
      "updatedAt",
    ]);
  });
});

describe("generatedKeyRow", () => {
  it.each<[string, Partial<KeyFacts>, Record<string, unknown>]>([
    [
      "the export's names for the key's facts",
      {},
      {
        id: "k1",
        keyName: "appkey-acme-QWERTY",
        label: "ERP sync",
        roles: "Owner; OMS - Read only",
        creationDate: "2026-01-10T00:00:00.000Z",
        creationDateToken: "2026-01-10T00:00:00.000Z",
        creationDateNewToken: null,
        status: "active",
        inactiveReason: null,
        alert: "none",
        lastUsedAt: null,
        expiresAt: null,
        ipAllowlist: "",
        metadata: "",
        allowBrowser: "false",
        rateLimit: "",
        quotaRemaining: "",
        quotaRefill: "",
      },
    ],
    [
      "a rate limit and a quota, in the CLI's text forms",
      {
        rateLimit: { limit: 100, windowSeconds: 60 },
        quota: { remaining: 42, refill: { amount: 1000, every: "day" } },
        quotaPeriod: day("2026-03-01"),
      },
      { rateLimit: "100/60s", quotaRemaining: "42", quotaRefill: "1000/day" },
    ],
    [
      "controls",
      {
        expiresAt: day("2026-03-01"),
        ipAllowlist: ["10.0.0.0/8", "::1"],
        metadata: { a: 1 },
        allowBrowser: true,
      },
      {
        expiresAt: "2026-03-01T00:00:00.000Z",
        ipAllowlist: "10.0.0.0/8; ::1",
        metadata: '{"a":1}',
        allowBrowser: "true",
      },
    ],
    ["no roles: an empty cell", { roleIds: [] }, { roles: "" }],
    [
      "a pending renewal and a last use",
      {
        tokens: [{ createdAt: day("2026-01-10") }, { createdAt: day("2026-02-20") }],
        lastUsedAt: day("2026-02-28"),
        active: false,
        inactiveReason: "token_too_old",
      },
      {
        creationDateNewToken: "2026-02-20T00:00:00.000Z",
        lastUsedAt: "2026-02-28T00:00:00.000Z",
        status: "inactive",
        inactiveReason: "token_too_old",
      },
    ],
  ])("%s", (_, facts, expected) => {
    const row = generatedKeyRow(presentKey({ ...base, ...facts }, context));
    expect(row).toMatchObject(expected);
    expect(Object.keys(row)).toHaveLength(18);
  });
});
