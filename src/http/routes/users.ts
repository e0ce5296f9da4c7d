import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { IssuedInvitationSchema, UserSchema } from "../../core/api.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountParam, jsonBody, jsonResponse, problemResponses, RoleIds } from "../schemas.js";
import type { Secure } from "../secure.js";
import { mailInvitation } from "./invitations.js";

const tags = ["Users"];
const UserParams = AccountParam.extend({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

const list = createRoute({
  method: "get",
  path: "/v1/accounts/{account}/users",
  tags,
  summary: "Users of the account and their roles",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(z.object({ items: z.array(UserSchema) }), "Users"),
    ...problemResponses(401, 403, 404),
  },
});

const add = createRoute({
  method: "post",
  path: "/v1/accounts/{account}/users",
  tags,
  summary: "Add a user (created when new; a generated password is returned once)",
  description:
    'An email that already has a sign-in is invited instead (`status: "invited"`): the answer ' +
    "carries `invitation`, a one-time code (and the admin's URL holding it) to pass on to the " +
    "person, who accepts or declines with it, signed in. It is shown only here, and expires after 7 days.",
  request: {
    params: AccountParam,
    body: jsonBody(
      z.strictObject({
        email: z.string().max(254),
        password: z.string().max(200).optional(),
        roles: RoleIds.optional(),
      }),
    ),
  },
  responses: {
    201: jsonResponse(
      z.object({
        user: UserSchema,
        password: z.string().optional(),
        invitation: IssuedInvitationSchema.optional(),
      }),
      "The user",
    ),
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

const setRoles = createRoute({
  method: "put",
  path: "/v1/accounts/{account}/users/{id}/roles",
  tags,
  summary: "Replace a user's roles in the account",
  request: { params: UserParams, body: jsonBody(z.strictObject({ roles: RoleIds })) },
  responses: { 200: jsonResponse(UserSchema, "The user"), ...problemResponses(400, 401, 403, 404, 409) },
});

const remove = createRoute({
  method: "delete",
  path: "/v1/accounts/{account}/users/{id}",
  tags,
  summary: "Remove a user from the account",
  request: { params: UserParams },
  responses: { 204: { description: "Removed" }, ...problemResponses(401, 403, 404, 409) },
});

export function userRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { users } = services;
  const view = { resource: "ViewAdminUsers" };
  const edit = { resource: "EditAdminUsers" };

  app.openapi(secure(view, list), async (c) => {
    return c.json({ items: await users.list(c.req.valid("param").account) }, 200);
  });

  app.openapi(secure(edit, add), async (c) => {
    const { account } = c.req.valid("param");
    const added = await users.add(c.get("authority"), account, c.req.valid("json"));
    if (added.invitation) mailInvitation(c, services, added.user.email, account, added.invitation);
    return c.json(added, 201);
  });

  app.openapi(secure(edit, setRoles), async (c) => {
    const { account, id } = c.req.valid("param");
    const { roles } = c.req.valid("json");
    return c.json(await users.setRoles(c.get("authority"), account, id, roles), 200);
  });

  app.openapi(secure(edit, remove), async (c) => {
    const { account, id } = c.req.valid("param");
    await users.remove(c.get("authority"), account, id);
    return c.body(null, 204);
  });
}
