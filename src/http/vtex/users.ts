/**
 * VTEX License Manager user paths: create, read and delete a user of the account, and the paged
 * list of its users ("logins"). Users are latchkey's members of the account: creating one invites the
 * person with no roles (users.ts `invite`), roles come through the role paths, and deleting one ends
 * their membership of this account only, under the same rules as DELETE /v1/accounts/{a}/users/{id}
 * (never a user stronger than the caller, never the last Owner).
 *
 * Resources, as VTEX documents them, mapped: "Save user" and "Remove user" → EditAdminUsers; "Get
 * paged users" → ViewAdminUsers. Reading one user is also allowed with ViewAdminUsers, which shows
 * the same fields in the list.
 *
 * Secrets: the create answer carries the invitation's one-time code (a latchkey field VTEX clients
 * ignore), as the native add does; it is never audited or logged. With SMTP_URL the link is also
 * mailed to the person (services/invitations.ts `mailLater`).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { holds } from "../../core/permissions.js";
import type { Services } from "../../services/index.js";
import { type MemberRecord, OWNER_ROLE_ID } from "../../services/users.js";
import type { AppEnv } from "../context.js";
import { mailInvitation } from "../routes/invitations.js";
import { isLookupId, type VtexAccess, type VtexContext, vtexHandler, vtexMessage } from "./adapter.js";
import { parseVtex, readVtexBody } from "./fields.js";
import { pagedQuery, pageOf } from "./paging.js";

const CreateBody = z.object({ email: z.string().max(254), name: z.string().max(200).nullish() });
const INVALID_USER = () => vtexMessage(400, "Invalid UserId");
const INVALID_EMAIL = () => vtexMessage(400, "Invalid email");
const LoginsQuery = pagedQuery(["name", "email", "id"], "name");

const userErrors = (error: { code: string }) =>
  error.code === "USER_NOT_FOUND" ? INVALID_USER() : undefined;

/** VTEX's user object. A member without a name is shown by email, as VTEX's `name` is never null. */
const userOf = (member: MemberRecord) => ({
  id: member.id,
  name: member.name ?? member.email,
  email: member.email,
});

export function vtexUserRoutes(app: OpenAPIHono<AppEnv>, access: VtexAccess, services: Services) {
  const { users } = services;

  /** The member `:userId` names in the caller's account, or 400 "Invalid UserId". */
  async function memberOf(c: VtexContext, account: string): Promise<MemberRecord> {
    const userId = c.req.param("userId") ?? "";
    const member = isLookupId(userId) ? await users.member(account, userId) : undefined;
    return member ?? Promise.reject(INVALID_USER());
  }

  app.post(
    "/api/license-manager/users",
    vtexHandler(
      async (c) => {
        const { account, authority } = await access.authorize(c, "EditAdminUsers");
        const { email, name } = await readVtexBody(c, CreateBody, INVALID_EMAIL().body.Message as string);
        const { member, invitation } = await users.invite(authority, account, {
          email,
          name: name ?? undefined,
        });
        if (invitation) mailInvitation(c, services, member.email, account, invitation);
        return c.json({ ...userOf(member), ...(invitation ? { invitation } : {}) });
      },
      (error) =>
        error.code === "VALIDATION_FAILED"
          ? vtexMessage(400, error.detail.replace(/^email .*/, "Invalid email"))
          : undefined,
    ),
  );

  app.get(
    "/api/license-manager/users/:userId",
    vtexHandler(async (c) => {
      const scope = await access.identifyIn(c);
      if (!holds(scope.grant, "EditAdminUsers")) scope.require("ViewAdminUsers");
      else scope.require("EditAdminUsers");
      return c.json(userOf(await memberOf(c, scope.account)));
    }, userErrors),
  );

  app.delete(
    "/api/license-manager/users/:userId",
    vtexHandler(async (c) => {
      const { account, authority } = await access.authorize(c, "EditAdminUsers");
      const member = await memberOf(c, account);
      await users.remove(authority, account, member.id);
      return c.body(null, 200);
    }, userErrors),
  );

  app.get(
    "/api/license-manager/site/pvt/logins/list/paged",
    vtexHandler(async (c) => {
      const { account } = await access.authorize(c, "ViewAdminUsers");
      const query = parseVtex(LoginsQuery, c.req.query());
      const key = (member: MemberRecord) =>
        query.sort === "id"
          ? member.id
          : query.sort === "email"
            ? member.email
            : userOf(member).name.toLowerCase();
      const list = (await users.members(account)).sort(
        (a, b) => key(a).localeCompare(key(b)) || a.id.localeCompare(b.id),
      );
      return c.json(
        pageOf(list, query, (member) => ({
          ...userOf(member),
          isAdmin: member.status === "active" && member.roleIds.includes(OWNER_ROLE_ID),
          isReliable: false,
          isBlocked: false,
          roles: [],
          accountNames: [],
        })),
      );
    }),
  );
}
