import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { AuditChainCheckSchema, AuditPageSchema } from "../../core/api.js";
import { type AuditFilters, parseInstant } from "../../services/audit-log.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonResponse, PlainText, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";
import { pullStream } from "../stream.js";

/**
 * The audit log (SPEC §3): list with filters, streamed export, and the check of the account's hash
 * chain (docs/audit.md). All three need ViewAuditLog. An export failing after its first byte is
 * logged and aborted, never left looking complete.
 */

const tags = ["Audit log"];
const access = { resource: "ViewAuditLog" };

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$/;
const Instant = z
  .string()
  .max(40)
  .refine((text) => parseInstant(text) !== undefined, {
    message: "must be an ISO 8601 date or date-time with a zone, e.g. 2026-11-26 or 2026-11-26T10:00:00Z",
  });

const Filters = {
  action: z
    .string()
    .max(100)
    .regex(ACTION, "must be an action such as key.created, or a prefix ending in a dot such as key.")
    .optional()
    .openapi({ description: "Exact action, or a prefix ending in `.` (e.g. `key.`)", example: "key." }),
  actor: PlainText.min(1)
    .max(320)
    .optional()
    .openapi({ description: "Actor id or label: a user id or email, an appKey, or `system`" }),
  target: PlainText.min(1).max(200).optional().openapi({ description: "Target id, e.g. an appKey" }),
  from: Instant.optional().openapi({ description: "Events at or after this instant (ISO 8601)" }),
  to: Instant.optional().openapi({ description: "Events before this instant (ISO 8601)" }),
};

const ListQuery = z.strictObject({
  ...Filters,
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const list = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/audit",
  tags,
  summary: "List audit events, newest first",
  request: { params: AccountParam, query: ListQuery },
  responses: {
    200: jsonResponse(AuditPageSchema, "A page of events"),
    ...problemResponses(400, 401, 403),
  },
});

const binary = { schema: z.string().openapi({ format: "binary" }) };

const exportLog = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/audit/export",
  tags,
  summary: "Export audit events as csv (default) or json, oldest first",
  description:
    "Streams every event matching the filters, up to the newest one at the start of the export. " +
    "json: `{items:[…]}` with items as the list shows them. csv: one row per event, `data` as JSON.",
  request: {
    params: AccountParam,
    query: z.strictObject({ format: z.enum(["csv", "json"]).default("csv"), ...Filters }),
  },
  responses: {
    200: {
      description: "The export, as an attachment",
      content: { "text/csv": binary, "application/json": binary },
    },
    ...problemResponses(400, 401, 403),
  },
});

const verify = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/audit/verify",
  tags,
  summary: "Check the account's audit hash chain",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(AuditChainCheckSchema, "The outcome; a broken chain is still a 200 with ok false"),
    ...problemResponses(401, 403),
  },
});

type FilterQuery = Partial<Record<"action" | "actor" | "target" | "from" | "to", string | undefined>>;

function filtersOf(query: FilterQuery) {
  const filters: AuditFilters = {};
  if (query.action !== undefined) filters.action = query.action;
  if (query.actor !== undefined) filters.actor = query.actor;
  if (query.target !== undefined) filters.target = query.target;
  if (query.from !== undefined) filters.from = parseInstant(query.from) as number;
  if (query.to !== undefined) filters.to = parseInstant(query.to) as number;
  return filters;
}

export function auditRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { auditLog } = services;

  app.openapi(secure(access, list), async (c) => {
    const { account } = c.req.valid("param");
    const query = c.req.valid("query");
    const page = { limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) };
    return c.json(await auditLog.list(account, filtersOf(query), page), 200);
  });

  app.openapi(secure(access, exportLog), async (c) => {
    const { account } = c.req.valid("param");
    const query = c.req.valid("query");
    const exported = await auditLog.openExport(account, query.format, filtersOf(query));
    const log = c.get("log");
    const requestId = c.get("requestId");
    const body = pullStream(
      exported.body,
      (error) => {
        log.error({ err: error, requestId, account }, "audit export failed mid-stream; aborted");
      },
      "audit export aborted",
    );
    return c.body(body, 200, {
      "content-type": exported.contentType,
      "content-disposition": `attachment; filename="${exported.filename}"`,
      "x-content-type-options": "nosniff",
    });
  });

  app.openapi(secure(access, verify), async (c) => {
    const { account } = c.req.valid("param");
    const { ok, checked, firstBroken, head } = await auditLog.verify(account);
    return c.json({ ok, checked, firstBroken, head }, 200);
  });
}
