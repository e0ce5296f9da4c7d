/**
 * What a caller holds, and where: the roles and grant the guards check on every request, and the
 * caller's own view of it (GET /v1/me).
 */
import type { Key } from "../core/api.js";
import { fail } from "../core/errors.js";
import { presentKey } from "../core/key-view.js";
import { type Grant, grantResources, type RoleView } from "../core/permissions.js";
import type { TokenSlot } from "../core/verification.js";
import type { Allowances } from "../verify/allowance.js";
import type { Principal, ServiceDeps } from "./deps.js";
import { keyViewContext } from "./keys.js";
import type { RoleDirectory } from "./role-directory.js";

/** The caller's roles in an account and the resources they grant, as GET /v1/me shows them. */
export interface AccountAccessView {
  account: string;
  roles: { id: number; name: string }[];
  resources: string[];
}

export type PrincipalView =
  | { type: "user"; id: string; email: string }
  | { type: "key"; appKey: string; account: string; token: TokenSlot; key: Key };

export interface CallerView {
  principal: PrincipalView;
  accounts: AccountAccessView[];
}

export function createCallerService(
  deps: Pick<ServiceDeps, "store" | "catalog" | "clock">,
  roles: RoleDirectory,
  quotas?: Pick<Allowances, "quotasLeft">,
) {
  const { store, clock } = deps;
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
        : {
            type: "key",
            appKey: principal.appKey,
            account: principal.account,
            token: principal.token ?? "current",
            key: await ownKey(principal.appKey, principal.account),
          };
    return { principal: who, accounts };
  }

  /**
   * A key's own view, read with no resource (not even ViewApiKeys): the same view GET …/keys/{appKey}
   * gives, so an integrator sees its token dates, alert and pending renewal. Tokens are not in it.
   */
  async function ownKey(appKey: string, account: string): Promise<Key> {
    const record = await store.keys.getByAppKey(appKey);
    // Deleted since it authenticated a moment ago: as if the credentials had failed.
    if (!record) fail("UNAUTHENTICATED", "The key no longer exists");
    const counted = { quotas, keys: [record] };
    return presentKey(record, await keyViewContext(store, roles, account, clock.now(), counted));
  }

  return { access, accountAccess, describe };
}

export type CallerService = ReturnType<typeof createCallerService>;
