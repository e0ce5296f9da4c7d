/**
 * The decision of whether presented key credentials authenticate, with no I/O: the caller looks
 * the key up and hashes the token, this decides. Digest comparison is injected (constant time).
 */
import type { TokenShape } from "./tokens.js";

export type KeyAuthFailure = "MALFORMED" | "UNKNOWN_KEY" | "WRONG_TOKEN" | "INACTIVE";

export type KeyAuthDecision = { ok: true } | { ok: false; reason: KeyAuthFailure };

export interface KeyAuthState {
  active: boolean;
  tokenHashes: readonly string[];
}

export function decideKeyAuth(
  shape: TokenShape,
  key: KeyAuthState | undefined,
  presentedHash: string,
  equal: (a: string, b: string) => boolean,
): KeyAuthDecision {
  if (shape === "malformed") return { ok: false, reason: "MALFORMED" };
  if (!key) return { ok: false, reason: "UNKNOWN_KEY" };
  // Compare with every token (no early exit), so timing does not tell which one matched.
  let matched = false;
  for (const hash of key.tokenHashes) matched = equal(hash, presentedHash) || matched;
  if (!matched) return { ok: false, reason: "WRONG_TOKEN" };
  if (!key.active) return { ok: false, reason: "INACTIVE" };
  return { ok: true };
}
