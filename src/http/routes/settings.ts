import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiKeySettingsSchema, TestNotificationResultSchema } from "../../core/api.js";
import { normalizeEmail } from "../../core/names.js";
import type { Services } from "../../services/index.js";
import {
  isWebhookUrl,
  MAX_NOTIFY_EMAILS,
  MAX_POLICY_DAYS,
  MAX_WEBHOOKS,
  MIN_WEBHOOK_SECRET_LENGTH,
} from "../../services/settings.js";
import type { AppEnv } from "../context.js";
import { etagOf, parseIfMatch } from "../preconditions.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

/**
 * API-key settings (SPEC §2.3). PUT replaces the whole document; webhook secrets are write-only.
 * GET and PUT answer the settings' version as a strong ETag; a PUT with If-Match is written only
 * while that is still the version (412 SETTINGS_CHANGED otherwise), so a read-modify-write does not
 * silently undo someone else's save. Without If-Match the last write wins.
 * POST …/test sends a test message to the saved recipients (notify/test-notification.ts).
 */

const tags = ["Settings"];
const PATH = "/v1/accounts/{account}/settings/api-keys";

const RenewalPeriod = z.union([z.literal(3), z.literal(6)]);
const Days = z.number().int().min(1).max(MAX_POLICY_DAYS).nullable();
const Policies = z.strictObject({
  deactivateUnusedDays: Days,
  maxTokenAgeDays: Days,
  maxKeyLifetimeDays: Days.optional().openapi({
    description:
      "A key's expiry may be at most this many days after its creation; new keys get it when they name none. Absent: unchanged",
  }),
  allowBrowserKeys: z.boolean().optional().openapi({
    description: "Keys may be marked allowBrowser (used from browser pages). Absent: unchanged",
  }),
  requireExternalKeyApproval: z.boolean().optional().openapi({
    description:
      "Adding an external key makes a request that another caller holding EditApiKeys must approve (7 days). Turning it off leaves pending requests pending. Absent: unchanged",
  }),
});
const Email = z
  .string()
  .max(254)
  .refine((raw) => normalizeEmail(raw) !== undefined, "must be an email address");
const Url = z.string().max(2000).refine(isWebhookUrl, "must be an http(s) URL without credentials");

const SettingsBody = z.strictObject({
  renewalPeriodMonths: RenewalPeriod,
  notifications: z.strictObject({
    emails: z.array(Email).max(MAX_NOTIFY_EMAILS),
    webhooks: z
      .array(
        z.strictObject({
          id: z
            .string()
            .regex(/^wh_[A-Za-z0-9]{1,64}$/)
            .optional()
            .openapi({ description: "Leave out to add a webhook; give it to keep or change one" }),
          url: Url,
          secret: z
            .string()
            .min(MIN_WEBHOOK_SECRET_LENGTH)
            .max(256)
            .optional()
            .openapi({ description: "Leave out to keep the secret, or (new webhook) to get one generated" }),
        }),
      )
      .max(MAX_WEBHOOKS),
  }),
  policies: Policies,
});

const ETagHeader = z.object({
  ETag: z.string().openapi({
    description:
      "The settings' version, a strong validator (a new one after every save, even within the same " +
      "millisecond). Send it back as If-Match on PUT.",
    example: '"3-1764151200000"',
  }),
});

const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .max(2000)
    .refine((raw) => parseIfMatch(raw) !== undefined, 'must be "*" or ETags such as "3-1764151200000"')
    .optional()
    .openapi({
      description:
        "The ETag of the GET the new settings are based on: when the settings have been saved since, " +
        "nothing is written and the answer is 412 SETTINGS_CHANGED. Leave out to replace the settings " +
        "whatever they are now (last write wins). Weak ETags (W/) never match.",
      example: '"3-1764151200000"',
    }),
});

const get = createRoute({
  method: "get",
  path: PATH,
  tags,
  summary: "The account's API key settings",
  request: { params: AccountParam },
  responses: {
    200: { ...jsonResponse(ApiKeySettingsSchema, "The settings"), headers: ETagHeader },
    ...problemResponses(400, 401, 403),
  },
});

const put = createRoute({
  method: "put",
  path: PATH,
  tags,
  summary: "Replace the account's API key settings",
  description:
    "Replaces the whole document. With If-Match, only while the settings are still the version read " +
    "(412 SETTINGS_CHANGED otherwise, nothing written); the check and the write are one atomic step.",
  request: { params: AccountParam, headers: IfMatchHeader, body: jsonBody(SettingsBody) },
  responses: {
    200: {
      ...jsonResponse(
        ApiKeySettingsSchema.extend({
          webhookSecrets: z
            .record(z.string(), z.string())
            .openapi({ description: "Secrets set by this request, by webhook id: shown this once" }),
        }),
        "The settings, and the webhook secrets this request set",
      ),
      headers: ETagHeader,
    },
    ...problemResponses(400, 401, 403, 412, 413),
  },
});

const sendTest = createRoute({
  method: "post",
  path: `${PATH}/test`,
  tags,
  summary: "Send a test notification to every saved recipient",
  description:
    "Sends one test message, now, to each email and webhook saved in the settings (webhooks signed like " +
    "real notifications), waits at most 10 s for each, and answers every recipient's outcome. Not " +
    "retried; 409 NO_RECIPIENTS when none is saved.",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(
      z.object({ results: z.array(TestNotificationResultSchema) }),
      "The outcome for each recipient",
    ),
    ...problemResponses(400, 401, 403, 409),
  },
});

export function settingsRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { settings, testNotifier } = services;

  app.openapi(secure({ resource: "ViewApiKeys" }, get), async (c) => {
    const { account } = c.req.valid("param");
    const read = await settings.read(account);
    c.header("etag", etagOf(read.version));
    return c.json(read.settings, 200);
  });

  app.openapi(secure({ resource: "EditApiKeysSettings" }, put), async (c) => {
    const { account } = c.req.valid("param");
    const raw = c.req.valid("header")["if-match"];
    const ifMatch = raw === undefined ? undefined : parseIfMatch(raw);
    // "*" matches any current representation, and the settings always have one (the defaults).
    const ifVersion = ifMatch === undefined || ifMatch.any ? undefined : ifMatch.versions;
    const saved = await settings.replace(c.get("authority"), account, c.req.valid("json"), ifVersion);
    c.header("etag", etagOf(saved.version));
    return c.json(saved.settings, 200);
  });

  app.openapi(secure({ resource: "EditApiKeysSettings" }, sendTest), async (c) => {
    const { account } = c.req.valid("param");
    return c.json(await testNotifier.send(c.get("caller").actor, account), 200);
  });
}
