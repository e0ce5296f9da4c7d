/**
 * VTEX License Manager paths (SPEC §4): app keys, the roles of a user or key, the paged role list.
 * Each handler is a translation of names and shapes around the same service call the native /v1
 * route makes; the only token in any response is the one `POST /api/vlm/appkeys` creates.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { AppError, fail } from "../../core/errors.js";
import { holds } from "../../core/permissions.js";
import type { Services } from "../../services/index.js";
import type { AppEnv } from "../context.js";
import {
  isLookupId,
  type VtexAccess,
  type VtexContext,
  VtexError,
  vtexHandler,
  vtexMessage,
} from "./adapter.js";
import { allKeys } from "./all-keys.js";
import { parseVtex, readVtexBody } from "./fields.js";
import { createLabelledKeys } from "./labels.js";
import { pagedQuery, pageOf } from "./paging.js";

const CreateBody = z.object({ label: z.string() });
const UpdateBody = z.object({ isActive: z.boolean() });
const RoleIdList = z.array(z.number().int().positive()).max(200);

const TOKEN_NOT_EXISTS = new VtexError(400, {
  Details: null,
  HttpStatusCode: 400,
  VLMErrorCode: 17,
  Message: "Token not exists for this account",
});
/** A product of the paged role list: VTEX's documented fields, only the name known here. */
const vtexProduct = (name: string) => ({
  id: null,
  categoryId: null,
  categoryName: null,
  description: null,
  consoleUrlMask: null,
  urlConfiguration: null,
  webApiUrlMask: null,
  url: null,
  productResources: null,
  name,
});
const INVALID_USER = () => vtexMessage(400, "Invalid UserId");
const UNKNOWN_ROLES = () => vtexMessage(400, "Roles list contains roles that do not exist in this account");

export function licenseManagerRoutes(app: OpenAPIHono<AppEnv>, access: VtexAccess, services: Services) {
  const { keys, users, roles } = services;
  const labelled = createLabelledKeys(services);

  app.post(
    "/api/vlm/appkeys",
    vtexHandler(async (c) => {
      const { account, authority } = await access.authorize(c, "EditApiKeys");
      const { label } = await readVtexBody(c, CreateBody);
      // Labels are not unique in VTEX: one in use is stored numbered (labels.ts).
      const created = await labelled.create(authority, account, label);
      const { key } = created;
      return c.json({
        id: key.id,
        appKey: key.appKey,
        appToken: "appToken" in created ? created.appToken : null,
        label: key.name,
        createdIn: key.creationDate,
        isActive: key.active,
      });
    }),
  );

  app.get(
    "/api/vlm/appkeys",
    vtexHandler(async (c) => {
      const { account } = await access.authorize(c, "ViewApiKeys");
      const list = await allKeys(services, account);
      return c.json(
        list.map((key) => ({
          id: key.id,
          appKey: key.appKey,
          label: key.name,
          createdIn: key.creationDate,
          isActive: key.active,
        })),
      );
    }),
  );

  app.put(
    "/api/vlm/appkeys/:id",
    vtexHandler(
      async (c) => {
        const { account, authority } = await access.authorize(c, "EditApiKeys");
        const { isActive } = await readVtexBody(c, UpdateBody);
        const id = c.req.param("id") ?? "";
        const key = isLookupId(id) ? await keys.find(account, { id }) : undefined;
        if (!key) throw TOKEN_NOT_EXISTS;
        await keys.update(authority, account, key.appKey, { active: isActive });
        return c.body(null, 200);
      },
      (error) => (error.code === "KEY_NOT_FOUND" ? TOKEN_NOT_EXISTS : undefined),
    ),
  );

  type Target =
    | { kind: "user"; id: string; roleIds: number[] }
    | { kind: "key" | "external"; appKey: string; roleIds: number[] };

  /**
   * `userId` is a user id, a key id or an appKey of the account, or the id or appKey of an external
   * key added to it; unknown → 400 "Invalid UserId".
   */
  async function target(account: string, userId: string): Promise<Target | undefined> {
    if (!isLookupId(userId)) return undefined;
    // An invited user (VTEX's create user makes one) is given roles here as on /v1: they are offered,
    // and held once the person accepts.
    const user = (await users.list(account)).find((candidate) => candidate.id === userId);
    if (user) return { kind: "user", id: user.id, roleIds: user.roles.map((role) => role.id) };
    const key = (await keys.find(account, { id: userId })) ?? (await keys.find(account, { appKey: userId }));
    if (key) return { kind: "key", appKey: key.appKey, roleIds: key.roles.map((role) => role.id) };
    // A key of another account added here, by the addition's id (as the native list shows it, never
    // the owner's key id) or its appKey: its roles in this account.
    const external =
      (await services.externalKeys.find(account, { id: userId })) ??
      (await services.externalKeys.find(account, { appKey: userId }));
    if (external)
      return { kind: "external", appKey: external.appKey, roleIds: external.roles.map((role) => role.id) };
    return undefined;
  }

  /** Users are managed with the admin-user resources, keys with the API-key ones, as on /v1. */
  const needs = (kind: Target["kind"] | undefined, write: boolean) =>
    kind === "key" || kind === "external"
      ? write
        ? "EditApiKeys"
        : "ViewApiKeys"
      : write
        ? "EditAdminUsers"
        : "ViewAdminUsers";

  /** The caller's scope and the target `userId` names, if any; refused (403) as `needs` says. */
  async function lookUp(c: VtexContext, write: boolean) {
    const scope = await access.identifyIn(c);
    // A caller who may manage neither keys nor users here is refused before anything is looked up,
    // with one answer whatever `userId` names: it learns nothing of which ids and appKeys exist.
    const [forKeys, forUsers] = [needs("key", write), needs("user", write)];
    if (!holds(scope.grant, forKeys) && !holds(scope.grant, forUsers)) {
      fail("FORBIDDEN", `This needs the ${forKeys} or ${forUsers} resource in account ${scope.account}`);
    }
    const found = await target(scope.account, c.req.param("userId") ?? "");
    // An unknown id needs the user resource, as a user would: a key-only caller cannot tell them apart.
    scope.require(needs(found?.kind, write));
    return { ...scope, found };
  }

  /** As `lookUp`, and an unknown `userId` is VTEX's 400 "Invalid UserId". */
  async function roleTarget(c: VtexContext, write: boolean) {
    const scope = await lookUp(c, write);
    if (!scope.found) throw INVALID_USER();
    return { ...scope, found: scope.found };
  }

  async function setRoles(
    scope: Awaited<ReturnType<typeof roleTarget>>,
    roleIds: (current: readonly number[]) => number[],
  ) {
    const { authority, account, found } = scope;
    if (found.kind === "user") await users.setRoles(authority, account, found.id, roleIds);
    else if (found.kind === "external")
      await services.externalKeys.setRoles(authority, account, found.appKey, roleIds);
    else await keys.setRoles(authority, account, found.appKey, roleIds);
  }

  const isTargetGone = (error: unknown) =>
    error instanceof AppError &&
    (error.code === "USER_NOT_FOUND" ||
      error.code === "KEY_NOT_FOUND" ||
      error.code === "EXTERNAL_KEY_NOT_FOUND");

  const rolesErrors = (error: AppError) => {
    if (error.code === "UNKNOWN_ROLE") return UNKNOWN_ROLES();
    if (isTargetGone(error)) return INVALID_USER();
    return undefined;
  };

  app.get(
    "/api/license-manager/users/:userId/roles",
    vtexHandler(async (c) => {
      const { account, found } = await roleTarget(c, false);
      const names = new Map((await roles.list(account)).map((role) => [role.id, role.name]));
      return c.json(found.roleIds.map((id) => ({ id, name: names.get(id) ?? "" })));
    }, rolesErrors),
  );

  app.put(
    "/api/license-manager/users/:userId/roles",
    vtexHandler(async (c) => {
      const scope = await roleTarget(c, true);
      const added = await readVtexBody(c, RoleIdList);
      // The union is taken inside the change's transaction: two adds at once both land.
      await setRoles(scope, (current) => [...new Set([...current, ...added])]);
      return c.body(null, 204);
    }, rolesErrors),
  );

  app.delete(
    "/api/license-manager/users/:userId/roles/:roleId",
    vtexHandler(async (c) => {
      const scope = await lookUp(c, true);
      const rawRoleId = c.req.param("roleId") ?? "";
      if (!/^[1-9][0-9]{0,9}$/.test(rawRoleId)) throw vtexMessage(400, "roleId must be a positive integer");
      const roleId = Number(rawRoleId);
      const { found } = scope;
      // VTEX documents removal as idempotent: a role not held, or a user or key that does not exist
      // (or was removed meanwhile), is 204 too; nothing changes and nothing is recorded.
      if (found?.roleIds.includes(roleId)) {
        try {
          await setRoles({ ...scope, found }, (current) => current.filter((id) => id !== roleId));
        } catch (error) {
          if (!isTargetGone(error)) throw error;
        }
      }
      return c.body(null, 204);
    }, rolesErrors),
  );

  const PagedQuery = pagedQuery(["id", "name"], "id");

  app.get(
    "/api/license-manager/site/pvt/roles/list/paged",
    vtexHandler(async (c) => {
      const { account } = await access.authorize(c, "ViewAdminUsers");
      const query = parseVtex(PagedQuery, c.req.query());
      const every = services.catalog.resources.length;
      const list = (await roles.list(account)).sort((a, b) =>
        query.sort === "name" ? a.name.localeCompare(b.name) || a.id - b.id : a.id - b.id,
      );
      return c.json(
        pageOf(list, query, (role) => ({
          id: role.id,
          name: role.name,
          isAdmin: role.resources.length === every,
          roleType: role.type === "predefined" ? 0 : 1,
          products: role.products.map(vtexProduct),
          resources: null,
          logins: null,
        })),
      );
    }),
  );
}
