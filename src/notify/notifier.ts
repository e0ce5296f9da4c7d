/**
 * One pass of the notifier, as the server's scheduler and `latchkey alerts run` both run it:
 * erase expired share-link tokens, then for every account raise renewal alerts and apply its
 * policies (each into the outbox), expire requests to add external keys older than 7 days, then
 * deliver what is due. Passes may run at the same time in
 * several processes: every step is idempotent or leased in the store.
 */
import { readSettings } from "../core/settings.js";
import { type AlertCounts, raiseAlerts } from "./alerts.js";
import type { NotifyDeps } from "./deps.js";
import { createEmailSender } from "./email.js";
import { announceExpiries } from "./expiry.js";
import { type DeliveryCounts, deliverDue } from "./outbox.js";
import { applyPolicies } from "./policies.js";
import { createWebhookSender } from "./webhook.js";

export interface PassSummary {
  accounts: number;
  /** Keys newly announced in orange or red. */
  alerts: number;
  /** Keys deactivated by a policy. */
  deactivated: number;
  /** Outbox rows written by this pass. */
  enqueued: number;
  deliveries: DeliveryCounts;
  shareLinksPurged: number;
  /** Requests to add external keys expired after 7 days undecided. */
  requestsExpired: number;
  /** Accounts whose scan failed (the others went on); the message has no secret. */
  errors: { account: string; error: string }[];
  durationMs: number;
}

export interface Notifier {
  runPass(signal?: AbortSignal): Promise<PassSummary>;
  /** Releases the SMTP transport. */
  close(): void;
}

export function createNotifier(deps: NotifyDeps): Notifier {
  const email = createEmailSender(deps);
  const senders = { email, webhook: createWebhookSender(deps) };

  async function scanAccount(account: string, summary: PassSummary): Promise<void> {
    const settings = readSettings(await deps.store.settings.get(account));
    const now = deps.clock.now();
    const alerts: AlertCounts = await raiseAlerts(deps, account, settings, now);
    const policies = await applyPolicies(deps, account, settings, now);
    const expiries = await announceExpiries(deps, account, settings, now);
    summary.alerts += alerts.alerts + expiries.keys;
    summary.deactivated += policies.deactivated;
    summary.enqueued += alerts.notifications + policies.notifications + expiries.notifications;
  }

  async function runPass(signal?: AbortSignal): Promise<PassSummary> {
    const started = performance.now();
    const summary: PassSummary = {
      accounts: 0,
      alerts: 0,
      deactivated: 0,
      enqueued: 0,
      deliveries: { sent: 0, retrying: 0, failed: 0 },
      shareLinksPurged: await deps.store.shareLinks.purgeExpired(deps.clock.now()),
      requestsExpired: 0,
      errors: [],
      durationMs: 0,
    };
    for (const account of await deps.store.accounts.list()) {
      if (signal?.aborted) break;
      summary.accounts += 1;
      try {
        await scanAccount(account, summary);
      } catch (error) {
        summary.errors.push({ account, error: error instanceof Error ? error.message : String(error) });
      }
    }
    try {
      summary.requestsExpired = (await deps.expireRequests?.()) ?? 0;
    } catch (error) {
      summary.errors.push({ account: "*", error: error instanceof Error ? error.message : String(error) });
    }
    summary.deliveries = await deliverDue(deps, senders, signal);
    summary.durationMs = Math.round(performance.now() - started);
    return summary;
  }

  return { runPass, close: () => email.close() };
}
