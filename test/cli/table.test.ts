import { describe, expect, it } from "vitest";
import { keyTable } from "../../src/cli/remote/keys.js";
import { resourceSummary } from "../../src/cli/remote/roles.js";
import { cell, formatBytes, formatDate, renderFields, renderTable } from "../../src/cli/table.js";
import type { Key } from "../../src/client/client.js";

const key = (overrides: Partial<Key>): Key => ({
  id: "3f0c2a5e-0000-4000-8000-000000000001",
  appKey: "appkey-acme-QWERTY",
  account: "acme",
  name: "ERP sync",
  keyType: "generated",
  status: "active",
  active: true,
  inactiveReason: null,
  roles: [],
  creationDate: "2026-11-01T08:00:00.000Z",
  creationDateToken: "2026-11-01T08:00:00.000Z",
  creationDateNewToken: null,
  pendingRenewal: false,
  alert: "none",
  lastUsedAt: null,
  lastUsedAtToken: null,
  lastUsedAtNewToken: null,
  tokenAgeDays: 0,
  updatedAt: "2026-11-01T08:00:00.000Z",
  expiresAt: null,
  expiry: "none",
  ipAllowlist: null,
  metadata: null,
  allowBrowser: false,
  rateLimit: null,
  quota: null,
  ...overrides,
});

describe("renderTable", () => {
  it("aligns columns under capitalised headers, two spaces apart, without trailing spaces", () => {
    const text = renderTable(
      [
        { name: "a", n: 1 },
        { name: "longer", n: 100 },
      ],
      [
        { header: "name", value: (row) => row.name },
        { header: "n", value: (row) => String(row.n), align: "right" },
      ],
    );
    expect(text.split("\n")).toEqual(["NAME      N", "a         1", "longer  100"]);
  });

  it("prints the headers alone for no rows", () => {
    expect(renderTable([], [{ header: "appKey", value: () => "" }])).toBe("APPKEY");
  });

  it("renders keys with status, roles, alert and last use", () => {
    const lines = keyTable([
      key({
        roles: [{ id: 10, name: "OMS - Read only" }],
        alert: "orange",
        lastUsedAt: "2026-11-20T09:30:12.000Z",
      }),
      key({ appKey: "appkey-acme-ZXCVBN", name: "Old", status: "inactive", pendingRenewal: true }),
      key({
        appKey: "appkey-acme-LEAKED",
        name: "Leaked",
        status: "inactive",
        active: false,
        inactiveReason: "leak_reported",
      }),
    ]).split("\n");
    expect(lines[0]).toMatch(/^APPKEY +NAME +STATUS +ROLES +ALERT +LAST USED$/);
    expect(lines[1]).toMatch(
      /^appkey-acme-QWERTY +ERP sync +active +OMS - Read only +orange +2026-11-20 09:30$/,
    );
    expect(lines[2]).toMatch(/^appkey-acme-ZXCVBN +Old +inactive \(renewing\) +none +- +never$/);
    expect(lines[3]).toMatch(
      /^appkey-acme-LEAKED +Leaked +inactive \(token reported leaked\) +none +- +never$/,
    );
    // Every column starts at the same place on every line.
    const at = (line: string | undefined, word: string) => line?.indexOf(word);
    expect(at(lines[1], "active")).toBe(at(lines[0], "STATUS"));
    expect(at(lines[2], "inactive")).toBe(at(lines[0], "STATUS"));
  });
});

describe("cell", () => {
  it("escapes control characters and bidirectional overrides so a name cannot drive the terminal", () => {
    expect(cell("evil\u001b[2Jname")).toBe("evil\\u001b[2Jname");
    expect(cell("two\nlines\r")).toBe("two\\u000alines\\u000d");
    expect(cell("abc\u202edcba")).toBe("abc\\u202edcba");
    expect(cell("\u009b31m")).toBe("\\u009b31m");
  });

  it("keeps ordinary text, accents and emoji as they are", () => {
    expect(cell("Café ☕ — ok")).toBe("Café ☕ — ok");
    expect(cell(null)).toBe("");
    expect(cell(42)).toBe("42");
  });

  it("is applied to table cells and fields", () => {
    expect(renderTable([{ n: "a\u0007" }], [{ header: "n", value: (row) => row.n }])).toContain("a\\u0007");
    expect(renderFields([["name", "x\u001b]0;pwned\u0007"]])).toBe("name: x\\u001b]0;pwned\\u0007");
  });
});

describe("formatting", () => {
  it("aligns field values", () => {
    expect(
      renderFields([
        ["appKey", "k"],
        ["status", "active"],
        ["new token", null],
      ]),
    ).toBe(["appKey:    k", "status:    active", "new token:"].join("\n"));
  });

  it("shows dates to the minute in UTC, and a word when there is none", () => {
    expect(formatDate("2026-11-26T10:00:59.999Z")).toBe("2026-11-26 10:00");
    expect(formatDate(null)).toBe("never");
    expect(formatDate(null, "-")).toBe("-");
  });

  it("shows sizes in decimal units", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.5 kB");
    expect(formatBytes(123_456_789)).toBe("123 MB");
  });

  it("summarises long resource lists", () => {
    expect(resourceSummary([])).toBe("none");
    expect(resourceSummary(["A", "B"])).toBe("A, B");
    expect(resourceSummary(["A", "B", "C", "D", "E", "F"])).toBe("A, B, C, D +2 more");
  });
});
