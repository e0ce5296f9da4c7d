import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { BULK_KEY_ACTIONS, BulkKeyResultsSchema, MAX_BULK_KEYS } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { describeFault } from "../problem.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

/** The first appKey named twice in `appKeys`, if any. */
function firstDuplicate(appKeys: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const appKey of appKeys) {
    if (seen.has(appKey)) return appKey;
    seen.add(appKey);
  }
  return undefined;
}

const BulkBody = z
  .strictObject({
    action: z.enum(BULK_KEY_ACTIONS),
    appKeys: z
      .array(z.string().min(1, "must not be empty").max(100, "must be at most 100 characters"))
      .min(1, "must name at least one appKey")
      .max(MAX_BULK_KEYS, `must name at most ${MAX_BULK_KEYS} appKeys; split the list`),
  })
  // Refused rather than folded: results stay one per appKey sent, in order, and a second delete of
  // the same key would only report a confusing KEY_NOT_FOUND.
  .superRefine((body, ctx) => {
    const duplicate = firstDuplicate(body.appKeys);
    if (duplicate !== undefined) {
      ctx.addIssue({ code: "custom", path: ["appKeys"], message: `names ${duplicate} more than once` });
    }
  });

const bulk = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/keys/bulk",
  tags: ["Generated keys"],
  summary: "Activate, deactivate or delete up to 1,000 keys, with a result per key",
  description:
    "Each key goes through the single action (PATCH or DELETE of the key) with its checks, its own " +
    "transaction and its own audit event. A key that action would refuse gets that refusal as its " +
    "result (`ok: false` with the error's code, detail and status) and the others go on: the answer " +
    "is 200 whatever the results. 4xx only for a request that is not valid as a whole (no appKeys, " +
    "more than 1,000, one named twice).",
  request: {
    params: AccountParam,
    body: jsonBody(BulkBody),
  },
  responses: {
    200: jsonResponse(BulkKeyResultsSchema, "One result per appKey, in the order sent"),
    ...problemResponses(400, 401, 403, 404, 413),
  },
});

export function keyBulkRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  app.openapi(secure({ resource: "EditApiKeys" }, bulk), async (c) => {
    const { account } = c.req.valid("param");
    const { action, appKeys } = c.req.valid("json");
    const report = (error: unknown) => describeFault(error, c);
    return c.json(await services.keyBulk.run(c.get("authority"), account, action, appKeys, report), 200);
  });
}
