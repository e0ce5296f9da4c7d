import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { type Grant, NOTHING } from "../../src/core/permissions.js";
import { generateAppToken } from "../../src/core/tokens.js";
import {
  checkGrant,
  type Decision,
  decideKeyAuth,
  isAuthenticated,
  isWellFormed,
  matchingToken,
} from "../../src/core/verification.js";
import {
  digestMatchesBinary,
  digestsEqual,
  hashToken,
  tokenDigestBinary,
} from "../../src/crypto/token-hash.js";

const OLD = hashToken("lkt_old");
const NEW = hashToken("lkt_new");
const OTHER = hashToken("lkt_other");

describe("isWellFormed", () => {
  const token = generateAppToken(() => new Uint8Array(64).fill(7), "lkt");
  const badChecksum = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;

  it.each([
    ["a generated appKey and token", "appkey-acme-QWERTY", token, true],
    ["a token of another shape (an imported key's)", "appkey-acme-QWERTY", "imported-token-1234", true],
    ["a token of latchkey's shape with a bad checksum", "appkey-acme-QWERTY", badChecksum, false],
    ["an empty token", "appkey-acme-QWERTY", "", false],
    ["an empty appKey", "", token, false],
    ["an appKey of another shape", "appkey-acme-qwerty", token, false],
  ])("%s: %s", (_name, appKey, appToken, expected) => {
    expect(isWellFormed(appKey, appToken, "lkt")).toBe(expected);
  });
});

describe("decideKeyAuth", () => {
  it.each([
    ["no such key (undefined)", undefined, true, { ok: false, reason: "UNKNOWN_KEY" }],
    ["no such key (null)", null, false, { ok: false, reason: "UNKNOWN_KEY" }],
    ["an active key, the right token", { active: true, controls: null }, true, { ok: true }],
    [
      "an active key, a wrong token",
      { active: true, controls: null },
      false,
      { ok: false, reason: "WRONG_TOKEN" },
    ],
    [
      "an inactive key, the right token",
      { active: false, controls: null },
      true,
      { ok: false, reason: "INACTIVE" },
    ],
    // INACTIVE is said only to the holder of a right token.
    [
      "an inactive key, a wrong token",
      { active: false, controls: null },
      false,
      { ok: false, reason: "WRONG_TOKEN" },
    ],
  ] as const)("%s", (_name, key, holds, expected) => {
    expect(decideKeyAuth(key, holds, { now: 0, ip: null })).toEqual(expected);
  });
});

describe("matchingToken", () => {
  const equal = (presented: string) => (hash: string) => digestsEqual(hash, presented);

  it.each([
    ["the only token", [OLD], OLD, 0],
    ["the old token while a renewal is pending", [OLD, NEW], OLD, 0],
    ["the new token while a renewal is pending", [OLD, NEW], NEW, 1],
    ["either token, in either position", [NEW, OLD], OLD, 1],
    ["no token", [OLD, NEW], OTHER, -1],
    ["a key that has none", [], OLD, -1],
  ] as const)("finds %s", (_name, hashes, presented, index) => {
    expect(matchingToken(hashes, equal(presented))).toBe(index);
  });

  it("compares with every token even after a match (no early exit)", () => {
    const matches = vi.fn((hash: string) => hash === OLD);
    expect(matchingToken([OLD, NEW, OTHER], matches)).toBe(0);
    expect(matches.mock.calls).toEqual([[OLD], [NEW], [OTHER]]);
  });

  it("keeps the first match when two tokens match", () => {
    expect(matchingToken([OLD, OLD], () => true)).toBe(0);
  });
});

describe("checkGrant", () => {
  const some = (...resources: string[]): Grant => ({ all: false, resources: new Set(resources) });
  const owner: Grant = { all: true };

  it.each([
    ["no grant, nothing asked", null, undefined, { code: "ACCOUNT_NOT_GRANTED", allowed: null }],
    ["no grant, a resource asked", null, ["ViewOrders"], { code: "ACCOUNT_NOT_GRANTED", allowed: false }],
    ["no grant, a route no resource covers", null, [], { code: "ACCOUNT_NOT_GRANTED", allowed: false }],
    ["an empty grant, nothing asked", NOTHING, undefined, { code: "OK", allowed: null, resource: null }],
    ["a grant, nothing asked", some("ViewOrders"), undefined, { code: "OK", allowed: null, resource: null }],
    [
      "a grant holding the resource",
      some("ViewOrders"),
      ["ViewOrders"],
      { code: "OK", allowed: true, resource: "ViewOrders" },
    ],
    [
      "a grant holding the second of two covering resources",
      some("EditOrders"),
      ["ViewOrders", "EditOrders"],
      { code: "OK", allowed: true, resource: "EditOrders" },
    ],
    [
      "a grant holding both: the first is the one used",
      some("ViewOrders", "EditOrders"),
      ["EditOrders", "ViewOrders"],
      { code: "OK", allowed: true, resource: "EditOrders" },
    ],
    [
      "a grant lacking the resource",
      some("ViewOrders"),
      ["EditOrders"],
      { code: "RESOURCE_NOT_GRANTED", allowed: false },
    ],
    ["an empty grant", NOTHING, ["ViewOrders"], { code: "RESOURCE_NOT_GRANTED", allowed: false }],
    ["an Owner-like grant", owner, ["ViewOrders"], { code: "OK", allowed: true, resource: "ViewOrders" }],
    ["a route no resource covers", some("ViewOrders"), [], { code: "ROUTE_NOT_MAPPED", allowed: false }],
    ["a route no resource covers, to an Owner", owner, [], { code: "ROUTE_NOT_MAPPED", allowed: false }],
  ] as const)("%s", (_name, grant, resources, expected) => {
    expect(checkGrant(grant, resources)).toEqual(expected);
  });
});

describe("isAuthenticated", () => {
  const key = { keyId: "k", appKey: "appkey-acme-QWERTY", account: "acme", ownRoleIds: [10], controls: null };
  const granted = {
    valid: true,
    key,
    account: "acme",
    keyType: "generated",
    grant: NOTHING,
    resources: [],
    allowed: null,
    allowance: null,
    token: "current",
  } as const;

  it.each<[Decision, boolean]>([
    [{ code: "MISSING_CREDENTIALS", valid: false }, false],
    [{ code: "MALFORMED_CREDENTIALS", valid: false }, false],
    [{ code: "INVALID_CREDENTIALS", valid: false }, false],
    [{ code: "KEY_INACTIVE", valid: false }, false],
    [{ code: "RATE_LIMITED", valid: false, retryAfter: 5 }, false],
    [
      {
        code: "ACCOUNT_NOT_GRANTED",
        valid: false,
        key,
        account: "other",
        token: "old",
        allowed: null,
        allowance: null,
      },
      true,
    ],
    [{ code: "OK", ...granted }, true],
    [{ code: "RESOURCE_NOT_GRANTED", ...granted, allowed: false }, true],
    [{ code: "ROUTE_NOT_MAPPED", ...granted, allowed: false }, true],
  ])("%o → %s", (decision, expected) => {
    expect(isAuthenticated(decision)).toBe(expected);
  });
});

describe("hashToken", () => {
  it("is base64url SHA-256 (known answers)", () => {
    expect(hashToken("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(hashToken("")).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  });

  it("has no padding and 43 characters", () => {
    expect(hashToken("lkt_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd0omAup")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("hashes the UTF-8 bytes", () => {
    // SHA-256 of C3 A9; the Latin-1 byte E9 would give 3i4zHYka….
    expect(hashToken("\u00e9")).toBe("SplVfkAzw1Od4utlRyAXytX5VX96BiWgnxw_biumnEw");
  });
});

describe("digestsEqual", () => {
  it("is true for equal digests", () => {
    expect(digestsEqual(OLD, hashToken("lkt_old"))).toBe(true);
  });

  it("is false for different digests of the same length", () => {
    expect(digestsEqual(OLD, NEW)).toBe(false);
    expect(digestsEqual(OLD, `${OLD.slice(0, -1)}${OLD.endsWith("A") ? "B" : "A"}`)).toBe(false);
  });

  it("is false, without throwing, for different lengths", () => {
    expect(digestsEqual(OLD, OLD.slice(0, -1))).toBe(false);
    expect(digestsEqual(OLD, `${OLD}A`)).toBe(false);
    expect(digestsEqual("", OLD)).toBe(false);
  });
});

describe("tokenDigestBinary and digestMatchesBinary", () => {
  const bytes = (token: string) => Buffer.from(hashToken(token), "base64url");

  it("is the SHA-256 of the token's UTF-8 bytes, one char per byte", () => {
    for (const token of ["lkt_old", "ünïcödé-token", "x".repeat(512)]) {
      const binary = tokenDigestBinary(token);
      expect(binary).toHaveLength(32);
      expect(Buffer.from(binary, "latin1")).toEqual(createHash("sha256").update(token, "utf8").digest());
      expect(Buffer.from(binary, "latin1").toString("base64url")).toBe(hashToken(token));
    }
  });

  it("matches the stored digest of the same token only", () => {
    expect(digestMatchesBinary(bytes("lkt_old"), tokenDigestBinary("lkt_old"))).toBe(true);
    expect(digestMatchesBinary(bytes("lkt_old"), tokenDigestBinary("lkt_new"))).toBe(false);
  });

  it("tells apart digests that differ in any one byte, high bytes included", () => {
    const digest = bytes("lkt_old");
    const binary = tokenDigestBinary("lkt_old");
    for (let i = 0; i < 32; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const changed = Buffer.from(digest);
        changed[i] = (changed[i] as number) ^ flip;
        expect(digestMatchesBinary(changed, binary)).toBe(false);
      }
    }
  });

  it("is false, without throwing, for different lengths", () => {
    const binary = tokenDigestBinary("lkt_old");
    expect(digestMatchesBinary(bytes("lkt_old").subarray(0, 31), binary)).toBe(false);
    expect(digestMatchesBinary(bytes("lkt_old"), binary.slice(0, 31))).toBe(false);
    expect(digestMatchesBinary(bytes("lkt_old"), `${binary}\u0000`)).toBe(false);
  });

  it("compares the 32 bytes at an offset of a larger buffer (a slab of digests), and no others", () => {
    const slab = Buffer.concat([bytes("lkt_a"), bytes("lkt_b"), bytes("lkt_c")]);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_b"), 32, 32)).toBe(true);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_a"), 32, 32)).toBe(false);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_c"), 32, 32)).toBe(false);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_c"), 64, 32)).toBe(true);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_b"))).toBe(false);
    // Never past either end: bytes missing there do not compare as anything.
    const tail = `${tokenDigestBinary("lkt_c").slice(16)}${"\u0000".repeat(16)}`;
    expect(digestMatchesBinary(slab, tail, 80, 32)).toBe(false);
    expect(digestMatchesBinary(slab, tokenDigestBinary("lkt_a"), -1, 32)).toBe(false);
  });
});
