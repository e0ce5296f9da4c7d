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
import { type Actor, SYSTEM_ACTOR } from "../core/actor.js";
import type { InactiveReason } from "../core/api.js";
import type { AccountSettings } from "../core/settings.js";
import { DAY_MS } from "../core/time.js";
import type { KeyRecord, StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import { forEachKey } from "./alerts.js";
import { enqueueFor, type NotifyDeps } from "./deps.js";
import { POLICY_EVENT, type Policy, policyPayload, type Recipient, recipientsOf } from "./messages.js";

const UNUSED_BATCH = 200;

export interface PolicyCounts {
  deactivated: number;
  notifications: number;
}

/** What each policy records as the key's inactive reason. */
const POLICY_REASON = {
  deactivateUnusedDays: "unused",
  maxTokenAgeDays: "token_too_old",
} as const satisfies Record<Policy, InactiveReason>;

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
    const keys = await run.deps.store.keys.listUnused(run.account, before, UNUSED_BATCH);
    let progress = false;
    for (const key of keys) {
      if (rule.applies(key) && (await deactivate(run, key, rule))) progress = true;
    }
    if (keys.length < UNUSED_BATCH || !progress) return;
  }
}

async function deactivate(run: Run, key: KeyRecord, rule: Rule): Promise<boolean> {
  const { deps, account, now } = run;
  const work = changeWithin(deps.store, deps.changes, { kind: "key", appKey: key.appKey }, async (tx) => {
    const fresh = await tx.keys.getByAppKey(key.appKey);
    if (!fresh || fresh.account !== account || !fresh.active || !rule.applies(fresh)) return undefined;
    // Once-only guard between instances racing on the same key: the mark names the key's version
    // (updatedAt), so a later reactivation can be followed by a new deactivation.
    const token = fresh.tokens.at(-1);
    const payload = policyPayload(fresh, rule.policy, rule.days, now);
    return deactivateWithNotice(tx, deps, {
      key: fresh,
      reason: POLICY_REASON[rule.policy],
      mark: token && { tokenId: token.id, level: `policy@${fresh.updatedAt}` },
      actor: SYSTEM_ACTOR,
      action: POLICY_EVENT,
      data: {
        policy: rule.policy,
        days: rule.days,
        before: { active: true },
        after: { active: false },
        lastUsedAt: payload.lastUsedAt,
        tokenCreatedAt: payload.tokenCreatedAt,
      },
      notice: { event: POLICY_EVENT, payload },
      recipients: run.recipients,
      now,
    });
  });
  const notifications = await work;
  if (notifications === undefined) return false;
  run.counts.deactivated += 1;
  run.counts.notifications += notifications;
  return true;
}

/** A deactivation the system decides (a policy, a leaked-token report), as `deactivateWithNotice` takes it. */
export interface SystemDeactivation {
  /** The key as read inside the transaction, still active. */
  key: KeyRecord;
  /** Recorded on the key until it is activated again. */
  reason: InactiveReason;
  /** Once-only guard: an alert mark taken on one of the key's tokens; nothing happens if it was taken. */
  mark: { tokenId: string; level: string } | undefined;
  actor: Actor;
  /** Audit action and data (never a token). */
  action: string;
  data: Record<string, unknown>;
  notice: { event: string; payload: Record<string, unknown> };
  recipients: readonly Recipient[];
  now: number;
}

/**
 * The one path by which the system switches a key off: through the caller's transaction, the key
 * update, its audit event and one outbox row per recipient. Returns the number of notices, or
 * undefined when the guard mark was already taken (another instance did it). The caller publishes
 * the key change once the transaction commits.
 */
export async function deactivateWithNotice(
  tx: StoreOps,
  deps: Pick<NotifyDeps, "clock" | "newId">,
  d: SystemDeactivation,
): Promise<number | undefined> {
  if (d.mark && !(await tx.renewals.markAlert(d.mark.tokenId, d.mark.level, d.now))) return undefined;
  const { account, appKey } = d.key;
  await tx.keys.update(account, appKey, { active: false, inactiveReason: d.reason, updatedAt: d.now });
  await recordAudit(tx, deps, d.actor, {
    account,
    action: d.action,
    target: { type: "key", id: appKey },
    data: d.data,
  });
  return enqueueFor(tx, deps, { account, ...d.notice, now: d.now }, d.recipients);
}
