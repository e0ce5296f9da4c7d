import { classifyToken, isAppKeyShaped } from "../core/tokens.js";
import { decideKeyAuth, type KeyAuthFailure } from "../core/verification.js";
import { digestsEqual, hashToken } from "../crypto/token-hash.js";
import type { KeyRecord, Store } from "../storage/store.js";

/**
 * Authenticates appKey + appToken for the management API. A token of our shape with a bad
 * checksum is refused before any lookup. The plaintext token is only hashed here, never kept.
 */
export type KeyAuthResult = { ok: true; key: KeyRecord } | { ok: false; reason: KeyAuthFailure };

export function createKeyAuthenticator(deps: { store: Store; tokenPrefix: string }) {
  return async function authenticateKey(appKey: string, appToken: string): Promise<KeyAuthResult> {
    const shape = classifyToken(appToken, deps.tokenPrefix);
    if (shape === "malformed" || !isAppKeyShaped(appKey)) return { ok: false, reason: "MALFORMED" };
    const key = await deps.store.keys.getByAppKey(appKey);
    const state = key && { active: key.active, tokenHashes: key.tokens.map((token) => token.hash) };
    const decision = decideKeyAuth(shape, state, hashToken(appToken), digestsEqual);
    return decision.ok && key
      ? { ok: true, key }
      : { ok: false, reason: decision.ok ? "UNKNOWN_KEY" : decision.reason };
  };
}

export type KeyAuthenticator = ReturnType<typeof createKeyAuthenticator>;
