/**
 * Approval of external keys (docs/key-controls.md, Approval of external keys). While an account's
 * `requireExternalKeyApproval` policy is on, adding an external key (services/external-keys.ts)
 * makes a request: an addition that grants nothing (the roles asked for wait beside it, never in the
 * account's grants, and verification answers EXTERNAL_KEY_PENDING) until a different caller holding
 * EditApiKeys approves it. Approving is giving those roles: the approver must hold every resource of
 * them (checkGive), as when adding directly. The requester may never approve: not the same user,
 * not the same key, and not a key the requesting user created nor the user who created the
 * requesting key (core/approval.ts). Anyone with EditApiKeys may reject (the requester withdraws
 * so). A request not decided within 7 days expires: swept lazily when the account's external keys
 * or requests are read, and by the scheduler (notify/scheduler.ts); an expired request is never
 * approved. Every step is audited: external_key.requested, .approved, .rejected, .request_expired.
 *
 * Nothing here reads or returns a token.
 */
import type { AuditWrite } from "../audit/audit.js";
import { recordAudit } from "../audit/audit.js";
import { type Actor, SYSTEM_ACTOR } from "../core/actor.js";
import type { ExternalKey, ExternalKeyRequest } from "../core/api.js";
import {
  type ActorRef,
  isRequestExpired,
  isSelfApproval,
  REQUEST_TTL_DAYS,
  requestExpiresAt,
} from "../core/approval.js";
import { fail } from "../core/errors.js";
import { readSettings } from "../core/settings.js";
import { DAY_MS, iso } from "../core/time.js";
import { enqueueFor } from "../notify/deps.js";
import { REQUEST_EVENT, recipientsOf, requestPayload } from "../notify/messages.js";
import type { ExternalKeyRecord, KeyRecord, StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, checkGive } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

/** What the external-key service lends this file, so that one view and one audit shape serve both. */
export interface ExternalKeyParts {
  view(record: ExternalKeyRecord, names: Map<number, string>): ExternalKey;
  roleNames(tx: StoreOps, account: string): Promise<Map<number, string>>;
  additionOf(tx: StoreOps, account: string, appKey: string): Promise<ExternalKeyRecord | undefined>;
  recordBoth(tx: StoreOps, actor: Actor, here: AuditWrite, owner: AuditWrite): Promise<void>;
}

/** Requests swept per scheduler pass. */
const SWEEP_BATCH = 100;

type Pending = ExternalKeyRecord & { request: NonNullable<ExternalKeyRecord["request"]> };

const isPending = (record: ExternalKeyRecord | undefined): record is Pending => record?.request !== undefined;

export function createExternalKeyRequests(deps: ServiceDeps, roles: RoleDirectory, parts: ExternalKeyParts) {
  const { store, clock } = deps;

  /** Makes the request (inside the add's transaction, its checks passed): no grant, one audit event. */
  async function request(
    tx: StoreOps,
    actor: Actor,
    account: string,
    key: KeyRecord,
    roleIds: number[],
  ): Promise<ExternalKey> {
    const requestedBy = { type: actor.type, id: actor.id, label: actor.label };
    const now = clock.now();
    await tx.externalKeys.add(account, key.id, now, deps.newId(), { requestedBy, roleIds });
    await recordAudit(tx, deps, actor, {
      account,
      action: "external_key.requested",
      target: { type: "external_key", id: key.appKey },
      data: { owner: key.account, requested: { roles: roleIds } },
    });
    const names = await parts.roleNames(tx, account);
    // The account's alert recipients hear of it, through the outbox, in this transaction.
    const payload = requestPayload({
      appKey: key.appKey,
      owner: key.account,
      roles: roleIds.map((id) => names.get(id) ?? String(id)),
      requestedBy: { type: actor.type, label: actor.label },
      expiresAt: requestExpiresAt(now),
    });
    const recipients = recipientsOf(readSettings(await tx.settings.get(account)));
    await enqueueFor(tx, deps, { account, event: REQUEST_EVENT, payload, now }, recipients);
    const record = await parts.additionOf(tx, account, key.appKey);
    if (!record) throw new Error("the request just made is missing");
    return parts.view(record, names);
  }

  /** The pending request of `appKey` in `account`, read in `tx`. */
  async function pendingOf(tx: StoreOps, account: string, appKey: string): Promise<Pending> {
    const record = await parts.additionOf(tx, account, appKey);
    if (isPending(record)) return record;
    return fail("EXTERNAL_KEY_REQUEST_NOT_FOUND", `No request to add ${appKey} to ${account} is pending`);
  }

  /** Removes an expired request, audited as latchkey's doing. */
  async function expire(tx: StoreOps, account: string, record: Pending): Promise<void> {
    await tx.externalKeys.remove(account, record.key.id);
    await recordAudit(tx, deps, SYSTEM_ACTOR, {
      account,
      action: "external_key.request_expired",
      target: { type: "external_key", id: record.key.appKey },
      data: {
        owner: record.key.account,
        requestedBy: record.request.requestedBy,
        requested: { roles: record.request.roleIds },
        expiredAfterDays: REQUEST_TTL_DAYS,
      },
    });
  }

  /** Expires one request if it is still pending and due, in a transaction of its own. */
  async function expireIfDue(account: string, appKey: string): Promise<boolean> {
    return changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
      const record = await parts.additionOf(tx, account, appKey);
      if (!isPending(record) || !isRequestExpired(record.request.requestedAt, clock.now())) return false;
      await expire(tx, account, record);
      return true;
    });
  }

  /** Sweeps the account's due requests (lazily, before its additions are read or changed). */
  async function expireDue(account: string): Promise<void> {
    const now = clock.now();
    for (const record of await store.externalKeys.list(account)) {
      if (isPending(record) && isRequestExpired(record.request.requestedAt, now)) {
        await expireIfDue(account, record.key.appKey);
      }
    }
  }

  /** Sweeps due requests of every account (the scheduler's pass); how many expired. */
  async function expireAll(): Promise<number> {
    let expired = 0;
    for (;;) {
      const cutoff = clock.now() - REQUEST_TTL_DAYS * DAY_MS;
      const due = await store.externalKeys.listRequestedBefore(cutoff + 1, SWEEP_BATCH);
      let swept = 0;
      for (const { account, keyId } of due) {
        const record = await store.externalKeys.get(account, keyId);
        if (isPending(record) && (await expireIfDue(account, record.key.appKey))) swept++;
      }
      expired += swept;
      // A batch that swept nothing (each decided meanwhile) ends the pass rather than looping on it.
      if (due.length < SWEEP_BATCH || swept === 0) return expired;
    }
  }

  /** The user who created each key actor (from the audit log's key.created), for isSelfApproval. */
  async function creatorsOf(tx: StoreOps, actors: readonly ActorRef[]): Promise<Map<string, string>> {
    const creators = new Map<string, string>();
    for (const actor of actors) {
      if (actor.type !== "key" || creators.has(actor.id)) continue;
      const key = await tx.keys.getByAppKey(actor.id);
      if (!key) continue;
      const [created] = await tx.audit.listEvents({
        account: key.account,
        order: "asc",
        limit: 1,
        action: "key.created",
        targetId: actor.id,
      });
      if (created?.actorType === "user") creators.set(actor.id, created.actorId);
    }
    return creators;
  }

  async function selfApproval(tx: StoreOps, requester: ActorRef, approver: ActorRef): Promise<boolean> {
    const creators = await creatorsOf(tx, [requester, approver]);
    return isSelfApproval(requester, approver, (appKey) => creators.get(appKey) ?? null);
  }

  async function list(authority: Authority, account: string): Promise<ExternalKeyRequest[]> {
    await expireDue(account);
    const pending = (await store.externalKeys.list(account)).filter(isPending);
    const names = await parts.roleNames(store, account);
    const views: ExternalKeyRequest[] = [];
    for (const record of pending) {
      const { requestedAt, requestedBy, roleIds } = record.request;
      views.push({
        id: record.id,
        appKey: record.key.appKey,
        account: record.key.account,
        roles: roleIds.flatMap((id) => {
          const name = names.get(id);
          return name === undefined ? [] : [{ id, name }];
        }),
        requestedAt: iso(requestedAt),
        expiresAt: iso(requestExpiresAt(requestedAt)),
        requestedBy,
        byYou: await selfApproval(store, requestedBy, authority.actor),
        keyStatus: record.key.active ? "active" : "inactive",
      });
    }
    return views.sort((a, b) => (a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0));
  }

  /**
   * Grants the roles asked for (those that still exist), if `authority` is not the requester and
   * holds every resource of them. An expired request is removed and answered 410.
   */
  async function approve(authority: Authority, account: string, appKey: string): Promise<ExternalKey> {
    const { actor, grant } = authority;
    const target = { type: "external_key", id: appKey } as const;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        await tx.accounts.lockGrants(account);
        const record = await pendingOf(tx, account, appKey);
        const { requestedAt, requestedBy, roleIds } = record.request;
        if (isRequestExpired(requestedAt, clock.now())) {
          await expire(tx, account, record);
          return "expired" as const;
        }
        if (await selfApproval(tx, requestedBy, actor)) {
          fail(
            "SELF_APPROVAL_DENIED",
            `You made the request to add ${appKey}: someone else must approve it`,
            {
              requestedBy,
            },
          );
        }
        const given = await roles.existing(tx, account, roleIds);
        checkGive(grant, given);
        const granted = given.map((role) => role.id);
        if (!(await tx.externalKeys.approve(account, record.key.id, clock.now()))) {
          fail("EXTERNAL_KEY_REQUEST_NOT_FOUND", `No request to add ${appKey} to ${account} is pending`);
        }
        await tx.keys.setRoles(account, record.key.id, granted);
        await parts.recordBoth(
          tx,
          actor,
          {
            account,
            action: "external_key.approved",
            target,
            data: { owner: record.key.account, requestedBy, after: { roles: granted } },
          },
          {
            account: record.key.account,
            action: "key.added_elsewhere",
            target: { type: "key", id: appKey },
            data: { account },
          },
        );
        const after = await parts.additionOf(tx, account, appKey);
        if (!after) throw new Error("the approved addition is missing");
        return parts.view(after, await parts.roleNames(tx, account));
      });
    const result = await auditRefusals(
      deps,
      authority,
      account,
      { action: "external_key.approved", target },
      work,
    );
    if (result === "expired") return expiredRequest(appKey);
    return result;
  }

  /** Removes the request; anyone holding EditApiKeys may, the requester included (a withdrawal). */
  async function reject(authority: Authority, account: string, appKey: string): Promise<void> {
    const target = { type: "external_key", id: appKey } as const;
    const result = await changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
      const record = await pendingOf(tx, account, appKey);
      const { requestedAt, requestedBy, roleIds } = record.request;
      if (isRequestExpired(requestedAt, clock.now())) {
        await expire(tx, account, record);
        return "expired" as const;
      }
      await tx.externalKeys.remove(account, record.key.id);
      await recordAudit(tx, deps, authority.actor, {
        account,
        action: "external_key.rejected",
        target,
        data: { owner: record.key.account, requestedBy, requested: { roles: roleIds } },
      });
      return "rejected" as const;
    });
    if (result === "expired") expiredRequest(appKey);
  }

  function expiredRequest(appKey: string): never {
    return fail(
      "EXTERNAL_KEY_REQUEST_EXPIRED",
      `The request to add ${appKey} was made ${REQUEST_TTL_DAYS} or more days ago and has expired: add the key again`,
    );
  }

  return { request, list, approve, reject, expireDue, expireAll };
}
