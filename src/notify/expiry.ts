/**
 * Expiry notices (docs/key-controls.md): an active generated key whose expiry falls within the next
 * EXPIRY_WARNING_DAYS is announced once, to the account's recipients, by the same outbox as the
 * renewal alerts. The once-only mark is an alert mark (`markAlert`) under the key's id with the
 * level `expiring:{expiresAt}`: one notice per key and expiry date, whatever the number of passes
 * and instances; a key given a new expiry is announced again when that one nears. The mark and the
 * outbox rows are written in one transaction. Like renewal alerts, an account with no recipients
 * is not scanned, and a notice never changes the key.
 */
import { expiryRange } from "../core/key-controls.js";
import type { AccountSettings } from "../core/settings.js";
import { DAY_MS, iso } from "../core/time.js";
import type { KeyListQuery, KeyRecord } from "../storage/store.js";
import { SCAN_PAGE } from "./alerts.js";
import { enqueueFor, type NotifyDeps } from "./deps.js";
import { EXPIRY_EVENT, recipientsOf } from "./messages.js";

export async function announceExpiries(
  deps: NotifyDeps,
  account: string,
  settings: AccountSettings,
  now: number,
): Promise<{ keys: number; notifications: number }> {
  const counts = { keys: 0, notifications: 0 };
  const recipients = recipientsOf(settings);
  if (recipients.length === 0) return counts;
  // The keys the list's `expiry=soon` filter shows: the same bounds as the admin's badge.
  const filter = { account, status: "active" as const, ...expiryRange("soon", now) };
  let after: KeyListQuery["after"];
  for (;;) {
    const page = await deps.store.keys.list({
      ...filter,
      sort: "createdAt",
      order: "asc",
      limit: SCAN_PAGE,
      skipTotal: true,
      ...(after ? { after } : {}),
    });
    for (const key of page.items) {
      const sent = await announce(deps, key, account, recipients, now);
      if (sent > 0) {
        counts.keys += 1;
        counts.notifications += sent;
      }
    }
    const last = page.items.at(-1);
    if (!page.hasMore || !last) return counts;
    after = { value: last.createdAt, id: last.id };
  }
}

function announce(
  deps: NotifyDeps,
  key: KeyRecord,
  account: string,
  recipients: ReturnType<typeof recipientsOf>,
  now: number,
): Promise<number> {
  const expiresAt = key.expiresAt;
  if (expiresAt === null) return Promise.resolve(0);
  return deps.store.transaction(async (tx) => {
    if (!(await tx.renewals.markAlert(key.id, `expiring:${expiresAt}`, now))) return 0;
    const payload = {
      key: { id: key.id, appKey: key.appKey, name: key.name },
      expiresAt: iso(expiresAt),
      daysLeft: Math.ceil((expiresAt - now) / DAY_MS),
    };
    return enqueueFor(tx, deps, { account, event: EXPIRY_EVENT, payload, now }, recipients);
  });
}
