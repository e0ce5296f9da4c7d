/**
 * Token hashing. Tokens carry 238 random bits, so one SHA-256 is the right hash (no salt or
 * stretching needed: there is nothing to brute-force). Only the base64url digest is stored, cached
 * or compared; the plaintext token never leaves the request that presented it, and is never logged.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64url");
}

/** Constant-time equality of two digests of the same length. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The SHA-256 digest of a token as bytes (what `hashToken` encodes), for the hot path. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Constant-time equality of two 32-byte digests. */
export function digestBytesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
