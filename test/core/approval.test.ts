import { describe, expect, it } from "vitest";
import { isRequestExpired, isSelfApproval, requestExpiresAt } from "../../src/core/approval.js";
import { DAY_MS } from "../../src/core/time.js";

const T0 = Date.parse("2026-11-26T10:00:00Z");
const creators = new Map([["appkey-beta-CAROLS", "u-carol"]]);
const creatorOf = (appKey: string) => creators.get(appKey) ?? null;
const user = (id: string) => ({ type: "user" as const, id });
const key = (id: string) => ({ type: "key" as const, id });

describe("request expiry", () => {
  it("expires exactly 7 days after the request", () => {
    expect(requestExpiresAt(T0)).toBe(T0 + 7 * DAY_MS);
    expect(isRequestExpired(T0, T0 + 7 * DAY_MS - 1)).toBe(false);
    expect(isRequestExpired(T0, T0 + 7 * DAY_MS)).toBe(true);
  });
});

describe("self-approval", () => {
  it.each([
    ["the same user", user("u-carol"), user("u-carol"), true],
    ["another user", user("u-carol"), user("u-dave"), false],
    ["the same key", key("appkey-beta-AAAAAA"), key("appkey-beta-AAAAAA"), true],
    ["another key", key("appkey-beta-AAAAAA"), key("appkey-beta-BBBBBB"), false],
    ["a key the requesting user created", user("u-carol"), key("appkey-beta-CAROLS"), true],
    ["the user who created the requesting key", key("appkey-beta-CAROLS"), user("u-carol"), true],
    ["a key of unknown creator, for a user", user("u-carol"), key("appkey-beta-AAAAAA"), false],
    [
      "a user id equal to an appKey is still another actor",
      user("appkey-beta-AAAAAA"),
      key("appkey-beta-AAAAAA"),
      false,
    ],
    [
      "latchkey itself",
      { type: "system" as const, id: "system" },
      { type: "system" as const, id: "system" },
      false,
    ],
  ])("%s: %s", (_what, requester, approver, self) => {
    expect(isSelfApproval(requester, approver, creatorOf)).toBe(self);
  });
});
