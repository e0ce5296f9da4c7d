/**
 * The notifier over the in-process harness (real SQLite store, real services), with a real SMTP
 * server and a real webhook receiver on loopback. Time is the harness's clock: tests move it with
 * `advance`, never sleep.
 */
import { WEBHOOK_SECRET_PURPOSE, webhookSecretContext } from "../../src/core/settings.js";
import { createSealer } from "../../src/crypto/sealing.js";
import { createNotifier, type Notifier } from "../../src/notify/notifier.js";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import type { NotificationRecord } from "../../src/storage/store.js";
import { createHarness } from "../support/harness.js";
import { startReceiver, startSmtp } from "./peers.js";

export const DAY = 86_400_000;
export const MINUTE = 60_000;
export const WEBHOOK_ID = "wh_test0001";
export const WEBHOOK_SECRET = "whsec-0123456789abcdef0123456789abcdef";

export interface AlertSettings {
  renewalPeriodMonths?: 3 | 6;
  notifyEmails?: string[];
  /** Adds webhook WEBHOOK_ID: the test receiver, or the URL given. */
  webhook?: boolean | string;
  deactivateUnusedDays?: number | null;
  maxTokenAgeDays?: number | null;
}

export async function createNotifyHarness(kind: "sqlite" | "postgres" = "sqlite") {
  // The receiver is on loopback, which production refuses unless WEBHOOK_ALLOW_PRIVATE is set.
  const h = await createHarness(kind, { webhookAllowPrivate: true });
  const smtp = await startSmtp();
  const deps = h.deps;
  const hooks = await startReceiver(WEBHOOK_SECRET, () => deps.clock.now());
  const notifiers: Notifier[] = [];

  /** A notifier as one server instance would build it; several may share the store. */
  function notifier(
    options: { smtpUrl?: string | undefined; webhookTimeoutMs?: number; webhookAllowPrivate?: boolean } = {},
  ): Notifier {
    const created = createNotifier({ ...deps, smtpUrl: smtp.url, webhookAllowPrivate: true, ...options });
    notifiers.push(created);
    return created;
  }
  const main = notifier();

  /** Writes the settings document directly, as the settings service stores it. */
  async function configure(settings: AlertSettings, account = "acme"): Promise<void> {
    const sealer = createSealer(deps.secret, WEBHOOK_SECRET_PURPOSE);
    const webhooks = settings.webhook
      ? [
          {
            id: WEBHOOK_ID,
            url: typeof settings.webhook === "string" ? settings.webhook : hooks.url,
            sealedSecret: sealer.seal(WEBHOOK_SECRET, webhookSecretContext(account, WEBHOOK_ID)),
            createdAt: deps.clock.now(),
          },
        ]
      : [];
    const { webhook: _, ...rest } = settings;
    await h.store.settings.put(account, { notifyEmails: [], ...rest, webhooks }, deps.clock.now());
  }

  /** Renews a key's token at the current time (start + complete in one step). */
  async function renew(appKey: string, account = "acme") {
    return h.services.renewal.start(SYSTEM_AUTHORITY, account, appKey, { deleteOldToken: "now" });
  }

  async function notifications(account = "acme") {
    return h.store.outbox.list(account, 200);
  }

  async function keys(account = "acme") {
    return (await h.store.keys.list({ account, sort: "createdAt", order: "asc", limit: 200 })).items;
  }

  async function audit(action: string, account = "acme") {
    return (await h.store.audit.list(account, 500)).filter((event) => event.action === action);
  }

  return {
    ...h,
    deps,
    smtp,
    hooks,
    notifier,
    pass: () => main.runPass(),
    configure,
    renew,
    notifications,
    keys,
    audit,
    async close() {
      for (const n of notifiers) n.close();
      await Promise.all([smtp.close(), hooks.close()]);
      await h.close();
    },
  };
}

/** The appKey a notification is about. */
export function appKeyOf(notification: NotificationRecord): string | undefined {
  const key = notification.payload.key as { appKey?: string } | undefined;
  return key?.appKey;
}

export type NotifyHarness = Awaited<ReturnType<typeof createNotifyHarness>>;
