import { type AuditWrite, recordAudit, recordAuditsInOrder } from "../audit/audit.js";
import { type Actor, accountActor } from "../core/actor.js";
import { type AlertLevel, alertThreshold } from "../core/alerts.js";
import type { IssuedKey, Key, KeyPage } from "../core/api.js";
import { AppError, fail } from "../core/errors.js";
import {
  type ControlFilter,
  type ExpiryFilter,
  expiryRange,
  type KeyControls,
  NO_CONTROLS,
  quotaPeriod,
  quotaStateOf,
} from "../core/key-controls.js";
import { type KeyViewContext, presentKey } from "../core/key-view.js";
import { normalizeLabel } from "../core/names.js";
import { changedRoleIds } from "../core/permissions.js";
import { readSettings } from "../core/settings.js";
import { generateAppKey, generateAppToken } from "../core/tokens.js";
import { hashToken } from "../crypto/token-hash.js";
import {
  type KeyListQuery,
  type KeyPatch,
  type KeyRecord,
  type KeySort,
  StoreConflict,
  type StoreOps,
} from "../storage/store.js";
import type { Allowances } from "../verify/allowance.js";
import { changeWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, checkCredential, checkGive, checkTarget } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import {
  auditedControls,
  type ControlsInput,
  changedControls,
  controlsGiven,
  controlsOf,
  settleControls,
} from "./key-controls.js";
import type { RoleDirectory } from "./role-directory.js";
import { createTokenDelivery, type Delivery } from "./share-links.js";

/**
 * Generated keys: create, read, list, rename, (de)activate, set roles, delete. The plaintext
 * token exists only in the return value of `create` (or sealed in its share link, share-links.ts);
 * the store receives its hash.
 */

export interface CreateKeyInput extends ControlsInput {
  name: string;
  roles?: number[] | undefined;
  delivery?: Delivery | undefined;
}

export interface KeyListParams {
  q?: string;
  status?: "active" | "inactive";
  role?: number;
  alert?: AlertLevel;
  expiry?: ExpiryFilter;
  control?: ControlFilter;
  sort: KeySort;
  order: "asc" | "desc";
  limit: number;
  cursor?: string;
}

export function createKeyService(
  deps: ServiceDeps,
  roles: RoleDirectory,
  quotas?: Pick<Allowances, "quotasLeft">,
) {
  const { store, clock } = deps;
  const deliver = createTokenDelivery(deps);

  /**
   * What every key view of one account needs: role names and the renewal period; and for the keys
   * given, their quotas as verification counts them (other instances' spends, through Redis).
   */
  function viewContext(tx: StoreOps, account: string, keys: readonly KeyRecord[] = []) {
    return keyViewContext(tx, roles, account, clock.now(), { quotas, keys });
  }

  async function alertRange(account: string, alert: AlertLevel) {
    const period = await renewalPeriodOf(store, account);
    const now = clock.now();
    const orange = alertThreshold("orange", period, now);
    const red = alertThreshold("red", period, now);
    if (alert === "none") return { tokenCreatedFrom: orange };
    if (alert === "orange") return { tokenCreatedFrom: red, tokenCreatedBefore: orange };
    return { tokenCreatedBefore: red };
  }

  function labelOrFail(raw: string): string {
    return (
      normalizeLabel(raw) ??
      fail("VALIDATION_FAILED", "name must be 1-100 characters after trimming, with no NUL character")
    );
  }

  async function owned(tx: StoreOps, account: string, appKey: string): Promise<KeyRecord> {
    const key = await tx.keys.getByAppKey(appKey);
    if (!key || key.account !== account) fail("KEY_NOT_FOUND", `No key ${appKey} in account ${account}`);
    return key;
  }

  /** Refuses `authority` acting on `key` unless it covers every resource the key holds here. */
  async function checkKey(tx: StoreOps, authority: Authority, key: KeyRecord): Promise<void> {
    checkTarget(authority.grant, await roles.existing(tx, key.account, key.roleIds), `key ${key.appKey}`);
  }

  /** Issuing or restoring the key's token: see `checkCredential`. */
  async function checkIssue(tx: StoreOps, authority: Authority, key: KeyRecord): Promise<void> {
    if (authority.grant.all) return;
    let elsewhere = false;
    for (const account of await tx.externalKeys.listAccounts(key.id)) {
      if ((await tx.keys.getRoleIds(account, key.id)).length > 0) elsewhere = true;
    }
    checkCredential(authority, key, elsewhere);
  }

  function create(authority: Authority, account: string, input: CreateKeyInput): Promise<IssuedKey> {
    return auditRefusals(deps, authority, account, { action: "key.created" }, () =>
      createKey(authority, account, input),
    );
  }

  async function createKey(authority: Authority, account: string, input: CreateKeyInput): Promise<IssuedKey> {
    const { actor, grant } = authority;
    const name = labelOrFail(input.name);
    const delivery = input.delivery ?? "inline";
    const appToken = generateAppToken(deps.random, deps.tokenPrefix);
    const now = clock.now();
    for (let attempt = 0; ; attempt++) {
      const appKey = generateAppKey(deps.random, deps.keyPrefix, account);
      try {
        const created = changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
          const given = await roles.resolve(tx, account, input.roles ?? []);
          checkGive(grant, given);
          const roleIds = given.map((role) => role.id);
          const target = { account, createdAt: now, current: NO_CONTROLS, self: false, now };
          const controls = await settleControls(tx, authority, target, input);
          const token = { id: deps.newId(), hash: hashToken(appToken), createdAt: now };
          const keyId = deps.newId();
          await tx.keys.create({
            id: keyId,
            appKey,
            account,
            name,
            active: true,
            createdAt: now,
            token,
            roleIds,
            controls,
            quotaPeriod: controls.quota === null ? 0 : quotaPeriod(controls.quota.refill, now),
          });
          await recordAudit(tx, deps, actor, {
            account,
            action: "key.created",
            target: { type: "key", id: appKey },
            data: {
              after: {
                name,
                active: true,
                roles: roleIds,
                ...auditedControls(changedControls(NO_CONTROLS, controls)),
              },
              delivery,
            },
          });
          // The link is made in this transaction: a key is never created without its way to the token.
          const link = { account, keyId, appKey, tokenId: token.id };
          const delivered = await deliver(tx, link, appToken, delivery);
          const key = presentKey(await owned(tx, account, appKey), await viewContext(tx, account));
          return { key, ...delivered };
        });
        // A cache may hold this appKey as unknown (negative caching).
        return await created;
      } catch (error) {
        if (error instanceof StoreConflict && error.constraint === "app_key" && attempt < 5) continue;
        throw mapConflict(error, name);
      }
    }
  }

  async function get(account: string, appKey: string): Promise<Key> {
    const key = await owned(store, account, appKey);
    return presentKey(key, await viewContext(store, account, [key]));
  }

  /** The account's own key by id or by appKey, as `get` shows it; undefined when it has no such key. */
  async function find(account: string, ref: { id: string } | { appKey: string }): Promise<Key | undefined> {
    const key =
      "id" in ref ? await store.keys.findById(account, ref.id) : await store.keys.getByAppKey(ref.appKey);
    if (!key || key.account !== account) return undefined;
    return presentKey(key, await viewContext(store, account, [key]));
  }

  async function list(account: string, params: KeyListParams): Promise<KeyPage> {
    const query: KeyListQuery = { account, sort: params.sort, order: params.order, limit: params.limit };
    if (params.q) query.q = params.q;
    if (params.status) query.status = params.status;
    if (params.role !== undefined) query.roleId = params.role;
    if (params.alert) Object.assign(query, await alertRange(account, params.alert));
    if (params.expiry) Object.assign(query, expiryRange(params.expiry, clock.now()));
    if (params.control) query.control = params.control;
    if (params.cursor) query.after = decodeCursor(params.cursor, params.sort, params.order);
    const page = await store.keys.list(query);
    const context = await viewContext(store, account, page.items);
    const last = page.items.at(-1);
    return {
      items: page.items.map((key) => presentKey(key, context)),
      nextCursor: page.hasMore && last ? encodeCursor(params.sort, params.order, last) : null,
      total: page.total,
      totalExact: page.totalExact,
    };
  }

  async function update(
    authority: Authority,
    account: string,
    appKey: string,
    patch: { name?: string | undefined; active?: boolean | undefined } & ControlsInput,
  ): Promise<Key> {
    const { actor } = authority;
    const name = patch.name === undefined ? undefined : labelOrFail(patch.name);
    const attempted = { action: "key.updated", target: { type: "key", id: appKey } } as const;
    try {
      const work = changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        const before = await owned(tx, account, appKey);
        await checkKey(tx, authority, before);
        const now = clock.now();
        const changes: KeyPatch = { updatedAt: now };
        if (name !== undefined && name !== before.name) changes.name = name;
        if (patch.active !== undefined && patch.active !== before.active) changes.active = patch.active;
        const current = controlsOf(before);
        let controlChanges: Partial<KeyControls> = {};
        if (Object.keys(controlsGiven(patch)).length > 0) {
          const self = authority.actor.type === "key" && authority.actor.id === before.appKey;
          const target = { account, createdAt: before.createdAt, current, self, now };
          controlChanges = changedControls(current, await settleControls(tx, authority, target, patch));
          if (Object.keys(controlChanges).length > 0) changes.controls = controlChanges;
          if (controlChanges.quota) changes.quotaPeriod = quotaPeriod(controlChanges.quota.refill, now);
        }
        // Activating, or bringing an expired key back, gives its token back its use.
        const revived =
          current.expiresAt !== null && current.expiresAt <= now && "expiresAt" in controlChanges;
        if (changes.active === true || revived) await checkIssue(tx, authority, before);
        if (changes.name === undefined && changes.active === undefined && changes.controls === undefined) {
          return presentKey(before, await viewContext(tx, account));
        }
        const after = (await tx.keys.update(account, appKey, changes)) as KeyRecord;
        const target = { type: "key", id: appKey };
        if (changes.name !== undefined) {
          const data = { before: { name: before.name }, after: { name: changes.name } };
          await recordAudit(tx, deps, actor, { account, action: "key.renamed", target, data });
        }
        if (changes.active !== undefined) {
          const action = changes.active ? "key.activated" : "key.deactivated";
          const data = { before: { active: before.active }, after: { active: changes.active } };
          await recordAudit(tx, deps, actor, { account, action, target, data });
        }
        if (changes.controls !== undefined) {
          const was = Object.fromEntries(
            Object.keys(controlChanges).map((field) => [field, current[field as keyof KeyControls]]),
          );
          const data = { before: auditedControls(was), after: auditedControls(controlChanges) };
          await recordAudit(tx, deps, actor, { account, action: "key.controls_changed", target, data });
        }
        return presentKey(after, await viewContext(tx, account));
      });
      return await auditRefusals(deps, authority, account, attempted, () => work);
    } catch (error) {
      throw mapConflict(error, name ?? "");
    }
  }

  async function setRoles(
    authority: Authority,
    account: string,
    appKey: string,
    roleIds: number[] | ((current: readonly number[]) => number[]),
  ): Promise<Key> {
    const { actor, grant } = authority;
    const attempted = { action: "key.roles_set", target: { type: "key", id: appKey } } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        // Locked before the read: a function of the current roles then composes with a concurrent change.
        await tx.accounts.lockGrants(account);
        const before = await owned(tx, account, appKey);
        await checkKey(tx, authority, before);
        const wanted = typeof roleIds === "function" ? roleIds(before.roleIds) : roleIds;
        const after = (await roles.resolve(tx, account, wanted)).map((role) => role.id);
        const changed = await roles.existing(tx, account, changedRoleIds(before.roleIds, after));
        checkGive(grant, changed);
        await tx.keys.setRoles(account, before.id, after);
        await recordAudit(tx, deps, actor, {
          account,
          action: "key.roles_set",
          target: { type: "key", id: appKey },
          data: { before: { roles: before.roleIds }, after: { roles: after } },
        });
        return presentKey({ ...before, roleIds: after }, await viewContext(tx, account));
      });
    return auditRefusals(deps, authority, account, attempted, () => work());
  }

  async function remove(authority: Authority, account: string, appKey: string): Promise<void> {
    const { actor } = authority;
    const attempted = { action: "key.deleted", target: { type: "key", id: appKey } } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        const before = await owned(tx, account, appKey);
        await checkKey(tx, authority, before);
        // Accounts that added the key lose their grant with it: each hears of it in its own log.
        const holders = await tx.externalKeys.listAccounts(before.id);
        await tx.keys.delete(account, appKey);
        const deleted: AuditWrite = {
          account,
          action: "key.deleted",
          target: { type: "key", id: appKey },
          data: { before: { name: before.name, active: before.active, roles: before.roleIds } },
        };
        const elsewhere = holders.map((holder): [Actor, AuditWrite] => [
          accountActor(account),
          {
            account: holder,
            action: "external_key.deleted_by_owner",
            target: { type: "external_key", id: appKey },
            data: { owner: account },
          },
        ]);
        await recordAuditsInOrder(tx, deps, [[actor, deleted], ...elsewhere]);
      });
    await auditRefusals(deps, authority, account, attempted, () => work());
  }

  return { create, get, find, list, update, setRoles, remove, checkKey, checkIssue };
}

export type KeyService = ReturnType<typeof createKeyService>;

/**
 * Role names and the renewal period of `account`, as every key view of it needs them; with
 * `counted`, the quotas of those keys as verification counts them (allowance.ts `quotasLeft`).
 */
export async function keyViewContext(
  tx: StoreOps,
  roles: RoleDirectory,
  account: string,
  now: number,
  counted?: { quotas: Pick<Allowances, "quotasLeft"> | undefined; keys: readonly KeyRecord[] },
): Promise<KeyViewContext> {
  const [list, renewalPeriodMonths] = await Promise.all([
    roles.list(tx, account),
    renewalPeriodOf(tx, account),
  ]);
  const context = { roleNames: new Map(list.map((role) => [role.id, role.name])), renewalPeriodMonths, now };
  const metered = counted?.keys.filter((key) => key.quota !== null) ?? [];
  if (counted?.quotas === undefined || metered.length === 0) return context;
  const quotaLeft = await counted.quotas.quotasLeft(
    metered.map((key) => ({ id: key.id, quota: quotaStateOf(key) })),
    now,
  );
  return { ...context, quotaLeft };
}

/** The account's renewal period (SPEC §2.3): 3 months unless its settings say 6. */
export async function renewalPeriodOf(tx: StoreOps, account: string): Promise<number> {
  return readSettings(await tx.settings.get(account)).renewalPeriodMonths;
}

function mapConflict(error: unknown, name: string): unknown {
  if (error instanceof StoreConflict && error.constraint === "key_name") {
    return new AppError("KEY_NAME_TAKEN", `A key named "${name}" already exists in this account`);
  }
  return error;
}

function sortValue(key: KeyRecord, sort: KeySort): string | number {
  switch (sort) {
    case "name":
      return key.name.toLowerCase();
    case "createdAt":
      return key.createdAt;
    case "tokenCreatedAt":
      return key.tokenCreatedAt;
    case "lastUsedAt":
      return key.lastUsedAt ?? 0;
  }
}

function encodeCursor(sort: KeySort, order: string, last: KeyRecord): string {
  return Buffer.from(JSON.stringify([sort, order, sortValue(last, sort), last.id])).toString("base64url");
}

function decodeCursor(cursor: string, sort: KeySort, order: string): { value: string | number; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 4 && parsed[0] === sort && parsed[1] === order) {
      const [, , value, id] = parsed as unknown[];
      const valueOk = sort === "name" ? typeof value === "string" : Number.isSafeInteger(value);
      if (valueOk && typeof id === "string") return { value: value as string | number, id };
    }
  } catch {
    // fall through to the error below
  }
  return fail("INVALID_CURSOR", "The cursor does not belong to this sort and order; start again without it");
}
