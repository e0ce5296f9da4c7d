import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { IssuedKeySchema, KeySchema, ShareLinkStatusSchema } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";
import { DeliveryField } from "./shares.js";

/** Token renewal (SPEC §2.1). The new token is in the start response only, which is never cached. */

const tags = ["Token renewal"];
const path = "/v1/accounts/{account}/keys/{appKey}/renewal";
const KeyParams = AccountParam.extend({
  appKey: z
    .string()
    .max(100)
    .openapi({ param: { name: "appKey", in: "path" }, example: "appkey-mystore-QWERTY" }),
});
/** The body may be left out; when sent it must be a JSON object with known fields only. */
const optionalBody = <T extends z.ZodType>(schema: T) =>
  ({ required: false, content: { "application/json": { schema } } }) as const;

const StartBody = z.strictObject({
  deleteOldToken: z.enum(["now", "later"]).optional().openapi({
    description: "`now`: remove the old token at once (start and complete in one step). Default `later`",
  }),
  delivery: DeliveryField.optional(),
});

const start = createRoute({
  method: "post",
  path,
  tags,
  summary: "Start a renewal: a new token, while the old one keeps working",
  request: { params: KeyParams, body: optionalBody(StartBody) },
  responses: {
    201: jsonResponse(IssuedKeySchema, "The key and its new token, or a share link to it"),
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

const complete = createRoute({
  method: "post",
  path: `${path}/complete`,
  tags,
  summary: "Complete a renewal: remove the old token",
  request: { params: KeyParams, body: optionalBody(z.strictObject({})) },
  responses: { 200: jsonResponse(KeySchema, "The key"), ...problemResponses(400, 401, 403, 404) },
});

const undo = createRoute({
  method: "delete",
  path,
  tags,
  summary: "Undo a renewal: discard the new token; the old one stays",
  request: { params: KeyParams },
  responses: { 200: jsonResponse(KeySchema, "The key"), ...problemResponses(400, 401, 403, 404) },
});

const shareLinkPath = "/v1/accounts/{account}/keys/{appKey}/share-link";

const readShareLink = createRoute({
  method: "get",
  path: shareLinkPath,
  tags,
  summary: "The key's newest share link: its state and whether it blocks the next renewal",
  description:
    "Never the link's address or token. Needs what renewal needs (RenewApiToken, covering every resource the key holds).",
  request: { params: KeyParams },
  responses: {
    200: jsonResponse(ShareLinkStatusSchema, "The key's share link state"),
    ...problemResponses(400, 401, 403, 404),
  },
});

const cancelShareLink = createRoute({
  method: "delete",
  path: shareLinkPath,
  tags,
  summary: "Cancel the key's unopened share link, so that it no longer blocks renewal",
  description:
    "The link answers 410 from then on; its token is erased from the link but stays the key's token (a " +
    "pending renewal stays pending: undo it or complete it). Audited as `share_link.cancelled`. " +
    "404 NO_UNOPENED_SHARE_LINK when the newest link was already opened, expired or cancelled.",
  request: { params: KeyParams },
  responses: {
    200: jsonResponse(ShareLinkStatusSchema, "The key's share link, now cancelled"),
    ...problemResponses(400, 401, 403, 404),
  },
});

export function renewalRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { renewal } = services;
  const renew = { resource: "RenewApiToken" };

  app.openapi(secure(renew, start), async (c) => {
    const { account, appKey } = c.req.valid("param");
    const result = await renewal.start(c.get("authority"), account, appKey, c.req.valid("json"));
    return c.json(result, 201);
  });

  app.openapi(secure(renew, complete), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await renewal.complete(c.get("authority"), account, appKey), 200);
  });

  app.openapi(secure(renew, undo), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await renewal.undo(c.get("authority"), account, appKey), 200);
  });

  app.openapi(secure(renew, readShareLink), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await renewal.shareLink(c.get("authority"), account, appKey), 200);
  });

  app.openapi(secure(renew, cancelShareLink), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await renewal.cancelShareLink(c.get("authority"), account, appKey), 200);
  });
}
