import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { AccountProfileSchema } from "../../core/api.js";
import { MAX_HOSTS, MAX_LABEL_LENGTH } from "../../core/names.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

/**
 * The account's profile: what it says of itself to VTEX integrations (GET /api/vlm/account and
 * /api/vlm/account/stores answer from it). Read and written with the same resources as the other
 * account settings: ViewApiKeys to read, EditApiKeysSettings to change.
 */

const tags = ["Settings"];
const PATH = "/v1/accounts/{account}/settings/profile";

const get = createRoute({
  method: "get",
  path: PATH,
  tags,
  summary: "The account's display name, hosts and creation date",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(AccountProfileSchema, "The profile"),
    ...problemResponses(400, 401, 403, 404),
  },
});

const put = createRoute({
  method: "put",
  path: PATH,
  tags,
  summary: "Replace the account's display name and hosts",
  request: {
    params: AccountParam,
    body: jsonBody(
      z.strictObject({
        displayName: z
          .string()
          .max(MAX_LABEL_LENGTH + 100)
          .nullable()
          .openapi({
            description: `At most ${MAX_LABEL_LENGTH} characters once trimmed; null or "" clears it`,
          }),
        hosts: z
          .array(z.string().max(300))
          .max(MAX_HOSTS)
          .openapi({ description: "Host names (no scheme, port or path); lower-cased, duplicates dropped" }),
      }),
    ),
  },
  responses: {
    200: jsonResponse(AccountProfileSchema, "The profile"),
    ...problemResponses(400, 401, 403, 404),
  },
});

export function profileRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { accounts } = services;

  app.openapi(secure({ resource: "ViewApiKeys" }, get), async (c) => {
    return c.json(await accounts.profile(c.req.valid("param").account), 200);
  });

  app.openapi(secure({ resource: "EditApiKeysSettings" }, put), async (c) => {
    const { account } = c.req.valid("param");
    return c.json(await accounts.setProfile(c.get("authority"), account, c.req.valid("json")), 200);
  });
}
