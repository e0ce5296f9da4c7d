/**
 * The Settings tab's form state and its rules. The client checks what the server checks (SPEC §2.3,
 * src/http/routes/settings.ts) so a mistake is named next to its field before anything is sent; the
 * server still decides, and its message is shown when it refuses.
 */
import type { ApiKeySettings, ApiKeySettingsInput } from "../api";

export const MAX_EMAILS = 20;
export const MAX_WEBHOOKS = 10;
export const MAX_DAYS = 3650;
export const MIN_SECRET = 24;

export interface WebhookDraft {
  /** Stable React key: the webhook id once saved, a local one before. */
  key: string;
  id?: string;
  url: string;
  /** A secret the user typed for a new webhook; empty = the server generates one. */
  secret: string;
}

export interface Draft {
  renewalPeriodMonths: 3 | 6;
  emails: string[];
  webhooks: WebhookDraft[];
  unusedOn: boolean;
  unusedDays: string;
  maxAgeOn: boolean;
  maxAgeDays: string;
  lifetimeOn: boolean;
  lifetimeDays: string;
  allowBrowserKeys: boolean;
  requireApproval: boolean;
}

export function draftOf(settings: ApiKeySettings): Draft {
  const {
    deactivateUnusedDays: unused,
    maxTokenAgeDays: maxAge,
    maxKeyLifetimeDays: lifetime,
  } = settings.policies;
  return {
    renewalPeriodMonths: settings.renewalPeriodMonths,
    emails: [...settings.notifications.emails],
    webhooks: settings.notifications.webhooks.map((hook) => ({
      key: hook.id,
      id: hook.id,
      url: hook.url,
      secret: "",
    })),
    unusedOn: unused !== null,
    unusedDays: String(unused ?? 90),
    maxAgeOn: maxAge !== null,
    maxAgeDays: String(maxAge ?? 365),
    lifetimeOn: lifetime !== null,
    lifetimeDays: String(lifetime ?? 365),
    allowBrowserKeys: settings.policies.allowBrowserKeys,
    requireApproval: settings.policies.requireExternalKeyApproval,
  };
}

/** The PUT body; days are only read when their policy is on (call `checkDays` first). */
export function bodyOf(draft: Draft): ApiKeySettingsInput {
  return {
    renewalPeriodMonths: draft.renewalPeriodMonths,
    notifications: {
      emails: draft.emails,
      webhooks: draft.webhooks.map((hook) => ({
        ...(hook.id ? { id: hook.id } : {}),
        url: hook.url,
        ...(hook.secret ? { secret: hook.secret } : {}),
      })),
    },
    policies: {
      deactivateUnusedDays: draft.unusedOn ? Number(draft.unusedDays) : null,
      maxTokenAgeDays: draft.maxAgeOn ? Number(draft.maxAgeDays) : null,
      maxKeyLifetimeDays: draft.lifetimeOn ? Number(draft.lifetimeDays) : null,
      allowBrowserKeys: draft.allowBrowserKeys,
      requireExternalKeyApproval: draft.requireApproval,
    },
  };
}

/**
 * The If-Match of a save based on the load that answered `etag` (none from a server without ETags).
 * A compressing proxy may weaken the tag (W/); the version it names is the same, and the server
 * compares strongly, so it goes back strong.
 */
export function ifMatchOf(etag: string | undefined): Record<string, string> {
  return etag ? { "if-match": etag.replace(/^W\//, "") } : {};
}

/** The server's rule (src/core/names.ts): trimmed, lower-cased, something@something.tld. */
export function normalizeEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return undefined;
  return email;
}

export function checkEmail(raw: string, emails: readonly string[]): { email?: string; error?: string } {
  const email = normalizeEmail(raw);
  if (!email) return { error: `“${raw.trim()}” is not an email address. Enter one like ops@example.com.` };
  if (emails.includes(email)) return { error: `${email} is already in the list` };
  if (emails.length >= MAX_EMAILS) return { error: `At most ${MAX_EMAILS} email addresses` };
  return { email };
}

export function checkWebhook(url: string, secret: string, count: number): { url?: string; secret?: string } {
  const errors: { url?: string; secret?: string } = {};
  let parsed: URL | undefined;
  try {
    parsed = new URL(url.trim());
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol))
    errors.url = "Enter an http:// or https:// URL, like https://hooks.example.com/latchkey";
  else if (parsed.username || parsed.password) errors.url = "The URL may not contain a user name or password";
  else if (url.trim().length > 2000) errors.url = "The URL can have at most 2,000 characters";
  else if (count >= MAX_WEBHOOKS) errors.url = `At most ${MAX_WEBHOOKS} webhooks`;
  if (secret && secret.length < MIN_SECRET)
    errors.secret = `The secret needs ${MIN_SECRET} characters or more (it has ${secret.length}); or leave it empty`;
  else if (secret.length > 256) errors.secret = "The secret can have at most 256 characters";
  return errors;
}

/** Why a policy's number of days is refused, if it is. */
export function checkDays(on: boolean, raw: string): string | undefined {
  if (!on) return undefined;
  const days = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || days < 1 || days > MAX_DAYS)
    return `Enter a whole number of days from 1 to ${MAX_DAYS.toLocaleString("en")}`;
  return undefined;
}
