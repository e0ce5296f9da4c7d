/**
 * The renewal-alert scan of one account (SPEC §2.3): active generated keys whose newest token is
 * past the renewal period are orange, 3+ months past it red. Each (token, level) is announced once,
 * whatever the number of passes, restarts and instances: `markAlert` is the once-only guard, and the
 * outbox rows are written in the same transaction, so a crash cannot mark without enqueueing.
 *
 * Decisions:
 * - A key found already red whose orange notice was never sent (the server was down, or recipients
 *   were just configured) gets the red notice only; orange is recorded as implied, so that a later
 *   switch to a 6-month period (red → orange) does not announce an older, lesser level.
 * - An account with no recipients is not scanned and nothing is marked: recipients added later hear
 *   about every key then in alert.
 * - Inactive keys are not announced (they cannot authenticate); reactivated, they are.
 * - Alerts never change a key.
 */
import { alertLevel, alertThreshold } from "../core/alerts.js";
import type { AccountSettings } from "../core/settings.js";
import type { KeyListQuery, KeyRecord } from "../storage/store.js";
import { enqueueFor, type NotifyDeps } from "./deps.js";
import { type AlertNotice, alertEvent, alertPayload, type Recipient, recipientsOf } from "./messages.js";

export const SCAN_PAGE = 200;

export interface AlertCounts {
  alerts: number;
  notifications: number;
}

export async function raiseAlerts(
  deps: NotifyDeps,
  account: string,
  settings: AccountSettings,
  now: number,
): Promise<AlertCounts> {
  const counts: AlertCounts = { alerts: 0, notifications: 0 };
  const recipients = recipientsOf(settings);
  if (recipients.length === 0) return counts;
  const before = alertThreshold("orange", settings.renewalPeriodMonths, now);
  await forEachKey(deps, { account, status: "active", tokenCreatedBefore: before }, async (key) => {
    const level = alertLevel(key.tokenCreatedAt, settings.renewalPeriodMonths, now);
    if (level === "none") return;
    const sent = await announce(deps, key, level, { account, settings, recipients, now });
    if (sent > 0) {
      counts.alerts += 1;
      counts.notifications += sent;
    }
  });
  return counts;
}

async function announce(
  deps: NotifyDeps,
  key: KeyRecord,
  level: AlertNotice,
  at: { account: string; settings: AccountSettings; recipients: Recipient[]; now: number },
): Promise<number> {
  const token = key.tokens.at(-1);
  if (!token) return 0;
  return deps.store.transaction(async (tx) => {
    if (!(await tx.renewals.markAlert(token.id, level, at.now))) return 0;
    if (level === "red") await tx.renewals.markAlert(token.id, "orange", at.now);
    const payload = alertPayload(key, level, at.settings.renewalPeriodMonths, at.now);
    const notice = { account: at.account, event: alertEvent(level), payload, now: at.now };
    return enqueueFor(tx, deps, notice, at.recipients);
  });
}

/**
 * Visits every key of a keyset-paged query (oldest first). Keys changed meanwhile may be skipped or
 * seen twice; the next pass catches up, and every action here is idempotent.
 */
export async function forEachKey(
  deps: Pick<NotifyDeps, "store">,
  filter: Pick<KeyListQuery, "account" | "status" | "tokenCreatedBefore">,
  visit: (key: KeyRecord) => Promise<void>,
): Promise<void> {
  let after: KeyListQuery["after"];
  for (;;) {
    const query: KeyListQuery = {
      ...filter,
      sort: "createdAt",
      order: "asc",
      limit: SCAN_PAGE,
      skipTotal: true,
      ...(after ? { after } : {}),
    };
    const page = await deps.store.keys.list(query);
    for (const key of page.items) await visit(key);
    const last = page.items.at(-1);
    if (!page.hasMore || !last) return;
    after = { value: last.createdAt, id: last.id };
  }
}
