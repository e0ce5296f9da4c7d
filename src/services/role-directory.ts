import { fail } from "../core/errors.js";
import { type Grant, grantOf, type RoleView } from "../core/permissions.js";
import type { StoreOps } from "../storage/store.js";
import type { Principal, ServiceDeps } from "./deps.js";

/**
 * Resolves role ids of one account to roles: predefined ones from the catalog, custom ones from
 * the store. The one place that knows both sources.
 */
export function createRoleDirectory(deps: Pick<ServiceDeps, "store" | "catalog">) {
  const { catalog } = deps;

  function predefined(id: number): RoleView | undefined {
    const role = catalog.roleById(id);
    if (!role) return undefined;
    return {
      id,
      name: role.name,
      predefined: true,
      allResources: role.allResources,
      resources: role.resources,
    };
  }

  /** Every role id must exist in the account, else UNKNOWN_ROLE naming the missing ids. */
  async function resolve(tx: StoreOps, account: string, ids: readonly number[]): Promise<RoleView[]> {
    const roles: RoleView[] = [];
    const missing: number[] = [];
    for (const id of new Set(ids)) {
      const role = predefined(id) ?? (await custom(tx, account, id));
      if (role) roles.push(role);
      else missing.push(id);
    }
    if (missing.length > 0) {
      fail("UNKNOWN_ROLE", `Roles ${missing.join(", ")} do not exist in account ${account}`, {
        roles: missing,
      });
    }
    return roles.sort((a, b) => a.id - b.id);
  }

  async function custom(tx: StoreOps, account: string, id: number): Promise<RoleView | undefined> {
    const role = await tx.roles.get(account, id);
    if (!role) return undefined;
    return { id, name: role.name, predefined: false, allResources: false, resources: role.resources };
  }

  /** Roles still present among `ids` (roles deleted meanwhile are skipped, never an error). */
  async function existing(tx: StoreOps, account: string, ids: readonly number[]): Promise<RoleView[]> {
    const roles = await Promise.all(ids.map(async (id) => predefined(id) ?? custom(tx, account, id)));
    return roles.filter((role): role is RoleView => role !== undefined).sort((a, b) => a.id - b.id);
  }

  async function list(tx: StoreOps, account: string): Promise<RoleView[]> {
    const builtIn = catalog.roles.map((role) => predefined(role.id) as RoleView);
    const customs = (await tx.roles.list(account)).map(
      (role): RoleView => ({
        id: role.id,
        name: role.name,
        predefined: false,
        allResources: false,
        resources: role.resources,
      }),
    );
    return [...builtIn, ...customs];
  }

  /**
   * The principal's roles and grant in `account`. Users must be active members (an invitation grants
   * nothing until accepted); keys need grants there.
   */
  async function access(
    tx: StoreOps,
    principal: Principal,
    account: string,
  ): Promise<{ roles: RoleView[]; grant: Grant }> {
    let roleIds: number[] = [];
    if (principal.type === "user") {
      const member = await tx.people.getMember(account, principal.userId);
      roleIds = member?.status === "active" ? member.roleIds : [];
    } else if (principal.account === account && principal.ownRoleIds) {
      roleIds = [...principal.ownRoleIds];
    } else {
      roleIds = await tx.keys.getRoleIds(account, principal.keyId);
    }
    const roles = await existing(tx, account, roleIds);
    return { roles, grant: grantOf(roles) };
  }

  return { predefined, resolve, existing, list, access };
}

export type RoleDirectory = ReturnType<typeof createRoleDirectory>;
