/**
 * The signed-in user's answer to an invitation (services/invitations.ts). Any authenticated caller may
 * reach these routes; only a user can have an invitation, so a key always gets 404.
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { grantResources } from "../../core/permissions.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import { AccountAccess, AccountParam, jsonResponse, problemResponses } from "../schemas.js";
import type { Secure } from "../secure.js";

const tags = ["Session"];

const accept = createRoute({
  method: "post",
  path: "/v1/me/invitations/{account}",
  tags,
  summary: "Accept an invitation: become a member of the account with the roles offered",
  request: { params: AccountParam },
  responses: {
    200: jsonResponse(AccountAccess, "What the user now holds in the account"),
    ...problemResponses(400, 401, 403, 404),
  },
});

const decline = createRoute({
  method: "delete",
  path: "/v1/me/invitations/{account}",
  tags,
  summary: "Decline an invitation: it is removed, with the roles it offered",
  request: { params: AccountParam },
  responses: { 204: { description: "Declined" }, ...problemResponses(400, 401, 403, 404) },
});

export function invitationRoutes(app: OpenAPIHono<AppEnv>, secure: Secure, services: Services) {
  const { invitations, roleDirectory, deps } = services;
  const every = deps.catalog.resources.map((resource) => resource.key);

  app.openapi(secure("authenticated", accept), async (c) => {
    const { account } = c.req.valid("param");
    const { principal, actor } = c.get("caller");
    await invitations.accept(actor, account);
    const access = await roleDirectory.access(deps.store, principal, account);
    const roles = access.roles.map((role) => ({ id: role.id, name: role.name }));
    return c.json({ account, roles, resources: grantResources(access.grant, every) }, 200);
  });

  app.openapi(secure("authenticated", decline), async (c) => {
    const { account } = c.req.valid("param");
    await invitations.decline(c.get("caller").actor, account);
    return c.body(null, 204);
  });
}
