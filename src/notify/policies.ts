/**
 * The account's optional policies (SPEC §2.3), both off by default:
 * - `deactivateUnusedDays` N: an active generated key neither used, created nor changed (reactivated,
 *   renamed, renewed) in the last N days is deactivated. Counting changes gives a key an admin just
 *   reactivated a full window to be used, instead of being switched off again by the next pass.
 * - `maxTokenAgeDays` N: an active key whose newest token is older than N days is deactivated; only
 *   a renewal lets it stay active.
 *
 * Each deactivation is one transaction: the key update, the `key.deactivated_by_policy` audit event
 * (actor system) and the notifications. The condition is checked again inside it, so a key used or
 * renewed since the scan is spared.
 */
import { recordAudit } from "../audit/audit.js";
import type { AccountSettings } from "../core/settings.js";
import { SYSTEM_ACTOR } from "../services/deps.js";
import type { KeyRecord } from "../storage/store.js";
import { forEachKey } from "./alerts.js";
import { enqueueFor, type NotifyDeps } from "./deps.js";
import {
  DAY_MS,
  POLICY_EVENT,
  type Policy,
  policyPayload,
  type Recipient,
  recipientsOf,
} from "./messages.js";

const UNUSED_BATCH = 200;

export interface PolicyCounts {
  deactivated: number;
  notifications: number;
}

interface Rule {
  policy: Policy;
  days: number;
  /** Still true of the key as read inside the deactivating transaction. */
  applies(key: KeyRecord): boolean;
}

export async function applyPolicies(
  deps: NotifyDeps,
  account: string,
  settings: AccountSettings,
  now: number,
): Promise<PolicyCounts> {
  const counts: PolicyCounts = { deactivated: 0, notifications: 0 };
  const run = { deps, account, now, recipients: recipientsOf(settings), counts };
  if (settings.deactivateUnusedDays !== null) await deactivateUnused(run, settings.deactivateUnusedDays);
  if (settings.maxTokenAgeDays !== null) {
    const before = now - settings.maxTokenAgeDays * DAY_MS;
    const rule: Rule = {
      policy: "maxTokenAgeDays",
      days: settings.maxTokenAgeDays,
      applies: (key) => key.tokenCreatedAt < before,
    };
    await forEachKey(deps, { account, status: "active", tokenCreatedBefore: before }, async (key) => {
      await deactivate(run, key, rule);
    });
  }
  return counts;
}

interface Run {
  deps: NotifyDeps;
  account: string;
  now: number;
  recipients: Recipient[];
  counts: PolicyCounts;
}

async function deactivateUnused(run: Run, days: number): Promise<void> {
  const before = run.now - days * DAY_MS;
  const rule: Rule = {
    policy: "deactivateUnusedDays",
    days,
    applies: (key) => key.createdAt < before && (key.lastUsedAt ?? 0) < before && key.updatedAt < before,
  };
  // Deactivated keys leave the list, so asking again makes progress; keys spared for a recent
  // change stay in it, hence the stop when a full batch deactivated nothing.
  for (;;) {
    const keys = await run.deps.store.listUnusedKeys(run.account, before, UNUSED_BATCH);
    let progress = false;
    for (const key of keys) {
      if (rule.applies(key) && (await deactivate(run, key, rule))) progress = true;
    }
    if (keys.length < UNUSED_BATCH || !progress) return;
  }
}

async function deactivate(run: Run, key: KeyRecord, rule: Rule): Promise<boolean> {
  const { deps, account, now } = run;
  const notifications = await deps.store.transaction(async (tx) => {
    const fresh = await tx.getKeyByAppKey(key.appKey);
    if (!fresh || fresh.account !== account || !fresh.active || !rule.applies(fresh)) return undefined;
    // Once-only guard between instances racing on the same key: the mark names the key's version
    // (updatedAt), so a later reactivation can be followed by a new deactivation.
    const token = fresh.tokens.at(-1);
    if (token && !(await tx.markAlert(token.id, `policy@${fresh.updatedAt}`, now))) return undefined;
    await tx.updateKey(account, fresh.appKey, { active: false, updatedAt: now });
    const payload = policyPayload(fresh, rule.policy, rule.days, now);
    await recordAudit(tx, deps, SYSTEM_ACTOR, {
      account,
      action: POLICY_EVENT,
      target: { type: "key", id: fresh.appKey },
      data: {
        policy: rule.policy,
        days: rule.days,
        before: { active: true },
        after: { active: false },
        lastUsedAt: payload.lastUsedAt,
        tokenCreatedAt: payload.tokenCreatedAt,
      },
    });
    return enqueueFor(tx, deps, { account, event: POLICY_EVENT, payload, now }, run.recipients);
  });
  if (notifications === undefined) return false;
  run.counts.deactivated += 1;
  run.counts.notifications += notifications;
  return true;
}
