/**
 * A test notification (POST /v1/accounts/{account}/settings/api-keys/test): one message to every
 * recipient saved in the account's settings, sent now, inside the request, through the same senders
 * as real notifications (SMTP_URL for email; a signed POST for webhooks, see signature.ts). Nothing
 * goes through the outbox and nothing is retried: the admin sees each recipient's outcome at once.
 * Every send is bounded by TEST_TIMEOUT_MS and they run in parallel, so the request is too.
 *
 * Secrets: the webhook's secret is opened by the webhook sender and dropped; the answer and the audit
 * event carry channels, addresses, outcomes and errors (status codes, SMTP replies), never a secret.
 * The audit event names a webhook by its id, not its URL (a URL may carry a secret path or query);
 * the answer shows the URL, which the caller may read in the settings anyway.
 */
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import { fail } from "../core/errors.js";
import { readSettings } from "../core/settings.js";
import type { NotificationRecord } from "../storage/store.js";
import type { NotifyDeps } from "./deps.js";
import { createEmailSender } from "./email.js";
import { type Recipient, recipientsOf, TEST_EVENT } from "./messages.js";
import { describeError, type Sender, type SendOutcome } from "./outbox.js";
import { createWebhookSender } from "./webhook.js";

export const TEST_TIMEOUT_MS = 10_000;
export const TEST_ACTION = "settings.test_notification";

export interface TestResult {
  channel: "email" | "webhook";
  /** The email address, or the webhook's URL. */
  to: string;
  ok: boolean;
  error?: string;
}

export function createTestNotifier(deps: NotifyDeps) {
  async function send(actor: Actor, account: string): Promise<{ results: TestResult[] }> {
    const settings = readSettings(await deps.store.settings.get(account));
    const recipients = recipientsOf(settings);
    if (recipients.length === 0) {
      fail("NO_RECIPIENTS", `Account ${account} has no notification email or webhook saved in its settings`);
    }
    const now = deps.clock.now();
    const email = createEmailSender(deps);
    const senders: Record<Recipient["channel"], Sender> = {
      email,
      webhook: createWebhookSender({ ...deps, webhookTimeoutMs: TEST_TIMEOUT_MS }),
    };
    const urls = new Map(settings.webhooks.map((hook) => [hook.id, hook.url]));
    let outcomes: SendOutcome[];
    try {
      outcomes = await Promise.all(
        recipients.map((recipient) =>
          bounded(
            senders[recipient.channel].send(testMessage(deps, actor, account, recipient, now)),
            TEST_TIMEOUT_MS,
          ),
        ),
      );
    } finally {
      email.close();
    }
    const results = recipients.map((recipient, index): TestResult => {
      const outcome = outcomes[index] ?? { ok: false, error: "not sent" };
      const to = recipient.channel === "webhook" ? (urls.get(recipient.target) ?? "") : recipient.target;
      return {
        channel: recipient.channel,
        to,
        ok: outcome.ok,
        ...(outcome.ok ? {} : { error: outcome.error }),
      };
    });
    await deps.store.transaction((tx) =>
      recordAudit(tx, deps, actor, {
        account,
        action: TEST_ACTION,
        target: { type: "settings", id: "api-keys" },
        data: {
          results: results.map((result, index) => ({ ...result, to: recipients[index]?.target })),
        },
      }),
    );
    return { results };
  }

  return { send };
}

export type TestNotifier = ReturnType<typeof createTestNotifier>;

function testMessage(
  deps: Pick<NotifyDeps, "newId">,
  actor: Actor,
  account: string,
  recipient: Recipient,
  now: number,
): NotificationRecord {
  return {
    id: deps.newId(),
    account,
    channel: recipient.channel,
    target: recipient.target,
    event: TEST_EVENT,
    payload: { test: true, requestedBy: actor.label },
    createdAt: now,
    status: "pending",
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
    sentAt: null,
  };
}

/** The send's outcome, or a failure once `ms` have passed (the send itself is left to end). */
async function bounded(sending: Promise<SendOutcome>, ms: number): Promise<SendOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<SendOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${ms / 1000} s` }), ms);
  });
  try {
    return await Promise.race([
      sending.catch((error: unknown): SendOutcome => ({ ok: false, error: describeError(error) })),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
