import { type AuditWrite, recordAudit, recordAuditsInOrder } from "../audit/audit.js";
import { type Actor, accountActor } from "../core/actor.js";
import type { ExternalKey } from "../core/api.js";
import { AppError, fail } from "../core/errors.js";
import { changedRoleIds } from "../core/permissions.js";
import { readSettings } from "../core/settings.js";
import { iso } from "../core/time.js";
import { isAppKeyShaped } from "../core/tokens.js";
import { type ExternalKeyRecord, StoreConflict, type StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, checkGive, checkTarget } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import { createExternalKeyRequests } from "./external-key-requests.js";
import type { RoleDirectory } from "./role-directory.js";

/**
 * External keys (SPEC §2.2): account B adds a key that account A generated and gives it roles in B.
 * B only ever holds a grant: the credential (tokens, status, renewal) stays A's. Nothing here reads
 * or returns a token; the store hands out hashes only and none of them leaves this file.
 *
 * Each account sees only its own side. B sees the appKey, the owner's name, whether the key is
 * active, and its own facts: the addition's id (never A's internal key id), its roles in B and the
 * key's last use in B (never its use in A or elsewhere). A's audit log records that its key was
 * added to or removed from B, naming B and nothing of B's grant.
 *
 * Existence: a caller refused anyway (validation, unknown role, escalation) is refused before the
 * appKey is looked up, and an appKey not of latchkey's shape is unknown without a lookup. A caller
 * allowed to add learns whether the appKey exists; that is the feature (docs: README, External keys).
 */

export function createExternalKeyService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;
  const requests = createExternalKeyRequests(deps, roles, {
    view: (record, names) => view(record, names),
    roleNames: (tx, account) => roleNames(tx, account),
    additionOf: (tx, account, appKey) => additionOf(tx, account, appKey),
    recordBoth: (tx, actor, here, owner) => recordBoth(tx, actor, here, owner),
  });

  async function roleNames(tx: StoreOps, account: string): Promise<Map<number, string>> {
    return new Map((await roles.list(tx, account)).map((role) => [role.id, role.name]));
  }

  function view(record: ExternalKeyRecord, names: Map<number, string>): ExternalKey {
    const { key } = record;
    return {
      id: record.id,
      appKey: key.appKey,
      keyName: key.appKey,
      account: key.account,
      roles: record.roleIds.flatMap((id) => {
        const name = names.get(id);
        return name === undefined ? [] : [{ id, name }];
      }),
      addedDate: iso(record.addedAt),
      // A request grants nothing whatever the owner does with the key: pending says so first.
      status: record.request ? "pending" : key.active ? "active" : "inactive",
      lastUsedAt: record.lastUsedAt === null ? null : iso(record.lastUsedAt),
    };
  }

  /** The addition of `appKey` to `account`, if any; an appKey not of latchkey's shape is not looked up. */
  async function additionOf(tx: StoreOps, account: string, appKey: string) {
    if (!isAppKeyShaped(appKey)) return undefined;
    const key = await tx.keys.getByAppKey(appKey);
    return key && key.account !== account ? await tx.externalKeys.get(account, key.id) : undefined;
  }

  /** The key as added to `account`; unknown appKeys and keys never added are the same 404. */
  async function added(tx: StoreOps, account: string, appKey: string): Promise<ExternalKeyRecord> {
    const record = await additionOf(tx, account, appKey);
    return record ?? fail("EXTERNAL_KEY_NOT_ADDED", `Key ${appKey} was not added to account ${account}`);
  }

  /** As `added`, refusing an addition that is still a request: it has no grant to change. */
  async function approved(tx: StoreOps, account: string, appKey: string): Promise<ExternalKeyRecord> {
    const record = await added(tx, account, appKey);
    if (record.request) {
      fail(
        "EXTERNAL_KEY_REQUEST_PENDING",
        `The addition of ${appKey} to ${account} awaits approval: approve or reject the request first`,
      );
    }
    return record;
  }

  /** The change in the adding account's log and the fact in the owner's, in one transaction. */
  function recordBoth(tx: StoreOps, actor: Actor, here: AuditWrite, owner: AuditWrite) {
    return recordAuditsInOrder(tx, deps, [
      [actor, here],
      [accountActor(here.account), owner],
    ]);
  }

  async function list(account: string): Promise<ExternalKey[]> {
    await requests.expireDue(account);
    const names = await roleNames(store, account);
    return (await store.externalKeys.list(account)).map((record) => view(record, names));
  }

  /** By the addition's id or by appKey (VTEX paths); undefined when not added to `account`. */
  async function find(
    account: string,
    ref: { id: string } | { appKey: string },
  ): Promise<ExternalKey | undefined> {
    const record =
      "id" in ref
        ? await store.externalKeys.findById(account, ref.id)
        : await additionOf(store, account, ref.appKey);
    return record && view(record, await roleNames(store, account));
  }

  /** Refuses `authority` acting on the grant unless it covers every resource the grant holds here. */
  async function checkGrant(tx: StoreOps, authority: Authority, account: string, record: ExternalKeyRecord) {
    const held = await roles.existing(tx, account, record.roleIds);
    checkTarget(authority.grant, held, `external key ${record.key.appKey}`);
  }

  async function add(
    authority: Authority,
    account: string,
    input: { appKey: string; roles?: number[] | undefined },
  ): Promise<ExternalKey> {
    const { actor, grant } = authority;
    // A request of the same key past its time is gone before this one is made.
    await requests.expireDue(account);
    try {
      const work = () =>
        changeWithin(store, deps.changes, { kind: "key", appKey: input.appKey }, async (tx) => {
          // The roles are checked before the appKey is looked up: a caller refused anyway learns
          // nothing about which appKeys exist.
          const given = await roles.resolve(tx, account, input.roles ?? []);
          checkGive(grant, given);
          // Not of an appKey's shape: unknown, with the same answer as a well-formed unknown one.
          const key = isAppKeyShaped(input.appKey) ? await tx.keys.getByAppKey(input.appKey) : undefined;
          if (!key) fail("EXTERNAL_KEY_NOT_FOUND", `No key ${input.appKey} exists`);
          if (key.account === account) {
            fail("EXTERNAL_KEY_OWN", `${input.appKey} is a key of ${account}: give it roles under /keys`);
          }
          const existing = await tx.externalKeys.get(account, key.id);
          if (existing?.request) {
            fail("EXTERNAL_KEY_REQUEST_PENDING", `A request to add ${input.appKey} to ${account} is pending`);
          }
          if (existing) fail("EXTERNAL_KEY_EXISTS", `${input.appKey} was already added to ${account}`);
          const roleIds = given.map((role) => role.id);
          if (readSettings(await tx.settings.get(account)).requireExternalKeyApproval) {
            return requests.request(tx, actor, account, key, roleIds);
          }
          await tx.externalKeys.add(account, key.id, clock.now(), deps.newId());
          await tx.keys.setRoles(account, key.id, roleIds);
          await recordBoth(
            tx,
            actor,
            {
              account,
              action: "external_key.added",
              target: { type: "external_key", id: key.appKey },
              data: { owner: key.account, after: { roles: roleIds } },
            },
            {
              account: key.account,
              action: "key.added_elsewhere",
              target: { type: "key", id: key.appKey },
              data: { account },
            },
          );
          return view(await added(tx, account, key.appKey), await roleNames(tx, account));
        });
      return await auditRefusals(deps, authority, account, { action: "external_key.added" }, () => work());
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "external_key") {
        throw new AppError("EXTERNAL_KEY_EXISTS", `${input.appKey} was already added to ${account}`);
      }
      throw error;
    }
  }

  async function setRoles(
    authority: Authority,
    account: string,
    appKey: string,
    roleIds: number[] | ((current: readonly number[]) => number[]),
  ): Promise<ExternalKey> {
    const { actor, grant } = authority;
    const target = { type: "external_key", id: appKey } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        // Locked before the read: a function of the current roles then composes with a concurrent change.
        await tx.accounts.lockGrants(account);
        const before = await approved(tx, account, appKey);
        await checkGrant(tx, authority, account, before);
        const wanted = typeof roleIds === "function" ? roleIds(before.roleIds) : roleIds;
        const after = (await roles.resolve(tx, account, wanted)).map((role) => role.id);
        checkGive(grant, await roles.existing(tx, account, changedRoleIds(before.roleIds, after)));
        await tx.keys.setRoles(account, before.key.id, after);
        await recordAudit(tx, deps, actor, {
          account,
          action: "external_key.roles_set",
          target: { type: "external_key", id: appKey },
          data: { owner: before.key.account, before: { roles: before.roleIds }, after: { roles: after } },
        });
        return view({ ...before, roleIds: after }, await roleNames(tx, account));
      });
    return auditRefusals(deps, authority, account, { action: "external_key.roles_set", target }, () =>
      work(),
    );
  }

  /** Like deleting a generated key: EditApiKeys, and covering every resource the grant holds here. */
  async function remove(authority: Authority, account: string, appKey: string): Promise<void> {
    const { actor } = authority;
    const target = { type: "external_key", id: appKey } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        const before = await approved(tx, account, appKey);
        await checkGrant(tx, authority, account, before);
        await tx.externalKeys.remove(account, before.key.id);
        await recordBoth(
          tx,
          actor,
          {
            account,
            action: "external_key.removed",
            target: { type: "external_key", id: appKey },
            data: { owner: before.key.account, before: { roles: before.roleIds } },
          },
          {
            account: before.key.account,
            action: "key.removed_elsewhere",
            target: { type: "key", id: appKey },
            data: { account },
          },
        );
      });
    await auditRefusals(deps, authority, account, { action: "external_key.removed", target }, () => work());
  }

  return {
    list,
    find,
    add,
    setRoles,
    remove,
    requests: requests.list,
    approve: requests.approve,
    reject: requests.reject,
    expireRequests: requests.expireAll,
  };
}

export type ExternalKeyService = ReturnType<typeof createExternalKeyService>;
