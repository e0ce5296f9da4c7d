/**
 * Leaked-token revocation (SPEC §3, `POST /v1/credentials/revoke`): whoever holds a token may
 * report it, and its key is deactivated at once and its account alerted. Possession is the proof,
 * so the caller is anonymous; the answer never says which tokens matched.
 *
 * Secrets: each reported token is hashed on arrival and only its hash is looked up; the plaintext is
 * never stored, logged, audited, echoed or put in a notification. Tokens that could never
 * authenticate (our prefix with a bad checksum, empty, too long, non-printable) are not looked up;
 * any other shape is, since imported keys keep their own token shapes (SPEC §2).
 *
 * Each deactivation is one transaction through the same path the policies use (notify/policies.ts):
 * key update, `key.deactivated_leak` audit event (actor system, with the reporter's address and user
 * agent) and one outbox row per recipient of the account's settings (event `key.leaked`). A key
 * already inactive is left as it is: nothing to switch off, and repeated reports of one token do not
 * repeat the alert. Caches hear of each change once it commits.
 */

import { type Actor, SYSTEM_ACTOR } from "../core/actor.js";
import { readSettings } from "../core/settings.js";
import { classifyToken } from "../core/tokens.js";
import { hashToken } from "../crypto/token-hash.js";
import { LEAK_ACTION, LEAK_EVENT, leakPayload, recipientsOf } from "../notify/messages.js";
import { deactivateWithNotice } from "../notify/policies.js";
import { changeWithin } from "../verify/changes.js";
import { type FailureLimiter, refuseIfBlocked } from "../verify/rate-limit.js";
import type { ServiceDeps } from "./deps.js";

/** Leak reports allowed per client address: every request counts, matching or not. */
export const REVOKE_RATE = { limit: 10, windowSeconds: 60 } as const;

export interface LeakReporter {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface RevokeOutcome {
  /** How many tokens the report held (the only thing the reporter is told). */
  received: number;
  /** appKeys deactivated by this report, for the server log; never sent to the reporter. */
  deactivated: string[];
}

/** `limiter` counts every report per client address, at REVOKE_RATE in production. */
export function createRevokeService(deps: ServiceDeps, limiter: FailureLimiter) {
  const { store, clock } = deps;

  /**
   * Counts one report from `ip` before its body is read, so that malformed reports count too;
   * RATE_LIMITED when the address was already over the rate, or is with this one.
   */
  async function admit(ip: string | null): Promise<void> {
    refuseIfBlocked(limiter, ip, "reports");
    await limiter.recordFailure(ip);
    refuseIfBlocked(limiter, ip, "reports");
  }

  /** Deactivates the key holding the token with `hash`, if it is still there and active. */
  async function deactivateLeaked(appKey: string, hash: string, actor: Actor): Promise<boolean> {
    const work = changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
      const key = await tx.keys.getByAppKey(appKey);
      const leaked = key?.tokens.find((token) => token.hash === hash);
      if (!key?.active || !leaked) return undefined;
      const now = clock.now();
      const settings = readSettings(await tx.settings.get(key.account));
      return deactivateWithNotice(tx, deps, {
        key,
        reason: "leak_reported",
        // Two reports of the same token racing on two instances deactivate and alert once.
        mark: { tokenId: leaked.id, level: `leak@${key.updatedAt}` },
        actor,
        action: LEAK_ACTION,
        data: {
          before: { active: true },
          after: { active: false },
          leakedTokenCreatedAt: new Date(leaked.createdAt).toISOString(),
        },
        notice: { event: LEAK_EVENT, payload: leakPayload(key, leaked, now) },
        recipients: recipientsOf(settings),
        now,
      });
    });
    return (await work) !== undefined;
  }

  async function revokeLeaked(tokens: readonly string[], reporter: LeakReporter): Promise<RevokeOutcome> {
    const actor: Actor = { ...SYSTEM_ACTOR, label: "leaked-token report", ...reporter };
    const hashes = new Set<string>();
    for (const token of tokens) {
      if (classifyToken(token, deps.tokenPrefix) !== "malformed") hashes.add(hashToken(token));
    }
    const deactivated: string[] = [];
    for (const hash of hashes) {
      const key = await store.keys.findByTokenHash(hash);
      if (key?.active && (await deactivateLeaked(key.appKey, hash, actor))) deactivated.push(key.appKey);
    }
    return { received: tokens.length, deactivated };
  }

  return { admit, revokeLeaked };
}

export type RevokeService = ReturnType<typeof createRevokeService>;
