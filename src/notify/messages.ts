/**
 * What a notification says: the facts enqueued with it (its payload) and how each channel renders
 * them. Pure functions, no I/O. A payload holds public facts only (appKey, name, dates, the policy):
 * never a token, a token hash or a webhook secret, so no message built from it can leak one.
 */
import type { AccountSettings } from "../core/settings.js";
import { DAY_MS, iso } from "../core/time.js";
import type { KeyRecord, NotificationChannel, NotificationRecord, TokenRecord } from "../storage/store.js";

export type AlertNotice = "orange" | "red";
export type Policy = "deactivateUnusedDays" | "maxTokenAgeDays";

export const POLICY_EVENT = "key.deactivated_by_policy";
/** A token of the key was reported leaked (POST /v1/credentials/revoke) and the key deactivated. */
export const LEAK_EVENT = "key.leaked";
/** The audit action of that deactivation (the notice's event is LEAK_EVENT). */
export const LEAK_ACTION = "key.deactivated_leak";
/** A key's expiry falls within the next 14 days (notify/expiry.ts). */
export const EXPIRY_EVENT = "key.expiring";
/** Someone asked to add an external key while the account requires approval (services/external-key-requests.ts). */
export const REQUEST_EVENT = "external_key.requested";
/** A test message an admin asked for from the settings (POST …/settings/api-keys/test). */
export const TEST_EVENT = "notification.test";

export function alertEvent(level: AlertNotice): string {
  return `key.alert.${level}`;
}

export interface Recipient {
  channel: NotificationChannel;
  /** Email address, or webhook id in the account's settings. */
  target: string;
}

export function recipientsOf(settings: AccountSettings): Recipient[] {
  return [
    ...settings.notifyEmails.map((email): Recipient => ({ channel: "email", target: email })),
    ...settings.webhooks.map((hook): Recipient => ({ channel: "webhook", target: hook.id })),
  ];
}

function keyFacts(key: KeyRecord, now: number) {
  return {
    key: { id: key.id, appKey: key.appKey, name: key.name },
    tokenCreatedAt: iso(key.tokenCreatedAt),
    tokenAgeDays: Math.floor((now - key.tokenCreatedAt) / DAY_MS),
  };
}

export function alertPayload(key: KeyRecord, level: AlertNotice, renewalPeriodMonths: number, now: number) {
  return { ...keyFacts(key, now), level, renewalPeriodMonths };
}

export function policyPayload(key: KeyRecord, policy: Policy, days: number, now: number) {
  const lastUsedAt = key.lastUsedAt === null ? null : iso(key.lastUsedAt);
  return { ...keyFacts(key, now), policy, days, lastUsedAt };
}

/** Which token leaked is told by its creation date, never by anything derived from the token. */
export function leakPayload(key: KeyRecord, leaked: TokenRecord, now: number) {
  return { ...keyFacts(key, now), leakedTokenCreatedAt: iso(leaked.createdAt), reportedAt: iso(now) };
}

/** The JSON body POSTed to a webhook; `X-Latchkey-Signature` signs exactly these bytes. */
export function webhookBody(notification: NotificationRecord): string {
  return JSON.stringify({
    id: notification.id,
    type: notification.event,
    account: notification.account,
    createdAt: iso(notification.createdAt),
    data: notification.payload,
  });
}

export interface EmailText {
  subject: string;
  text: string;
}

/** What every key email shows. */
interface KeyMail {
  label: string;
  facts: string[];
  admin: string;
}

/** Renders a notification as a plain-text email; `publicUrl` gives the admin link. */
export function emailText(notification: NotificationRecord, publicUrl: string): EmailText {
  const data = notification.payload;
  if (notification.event === TEST_EVENT) return testEmail(notification.account, data, publicUrl);
  if (notification.event === REQUEST_EVENT) return requestEmail(notification.account, data, publicUrl);
  const key = (data.key ?? {}) as { appKey?: unknown; name?: unknown };
  const mail: KeyMail = {
    label: `API key "${oneLine(key.name)}" (${oneLine(key.appKey)})`,
    facts: [
      `Account: ${notification.account}`,
      `Token age: ${String(data.tokenAgeDays)} days (token created ${String(data.tokenCreatedAt)})`,
    ],
    admin: `${publicUrl}/admin`,
  };
  if (notification.event.startsWith("key.alert.")) return alertEmail(data, mail);
  if (notification.event === POLICY_EVENT) return policyEmail(data, mail);
  if (notification.event === LEAK_EVENT) return leakEmail(data, mail);
  if (notification.event === EXPIRY_EVENT) return expiryEmail(data, mail);
  return {
    subject: `[latchkey] ${oneLine(notification.event)} in account ${notification.account}`,
    text: lines(
      `Event: ${notification.event}`,
      `Account: ${notification.account}`,
      "",
      JSON.stringify(data, null, 2),
    ),
  };
}

function alertEmail(data: Record<string, unknown>, { label, facts, admin }: KeyMail): EmailText {
  const level = oneLine(data.level);
  const period = `the renewal period of ${String(data.renewalPeriodMonths)} months`;
  const why =
    level === "red" ? `its token is 3 or more months past ${period}` : `its token is older than ${period}`;
  return {
    subject: `[latchkey] ${label} needs renewal (${level})`,
    text: lines(
      `The ${label} needs renewal: ${why}.`,
      "",
      `Alert level: ${level}`,
      ...facts,
      "",
      `Renew its token in the admin: ${admin}`,
      "Alerts never disable a key; renewing gives it a new token and clears the alert.",
    ),
  };
}

function policyEmail(data: Record<string, unknown>, { label, facts, admin }: KeyMail): EmailText {
  return {
    subject: `[latchkey] ${label} was deactivated by policy`,
    text: lines(
      `The ${label} was deactivated by policy: ${policyReason(data)}.`,
      "",
      `Policy: ${oneLine(data.policy)} = ${String(data.days)}`,
      ...facts,
      `Last used: ${data.lastUsedAt === null ? "never" : String(data.lastUsedAt)}`,
      "",
      `Review it in the admin: ${admin}`,
    ),
  };
}

function leakEmail(data: Record<string, unknown>, { label, facts, admin }: KeyMail): EmailText {
  return {
    subject: `[latchkey] ${label} was deactivated: its token was reported leaked`,
    text: lines(
      `The ${label} was deactivated because one of its tokens was reported as leaked (found exposed, for`,
      "example by a secret scanner). Calls made with this key now fail.",
      "",
      ...facts,
      `Leaked token created: ${String(data.leakedTokenCreatedAt)}`,
      `Reported at: ${String(data.reportedAt)}`,
      "",
      "To restore the integration: renew the key's token (deleting the old one now), hand the new token",
      `to the integration, then activate the key again, in the admin: ${admin}`,
      "Also remove the token from wherever it was exposed (a repository, a log, a ticket).",
    ),
  };
}

function expiryEmail(data: Record<string, unknown>, { label, admin }: KeyMail): EmailText {
  return {
    subject: `[latchkey] ${label} expires in ${String(data.daysLeft)} days`,
    text: lines(
      `The ${label} expires at ${String(data.expiresAt)}; calls made with it fail from then on (KEY_EXPIRED).`,
      "",
      "To keep the integration working, give the key a later expiry, or create a new key and hand it",
      `to the integration before then, in the admin: ${admin}`,
    ),
  };
}

/** Public facts of a request: the appKey, its owner, the roles asked for (by name), who asked, until when. */
export function requestPayload(request: {
  appKey: string;
  owner: string;
  roles: readonly string[];
  requestedBy: { type: string; label: string };
  expiresAt: number;
}) {
  const { appKey, owner, roles, requestedBy, expiresAt } = request;
  return { key: { appKey }, owner, roles: [...roles], requestedBy, expiresAt: iso(expiresAt) };
}

function requestEmail(account: string, data: Record<string, unknown>, publicUrl: string): EmailText {
  const key = (data.key ?? {}) as { appKey?: unknown };
  const by = (data.requestedBy ?? {}) as { label?: unknown };
  const roles = Array.isArray(data.roles) ? data.roles.map(oneLine).join(", ") : "";
  return {
    subject: `[latchkey] Approval needed: external key ${oneLine(key.appKey)} in account ${oneLine(account)}`,
    text: lines(
      `${oneLine(by.label)} asked to add the key ${oneLine(key.appKey)} of account ${oneLine(data.owner)}`,
      `to account ${account}, with the roles: ${roles || "none"}.`,
      "It grants nothing until someone else holding Edit API keys approves it; the request expires at",
      `${String(data.expiresAt)}.`,
      "",
      `Approve or reject it in the admin: ${publicUrl}/admin/${account}/keys/approvals`,
    ),
  };
}

function testEmail(account: string, data: Record<string, unknown>, publicUrl: string): EmailText {
  return {
    subject: `[latchkey] Test notification for account ${oneLine(account)}`,
    text: lines(
      `This is a test message from latchkey, asked for by ${oneLine(data.requestedBy)} in the API key`,
      `settings of account ${account}. Renewal alerts and policy notices for this account come to this`,
      "address the same way. Nothing needs doing.",
      "",
      `Settings: ${publicUrl}/admin/${account}/keys/settings`,
    ),
  };
}

function policyReason(data: Record<string, unknown>): string {
  return data.policy === "maxTokenAgeDays"
    ? `its token is older than ${String(data.days)} days`
    : `it was neither used nor created in the last ${String(data.days)} days`;
}

/** Names are user-chosen: no line breaks may reach a header. */
function oneLine(value: unknown): string {
  return String(value ?? "").replace(/[\r\n\t]+/g, " ");
}

function lines(...parts: string[]): string {
  return `${parts.join("\n")}\n`;
}
