import type { Clock } from "../core/time.js";
import type { Store, StoreOps } from "../storage/store.js";
import type { ChangeBus } from "../verify/changes.js";
import type { Recipient } from "./messages.js";

/** What the notifier needs: the services' store, clock and change bus, plus the mail settings. */
export interface NotifyDeps {
  store: Store;
  clock: Clock;
  newId: () => string;
  /** LATCHKEY_SECRET, to open webhook signing secrets (webhook-secret.ts). Never logged. */
  secret: string;
  /** External base URL, for links in messages. */
  publicUrl: string;
  /** Keys deactivated by a policy are announced to the verification caches. */
  changes: ChangeBus;
  /** SMTP_URL; without it email notifications fail at once (see email.ts). */
  smtpUrl?: string | undefined;
  /** Per-request webhook timeout; 10 s unless a test shortens it. */
  webhookTimeoutMs?: number | undefined;
  /** WEBHOOK_ALLOW_PRIVATE; unless true, webhooks to non-public addresses are refused (destination.ts). */
  webhookAllowPrivate?: boolean | undefined;
  /**
   * Expires requests to add external keys past their 7 days (services/external-key-requests.ts);
   * how many it expired. Absent where no services are built (then requests expire when read).
   */
  expireRequests?: (() => Promise<number>) | undefined;
}

/** One outbox row per recipient, through the transaction of the change that caused them. */
export async function enqueueFor(
  tx: StoreOps,
  deps: Pick<NotifyDeps, "newId">,
  notice: { account: string; event: string; payload: Record<string, unknown>; now: number },
  recipients: readonly Recipient[],
): Promise<number> {
  for (const recipient of recipients) {
    await tx.outbox.enqueue({
      id: deps.newId(),
      account: notice.account,
      channel: recipient.channel,
      target: recipient.target,
      event: notice.event,
      payload: notice.payload,
      createdAt: notice.now,
    });
  }
  return recipients.length;
}
