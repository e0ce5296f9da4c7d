import { describe, expect, it } from "vitest";
import { createSealer } from "../../src/crypto/sealing.js";

const SECRET = "test-secret-0123456789-0123456789-abcdef";
const TOKEN = "lkt_0123456789abcdefghijABCDEFGHIJ0123456789xyzXYZ";
const CONTEXT = "idHash-of-the-link";

function flipFirstChar(part: string): string {
  return (part[0] === "A" ? "B" : "A") + part.slice(1);
}

describe("sealing", () => {
  const sealer = createSealer(SECRET, "share-link");

  it("opens what it sealed, in the v1.{iv}.{ciphertext}.{tag} form, without the plaintext in sight", () => {
    const sealed = sealer.seal(TOKEN, CONTEXT);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain(TOKEN);
    expect(sealer.open(sealed, CONTEXT)).toBe(TOKEN);
  });

  it("round-trips the empty string and non-ASCII text", () => {
    for (const text of ["", "clé 🔑 ключ"])
      expect(sealer.open(sealer.seal(text, CONTEXT), CONTEXT)).toBe(text);
  });

  it("uses a fresh IV each time: the same plaintext seals differently", () => {
    const sealed = new Set(Array.from({ length: 20 }, () => sealer.seal(TOKEN, CONTEXT)));
    expect(sealed.size).toBe(20);
    const ivs = new Set([...sealed].map((value) => value.split(".")[1]));
    expect(ivs.size).toBe(20);
  });

  it("does not open under another context, purpose or secret", () => {
    const sealed = sealer.seal(TOKEN, CONTEXT);
    expect(sealer.open(sealed, "another-link")).toBeUndefined();
    expect(sealer.open(sealed, "")).toBeUndefined();
    expect(createSealer(SECRET, "webhook").open(sealed, CONTEXT)).toBeUndefined();
    expect(createSealer(`${SECRET}x`, "share-link").open(sealed, CONTEXT)).toBeUndefined();
    expect(createSealer(SECRET, "share-link").open(sealed, CONTEXT)).toBe(TOKEN);
  });

  it("detects tampering with any part", () => {
    const parts = sealer.seal(TOKEN, CONTEXT).split(".");
    for (const index of [1, 2, 3]) {
      const tampered = parts.map((part, i) => (i === index ? flipFirstChar(part) : part));
      expect(sealer.open(tampered.join("."), CONTEXT), `part ${index}`).toBeUndefined();
    }
  });

  it("refuses a truncated authentication tag (GCM would check a 4-byte prefix if allowed)", () => {
    const parts = sealer.seal(TOKEN, CONTEXT).split(".");
    const tag = Buffer.from(parts[3] ?? "", "base64url");
    for (const length of [0, 4, 8, 12, 15]) {
      const truncated = [...parts.slice(0, 3), tag.subarray(0, length).toString("base64url")].join(".");
      expect(sealer.open(truncated, CONTEXT), `${length}-byte tag`).toBeUndefined();
    }
  });

  it("refuses malformed input without throwing", () => {
    const sealed = sealer.seal(TOKEN, CONTEXT);
    const junk = [
      "",
      "v1",
      "v1...",
      `v2${sealed.slice(2)}`,
      `${sealed}.extra`,
      "v1.a.b",
      "not sealed at all",
      "🔑",
    ];
    for (const value of junk) expect(sealer.open(value, CONTEXT), value).toBeUndefined();
  });
});
