/**
 * Known-answer tests for the key and token formats (SPEC §2). The expected token strings below were
 * computed once, outside this code base (Python `binascii.crc32` plus a separate base62, checked
 * against Node's `zlib.crc32`), and are hard-coded so that any change to the format fails here.
 */
import { describe, expect, it } from "vitest";
import {
  BASE62,
  base62,
  classifyToken,
  crc32,
  generateAppKey,
  generateAppToken,
  isAppKeyShaped,
  MAX_TOKEN_LENGTH,
  type RandomBytes,
  randomString,
  tokenChecksum,
  tokenScanPattern,
} from "../../src/core/tokens.js";

/** Bytes start, start+1, … (mod 256), continuing across calls. */
function counterBytes(start: number): RandomBytes {
  let next = start;
  return (size) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      out[i] = next % 256;
      next++;
    }
    return out;
  };
}

/** Yields exactly the given bytes, in order, then fails the test if asked for more. */
function scriptedBytes(bytes: readonly number[]): RandomBytes {
  let at = 0;
  return (size) => {
    if (at >= bytes.length) throw new Error("the generator ran out of scripted bytes");
    const out = Uint8Array.from(bytes.slice(at, at + size));
    at += out.length;
    return out;
  };
}

/** `token` with the character at `index` replaced by `char`. */
function withCharAt(token: string, index: number, char: string): string {
  return token.slice(0, index) + char + token.slice(index + 1);
}

describe("crc32", () => {
  it.each([
    ["", 0],
    ["123456789", 0xcbf43926],
    ["The quick brown fox jumps over the lazy dog", 0x414fa339],
  ])("crc32(%j) is the IEEE 802.3 check value", (input, expected) => {
    expect(crc32(input)).toBe(expected);
  });

  it("is an unsigned 32-bit value", () => {
    const value = crc32("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    expect(value).toBe(0xa14a0065);
    expect(value).toBeGreaterThan(0x7fffffff);
  });
});

describe("base62", () => {
  it.each([
    [0, "000000"],
    [61, "00000z"],
    [62, "000010"],
    [62 * 62, "000100"],
    [2 ** 32 - 1, "4gfFC3"],
  ])("base62(%d, 6) is %j", (value, expected) => {
    expect(base62(value, 6)).toBe(expected);
  });

  it("keeps the requested width", () => {
    expect(base62(0, 1)).toBe("0");
    expect(base62(35, 3)).toBe("00Z");
  });
});

describe("token checksum known answers", () => {
  it.each([
    ["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", "lkt_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd0omAup"],
    ["Zx9kQ2mP7vL4nR8tY1wB6cH3jF5gD0sA2eK9uN4o", "lkt_Zx9kQ2mP7vL4nR8tY1wB6cH3jF5gD0sA2eK9uN4o0U3Gxq"],
    ["zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "lkt_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz2x81PZ"],
    ["0000000000000000000000000000000000000000", "lkt_00000000000000000000000000000000000000002kaqcA"],
  ])("random part %s gives %s", (randomPart, expected) => {
    expect(`lkt_${randomPart}${tokenChecksum(randomPart)}`).toBe(expected);
    expect(classifyToken(expected, "lkt")).toBe("native");
  });

  it("covers the random part only, not the prefix", () => {
    const randomPart = "Zx9kQ2mP7vL4nR8tY1wB6cH3jF5gD0sA2eK9uN4o";
    expect(tokenChecksum(randomPart)).toBe("0U3Gxq");
    expect(classifyToken(`acme_${randomPart}0U3Gxq`, "acme")).toBe("native");
  });
});

describe("randomString", () => {
  it("gives every base62 character equally often from uniform bytes (no modulo bias)", () => {
    // Three full cycles of 0..255: 3 × 248 accepted bytes, each character exactly 12 times.
    const out = randomString(counterBytes(0), BASE62, 3 * 248);
    const counts = new Map<string, number>();
    for (const char of out) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    expect(new Set(counts.values())).toEqual(new Set([12]));
  });

  it("skips bytes at or above 248 for base62 instead of folding them", () => {
    // 255 % 62 = 7 and 250 % 62 = 2: a biased version would start with "72".
    expect(randomString(scriptedBytes([255, 250, 248, 5, 61]), BASE62, 2)).toBe("5z");
  });

  it("accepts byte 247, the last one below the limit", () => {
    expect(randomString(scriptedBytes([247, 0, 0, 0]), BASE62, 1)).toBe(BASE62[247 % 62]);
  });

  it("asks for more bytes while too many were rejected", () => {
    const bytes = [...Array.from({ length: 20 }, () => 250), 1, 2, 3, 4];
    expect(randomString(scriptedBytes(bytes), BASE62, 2)).toBe("12");
  });

  it("skips bytes at or above 234 for 26 letters", () => {
    expect(randomString(scriptedBytes([233, 234, 255, 0]), "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2)).toBe("ZA");
  });
});

describe("generateAppKey", () => {
  it("gives the exact key for a fixed generator", () => {
    // From 230: W X Y Z (230..233), 234..255 rejected, then A B.
    expect(generateAppKey(counterBytes(230), "appkey", "mystore")).toBe("appkey-mystore-WXYZAB");
  });

  it("has the documented shape for any randomness", () => {
    for (const start of [0, 17, 128, 233, 255]) {
      const appKey = generateAppKey(counterBytes(start), "appkey", "mystore");
      expect(appKey).toMatch(/^appkey-mystore-[A-Z]{6}$/);
      expect(isAppKeyShaped(appKey)).toBe(true);
    }
  });

  it("uses the configured prefix", () => {
    expect(generateAppKey(counterBytes(0), "vtexappkey", "shop")).toBe("vtexappkey-shop-ABCDEF");
  });
});

describe("isAppKeyShaped", () => {
  it.each([
    ["appkey-mystore-ABCDEF", true],
    ["vtexappkey-my-store-QWERTY", true],
    ["appkey-mystore-ABCDE", false],
    ["appkey-mystore-abcdef", false],
    ["appkey-MyStore-ABCDEF", false],
    ["appkey-1store-ABCDEF", false],
    ["appkey--ABCDEF", false],
    ["", false],
    [`appkey-${"a".repeat(41)}-ABCDEF`, false],
  ])("%j → %s", (appKey, expected) => {
    expect(isAppKeyShaped(appKey)).toBe(expected);
  });
});

describe("generateAppToken", () => {
  it("gives the exact token for a fixed generator", () => {
    // From 230: bytes 230..247 then (248..255 rejected) 0..21.
    expect(generateAppToken(counterBytes(230), "lkt")).toBe(
      "lkt_ijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL0j5aP5",
    );
  });

  it("has the documented shape and classifies as native", () => {
    for (const start of [0, 99, 200, 247, 248]) {
      const token = generateAppToken(counterBytes(start), "lkt");
      expect(token).toMatch(/^lkt_[0-9A-Za-z]{46}$/);
      expect(classifyToken(token, "lkt")).toBe("native");
    }
  });
});

describe("classifyToken", () => {
  const token = "lkt_Zx9kQ2mP7vL4nR8tY1wB6cH3jF5gD0sA2eK9uN4o0U3Gxq";

  it("rejects every single-character change of the random part or checksum", () => {
    const head = "lkt_".length;
    let tried = 0;
    for (let index = head; index < token.length; index++) {
      for (const replacement of ["0", "a", "Z"]) {
        if (token[index] === replacement) continue;
        expect(classifyToken(withCharAt(token, index, replacement), "lkt"), `index ${index}`).toBe(
          "malformed",
        );
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(46 * 2);
  });

  it("rejects any character outside base62 after our prefix, printable or not", () => {
    for (let index = "lkt_".length; index < token.length; index++) {
      for (const replacement of ["-", "_", " ", "\u0000", "\u007f", "É", "\u{1F600}".slice(0, 1)]) {
        expect(classifyToken(withCharAt(token, index, replacement), "lkt"), `index ${index}`).toBe(
          "malformed",
        );
      }
    }
    expect(classifyToken(withCharAt(token, 1, "\u0000"), "lkt")).toBe("malformed");
    expect(classifyToken(withCharAt(token, 3, "-"), "lkt")).toBe("foreign");
    expect(classifyToken(withCharAt(token, 3, "\u0000"), "lkt")).toBe("malformed");
  });

  it("rejects a token one character short or long", () => {
    expect(classifyToken(token.slice(0, -1), "lkt")).toBe("malformed");
    expect(classifyToken(`${token}0`, "lkt")).toBe("malformed");
  });

  it("rejects our prefix with non-base62 characters in the body", () => {
    expect(classifyToken(withCharAt(token, 10, "-"), "lkt")).toBe("malformed");
  });

  it("treats other prefixes and VTEX-style tokens as foreign", () => {
    expect(classifyToken(token, "acme")).toBe("foreign");
    expect(classifyToken(token.replace("lkt_", "ghp_"), "lkt")).toBe("foreign");
    expect(classifyToken("Q".repeat(100), "lkt")).toBe("foreign");
    expect(classifyToken("ABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(4).slice(0, 100), "lkt")).toBe("foreign");
  });

  it("accepts foreign tokens up to the maximum length", () => {
    expect(classifyToken("A".repeat(MAX_TOKEN_LENGTH), "lkt")).toBe("foreign");
    expect(classifyToken("A".repeat(MAX_TOKEN_LENGTH + 1), "lkt")).toBe("malformed");
  });

  it.each([
    ["empty", ""],
    ["513 characters", "A".repeat(513)],
    ["a space inside", "ABC DEF"],
    ["a leading space", ` ${token}`],
    ["a trailing newline", `${token}\n`],
    ["a tab", "ABC\tDEF"],
    ["a NUL", "ABC\u0000DEF"],
    ["DEL", "ABC\u007fDEF"],
    ["non-ASCII", "ABCÉDEF"],
  ])("treats %s as malformed", (_, presented) => {
    expect(classifyToken(presented, "lkt")).toBe("malformed");
  });
});

describe("tokenScanPattern", () => {
  it("finds a generated token inside a text", () => {
    const token = generateAppToken(counterBytes(7), "lkt");
    const text = `config:\n  LATCHKEY_TOKEN="${token}" # do not commit\n`;
    const found = text.match(new RegExp(tokenScanPattern("lkt"), "g"));
    expect(found).toEqual([token]);
  });

  it("does not find a token with a different prefix", () => {
    const other = generateAppToken(counterBytes(7), "abc");
    expect(new RegExp(tokenScanPattern("lkt")).test(`token: ${other}`)).toBe(false);
    expect(new RegExp(tokenScanPattern("abc")).test(`token: ${other}`)).toBe(true);
  });

  it("does not find our prefix glued to a longer word or body", () => {
    const token = generateAppToken(counterBytes(7), "lkt");
    const pattern = new RegExp(tokenScanPattern("lkt"));
    expect(pattern.test(`x${token}`)).toBe(false);
    expect(pattern.test(`${token}Z`)).toBe(false);
  });
});
