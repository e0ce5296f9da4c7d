/**
 * An account's API-key settings (SPEC §2.3), as stored (one JSON document per account) and as the
 * rest of the code reads them. Webhook signing secrets are stored sealed (see services/sealing.ts,
 * purpose "webhook-secret", context `webhook:{account}:{webhookId}`) and never returned by the API.
 */

export type RenewalPeriodMonths = 3 | 6;

export interface WebhookSetting {
  /** `wh_` + random; stable across edits so a secret can be kept while the URL changes. */
  id: string;
  url: string;
  sealedSecret: string;
  createdAt: number;
}

export interface AccountSettings {
  renewalPeriodMonths: RenewalPeriodMonths;
  /** Recipients of alert emails, lower-cased. */
  notifyEmails: string[];
  webhooks: WebhookSetting[];
  /** Policy: deactivate active keys neither used nor created in this many days; null = off. */
  deactivateUnusedDays: number | null;
  /** Policy: deactivate keys whose newest token is older than this many days; null = off. */
  maxTokenAgeDays: number | null;
  /** Policy: a key's expiry may be at most this many days after its creation; null = off. */
  maxKeyLifetimeDays: number | null;
  /** Policy: keys may be marked `allowBrowser` (used from browser pages); false = refused. */
  allowBrowserKeys: boolean;
  /**
   * Policy: adding an external key makes a request that grants nothing until a different caller
   * holding EditApiKeys approves it (services/external-keys.ts); false = added at once.
   */
  requireExternalKeyApproval: boolean;
}

export const DEFAULT_SETTINGS: Readonly<AccountSettings> = Object.freeze({
  renewalPeriodMonths: 3,
  notifyEmails: [],
  webhooks: [],
  deactivateUnusedDays: null,
  maxTokenAgeDays: null,
  maxKeyLifetimeDays: null,
  allowBrowserKeys: false,
  requireExternalKeyApproval: false,
});

export const WEBHOOK_SECRET_PURPOSE = "webhook-secret";

export function webhookSecretContext(account: string, webhookId: string): string {
  return `webhook:${account}:${webhookId}`;
}

/** Reads a stored document; anything missing or malformed falls back to the default. */
export function readSettings(doc: Record<string, unknown> | undefined): AccountSettings {
  if (!doc) return { ...DEFAULT_SETTINGS };
  const days = (value: unknown) =>
    Number.isInteger(value) && (value as number) > 0 ? (value as number) : null;
  return {
    renewalPeriodMonths: doc.renewalPeriodMonths === 6 ? 6 : 3,
    notifyEmails: Array.isArray(doc.notifyEmails)
      ? doc.notifyEmails.filter((e) => typeof e === "string")
      : [],
    webhooks: Array.isArray(doc.webhooks) ? (doc.webhooks as WebhookSetting[]) : [],
    deactivateUnusedDays: days(doc.deactivateUnusedDays),
    maxTokenAgeDays: days(doc.maxTokenAgeDays),
    maxKeyLifetimeDays: days(doc.maxKeyLifetimeDays),
    allowBrowserKeys: doc.allowBrowserKeys === true,
    requireExternalKeyApproval: doc.requireExternalKeyApproval === true,
  };
}

/**
 * The settings' version, which GET sends as the ETag and a PUT with If-Match must name: the stored
 * document's revision (one more per write, so two saves within a millisecond differ) and the time
 * of that write (so a database restored from a backup does not reuse a version for other content);
 * "0" while none is stored (the defaults).
 */
export function settingsVersion(stored: { revision: number; updatedAt: number } | undefined): string {
  return stored === undefined ? "0" : `${stored.revision}-${stored.updatedAt}`;
}

/**
 * Whether `after` turns on or shortens a deactivation policy. Such a change acts on every generated
 * key of the account (the notifier will deactivate them), so it needs a caller covering them all.
 */
export function tightensPolicies(before: AccountSettings, after: AccountSettings): boolean {
  const tighter = (was: number | null, now: number | null) => now !== null && (was === null || now < was);
  return (
    tighter(before.deactivateUnusedDays, after.deactivateUnusedDays) ||
    tighter(before.maxTokenAgeDays, after.maxTokenAgeDays)
  );
}
