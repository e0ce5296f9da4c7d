import type { ServiceDeps } from "../services/deps.js";
import type { StoreOps } from "../storage/store.js";
import type { Recipient } from "./messages.js";

/** What the notifier needs: a subset of the services' dependencies plus the mail settings. */
export interface NotifyDeps
  extends Pick<ServiceDeps, "store" | "clock" | "newId" | "secret" | "publicUrl" | "changes"> {
  /** SMTP_URL; without it email notifications fail at once (see email.ts). */
  smtpUrl?: string | undefined;
  /** Per-request webhook timeout; 10 s unless a test shortens it. */
  webhookTimeoutMs?: number | undefined;
  /** WEBHOOK_ALLOW_PRIVATE; unless true, webhooks to non-public addresses are refused (destination.ts). */
  webhookAllowPrivate?: boolean | undefined;
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
