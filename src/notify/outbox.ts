/**
 * Delivery of the notification outbox. A pass leases due rows (`outbox.claim`: two schedulers
 * never hold the same row), sends each through its channel, then records the outcome with its audit
 * event in one transaction. A process that dies mid-send leaves its rows pending: they become due
 * again when the lease ends and the next pass, in any process, sends them.
 *
 * Retries: a failed attempt is retried 1 min, 5 min, 30 min, 2 h and 12 h later; the 6th failed
 * attempt gives up (status "failed"), about 15 h after the first. Permanent faults (no SMTP_URL,
 * webhook removed from the settings, secret that no longer opens, webhook address refused by the
 * WEBHOOK_ALLOW_PRIVATE policy) give up at once. Delivery is at-least-once: a receiver that answers
 * after the timeout may see the same delivery id again.
 *
 * Audit: `notification.sent` when delivered, `notification.failed` when given up (not per retry; the
 * row keeps the last error), in the notification's account, actor system. Errors are truncated and
 * carry no secret: senders report status codes and error codes, never URLs or credentials.
 */
import { recordAudit } from "../audit/audit.js";
import { SYSTEM_ACTOR } from "../core/actor.js";
import type { NotificationChannel, NotificationRecord } from "../storage/store.js";
import type { NotifyDeps } from "./deps.js";

export const RETRY_DELAYS_MS = [60_000, 300_000, 1_800_000, 7_200_000, 43_200_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Longer than a whole batch can take (sends run in parallel, each bounded by its timeout). */
export const LEASE_MS = 5 * 60_000;
export const BATCH = 20;
/** Bounds one pass; what remains is due at the next one. */
const MAX_BATCHES_PER_PASS = 50;
const MAX_ERROR_LENGTH = 300;

export type SendOutcome = { ok: true } | { ok: false; error: string; permanent?: boolean };

export interface Sender {
  send(notification: NotificationRecord): Promise<SendOutcome>;
}

export type Senders = Record<NotificationChannel, Sender>;

export interface DeliveryCounts {
  sent: number;
  retrying: number;
  failed: number;
}

/** When to try again after `attempts` failed attempts; null gives up. */
export function retryAt(attempts: number, now: number): number | null {
  const delay = RETRY_DELAYS_MS[attempts - 1];
  return attempts >= MAX_ATTEMPTS || delay === undefined ? null : now + delay;
}

export async function deliverDue(
  deps: NotifyDeps,
  senders: Senders,
  signal?: AbortSignal,
): Promise<DeliveryCounts> {
  const counts: DeliveryCounts = { sent: 0, retrying: 0, failed: 0 };
  for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !signal?.aborted; batch++) {
    const now = deps.clock.now();
    const claimed = await deps.store.outbox.claim(now, now + LEASE_MS, BATCH);
    const outcomes = await Promise.all(claimed.map((n) => deliverOne(deps, senders, n)));
    for (const outcome of outcomes) counts[outcome] += 1;
    if (claimed.length < BATCH) break;
  }
  return counts;
}

async function deliverOne(
  deps: NotifyDeps,
  senders: Senders,
  notification: NotificationRecord,
): Promise<keyof DeliveryCounts> {
  const outcome = await attempt(senders, notification);
  const now = deps.clock.now();
  const attempts = notification.attempts + 1;
  const facts = {
    channel: notification.channel,
    target: notification.target,
    event: notification.event,
    attempts,
  };
  const audit = (action: string, data: Record<string, unknown>) => ({
    account: notification.account,
    action,
    target: { type: "notification", id: notification.id },
    data,
  });
  if (outcome.ok) {
    await deps.store.transaction(async (tx) => {
      await tx.outbox.markSent(notification.id, now);
      await recordAudit(tx, deps, SYSTEM_ACTOR, audit("notification.sent", facts));
    });
    return "sent";
  }
  const error = truncate(outcome.error);
  const next = outcome.permanent ? null : retryAt(attempts, now);
  await deps.store.transaction(async (tx) => {
    await tx.outbox.markFailed(notification.id, error, next);
    if (next === null) {
      await recordAudit(tx, deps, SYSTEM_ACTOR, audit("notification.failed", { ...facts, error }));
    }
  });
  return next === null ? "failed" : "retrying";
}

async function attempt(senders: Senders, notification: NotificationRecord): Promise<SendOutcome> {
  if (!Object.hasOwn(senders, notification.channel)) {
    return { ok: false, error: `unknown channel "${notification.channel}"`, permanent: true };
  }
  try {
    return await senders[notification.channel].send(notification);
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

/** A thrown error as one short line: its code and message, with any URL credentials masked. */
export function describeError(error: unknown): string {
  const err = error as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === "string" ? `${err.code}: ` : "";
  const message = typeof err?.message === "string" ? err.message : String(error);
  return truncate(`${code}${message}`.replace(/\/\/[^/@\s]*@/g, "//[redacted]@"));
}

function truncate(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 3)}...` : line;
}
