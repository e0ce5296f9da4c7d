/**
 * API-key settings of an account (SPEC §2.3): renewal period, alert recipients, policies.
 *
 * Secrets: each webhook has a signing secret. It is shown once, in the response of the PUT that set
 * it (`webhookSecrets`), and stored only sealed (AES-256-GCM, purpose "webhook-secret", bound to
 * `webhook:{account}:{id}`), so a sealed value copied to another webhook or account does not open.
 * GET answers `secretSet: true` instead; audit events record which ids got a new secret, never the
 * secret. The notifier opens it with `openWebhookSecret` (notify/webhook-secret.ts).
 */
import { recordAudit } from "../audit/audit.js";
import type { ApiKeySettings } from "../core/api.js";
import { fail } from "../core/errors.js";
import { normalizeEmail } from "../core/names.js";
import {
  type AccountSettings,
  type RenewalPeriodMonths,
  readSettings,
  settingsVersion,
  tightensPolicies,
  WEBHOOK_SECRET_PURPOSE,
  type WebhookSetting,
  webhookSecretContext,
} from "../core/settings.js";
import { iso } from "../core/time.js";
import { BASE62, randomString } from "../core/tokens.js";
import { createSealer } from "../crypto/sealing.js";
import { type Authority, auditRefusals, checkTarget } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

export const MAX_NOTIFY_EMAILS = 20;
export const MAX_WEBHOOKS = 10;
export const MIN_WEBHOOK_SECRET_LENGTH = 24;
export const MAX_POLICY_DAYS = 3650;
const GENERATED_SECRET_BYTES = 32;

/** A result with the settings' version after it (the ETag's value). */
export interface Versioned<T> {
  settings: T;
  version: string;
}

/** A full replacement of the settings. A webhook without `id` is new. */
export interface SettingsInput {
  renewalPeriodMonths: RenewalPeriodMonths;
  notifications: {
    emails: string[];
    webhooks: { id?: string | undefined; url: string; secret?: string | undefined }[];
  };
  policies: {
    deactivateUnusedDays: number | null;
    maxTokenAgeDays: number | null;
    /** Absent: kept as stored (clients written before these policies existed do not clear them). */
    maxKeyLifetimeDays?: number | null | undefined;
    allowBrowserKeys?: boolean | undefined;
    requireExternalKeyApproval?: boolean | undefined;
  };
}

/** http(s) only, and no user:password in the URL (GET returns URLs as they are). */
export function isWebhookUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}

export function createSettingsService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;
  const sealer = createSealer(deps.secret, WEBHOOK_SECRET_PURPOSE);

  function newSecret(): string {
    return Buffer.from(deps.random(GENERATED_SECRET_BYTES)).toString("base64url");
  }

  /** Applies the webhooks of a PUT to the stored ones; returns the secrets it set, by webhook id. */
  function mergeWebhooks(
    account: string,
    existing: readonly WebhookSetting[],
    input: SettingsInput["notifications"]["webhooks"],
  ): { webhooks: WebhookSetting[]; secrets: Record<string, string> } {
    const known = new Map(existing.map((hook) => [hook.id, hook]));
    const seen = new Set<string>();
    const secrets: Record<string, string> = {};
    const webhooks = input.map((hook, index): WebhookSetting => {
      const where = `notifications.webhooks.${index}`;
      if (hook.secret !== undefined && hook.secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
        fail(
          "VALIDATION_FAILED",
          `${where}.secret: must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`,
        );
      }
      if (!isWebhookUrl(hook.url)) fail("VALIDATION_FAILED", `${where}.url: must be an http(s) URL`);
      let base: WebhookSetting | undefined;
      if (hook.id !== undefined) {
        base = known.get(hook.id);
        if (!base) fail("VALIDATION_FAILED", `${where}.id: no webhook ${hook.id}; leave id out to add one`);
        if (seen.has(hook.id)) fail("VALIDATION_FAILED", `${where}.id: ${hook.id} is listed twice`);
        seen.add(hook.id);
        if (hook.secret === undefined) return { ...base, url: hook.url };
      }
      const id = base?.id ?? `wh_${randomString(deps.random, BASE62, 20)}`;
      const secret = hook.secret ?? newSecret();
      secrets[id] = secret;
      const sealedSecret = sealer.seal(secret, webhookSecretContext(account, id));
      return { id, url: hook.url, sealedSecret, createdAt: base?.createdAt ?? clock.now() };
    });
    return { webhooks, secrets };
  }

  /** The settings and their version (settingsVersion), read together. */
  async function read(account: string): Promise<Versioned<ApiKeySettings>> {
    const stored = await store.settings.getStored(account);
    return {
      settings: view(readSettings(stored?.settings), updatedAtOf(stored?.settings)),
      version: settingsVersion(stored),
    };
  }

  async function get(account: string): Promise<ApiKeySettings> {
    return (await read(account)).settings;
  }

  /**
   * Replaces the settings. With `ifVersion` (the versions an If-Match names) the write happens only
   * while the stored version is one of them, checked by the write itself (settings.putIfUnchanged),
   * so of two saves based on the same read one wins and the other fails SETTINGS_CHANGED, with
   * nothing written or audited. Without it the last write wins.
   */
  async function replace(
    authority: Authority,
    account: string,
    input: SettingsInput,
    ifVersion?: readonly string[],
  ): Promise<Versioned<ApiKeySettings & { webhookSecrets: Record<string, string> }>> {
    const { actor } = authority;
    const emails = normalizeEmails(input.notifications.emails);
    checkLimits(input);
    const attempted = { action: "settings.updated", target: { type: "settings", id: "api-keys" } } as const;
    return auditRefusals(deps, authority, account, attempted, () =>
      store.transaction(async (tx) => {
        const stored = await tx.settings.getStored(account);
        if (ifVersion !== undefined && !ifVersion.includes(settingsVersion(stored))) settingsChanged();
        const before = readSettings(stored?.settings);
        const { webhooks, secrets } = mergeWebhooks(account, before.webhooks, input.notifications.webhooks);
        const after: AccountSettings = {
          renewalPeriodMonths: input.renewalPeriodMonths,
          notifyEmails: emails,
          webhooks,
          deactivateUnusedDays: input.policies.deactivateUnusedDays,
          maxTokenAgeDays: input.policies.maxTokenAgeDays,
          maxKeyLifetimeDays:
            input.policies.maxKeyLifetimeDays === undefined
              ? before.maxKeyLifetimeDays
              : input.policies.maxKeyLifetimeDays,
          allowBrowserKeys: input.policies.allowBrowserKeys ?? before.allowBrowserKeys,
          requireExternalKeyApproval:
            input.policies.requireExternalKeyApproval ?? before.requireExternalKeyApproval,
        };
        if (tightensPolicies(before, after)) {
          const held = await roles.existing(tx, account, await tx.roles.ownKeysRoleIds(account));
          const what = "every key of the account (a deactivation policy acts on all of them)";
          checkTarget(authority.grant, held, what);
        }
        const now = clock.now();
        const doc = { ...after, updatedAt: now };
        const revision =
          ifVersion === undefined
            ? await tx.settings.put(account, doc, now)
            : ((await tx.settings.putIfUnchanged(account, doc, now, stored)) ?? settingsChanged());
        await recordAudit(tx, deps, actor, {
          account,
          action: "settings.updated",
          target: { type: "settings", id: "api-keys" },
          data: { before: auditable(before), after: auditable(after), secretsSet: Object.keys(secrets) },
        });
        return {
          settings: { ...view(after, now), webhookSecrets: secrets },
          version: settingsVersion({ revision, updatedAt: now }),
        };
      }),
    );
  }

  return { read, get, replace };
}

function settingsChanged(): never {
  return fail(
    "SETTINGS_CHANGED",
    "The settings were changed by someone else since you read them; reload and try again",
  );
}

export type SettingsService = ReturnType<typeof createSettingsService>;

function view(settings: AccountSettings, updatedAt: number | null): ApiKeySettings {
  return {
    renewalPeriodMonths: settings.renewalPeriodMonths,
    notifications: {
      emails: [...settings.notifyEmails],
      webhooks: settings.webhooks.map((hook) => ({ id: hook.id, url: hook.url, secretSet: true as const })),
    },
    policies: {
      deactivateUnusedDays: settings.deactivateUnusedDays,
      maxTokenAgeDays: settings.maxTokenAgeDays,
      maxKeyLifetimeDays: settings.maxKeyLifetimeDays,
      allowBrowserKeys: settings.allowBrowserKeys,
      requireExternalKeyApproval: settings.requireExternalKeyApproval,
    },
    updatedAt: updatedAt === null ? null : iso(updatedAt),
  };
}

/** The settings as an audit event records them: webhook secrets left out. */
function auditable(settings: AccountSettings) {
  const { webhooks, ...rest } = settings;
  return { ...rest, webhooks: webhooks.map((hook) => ({ id: hook.id, url: hook.url })) };
}

function updatedAtOf(doc: Record<string, unknown> | undefined): number | null {
  return typeof doc?.updatedAt === "number" ? doc.updatedAt : null;
}

/** Lower-cased and without duplicates; any bad address refuses the whole change. */
function normalizeEmails(raw: readonly string[]): string[] {
  const emails = raw.map(
    (email, index) =>
      normalizeEmail(email) ??
      fail("VALIDATION_FAILED", `notifications.emails.${index}: not an email address`),
  );
  return [...new Set(emails)];
}

/** The route schema enforces these too; repeated here so the service is safe for any caller. */
function checkLimits(input: SettingsInput): void {
  const { emails, webhooks } = input.notifications;
  if (input.renewalPeriodMonths !== 3 && input.renewalPeriodMonths !== 6) {
    fail("VALIDATION_FAILED", "renewalPeriodMonths: must be 3 or 6");
  }
  if (emails.length > MAX_NOTIFY_EMAILS) {
    fail("VALIDATION_FAILED", `notifications.emails: at most ${MAX_NOTIFY_EMAILS}`);
  }
  if (webhooks.length > MAX_WEBHOOKS) {
    fail("VALIDATION_FAILED", `notifications.webhooks: at most ${MAX_WEBHOOKS}`);
  }
  const { allowBrowserKeys: _flag, requireExternalKeyApproval: _approval, ...dayPolicies } = input.policies;
  for (const [name, days] of Object.entries(dayPolicies)) {
    if (
      days !== null &&
      days !== undefined &&
      !(Number.isInteger(days) && days >= 1 && days <= MAX_POLICY_DAYS)
    ) {
      fail("VALIDATION_FAILED", `policies.${name}: must be null or an integer from 1 to ${MAX_POLICY_DAYS}`);
    }
  }
}
