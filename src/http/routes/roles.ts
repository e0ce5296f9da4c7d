import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { RoleSchema } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, Label, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const tags = ["Roles"];
const RoleParams = AccountParam.extend({
  id: z.coerce
    .number()
    .int()
    .positive()
    .openapi({ param: { name: "id", in: "path" }, example: 100001 }),
});
const RoleBody = z.strictObject({ name: Label, resources: z.array(z.string().max(64)).max(500) });

const list = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/roles",
  tags,
  summary: "Predefined and custom roles of the account",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(z.object({ items: z.array(RoleSchema) }), "Roles"),
    ...problemResponses(401, 403, 404),
  },
});

const create = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/roles",
  tags,
  summary: "Create a custom role",
  request: { params: AccountParam, body: jsonBody(RoleBody) },
  responses: { 201: jsonResponse(RoleSchema, "The role"), ...problemResponses(400, 401, 403, 404, 409) },
});

const update = createRoute({
  method: "put",
  path: "/v1/accounts/{account}/roles/{id}",
  tags,
  summary: "Replace a custom role's name and resources",
  request: { params: RoleParams, body: jsonBody(RoleBody) },
  responses: { 200: jsonResponse(RoleSchema, "The role"), ...problemResponses(400, 401, 403, 404, 409) },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/accounts/{account}/roles/{id}",
  tags,
  summary: "Delete a custom role nobody holds",
  request: { params: RoleParams },
  responses: { 204: { description: "Deleted" }, ...problemResponses(400, 401, 403, 404, 409) },
});

export function roleRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { roles } = services;
  const view = { resource: "ViewAdminUsers" };
  const edit = { resource: "EditAdminUsers" };

  app.openapi(secure(view, list), async (c) => {
    return c.json({ items: await roles.list(c.req.valid("param").account) }, 200);
  });

  app.openapi(secure(edit, create), async (c) => {
    const { account } = c.req.valid("param");
    return c.json(await roles.create(c.get("authority"), account, c.req.valid("json")), 201);
  });

  app.openapi(secure(edit, update), async (c) => {
    const { account, id } = c.req.valid("param");
    const role = await roles.update(c.get("authority"), account, id, c.req.valid("json"));
    return c.json(role, 200);
  });

  app.openapi(secure(edit, remove), async (c) => {
    const { account, id } = c.req.valid("param");
    await roles.remove(c.get("authority"), account, id);
    return c.body(null, 204);
  });
}
