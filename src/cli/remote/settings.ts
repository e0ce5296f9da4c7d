/**
 * `latchkey settings get|set`: the account's API key settings
 * (/v1/accounts/{account}/settings/api-keys). The API replaces the whole document, so `set` reads
 * it, changes what the flags name, and writes it back with If-Match set to the ETag it read: a save
 * made by someone else in between is refused (412) rather than silently undone. Webhooks are matched
 * by URL: one already there keeps its id and signing secret; a new one gets a secret, printed once.
 */
import type { Command } from "commander";
import type { ApiKeySettings } from "../../client/client.js";
import { ApiError, ok } from "../client.js";
import { UsageError } from "../output.js";
import { formatDate, renderFields } from "../table.js";
import { type Registry, remote } from "./context.js";
import { choice, collect, daysOrOff } from "./options.js";

export interface SetOptions {
  renewalPeriod?: string;
  email?: string[];
  clearEmails?: boolean;
  webhook?: string[];
  clearWebhooks?: boolean;
  deactivateUnusedDays?: number | null;
  maxTokenAgeDays?: number | null;
  requireExternalKeyApproval?: "on" | "off";
}

const days = (value: number | null) => (value === null ? "off" : `${value} days`);

export function settingsFields(settings: ApiKeySettings): string {
  const { notifications, policies } = settings;
  return renderFields([
    ["renewal period", `${settings.renewalPeriodMonths} months`],
    ["alert emails", notifications.emails.join(", ") || "none"],
    ["webhooks", notifications.webhooks.map((hook) => `${hook.id} ${hook.url}`).join(", ") || "none"],
    ["deactivate unused after", days(policies.deactivateUnusedDays)],
    ["max token age", days(policies.maxTokenAgeDays)],
    ["external key approval", policies.requireExternalKeyApproval ? "required" : "off"],
    ["updated", formatDate(settings.updatedAt, "-")],
  ]);
}

/** Refuses flags that change nothing, or that both set and clear a list. */
export function checkChanges(opts: SetOptions): void {
  if ((opts.email && opts.clearEmails) || (opts.webhook && opts.clearWebhooks))
    throw new UsageError("give a list or clear it, not both");
  const changes = [
    opts.renewalPeriod,
    opts.email,
    opts.clearEmails,
    opts.webhook,
    opts.clearWebhooks,
    opts.deactivateUnusedDays,
    opts.maxTokenAgeDays,
    opts.requireExternalKeyApproval,
  ];
  if (changes.every((change) => change === undefined))
    throw new UsageError("nothing to change: give a setting");
}

/** The PUT body: the current settings with the flags' changes. */
export function changedSettings(current: ApiKeySettings, opts: SetOptions) {
  checkChanges(opts);
  const { renewalPeriodMonths, notifications, policies } = current;
  const webhooks = opts.clearWebhooks
    ? []
    : opts.webhook
      ? opts.webhook.map((url) => {
          const known = notifications.webhooks.find((hook) => hook.url === url);
          return known ? { id: known.id, url } : { url };
        })
      : notifications.webhooks.map(({ id, url }) => ({ id, url }));
  return {
    renewalPeriodMonths:
      opts.renewalPeriod === undefined
        ? renewalPeriodMonths
        : (Number(opts.renewalPeriod) as ApiKeySettings["renewalPeriodMonths"]),
    notifications: { emails: opts.clearEmails ? [] : (opts.email ?? notifications.emails), webhooks },
    policies: {
      deactivateUnusedDays:
        opts.deactivateUnusedDays === undefined ? policies.deactivateUnusedDays : opts.deactivateUnusedDays,
      maxTokenAgeDays: opts.maxTokenAgeDays === undefined ? policies.maxTokenAgeDays : opts.maxTokenAgeDays,
      ...(opts.requireExternalKeyApproval === undefined
        ? {}
        : { requireExternalKeyApproval: opts.requireExternalKeyApproval === "on" }),
    },
  };
}

const SETTINGS = "/v1/accounts/{account}/settings/api-keys";

/**
 * The If-Match of a write based on the read that answered `etag`; none from a server without ETags.
 * A compressing proxy may have weakened the tag (W/); the version it names is the same, and the
 * server compares strongly, so the tag goes back strong.
 */
export function ifMatch(etag: string | undefined): Record<string, string> {
  return etag === undefined ? {} : { "if-match": etag.replace(/^W\//, "") };
}

function changedMeanwhile(error: ApiError): ApiError {
  const detail =
    "the settings were changed by someone else after this command read them; nothing was saved. " +
    "Run the command again to apply your changes to the current settings";
  return new ApiError(error.status, error.code, detail, error.requestId);
}

export function registerSettings(group: Command, registry: Registry): void {
  group
    .command("get")
    .description("show the account's API key settings")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const settings = await ok(r.client.api.GET(SETTINGS, { params: { path: { account: r.account } } }));
        r.result(settings, () => settingsFields(settings));
      }),
    );

  group
    .command("set")
    .description("change some API key settings; the others stay as they are")
    .addOption(choice("--renewal-period <months>", "months before a token is in alert", ["3", "6"]))
    .option("--email <address>", "alert email recipient; the list becomes those given (repeat)", collect)
    .option("--clear-emails", "no alert emails")
    .option("--webhook <url>", "alert webhook; the list becomes those given (repeat)", collect)
    .option("--clear-webhooks", "no alert webhooks")
    .option("--deactivate-unused-days <n|off>", "deactivate keys unused for n days, or off", daysOrOff(3650))
    .option(
      "--max-token-age-days <n|off>",
      "deactivate keys whose token is older than n days, or off",
      daysOrOff(3650),
    )
    .addOption(
      choice(
        "--require-external-key-approval <on|off>",
        "adding an external key makes a request someone else must approve",
        ["on", "off"],
      ),
    )
    .action((opts: SetOptions, command: Command) =>
      remote(registry, command, async (r) => {
        checkChanges(opts);
        const path = { account: r.account };
        const read = await r.client.api.GET(SETTINGS, { params: { path } });
        const current = read.data as ApiKeySettings;
        const etag = read.response.headers.get("etag") ?? undefined;
        const updated = await ok(
          r.client.api.PUT(SETTINGS, {
            params: { path, header: ifMatch(etag) },
            body: changedSettings(current, opts),
          }),
        ).catch((error: unknown) => {
          throw error instanceof ApiError && error.status === 412 ? changedMeanwhile(error) : error;
        });
        const secrets = Object.entries(updated.webhookSecrets ?? {});
        r.result(updated, () => {
          const lines = [`Settings of ${r.account} saved.`, settingsFields(updated)];
          if (secrets.length > 0)
            lines.push(renderFields(secrets.map(([id, secret]) => [`secret of ${id}`, secret])));
          return lines.join("\n");
        });
        if (secrets.length > 0)
          r.note("warning: this is the only time the webhook signing secrets are shown; store them now.");
      }),
    );
}
