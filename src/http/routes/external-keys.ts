import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ExternalKeyRequestSchema, ExternalKeySchema } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses, RoleIds } from "../schemas.js";
import type { Secure } from "../secure.js";

/** External keys (SPEC §2.2): keys of other accounts added here, with roles in this account. */

const tags = ["External keys"];
const AppKey = z.string().min(1).max(100);
const ExternalKeyParams = AccountParam.extend({
  appKey: AppKey.openapi({ param: { name: "appKey", in: "path" }, example: "appkey-partner-QWERTY" }),
});

const list = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/external-keys",
  tags,
  summary: "List the external keys added to the account",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(z.object({ items: z.array(ExternalKeySchema) }), "Every external key"),
    ...problemResponses(400, 401, 403),
  },
});

const add = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/external-keys",
  tags,
  summary: "Add another account's key, optionally with roles in this account",
  description:
    "While the account's policies.requireExternalKeyApproval is on, this makes a request instead: the key is answered with status pending and grants nothing until another caller approves it (…/external-keys/requests/{appKey}/approve).",
  request: {
    params: AccountParam,
    body: jsonBody(z.strictObject({ appKey: AppKey, roles: RoleIds.optional() })),
  },
  responses: {
    201: jsonResponse(ExternalKeySchema, "The key as added, or the request made (status pending)"),
    ...problemResponses(400, 401, 403, 404, 409, 413),
  },
});

const setRoles = createRoute({
  method: "put",
  path: "/v1/accounts/{account}/external-keys/{appKey}/roles",
  tags,
  summary: "Replace the roles an external key holds in the account",
  request: { params: ExternalKeyParams, body: jsonBody(z.strictObject({ roles: RoleIds })) },
  responses: {
    200: jsonResponse(ExternalKeySchema, "The key"),
    ...problemResponses(400, 401, 403, 404),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/accounts/{account}/external-keys/{appKey}",
  tags,
  summary: "Remove an external key (and its roles) from the account; the key itself stays its owner's",
  request: { params: ExternalKeyParams },
  responses: { 204: { description: "Removed" }, ...problemResponses(400, 401, 403, 404) },
});

const requests = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/external-keys/requests",
  tags,
  summary: "List the pending requests to add external keys (requireExternalKeyApproval), oldest first",
  description:
    "Requests older than 7 days are expired (removed, audited external_key.request_expired) before the list is made.",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(z.object({ items: z.array(ExternalKeyRequestSchema) }), "Every pending request"),
    ...problemResponses(400, 401, 403),
  },
});

const approve = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/external-keys/requests/{appKey}/approve",
  tags,
  summary: "Approve a request to add an external key: it gets the roles asked for",
  description:
    "Only a caller other than the requester (SELF_APPROVAL_DENIED), holding every resource of the roles asked for (ESCALATION_DENIED). An expired request is 410.",
  request: { params: ExternalKeyParams },
  responses: {
    200: jsonResponse(ExternalKeySchema, "The key as now added"),
    ...problemResponses(400, 401, 403, 404, 410),
  },
});

const reject = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/external-keys/requests/{appKey}/reject",
  tags,
  summary: "Reject (or, by its requester, withdraw) a request to add an external key",
  request: { params: ExternalKeyParams },
  responses: { 204: { description: "Rejected" }, ...problemResponses(400, 401, 403, 404, 410) },
});

export function externalKeyRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { externalKeys } = services;
  const view = { resource: "ViewApiKeys" };
  const edit = { resource: "EditApiKeys" };

  app.openapi(secure(view, list), async (c) => {
    const { account } = c.req.valid("param");
    return c.json({ items: await externalKeys.list(account) }, 200);
  });

  app.openapi(secure(view, requests), async (c) => {
    const { account } = c.req.valid("param");
    return c.json({ items: await externalKeys.requests(c.get("authority"), account) }, 200);
  });

  app.openapi(secure(edit, approve), async (c) => {
    const { account, appKey } = c.req.valid("param");
    return c.json(await externalKeys.approve(c.get("authority"), account, appKey), 200);
  });

  app.openapi(secure(edit, reject), async (c) => {
    const { account, appKey } = c.req.valid("param");
    await externalKeys.reject(c.get("authority"), account, appKey);
    return c.body(null, 204);
  });

  app.openapi(secure(edit, add), async (c) => {
    const { account } = c.req.valid("param");
    const body = c.req.valid("json");
    return c.json(await externalKeys.add(c.get("authority"), account, body), 201);
  });

  app.openapi(secure(edit, setRoles), async (c) => {
    const { account, appKey } = c.req.valid("param");
    const { roles } = c.req.valid("json");
    return c.json(await externalKeys.setRoles(c.get("authority"), account, appKey, roles), 200);
  });

  app.openapi(secure(edit, remove), async (c) => {
    const { account, appKey } = c.req.valid("param");
    await externalKeys.remove(c.get("authority"), account, appKey);
    return c.body(null, 204);
  });
}
