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
import { ACCOUNT_NAME_PATTERN } from "./names.js";

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
  // No regular expression and no allocation: this runs on every verification.
  const length = token.length;
  if (length === 0 || length > MAX_TOKEN_LENGTH) return "malformed";
  const prefixLength = tokenPrefix.length;
  if (
    length === prefixLength + 1 + TOKEN_RANDOM_LENGTH + TOKEN_CHECKSUM_LENGTH &&
    startsWithPrefix(token, tokenPrefix)
  )
    return nativeShape(token, prefixLength);
  for (let i = 0; i < length; i++) {
    const code = token.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return "malformed";
  }
  return startsWithPrefix(token, tokenPrefix) ? "malformed" : "foreign";
}

/**
 * A token of our prefix and length: "native" when its random part is base62 and its checksum
 * matches, else "malformed" (every character outside base62 there is refused, printable or not).
 */
function nativeShape(token: string, prefixLength: number): TokenShape {
  for (let i = 0; i < prefixLength; i++) {
    const code = token.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return "malformed";
  }
  const end = prefixLength + 1 + TOKEN_RANDOM_LENGTH;
  let crc = 0xffffffff;
  for (let i = prefixLength + 1; i < end; i++) {
    const code = token.charCodeAt(i);
    if (code > 0x7e || BASE62_VALUE[code] === 255) return "malformed";
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  // Compare the checksum digits from the least significant one, as base62() writes them; a
  // character outside base62 (value 255, or none above 0x7f) never equals a digit.
  let rest = (crc ^ 0xffffffff) >>> 0;
  for (let i = token.length - 1; i >= end; i--) {
    if (BASE62_VALUE[token.charCodeAt(i)] !== rest % 62) return "malformed";
    rest = Math.floor(rest / 62);
  }
  return "native";
}

function startsWithPrefix(token: string, tokenPrefix: string): boolean {
  return (
    token.length > tokenPrefix.length && token.startsWith(tokenPrefix) && token[tokenPrefix.length] === "_"
  );
}

/** Value of each ASCII code as a base62 digit, 255 when it is not one. */
const BASE62_VALUE = (() => {
  const table = new Uint8Array(128).fill(255);
  for (let i = 0; i < BASE62.length; i++) table[BASE62.charCodeAt(i)] = i;
  return table;
})();

const APP_KEY_SHAPE = new RegExp(`^[a-z][a-z0-9]{1,19}-${ACCOUNT_NAME_PATTERN}-[A-Z]{6}$`);

/** Cheap shape check for a presented appKey (any prefix: keys may have been made under another). */
export function isAppKeyShaped(appKey: string): boolean {
  return appKey.length <= 70 && APP_KEY_SHAPE.test(appKey);
}

/** A regex secret scanners can use to find latchkey tokens with the given prefix. */
export function tokenScanPattern(tokenPrefix: string): string {
  return `\\b${tokenPrefix}_[0-9A-Za-z]{${TOKEN_RANDOM_LENGTH + TOKEN_CHECKSUM_LENGTH}}\\b`;
}
