import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { KeyImportResultSchema } from "../../core/api.js";
import { MAX_IMPORT_KEYS } from "../../core/key-import.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses, RoleIds } from "../schemas.js";
import type { Secure } from "../secure.js";

/** Shapes only: what an entry's values mean is checked per entry, so a dry run reports each. */
const ImportEntry = z.strictObject({
  name: z.string().max(1000).openapi({ description: "The key's name (label), unique in the account" }),
  appKey: z.string().max(100).optional().openapi({
    description:
      "The key's appKey in the other system: `{prefix}-{account}-{6 letters A-Z}` naming this account (e.g. `vtexappkey-mystore-ABCDEF`); latchkey makes one when absent",
  }),
  tokenHash: z.string().max(200).openapi({
    description: "SHA-256 of the existing token (UTF-8), as 64 hex digits. Never the token itself",
    example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  }),
  roles: RoleIds,
  createdAt: z.iso.datetime({ offset: true }).optional().openapi({
    description:
      "When the key and its token were created in the other system (default: now); the token's age counts from it",
  }),
  expiresAt: z.iso.datetime({ offset: true }).optional().openapi({
    description:
      "When the key stops authenticating; bounded as on create (maxKeyLifetimeDays, an acting key's own expiry)",
  }),
});

const ImportBody = z.strictObject({
  keys: z
    .array(ImportEntry)
    .min(1, "must carry at least one key")
    .max(MAX_IMPORT_KEYS, `must carry at most ${MAX_IMPORT_KEYS} keys; split the import`),
  dryRun: z.boolean().optional().openapi({ description: "Check every entry and write nothing" }),
});

const importKeys = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/keys/import",
  tags: ["Generated keys"],
  summary: "Import up to 10,000 existing keys by the SHA-256 of their tokens, all or nothing",
  description:
    "For a migration from another system: each key keeps its token (of any shape), given as its " +
    "SHA-256, and its appKey when given. Needs EditApiKeys and, for every role given, every resource " +
    "of it (as creating a key). All or nothing: when any entry cannot be imported nothing is written " +
    "and the answer lists every bad entry by index (`errors`): 403 ESCALATION_DENIED or " +
    "KEY_CONTROLS_EXCEED_CALLER when the caller asked for more than it may give (audited), else 422 " +
    "IMPORT_REJECTED. With `dryRun` the answer is 200 with every entry's result and nothing is " +
    "written. Bodies up to 8 MiB. See docs/import.md.",
  request: { params: AccountParam, body: jsonBody(ImportBody) },
  responses: {
    200: jsonResponse(KeyImportResultSchema, "A dry run: what would happen to each entry"),
    201: jsonResponse(KeyImportResultSchema, "Every key was imported"),
    ...problemResponses(400, 401, 403, 404, 413, 422),
  },
});

const toTime = (at: string | undefined) => (at === undefined ? undefined : Date.parse(at));

export function keyImportRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure({ resource: "EditApiKeys" }, importKeys), async (c) => {
    const { account } = c.req.valid("param");
    const body = c.req.valid("json");
    const entries = body.keys.map((entry) => ({
      ...entry,
      createdAt: toTime(entry.createdAt),
      expiresAt: toTime(entry.expiresAt),
    }));
    const dryRun = body.dryRun === true;
    const result = await services.keyImport.run(c.get("authority"), account, entries, dryRun);
    return dryRun ? c.json(result, 200) : c.json(result, 201);
  });
}
