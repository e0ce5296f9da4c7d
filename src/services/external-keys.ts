import { recordAudit } from "../audit/audit.js";
import { AppError, fail } from "../core/errors.js";
import { changedRoleIds, type Grant } from "../core/permissions.js";
import { type ExternalKeyRecord, StoreConflict, type StoreOps } from "../storage/store.js";
import { publishAfter } from "../verify/changes.js";
import { type Actor, iso, type ServiceDeps } from "./deps.js";
import { checkGive, type RoleDirectory } from "./role-directory.js";

/**
 * External keys (SPEC §2.2): account B adds a key that account A generated and gives it roles in B.
 * B only ever holds a grant: the credential (tokens, status, renewal) stays A's. Nothing here reads
 * or returns a token; the store hands out hashes only and none of them leaves this file.
 */

export interface ExternalKeyView {
  id: string;
  appKey: string;
  /** The appKey again: VTEX's admin calls the column of external keys "key name". */
  keyName: string;
  /** The owner: the account that generated the key. */
  account: string;
  /** Roles the key holds in the receiving account. */
  roles: { id: number; name: string }[];
  addedDate: string;
  status: "active" | "inactive";
  lastUsedAt: string | null;
}

export function createExternalKeyService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;

  async function roleNames(tx: StoreOps, account: string): Promise<Map<number, string>> {
    return new Map((await roles.list(tx, account)).map((role) => [role.id, role.name]));
  }

  function view(record: ExternalKeyRecord, names: Map<number, string>): ExternalKeyView {
    const { key } = record;
    return {
      id: key.id,
      appKey: key.appKey,
      keyName: key.appKey,
      account: key.account,
      roles: record.roleIds.flatMap((id) => {
        const name = names.get(id);
        return name === undefined ? [] : [{ id, name }];
      }),
      addedDate: iso(record.addedAt),
      status: key.active ? "active" : "inactive",
      lastUsedAt: key.lastUsedAt === null ? null : iso(key.lastUsedAt),
    };
  }

  /** The key as added to `account`; unknown appKeys and keys never added are the same 404. */
  async function added(tx: StoreOps, account: string, appKey: string): Promise<ExternalKeyRecord> {
    const key = await tx.getKeyByAppKey(appKey);
    const record = key && key.account !== account ? await tx.getExternalKey(account, key.id) : undefined;
    return record ?? fail("EXTERNAL_KEY_NOT_ADDED", `Key ${appKey} was not added to account ${account}`);
  }

  async function list(account: string): Promise<ExternalKeyView[]> {
    const names = await roleNames(store, account);
    return (await store.listExternalKeys(account)).map((record) => view(record, names));
  }

  async function add(
    actor: Actor,
    grant: Grant,
    account: string,
    input: { appKey: string; roles?: number[] | undefined },
  ): Promise<ExternalKeyView> {
    try {
      const work = store.transaction(async (tx) => {
        const key = await tx.getKeyByAppKey(input.appKey);
        if (!key) fail("EXTERNAL_KEY_NOT_FOUND", `No key ${input.appKey} exists`);
        if (key.account === account) {
          fail("EXTERNAL_KEY_OWN", `${input.appKey} is a key of ${account}: give it roles under /keys`);
        }
        if (await tx.getExternalKey(account, key.id)) {
          fail("EXTERNAL_KEY_EXISTS", `${input.appKey} was already added to ${account}`);
        }
        const given = await roles.resolve(tx, account, input.roles ?? []);
        checkGive(grant, given);
        const roleIds = given.map((role) => role.id);
        await tx.addExternalKey(account, key.id, clock.now());
        await tx.setKeyRoles(account, key.id, roleIds);
        await recordAudit(tx, deps, actor, {
          account,
          action: "external_key.added",
          target: { type: "external_key", id: key.appKey },
          data: { owner: key.account, after: { roles: roleIds } },
        });
        return view(await added(tx, account, key.appKey), await roleNames(tx, account));
      });
      return await publishAfter(deps.changes, { kind: "key", appKey: input.appKey }, work);
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "external_key") {
        throw new AppError("EXTERNAL_KEY_EXISTS", `${input.appKey} was already added to ${account}`);
      }
      throw error;
    }
  }

  async function setRoles(
    actor: Actor,
    grant: Grant,
    account: string,
    appKey: string,
    roleIds: number[] | ((current: readonly number[]) => number[]),
  ): Promise<ExternalKeyView> {
    const work = store.transaction(async (tx) => {
      // Locked before the read: a function of the current roles then composes with a concurrent change.
      await tx.lockGrants(account);
      const before = await added(tx, account, appKey);
      const wanted = typeof roleIds === "function" ? roleIds(before.roleIds) : roleIds;
      const after = (await roles.resolve(tx, account, wanted)).map((role) => role.id);
      checkGive(grant, await roles.existing(tx, account, changedRoleIds(before.roleIds, after)));
      await tx.setKeyRoles(account, before.key.id, after);
      await recordAudit(tx, deps, actor, {
        account,
        action: "external_key.roles_set",
        target: { type: "external_key", id: appKey },
        data: { owner: before.key.account, before: { roles: before.roleIds }, after: { roles: after } },
      });
      return view({ ...before, roleIds: after }, await roleNames(tx, account));
    });
    return publishAfter(deps.changes, { kind: "key", appKey }, work);
  }

  /** Like deleting a generated key, removal needs EditApiKeys only: it takes a grant away, never gives. */
  async function remove(actor: Actor, account: string, appKey: string): Promise<void> {
    const work = store.transaction(async (tx) => {
      const before = await added(tx, account, appKey);
      await tx.removeExternalKey(account, before.key.id);
      await recordAudit(tx, deps, actor, {
        account,
        action: "external_key.removed",
        target: { type: "external_key", id: appKey },
        data: { owner: before.key.account, before: { roles: before.roleIds } },
      });
    });
    await publishAfter(deps.changes, { kind: "key", appKey }, work);
  }

  return { list, add, setRoles, remove };
}

export type ExternalKeyService = ReturnType<typeof createExternalKeyService>;
