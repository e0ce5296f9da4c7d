import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { IssuedKeySchema, KeyPageSchema, KeySchema } from "../../core/api.js";
import {
  CONTROL_FILTERS,
  EXPIRY_FILTERS,
  MAX_IP_ALLOWLIST,
  MAX_METADATA_BYTES,
  MAX_QUOTA,
  MAX_RATE_LIMIT,
  MAX_RATE_WINDOW_SECONDS,
  type Quota,
  REFILL_PERIODS,
} from "../../core/key-controls.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, Label, problemResponses, RoleIds } from "../schemas.js";
import type { Secure } from "../secure.js";
import { DeliveryField } from "./shares.js";

const tags = ["Generated keys"];
const KeyParams = AccountParam.extend({
  appKey: z
    .string()
    .max(100)
    .openapi({ param: { name: "appKey", in: "path" }, example: "appkey-mystore-QWERTY" }),
});
const errors = problemResponses(400, 401, 403, 404);

/** Per-key controls (docs/key-controls.md), on create and PATCH: absent keeps (none on create), null clears. */
const Controls = {
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional().openapi({
    description:
      "When the key stops authenticating (ISO 8601); null: never. Bounded by the account's maxKeyLifetimeDays (422 KEY_LIFETIME_EXCEEDED), which also gives new keys their expiry when none is sent",
    example: "2027-01-31T00:00:00Z",
  }),
  ipAllowlist: z
    .array(z.string().max(64))
    .max(MAX_IP_ALLOWLIST)
    .nullable()
    .optional()
    .openapi({
      description: `IPv4/IPv6 addresses or CIDR blocks (at most ${MAX_IP_ALLOWLIST}) the key may be used from; null: any`,
      example: ["203.0.113.0/24", "2001:db8::/32"],
    }),
  metadata: z
    .record(z.string(), z.unknown())
    .nullable()
    .optional()
    .openapi({
      description: `A JSON object (at most ${MAX_METADATA_BYTES} bytes as JSON) returned on verification. Never secrets`,
      example: { customerId: "c-123", plan: "gold" },
    }),
  rateLimit: z
    .strictObject({
      limit: z.number().int().min(1).max(MAX_RATE_LIMIT),
      windowSeconds: z.number().int().min(1).max(MAX_RATE_WINDOW_SECONDS),
    })
    .nullable()
    .optional()
    .openapi({
      description:
        "At most `limit` calls per `windowSeconds` (windows aligned to the epoch, at most a day); past it 429 KEY_RATE_LIMITED. Shared between instances through Redis within the bound docs/key-controls.md gives; null: none",
      example: { limit: 100, windowSeconds: 60 },
    }),
  quota: z
    .strictObject({
      remaining: z.number().int().min(0).max(MAX_QUOTA),
      refill: z
        .strictObject({
          amount: z.number().int().min(1).max(MAX_QUOTA),
          every: z.enum(REFILL_PERIODS as ["day", "month"]),
        })
        .nullable()
        .optional(),
    })
    .nullable()
    .optional()
    .openapi({
      description:
        "Calls left; each allowed call spends one, at 0 429 QUOTA_EXHAUSTED. `refill` sets `remaining` back to `amount` at the start of each UTC day or month (absent or null: never). Sending a quota sets `remaining` now; null: none",
      example: { remaining: 10000, refill: { amount: 10000, every: "month" } },
    }),
  allowBrowser: z.boolean().optional().openapi({
    description: "May be used from browser pages; only while the account's policies.allowBrowserKeys is on",
  }),
};

/** The body's controls in the service's terms (instants as milliseconds, a quota's absent refill none). */
function controlsInput<
  T extends {
    expiresAt?: string | null | undefined;
    quota?: { remaining: number; refill?: Quota["refill"] | undefined } | null | undefined;
  },
>(body: T) {
  const { expiresAt, quota, ...rest } = body;
  return {
    ...rest,
    ...(expiresAt === undefined ? {} : { expiresAt: expiresAt === null ? null : Date.parse(expiresAt) }),
    ...(quota === undefined
      ? {}
      : { quota: quota === null ? null : { remaining: quota.remaining, refill: quota.refill ?? null } }),
  };
}

const ListQuery = z.strictObject({
  q: z.string().max(100).optional(),
  status: z.enum(["active", "inactive"]).optional(),
  role: z.coerce.number().int().positive().optional(),
  alert: z.enum(["none", "orange", "red"]).optional(),
  expiry: z.enum(EXPIRY_FILTERS).optional().openapi({
    description:
      "none: keys without an expiry; any: with one; ok: expiring after the next 14 days; soon: within them (the admin's badge); expired: no longer authenticating",
  }),
  control: z.enum(CONTROL_FILTERS).optional().openapi({
    description:
      "Only keys carrying this control: an IP allowlist, metadata, allowed in browsers, a rate limit or a quota",
  }),
  sort: z.enum(["name", "createdAt", "tokenCreatedAt", "lastUsedAt"]).default("createdAt"),
  order: z.enum(["asc", "desc"]).default("desc"),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const list = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/keys",
  tags,
  summary: "List generated keys",
  request: { params: AccountParam, query: ListQuery },
  responses: {
    200: jsonResponse(KeyPageSchema, "A page of keys"),
    ...errors,
  },
});

const create = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/keys",
  tags,
  summary: "Generate a key; the token is in this response only",
  request: {
    params: AccountParam,
    body: jsonBody(
      z.strictObject({
        name: Label,
        roles: RoleIds.optional(),
        delivery: DeliveryField.optional(),
        ...Controls,
      }),
    ),
  },
  responses: {
    201: jsonResponse(IssuedKeySchema, "The key and its token, or a share link to the token"),
    ...problemResponses(400, 401, 403, 404, 409, 413, 422),
  },
});

const get = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/keys/{appKey}",
  tags,
  summary: "One key",
  request: { params: KeyParams },
  responses: { 200: jsonResponse(KeySchema, "The key"), ...errors },
});

const patch = createRoute({
  method: "patch",
  path: "/v1/accounts/{account}/keys/{appKey}",
  tags,
  summary: "Rename, activate or deactivate a key, or change its controls",
  description:
    "Controls changed here are audited as key.controls_changed with before and after. A key acting through EditApiKeys cannot change its own controls, nor give another key an expiry later than its own or an IP allowlist outside its own (403 KEY_CONTROLS_EXCEED_CALLER).",
  request: {
    params: KeyParams,
    body: jsonBody(z.strictObject({ name: Label.optional(), active: z.boolean().optional(), ...Controls })),
  },
  responses: {
    200: jsonResponse(KeySchema, "The key"),
    ...problemResponses(400, 401, 403, 404, 409, 422),
  },
});

const setRoles = createRoute({
  method: "put",
  path: "/v1/accounts/{account}/keys/{appKey}/roles",
  tags,
  summary: "Replace the roles of a key",
  request: { params: KeyParams, body: jsonBody(z.strictObject({ roles: RoleIds })) },
  responses: { 200: jsonResponse(KeySchema, "The key"), ...errors },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/accounts/{account}/keys/{appKey}",
  tags,
  summary: "Delete a key for good",
  request: { params: KeyParams },
  responses: { 204: { description: "Deleted" }, ...errors },
});

export function keyRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { keys } = services;
  const view = { resource: "ViewApiKeys" };
  const edit = { resource: "EditApiKeys" };

  app.openapi(secure(view, list), async (c) => {
    const { account } = c.req.valid("param");
    const query = c.req.valid("query");
    const params = { sort: query.sort, order: query.order, limit: query.limit };
    const filters = Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined));
    return c.json(await keys.list(account, { ...filters, ...params }), 200);
  });

  app.openapi(secure(edit, create), async (c) => {
    const { account } = c.req.valid("param");
    const body = c.req.valid("json");
    const result = await keys.create(c.get("authority"), account, controlsInput(body));
    return c.json(result, 201);
  });

  app.openapi(secure(view, get), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await keys.get(account, appKey), 200);
  });

  app.openapi(secure(edit, patch), async (c) => {
    const { account, appKey } = c.req.valid("param");
    const patchBody = controlsInput(c.req.valid("json"));
    return c.json(await keys.update(c.get("authority"), account, appKey, patchBody), 200);
  });

  app.openapi(secure(edit, setRoles), async (c) => {
    const { account, appKey } = c.req.valid("param");
    const { roles } = c.req.valid("json");
    return c.json(await keys.setRoles(c.get("authority"), account, appKey, roles), 200);
  });

  app.openapi(secure(edit, remove), async (c) => {
    const { account, appKey } = c.req.valid("param");
    await keys.remove(c.get("authority"), account, appKey);
    return c.body(null, 204);
  });
}
