/** The notification outbox (SPEC §2.3): messages wait here until a scheduler delivers them. */

export type NotificationChannel = "email" | "webhook";
export type NotificationStatus = "pending" | "sent" | "failed";

export interface NotificationInput {
  id: string;
  account: string;
  channel: NotificationChannel;
  /** Email address, or webhook id in the account's settings. */
  target: string;
  /** What happened, e.g. "key.alert.orange", "key.deactivated_by_policy", "key.leaked". */
  event: string;
  /** The message body: JSON facts, never a token. */
  payload: Record<string, unknown>;
  createdAt: number;
}

export interface NotificationRecord extends NotificationInput {
  status: NotificationStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  sentAt: number | null;
}

export interface OutboxRepository {
  enqueue(notification: NotificationInput): Promise<void>;
  /**
   * Atomically leases up to `limit` pending notifications due at `now` until `leaseUntil` (their
   * nextAttemptAt moves there), so that two schedulers never send the same one at once.
   */
  claim(now: number, leaseUntil: number, limit: number): Promise<NotificationRecord[]>;
  markSent(id: string, sentAt: number): Promise<void>;
  /** Counts an attempt; `retryAt` null gives up (status "failed"). */
  markFailed(id: string, error: string, retryAt: number | null): Promise<void>;
  /** Newest first. */
  list(account: string, limit: number): Promise<NotificationRecord[]>;
}
