import { describe, expect, it } from "vitest";
import type { RoleView } from "../../src/core/permissions.js";
import { type FindingKind, type ReviewedKey, reviewFindings } from "../../src/core/review.js";
import { DAY_MS } from "../../src/core/time.js";

const NOW = Date.parse("2026-11-26T10:00:00Z");
const PERIOD = { now: NOW, days: 90, renewalPeriodMonths: 6 };
const daysAgo = (days: number) => NOW - days * DAY_MS;

const OWNER: RoleView = { id: 1, name: "Owner", predefined: true, allResources: true, resources: [] };
const ORDERS: RoleView = {
  id: 2,
  name: "Orders",
  predefined: false,
  allResources: false,
  resources: ["ViewOrders", "EditOrders"],
};
const CATALOG: RoleView = {
  id: 3,
  name: "Catalog",
  predefined: false,
  allResources: false,
  resources: ["ViewProducts"],
};

function key(overrides: Partial<ReviewedKey> = {}): ReviewedKey {
  return {
    type: "generated",
    active: true,
    createdAt: daysAgo(200),
    lastUsedAt: daysAgo(1),
    tokenCreatedAt: daysAgo(10),
    ...overrides,
  };
}

describe("reviewFindings", () => {
  it.each<[string, ReviewedKey, RoleView[], string[], FindingKind[]]>([
    ["a key in use, using each role it holds", key(), [ORDERS], ["ViewOrders"], []],
    ["never used, created before the period", key({ lastUsedAt: null }), [], [], ["never_used"]],
    ["never used, created within the period", key({ lastUsedAt: null, createdAt: daysAgo(30) }), [], [], []],
    ["never used but inactive", key({ lastUsedAt: null, active: false }), [], [], []],
    ["last used before the period", key({ lastUsedAt: daysAgo(120) }), [], [], ["unused"]],
    ["last used exactly at the period's start", key({ lastUsedAt: daysAgo(90) }), [], [], []],
    ["unused but inactive", key({ lastUsedAt: daysAgo(120), active: false }), [], [], []],
    ["a role none of whose resources were used", key(), [ORDERS, CATALOG], ["ViewOrders"], ["unused_role"]],
    ["an unused role on a key created within the period", key({ createdAt: daysAgo(30) }), [CATALOG], [], []],
    [
      "an unused role on a key not used in the period",
      key({ lastUsedAt: daysAgo(120) }),
      [CATALOG],
      [],
      ["unused"],
    ],
    ["a role with every resource", key(), [OWNER], ["ViewOrders"], ["owner"]],
    [
      "a role with every resource on an unused key",
      key({ lastUsedAt: daysAgo(120) }),
      [OWNER],
      [],
      ["unused", "owner"],
    ],
    ["a token older than the renewal period", key({ tokenCreatedAt: daysAgo(200) }), [], [], ["token_age"]],
    ["an old token on an inactive key", key({ tokenCreatedAt: daysAgo(200), active: false }), [], [], []],
    [
      "an external key's old token (not its account's to renew)",
      key({ type: "external", tokenCreatedAt: daysAgo(400) }),
      [],
      [],
      [],
    ],
    [
      "an external key never used since it was added",
      key({ type: "external", lastUsedAt: null }),
      [],
      [],
      ["never_used"],
    ],
  ])("%s", (_, subject, held, used, kinds) => {
    expect(reviewFindings(subject, held, new Set(used), PERIOD).map((f) => f.kind)).toEqual(kinds);
  });

  it("words each finding with its suggested action", () => {
    const old = reviewFindings(
      key({ lastUsedAt: null, tokenCreatedAt: daysAgo(200) }),
      [],
      new Set(),
      PERIOD,
    );
    expect(old).toEqual([
      {
        kind: "never_used",
        detail: "Never used since it was created on 2026-05-10",
        suggestion: "Delete the key",
      },
      {
        kind: "token_age",
        detail: "Token created on 2026-05-10, older than the 6-month renewal period",
        suggestion: "Renew the token",
      },
    ]);
    const external = reviewFindings(
      key({ type: "external", lastUsedAt: daysAgo(100) }),
      [],
      new Set(),
      PERIOD,
    );
    expect(external).toEqual([
      {
        kind: "unused",
        detail: "Not used in 90 days (last used 2026-08-18)",
        suggestion: "Remove the external key",
      },
    ]);
  });

  it("names the role to take away, and what an Owner-like key used instead", () => {
    const used = new Set(["ViewOrders", "EditOrders"]);
    expect(reviewFindings(key(), [OWNER, CATALOG], used, PERIOD)).toEqual([
      {
        kind: "owner",
        detail: "Holds Owner: every resource, present and future",
        suggestion: "Replace Owner with roles covering only what it used: EditOrders, ViewOrders",
        roleId: 1,
      },
      {
        kind: "unused_role",
        detail: "None of the resources of Catalog (ViewProducts) used in 90 days",
        suggestion: "Take the role Catalog away",
        roleId: 3,
      },
    ]);
    expect(reviewFindings(key(), [OWNER], new Set(), PERIOD)[0]?.suggestion).toBe(
      "Replace Owner with the roles the integration needs",
    );
  });
});
