import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";
import { pullStream } from "../stream.js";

/**
 * Key export (SPEC §2.4). Mounted before the generated-key routes so that `/keys/export` is not
 * taken for `/keys/{appKey}`: its guard and handler come first in Hono's chain for that path, and
 * the handler answers without calling `next`, so the `{appKey}` guard never runs and each export
 * authenticates once (export.test.ts counts it). The body streams; a failure after the first byte
 * cannot become a problem response any more, so it is logged and the stream is aborted (the client
 * sees a broken transfer, never a truncated file that looks complete).
 */

const binary = { schema: z.string().openapi({ format: "binary" }) };

const exportKeys = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/keys/export",
  tags: ["Generated keys", "External keys"],
  summary: "Export generated and external keys as csv (default), json or xlsx",
  description:
    "csv: one file, a leading `type` column (`generated` or `external`), then the generated columns " +
    "and the external-only `account` and `addedDate`. json: `{generated:[…], external:[…]}`. " +
    "xlsx: sheets Generated and External. Dates ISO 8601 UTC, roles joined with `; `. No token, ever.",
  request: {
    params: AccountParam,
    query: z.strictObject({ format: z.enum(["csv", "json", "xlsx"]).default("csv") }),
  },
  responses: {
    200: {
      description: "The export, as an attachment",
      content: {
        "text/csv": binary,
        "application/json": binary,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": binary,
      },
    },
    ...problemResponses(400, 401, 403),
  },
});

export function exportRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure({ resource: "ViewApiKeys" }, exportKeys), async (c) => {
    const { account } = c.req.valid("param");
    const { format } = c.req.valid("query");
    const exported = await services.exporter.open(account, format);
    const log = c.get("log");
    const requestId = c.get("requestId");
    const body = pullStream(
      exported.body,
      (error) => {
        log.error({ err: error, requestId, account, format }, "key export failed mid-stream; aborted");
      },
      "key export aborted",
    );
    return c.body(body, 200, {
      "content-type": exported.contentType,
      "content-disposition": `attachment; filename="${exported.filename}"`,
      "x-content-type-options": "nosniff",
    });
  });
}
