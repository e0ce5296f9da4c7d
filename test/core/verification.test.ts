import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import type { TokenShape } from "../../src/core/tokens.js";
import { decideKeyAuth, type KeyAuthState } from "../../src/core/verification.js";
import {
  digestMatchesBinary,
  digestsEqual,
  hashToken,
  tokenDigestBinary,
} from "../../src/crypto/token-hash.js";

const OLD = hashToken("lkt_old");
const NEW = hashToken("lkt_new");
const OTHER = hashToken("lkt_other");

const key = (tokenHashes: readonly string[], active = true): KeyAuthState => ({ active, tokenHashes });
const plainEqual = (a: string, b: string) => a === b;

describe("decideKeyAuth", () => {
  it("refuses a malformed token before looking at the key", () => {
    const equal = vi.fn(plainEqual);
    expect(decideKeyAuth("malformed", key([OLD]), OLD, equal)).toEqual({ ok: false, reason: "MALFORMED" });
    expect(decideKeyAuth("malformed", undefined, OLD, equal)).toEqual({ ok: false, reason: "MALFORMED" });
    expect(equal).not.toHaveBeenCalled();
  });

  it.each<TokenShape>(["native", "foreign"])("refuses an unknown key (%s token)", (shape) => {
    expect(decideKeyAuth(shape, undefined, OLD, plainEqual)).toEqual({ ok: false, reason: "UNKNOWN_KEY" });
  });

  it.each<TokenShape>(["native", "foreign"])("accepts the right token of an active key (%s)", (shape) => {
    expect(decideKeyAuth(shape, key([OLD]), OLD, plainEqual)).toEqual({ ok: true });
  });

  it("refuses a wrong token", () => {
    expect(decideKeyAuth("native", key([OLD]), OTHER, plainEqual)).toEqual({
      ok: false,
      reason: "WRONG_TOKEN",
    });
  });

  it("refuses any token of a key that has none", () => {
    expect(decideKeyAuth("native", key([]), OLD, plainEqual)).toEqual({ ok: false, reason: "WRONG_TOKEN" });
  });

  it("says INACTIVE only to the holder of the right token", () => {
    expect(decideKeyAuth("native", key([OLD], false), OLD, plainEqual)).toEqual({
      ok: false,
      reason: "INACTIVE",
    });
    expect(decideKeyAuth("native", key([OLD], false), OTHER, plainEqual)).toEqual({
      ok: false,
      reason: "WRONG_TOKEN",
    });
  });

  it("accepts either token while a renewal is pending, in either position", () => {
    for (const presented of [OLD, NEW]) {
      expect(decideKeyAuth("native", key([OLD, NEW]), presented, plainEqual)).toEqual({ ok: true });
      expect(decideKeyAuth("native", key([NEW, OLD]), presented, plainEqual)).toEqual({ ok: true });
    }
    expect(decideKeyAuth("native", key([OLD, NEW]), OTHER, plainEqual)).toEqual({
      ok: false,
      reason: "WRONG_TOKEN",
    });
  });

  it("compares with every stored hash even after a match (no early exit)", () => {
    const equal = vi.fn(plainEqual);
    expect(decideKeyAuth("native", key([OLD, NEW]), OLD, equal)).toEqual({ ok: true });
    expect(equal).toHaveBeenCalledTimes(2);
    expect(equal).toHaveBeenNthCalledWith(1, OLD, OLD);
    expect(equal).toHaveBeenNthCalledWith(2, NEW, OLD);
  });

  it("compares with every stored hash when none matches", () => {
    const equal = vi.fn(plainEqual);
    decideKeyAuth("foreign", key([OLD, NEW], false), OTHER, equal);
    expect(equal).toHaveBeenCalledTimes(2);
  });

  it("trusts the injected comparison", () => {
    const never = () => false;
    expect(decideKeyAuth("native", key([OLD]), OLD, never)).toEqual({ ok: false, reason: "WRONG_TOKEN" });
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
});
