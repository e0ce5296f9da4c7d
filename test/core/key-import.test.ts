/** The import checks that need no storage, and the token-shape rule of imported keys. */
import { describe, expect, it } from "vitest";
import { checkImportEntries, importableAppKey } from "../../src/core/key-import.js";
import { generateAppToken } from "../../src/core/tokens.js";
import { acceptsShape, credentialShape } from "../../src/core/verification.js";
import { tamperedLast } from "../support/tampered.js";

const NOW = Date.parse("2026-11-26T10:00:00Z");
const HASH = "a".repeat(64);
const hash = (n: number) => n.toString(16).padStart(64, "0");

describe("importableAppKey", () => {
  it("takes any lower-case prefix, this account and six capital letters, nothing else", () => {
    expect(importableAppKey("vtexappkey-acme-ABCDEF", "acme")).toBe(true);
    expect(importableAppKey("appkey-my-shop-QWERTY", "my-shop")).toBe(true);
    expect(importableAppKey("vtexappkey-other-ABCDEF", "acme")).toBe(false);
    expect(importableAppKey("vtexappkey-acme-abcdef", "acme")).toBe(false);
    expect(importableAppKey("VTEXAPPKEY-acme-ABCDEF", "acme")).toBe(false);
    expect(importableAppKey("vtexappkey-acme-ABCDEFG", "acme")).toBe(false);
  });
});

describe("checkImportEntries", () => {
  it("normalizes what passes and reports every problem by index", () => {
    const { checked, problems } = checkImportEntries(
      [
        { name: "  ERP  ", tokenHash: HASH.toUpperCase(), roles: [10] },
        { name: "", tokenHash: hash(1), roles: [] },
        { name: "erp", tokenHash: hash(2), roles: [] },
        { name: "B", tokenHash: HASH, roles: [] },
        {
          name: "C",
          tokenHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          roles: [],
        },
        { name: "D", tokenHash: hash(3), roles: [], createdAt: NOW + 1 },
        { name: "E", appKey: "vtexappkey-acme-ABCDEF", tokenHash: hash(4), roles: [] },
        { name: "F", appKey: "vtexappkey-acme-ABCDEF", tokenHash: hash(5), roles: [] },
      ],
      "acme",
      NOW,
    );
    expect(checked.map((entry) => [entry.index, entry.name, entry.tokenHash, entry.createdAt])).toEqual([
      [0, "ERP", HASH, NOW],
      [6, "E", hash(4), NOW],
    ]);
    expect(problems.map((problem) => [problem.index, problem.code])).toEqual([
      [1, "VALIDATION_FAILED"],
      [2, "KEY_NAME_TAKEN"],
      [3, "TOKEN_HASH_TAKEN"],
      [4, "VALIDATION_FAILED"],
      [5, "VALIDATION_FAILED"],
      [7, "APP_KEY_TAKEN"],
    ]);
  });
});

describe("token shapes of imported keys", () => {
  const native = generateAppToken(() => new Uint8Array(64).fill(7), "lkt");
  const broken = tamperedLast(native);
  const appKey = "vtexappkey-acme-ABCDEF";

  it("refuses a latchkey-shaped token with a bad checksum whatever the key", () => {
    expect(credentialShape(appKey, broken, "lkt")).toBe("malformed");
    expect(credentialShape(appKey, native, "lkt")).toBe("native");
    expect(credentialShape(appKey, "A".repeat(110), "lkt")).toBe("foreign");
    expect(credentialShape("not an appkey", native, "lkt")).toBe("malformed");
  });

  it("looks for a token of another shape only in keys holding an imported token", () => {
    expect(acceptsShape({ importedTokens: false }, "foreign")).toBe(false);
    expect(acceptsShape({ importedTokens: true }, "foreign")).toBe(true);
    expect(acceptsShape({ importedTokens: false }, "native")).toBe(true);
    expect(acceptsShape({ importedTokens: true }, "native")).toBe(true);
    expect(acceptsShape({ importedTokens: true }, "malformed")).toBe(false);
  });
});
