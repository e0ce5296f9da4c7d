/**
 * Import of keys by the hash of their token (docs/import.md): the checks of one request that need
 * no storage. Each entry is judged on its own and against the others of the request; the service
 * adds what the store and the caller's grant say, then writes all or nothing.
 *
 * Secrets: an entry carries the hex SHA-256 of a token issued elsewhere, never the token. The hash
 * is stored as latchkey stores its own (base64url of the same SHA-256) and never reported back: a
 * problem names the entry by its index, name and appKey.
 */
import type { ErrorCode } from "./errors.js";
import { normalizeLabel } from "./names.js";
import { isAppKeyShaped } from "./tokens.js";

/** The most keys one import may carry. */
export const MAX_IMPORT_KEYS = 10_000;

/** SHA-256 of the empty string: no token is empty, so such a hash can never be presented. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** One entry as sent, times parsed (milliseconds since the epoch). */
export interface ImportEntry {
  name: string;
  appKey?: string | undefined;
  tokenHash: string;
  roles: readonly number[];
  createdAt?: number | undefined;
  expiresAt?: number | undefined;
}

/** Why one entry cannot be imported. */
export interface ImportProblem {
  index: number;
  code: ErrorCode;
  detail: string;
}

/** An entry that passed the checks of this file, normalized. */
export interface CheckedEntry {
  index: number;
  name: string;
  /** Null: latchkey makes one. */
  appKey: string | null;
  /** Lower-case hex. */
  tokenHash: string;
  roles: readonly number[];
  createdAt: number;
  expiresAt: number | undefined;
}

/**
 * Whether `appKey` can be imported into `account`: the shape every appKey has
 * (`{prefix}-{account}-{6 letters A-Z}`, any lower-case prefix such as `vtexappkey`), naming this
 * account. The verification path refuses any other shape before a lookup, so a key of another
 * shape could never be used.
 */
export function importableAppKey(appKey: string, account: string): boolean {
  if (!isAppKeyShaped(appKey)) return false;
  const named = appKey.slice(appKey.indexOf("-") + 1, appKey.length - 7);
  return named === account;
}

/**
 * Checks every entry alone and against the others (a name, appKey or token hash given twice).
 * Returns the entries that passed and a problem for each that did not, by index.
 */
export function checkImportEntries(
  entries: readonly ImportEntry[],
  account: string,
  now: number,
): { checked: CheckedEntry[]; problems: ImportProblem[] } {
  const checked: CheckedEntry[] = [];
  const problems: ImportProblem[] = [];
  const names = new Map<string, number>();
  const appKeys = new Map<string, number>();
  const hashes = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const outcome = judge(entry, index);
    if ("code" in outcome) problems.push(outcome);
    else checked.push(outcome);
  }
  return { checked, problems };

  function judge(entry: ImportEntry, index: number): ImportProblem | CheckedEntry {
    const problem = (code: ErrorCode, detail: string): ImportProblem => ({ index, code, detail });
    const name = normalizeLabel(entry.name);
    if (name === undefined)
      return problem("VALIDATION_FAILED", "name must be 1-100 characters after trimming");
    const appKey = entry.appKey ?? null;
    if (appKey !== null && !importableAppKey(appKey, account)) {
      return problem(
        "VALIDATION_FAILED",
        `appKey must look like {prefix}-${account}-{6 letters A-Z} (e.g. vtexappkey-${account}-ABCDEF)`,
      );
    }
    if (!SHA256_HEX.test(entry.tokenHash)) {
      return problem("VALIDATION_FAILED", "tokenHash must be the SHA-256 of the token as 64 hex digits");
    }
    const tokenHash = entry.tokenHash.toLowerCase();
    if (tokenHash === EMPTY_SHA256)
      return problem("VALIDATION_FAILED", "tokenHash is the hash of an empty token");
    const createdAt = entry.createdAt ?? now;
    if (createdAt > now) return problem("VALIDATION_FAILED", "createdAt must not be in the future");
    const nameTwice = names.get(name.toLowerCase());
    if (nameTwice !== undefined) return problem("KEY_NAME_TAKEN", `name is also given at index ${nameTwice}`);
    if (appKey !== null) {
      const twice = appKeys.get(appKey);
      if (twice !== undefined) return problem("APP_KEY_TAKEN", `appKey is also given at index ${twice}`);
    }
    const hashTwice = hashes.get(tokenHash);
    if (hashTwice !== undefined)
      return problem("TOKEN_HASH_TAKEN", `tokenHash is also given at index ${hashTwice}`);
    names.set(name.toLowerCase(), index);
    if (appKey !== null) appKeys.set(appKey, index);
    hashes.set(tokenHash, index);
    return { index, name, appKey, tokenHash, roles: entry.roles, createdAt, expiresAt: entry.expiresAt };
  }
}
