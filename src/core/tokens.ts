/**
 * Key and token formats (SPEC §2).
 *
 * appKey:   `{keyPrefix}-{account}-{6 letters A-Z}`: public, may be logged.
 * appToken: `{tokenPrefix}_{40 base62}{6 base62 of CRC32(random part)}`: secret. The checksum lets a
 *           scanner recognise a leaked token and lets the server drop a mistyped or forged token
 *           before any storage lookup. It is not a MAC: the 238 random bits are the secret.
 *
 * Pure: randomness is injected so that tests are deterministic.
 */

export type RandomBytes = (size: number) => Uint8Array;

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const TOKEN_RANDOM_LENGTH = 40;
export const TOKEN_CHECKSUM_LENGTH = 6;
/** Longest token accepted at all (imported tokens of other systems included). */
export const MAX_TOKEN_LENGTH = 512;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib) of the string's bytes; tokens are ASCII so chars are bytes. */
export function crc32(ascii: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < ascii.length; i++) {
    crc = (CRC_TABLE[(crc ^ ascii.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Fixed-width base62, most significant digit first, zero-padded. */
export function base62(value: number, width: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/** Uniform characters from `alphabet` by rejection sampling (no modulo bias). */
export function randomString(random: RandomBytes, alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of random(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export function generateAppKey(random: RandomBytes, keyPrefix: string, account: string): string {
  return `${keyPrefix}-${account}-${randomString(random, LETTERS, 6)}`;
}

export function tokenChecksum(randomPart: string): string {
  return base62(crc32(randomPart), TOKEN_CHECKSUM_LENGTH);
}

export function generateAppToken(random: RandomBytes, tokenPrefix: string): string {
  const randomPart = randomString(random, BASE62, TOKEN_RANDOM_LENGTH);
  return `${tokenPrefix}_${randomPart}${tokenChecksum(randomPart)}`;
}

export type TokenShape = "native" | "foreign" | "malformed";

/**
 * Classifies a presented token without any lookup. `native` tokens have our prefix and a valid
 * checksum; `malformed` ones can never match anything (bad checksum on our shape, empty, too long,
 * non-printable) and are refused at once; `foreign` ones may be imported tokens of another system.
 */
export function classifyToken(token: string, tokenPrefix: string): TokenShape {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    return "malformed";
  }
  const head = `${tokenPrefix}_`;
  if (!token.startsWith(head)) return "foreign";
  const body = token.slice(head.length);
  if (body.length !== TOKEN_RANDOM_LENGTH + TOKEN_CHECKSUM_LENGTH || !/^[0-9A-Za-z]+$/.test(body)) {
    return "malformed";
  }
  const randomPart = body.slice(0, TOKEN_RANDOM_LENGTH);
  return body.slice(TOKEN_RANDOM_LENGTH) === tokenChecksum(randomPart) ? "native" : "malformed";
}

const APP_KEY_SHAPE = /^[a-z][a-z0-9]{1,19}-[a-z][a-z0-9-]{1,39}-[A-Z]{6}$/;

/** Cheap shape check for a presented appKey (any prefix: keys may have been made under another). */
export function isAppKeyShaped(appKey: string): boolean {
  return appKey.length <= 70 && APP_KEY_SHAPE.test(appKey);
}

/** A regex secret scanners can use to find latchkey tokens with the given prefix. */
export function tokenScanPattern(tokenPrefix: string): string {
  return `\\b${tokenPrefix}_[0-9A-Za-z]{${TOKEN_RANDOM_LENGTH + TOKEN_CHECKSUM_LENGTH}}\\b`;
}
