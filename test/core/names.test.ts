import { describe, expect, it } from "vitest";
import { isAccountName, MAX_LABEL_LENGTH, normalizeEmail, normalizeLabel } from "../../src/core/names.js";

describe("isAccountName", () => {
  it.each(["ab", "mystore", "my-store", "store2", "a1", "a".repeat(40), `z${"9".repeat(39)}`])(
    "accepts %j",
    (name) => {
      expect(isAccountName(name)).toBe(true);
    },
  );

  it.each([
    ["one character", "a"],
    ["41 characters", "a".repeat(41)],
    ["empty", ""],
    ["a leading digit", "1store"],
    ["a leading hyphen", "-store"],
    ["upper case", "MyStore"],
    ["an underscore", "my_store"],
    ["a dot", "my.store"],
    ["a space", "my store"],
    ["a trailing newline", "mystore\n"],
    ["non-ASCII", "lojà"],
  ])("refuses %s", (_, name) => {
    expect(isAccountName(name)).toBe(false);
  });
});

describe("normalizeLabel", () => {
  it("trims surrounding whitespace", () => {
    expect(normalizeLabel("  ERP sync \t\n")).toBe("ERP sync");
  });

  it("keeps inner whitespace and case", () => {
    expect(normalizeLabel("Order  Export")).toBe("Order  Export");
  });

  it("accepts 1 to 100 characters after trimming", () => {
    expect(MAX_LABEL_LENGTH).toBe(100);
    expect(normalizeLabel("x")).toBe("x");
    expect(normalizeLabel("x".repeat(100))).toBe("x".repeat(100));
    expect(normalizeLabel(`   ${"x".repeat(100)}   `)).toBe("x".repeat(100));
  });

  it("refuses 101 characters", () => {
    expect(normalizeLabel("x".repeat(101))).toBeUndefined();
  });

  it.each(["", " ", "   ", "\t\n", "\u00a0"])("refuses whitespace only: %j", (raw) => {
    expect(normalizeLabel(raw)).toBeUndefined();
  });

  it.each(["a\u0000b", "\u0000", " x\u0000 "])("refuses a NUL character: %j", (raw) => {
    expect(normalizeLabel(raw)).toBeUndefined();
  });
});

describe("normalizeEmail", () => {
  it("lower-cases and trims", () => {
    expect(normalizeEmail("  Ana.Silva@Example.COM ")).toBe("ana.silva@example.com");
  });

  it("gives equal results for addresses differing only in case", () => {
    expect(normalizeEmail("OPS@shop.io")).toBe(normalizeEmail("ops@SHOP.io"));
  });

  it.each(["", "ana", "ana@", "@example.com", "ana@example", "ana silva@example.com", "a@b@c.com"])(
    "refuses %j",
    (raw) => {
      expect(normalizeEmail(raw)).toBeUndefined();
    },
  );

  it("refuses addresses longer than 254 characters", () => {
    const local = "a".repeat(64);
    const at254 = `${local}@${"b".repeat(254 - 64 - 1 - 4)}.com`;
    expect(at254).toHaveLength(254);
    expect(normalizeEmail(at254)).toBe(at254);
    expect(normalizeEmail(`a${at254}`)).toBeUndefined();
  });
});
