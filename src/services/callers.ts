/**
 * What a caller holds, and where: the roles and grant the guards check on every request, and the
 * caller's own view of it (GET /v1/me).
 */
import { type Grant, grantResources, type RoleView } from "../core/permissions.js";
import type { Principal, ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

/** The caller's roles in an account and the resources they grant, as GET /v1/me shows them. */
export interface AccountAccessView {
  account: string;
  roles: { id: number; name: string }[];
  resources: string[];
}

export type PrincipalView =
  | { type: "user"; id: string; email: string }
  | { type: "key"; appKey: string; account: string };

export interface CallerView {
  principal: PrincipalView;
  accounts: AccountAccessView[];
}

export function createCallerService(deps: Pick<ServiceDeps, "store" | "catalog">, roles: RoleDirectory) {
  const { store } = deps;
  const every = deps.catalog.resources.map((resource) => resource.key);

  /** The principal's roles and grant in `account`; none there (or no such account): no roles, no grant. */
  function access(principal: Principal, account: string): Promise<{ roles: RoleView[]; grant: Grant }> {
    return roles.access(store, principal, account);
  }

  async function accountAccess(principal: Principal, account: string): Promise<AccountAccessView> {
    const held = await access(principal, account);
    const roleRefs = held.roles.map((role) => ({ id: role.id, name: role.name }));
    return { account, roles: roleRefs, resources: grantResources(held.grant, every) };
  }

  /**
   * A key acts in its own account first, then in every account that added it as an external key. A
   * user acts where their membership is active, never where they are only invited.
   */
  async function accountsOf(principal: Principal): Promise<string[]> {
    if (principal.type === "user") return store.people.listUserAccounts(principal.userId);
    const external = await store.externalKeys.listAccounts(principal.keyId);
    return [principal.account, ...external.filter((account) => account !== principal.account)];
  }

  /**
   * Who is calling, and in which accounts with which resources. A user's pending invitations are
   * not among them (nor listed here at all: services/invitations.ts says why).
   */
  async function describe(principal: Principal): Promise<CallerView> {
    const accounts = await Promise.all(
      (await accountsOf(principal)).map((account) => accountAccess(principal, account)),
    );
    const who: PrincipalView =
      principal.type === "user"
        ? { type: "user", id: principal.userId, email: principal.email }
        : { type: "key", appKey: principal.appKey, account: principal.account };
    return { principal: who, accounts };
  }

  return { access, accountAccess, describe };
}

export type CallerService = ReturnType<typeof createCallerService>;
