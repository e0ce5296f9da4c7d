import { recordAudit } from "../audit/audit.js";
import type { Role } from "../core/api.js";
import { AppError, fail } from "../core/errors.js";
import { normalizeLabel } from "../core/names.js";
import { type Grant, missingResource, type RoleView } from "../core/permissions.js";
import { StoreConflict, type StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, checkTarget } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

/** Roles of an account: predefined (read-only, from the catalog) and custom ones. */

export function createRoleService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, catalog, clock } = deps;
  const everyResource = () => catalog.resources.map((resource) => resource.key);

  function dto(role: RoleView): Role {
    const resources = role.allResources ? everyResource() : [...role.resources];
    const products = new Set(resources.map((key) => catalog.resourceByKey(key)?.product ?? "unknown"));
    return {
      id: role.id,
      name: role.name,
      type: role.predefined ? "predefined" : "custom",
      resources,
      products: [...products].sort(),
    };
  }

  function checkInput(grant: Grant, input: { name: string; resources: string[] }) {
    const name =
      normalizeLabel(input.name) ??
      fail("VALIDATION_FAILED", "name must be 1-100 characters, with no NUL character");
    const resources = [...new Set(input.resources)].sort();
    const unknown = resources.filter((key) => !catalog.resourceByKey(key));
    if (unknown.length > 0)
      fail("UNKNOWN_RESOURCE", `Unknown resources: ${unknown.join(", ")}`, { resources: unknown });
    const lacking = missingResource(grant, resources);
    if (lacking) fail("ESCALATION_DENIED", `You cannot put ${lacking} in a role: you do not hold it`);
    const clash = catalog.roles.find((role) => role.name.toLowerCase() === name.toLowerCase());
    if (clash) fail("ROLE_NAME_TAKEN", `"${name}" is the name of a predefined role`);
    return { name, resources };
  }

  /**
   * A custom role the caller may change: it must hold every resource the role holds now and, when
   * `withHolders` (an edit changes what its holders may do), every resource its holders hold here.
   */
  async function customOrFail(tx: StoreOps, grant: Grant, account: string, id: number, withHolders: boolean) {
    if (catalog.roleById(id)) fail("ROLE_PREDEFINED", `Role ${id} is predefined and cannot be changed`);
    const role =
      (await tx.roles.get(account, id)) ?? fail("ROLE_NOT_FOUND", `No role ${id} in account ${account}`);
    const view: RoleView = {
      id,
      name: role.name,
      predefined: false,
      allResources: false,
      resources: role.resources,
    };
    checkTarget(grant, [view], `role ${id} (${role.name})`);
    if (withHolders) {
      const held = await roles.existing(tx, account, await tx.roles.coHeldRoleIds(account, id));
      checkTarget(grant, held, `role ${id} (${role.name}), held with other roles by users or keys`);
    }
    return role;
  }

  async function list(account: string): Promise<Role[]> {
    return (await roles.list(store, account)).map(dto);
  }

  function create(authority: Authority, account: string, input: { name: string; resources: string[] }) {
    return auditRefusals(deps, authority, account, { action: "role.created" }, async () =>
      createRole(authority, account, input),
    );
  }

  async function createRole(
    { actor, grant }: Authority,
    account: string,
    input: { name: string; resources: string[] },
  ) {
    const { name, resources } = checkInput(grant, input);
    return guardName(name, () =>
      store.transaction(async (tx) => {
        const now = clock.now();
        const role = await tx.roles.create({ account, name, resources, createdAt: now, updatedAt: now });
        const target = { type: "role", id: String(role.id) };
        await recordAudit(tx, deps, actor, {
          account,
          action: "role.created",
          target,
          data: { after: { name, resources } },
        });
        return dto({ id: role.id, name, predefined: false, allResources: false, resources });
      }),
    );
  }

  function update(
    authority: Authority,
    account: string,
    id: number,
    input: { name: string; resources: string[] },
  ) {
    const target = { type: "role", id: String(id) } as const;
    return auditRefusals(deps, authority, account, { action: "role.updated", target }, async () =>
      updateRole(authority, account, id, input),
    );
  }

  async function updateRole(
    { actor, grant }: Authority,
    account: string,
    id: number,
    input: { name: string; resources: string[] },
  ) {
    const { name, resources } = checkInput(grant, input);
    return guardName(name, () =>
      changeWithin(store, deps.changes, { kind: "account", account }, async (tx) => {
        const before = await customOrFail(tx, grant, account, id, true);
        await tx.roles.update(account, id, { name, resources, updatedAt: clock.now() });
        await recordAudit(tx, deps, actor, {
          account,
          action: "role.updated",
          target: { type: "role", id: String(id) },
          data: { before: { name: before.name, resources: before.resources }, after: { name, resources } },
        });
        return dto({ id, name, predefined: false, allResources: false, resources });
      }),
    );
  }

  async function remove(authority: Authority, account: string, id: number): Promise<void> {
    const { actor, grant } = authority;
    const target = { type: "role", id: String(id) } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "account", account }, async (tx) => {
        const before = await customOrFail(tx, grant, account, id, false);
        const holders = await tx.roles.countHolders(account, id);
        if (holders > 0) {
          fail(
            "ROLE_IN_USE",
            `Role ${id} is held by ${holders} ${holders === 1 ? "user or key" : "users or keys"}; take it from them first`,
            {
              holders,
            },
          );
        }
        await tx.roles.delete(account, id);
        await recordAudit(tx, deps, actor, {
          account,
          action: "role.deleted",
          target: { type: "role", id: String(id) },
          data: { before: { name: before.name, resources: before.resources } },
        });
      });
    await auditRefusals(deps, authority, account, { action: "role.deleted", target }, () => work());
  }

  return { list, create, update, remove, dto };
}

async function guardName<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StoreConflict && error.constraint === "role_name") {
      throw new AppError("ROLE_NAME_TAKEN", `A role named "${name}" already exists in this account`);
    }
    throw error;
  }
}

export type RoleService = ReturnType<typeof createRoleService>;
