/**
 * Token hashing. Tokens carry 238 random bits, so one SHA-256 is the right hash (no salt or
 * stretching needed: there is nothing to brute-force). Only the digest is stored (base64url), cached
 * (bytes) or compared (in constant time); the plaintext token never leaves the request that
 * presented it, and is never logged.
 */
import { createHash, hash, timingSafeEqual } from "node:crypto";

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64url");
}

/**
 * The stored form of a token's SHA-256 given as hex (a key imported by hash, docs/import.md): the
 * same digest `hashToken` stores, so an imported token is compared exactly as a native one.
 */
export function storedHashOfHex(sha256Hex: string): string {
  return Buffer.from(sha256Hex, "hex").toString("base64url");
}

/** Constant-time equality of two digests of the same length. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The SHA-256 digest of a token as a binary string (one char per byte, 0-255), for the hot path:
 * the one-shot `crypto.hash` into a string costs a fraction of a `Hash` object plus a `Buffer`.
 */
export function tokenDigestBinary(token: string): string {
  return hash("sha256", token, "binary");
}

/**
 * Constant-time equality of a digest (bytes) and a digest as a binary string (`tokenDigestBinary`):
 * every byte is compared, whatever differs, and nothing branches on the bytes' values, so the time
 * tells nothing about how much of the digest matched (what `timingSafeEqual` does, without turning
 * the string into a Buffer first). `digest` is a cached token's 32 bytes (`hashToken` decoded), or
 * holds them from `start` for `length` bytes (a slab of many keys' digests).
 */
export function digestMatchesBinary(
  digest: Uint8Array,
  binary: string,
  start = 0,
  length = digest.length,
): boolean {
  if (length !== binary.length || start < 0 || start + length > digest.length) return false;
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= (digest[start + i] as number) ^ binary.charCodeAt(i);
  return diff === 0;
}
