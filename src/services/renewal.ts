/**
 * Token renewal of generated keys (SPEC §2.1): start (a second, newer token), complete (the old one
 * goes), undo (the new one goes). Both tokens authenticate while a renewal is pending.
 *
 * Secrets: the new token exists in plaintext only in the return value of `start` (or sealed in a
 * share link); the store receives its hash. Audit events record the options, never the token.
 *
 * Deactivated keys can be renewed: rotating the token of a key that was switched off because its
 * token leaked (e.g. through /v1/credentials/revoke) is exactly how it is made safe to reactivate,
 * and the new token fails authentication like the old one until the key is active again.
 */
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import type { IssuedKey, Key, ShareLinkStatus } from "../core/api.js";
import { AppError, type ErrorCode, fail } from "../core/errors.js";
import { iso } from "../core/time.js";
import { generateAppToken } from "../core/tokens.js";
import { hashToken } from "../crypto/token-hash.js";
import { type KeyRecord, type ShareLinkRecord, StoreConflict, type StoreOps } from "../storage/store.js";
import { changeWithin } from "../verify/changes.js";
import { type Authority, auditRefusals, type TargetRef } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import { createKeyService } from "./keys.js";
import type { RoleDirectory } from "./role-directory.js";
import {
  createTokenDelivery,
  type Delivered,
  type Delivery,
  isUnopened,
  shareLinkState,
} from "./share-links.js";

export type DeleteOldToken = "now" | "later";

export interface RenewalOptions {
  deleteOldToken?: DeleteOldToken | undefined;
  delivery?: Delivery | undefined;
}

export type RenewalStarted = IssuedKey;

/** Whether a renewal may start, decided from the key's state alone. */
export function refuseRenewalStart(
  key: KeyRecord,
  latestLink: ShareLinkRecord | undefined,
  now: number,
): ErrorCode | undefined {
  if (key.tokens.length > 1) return "RENEWAL_PENDING";
  if (isUnopened(latestLink, now)) return "SHARE_LINK_UNOPENED";
  return undefined;
}

/** The token dates a renewal step changes, as key views show them: the audit's before/after. */
function tokenDates(tokens: readonly { createdAt: number }[]) {
  const [current, pending] = tokens;
  return {
    creationDateToken: current ? iso(current.createdAt) : null,
    creationDateNewToken: pending ? iso(pending.createdAt) : null,
  };
}

/** SHARE_LINK_UNOPENED's detail: what the caller can do about it. */
function unopenedDetail(account: string, appKey: string, link: ShareLinkRecord): string {
  return (
    `The last share link of ${appKey} has not been opened yet (it expires at ${iso(link.expiresAt)}). ` +
    "Have its holder open it, or cancel it and renew again: " +
    `DELETE /v1/accounts/${account}/keys/${appKey}/share-link, ` +
    `\`latchkey keys cancel-share-link ${appKey}\`, or "Cancel share link" on the key's page`
  );
}

function shareLinkStatus(appKey: string, link: ShareLinkRecord | undefined, now: number): ShareLinkStatus {
  if (!link) return { appKey, shareLink: null, blocksRenewal: false };
  return {
    appKey,
    shareLink: {
      state: shareLinkState(link, now),
      createdAt: iso(link.createdAt),
      expiresAt: iso(link.expiresAt),
      revealedAt: link.revealedAt === null ? null : iso(link.revealedAt),
      cancelledAt: link.cancelledAt === undefined ? null : iso(link.cancelledAt),
    },
    blocksRenewal: isUnopened(link, now),
  };
}

export function createRenewalService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;
  const keys = createKeyService(deps, roles);
  const deliver = createTokenDelivery(deps);

  /**
   * Only the account's own generated keys (another account's key, external here or not, is 404), and
   * only when the caller covers every resource the key holds: whoever renews a key gets its new token.
   */
  async function owned(
    tx: StoreOps,
    authority: Authority,
    account: string,
    appKey: string,
  ): Promise<KeyRecord> {
    const key = await tx.keys.getByAppKey(appKey);
    if (!key || key.account !== account) fail("KEY_NOT_FOUND", `No key ${appKey} in account ${account}`);
    await keys.checkKey(tx, authority, key);
    return key;
  }

  function refusalsOf<T>(authority: Authority, account: string, appKey: string, action: string) {
    const target: TargetRef = { type: "key", id: appKey };
    return (work: () => Promise<T>) => auditRefusals(deps, authority, account, { action, target }, work);
  }

  function audit(tx: StoreOps, actor: Actor, key: KeyRecord, action: string, data?: Record<string, unknown>) {
    const target = { type: "key", id: key.appKey };
    return recordAudit(tx, deps, actor, { account: key.account, action, target, ...(data ? { data } : {}) });
  }

  /**
   * Starts a renewal; with `deleteOldToken: "now"` completes it in the same transaction. A refusal
   * or a lost race rolls everything back: the key stays exactly as it was.
   */
  async function start(
    authority: Authority,
    account: string,
    appKey: string,
    options: RenewalOptions,
  ): Promise<RenewalStarted> {
    const { actor } = authority;
    const deleteOldToken = options.deleteOldToken ?? "later";
    const delivery = options.delivery ?? "inline";
    const appToken = generateAppToken(deps.random, deps.tokenPrefix);
    try {
      const work = () =>
        changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
          const now = clock.now();
          const key = await owned(tx, authority, account, appKey);
          await keys.checkIssue(tx, authority, key);
          const latest = await tx.shareLinks.latest(key.id);
          const refusal = refuseRenewalStart(key, latest, now);
          if (refusal === "SHARE_LINK_UNOPENED" && latest)
            fail(refusal, unopenedDetail(account, appKey, latest));
          if (refusal) fail(refusal);
          const token = { id: deps.newId(), hash: hashToken(appToken), createdAt: now };
          await tx.renewals.addPendingToken(key.id, token, now);
          const target = { account, keyId: key.id, appKey, tokenId: token.id };
          const result = await deliver(tx, target, appToken, delivery);
          const [before, pending] = [tokenDates(key.tokens), tokenDates([...key.tokens, token])];
          await audit(tx, actor, key, "key.renewal_started", {
            deleteOldToken,
            delivery,
            before,
            after: pending,
          });
          if (deleteOldToken === "now") {
            await tx.renewals.dropOldToken(key.id, now);
            const after = tokenDates([token]);
            await audit(tx, actor, key, "key.renewal_completed", { deleteOldToken, before: pending, after });
          }
          return result;
        });
      const delivered = await refusalsOf<Delivered>(
        authority,
        account,
        appKey,
        "key.renewal_started",
      )(() => work());
      return { key: await keys.get(account, appKey), ...delivered };
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "renewal_pending") {
        throw new AppError("RENEWAL_PENDING");
      }
      throw error;
    }
  }

  /** Removes the old token: only the new one works from now on. */
  async function complete(authority: Authority, account: string, appKey: string): Promise<Key> {
    const { actor } = authority;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        const key = await owned(tx, authority, account, appKey);
        if (!(await tx.renewals.dropOldToken(key.id, clock.now()))) fail("NO_RENEWAL_PENDING");
        const dates = { before: tokenDates(key.tokens), after: tokenDates(key.tokens.slice(1)) };
        await audit(tx, actor, key, "key.renewal_completed", { deleteOldToken: "later", ...dates });
      });
    await refusalsOf<void>(authority, account, appKey, "key.renewal_completed")(() => work());
    return keys.get(account, appKey);
  }

  /** Discards the new token (and any share link of it) while the old one still exists. */
  async function undo(authority: Authority, account: string, appKey: string): Promise<Key> {
    const { actor } = authority;
    const work = () =>
      changeWithin(store, deps.changes, { kind: "key", appKey }, async (tx) => {
        const key = await owned(tx, authority, account, appKey);
        if (!(await tx.renewals.dropPendingToken(key.id, clock.now()))) {
          fail("NO_RENEWAL_PENDING", "Nothing to undo: no renewal is pending, or the old token is gone");
        }
        const dates = { before: tokenDates(key.tokens), after: tokenDates(key.tokens.slice(0, 1)) };
        await audit(tx, actor, key, "key.renewal_undone", dates);
      });
    await refusalsOf<void>(authority, account, appKey, "key.renewal_undone")(() => work());
    return keys.get(account, appKey);
  }

  /**
   * The key's newest share link, as far as renewal is concerned: whether it blocks the next one.
   * Read with the rights renewal needs (a weaker caller learns nothing of a stronger key's links).
   */
  async function shareLink(authority: Authority, account: string, appKey: string): Promise<ShareLinkStatus> {
    return store.transaction(async (tx) => {
      const key = await owned(tx, authority, account, appKey);
      await keys.checkIssue(tx, authority, key);
      return shareLinkStatus(appKey, await tx.shareLinks.latest(key.id), clock.now());
    });
  }

  /**
   * Cancels the key's unopened share link: its sealed token is erased (the link answers 410 from
   * then on) and it no longer blocks renewal. The token it held stays as it is (a pending renewal
   * stays pending: undo it, or complete it once the token has reached its holder another way).
   */
  async function cancelShareLink(
    authority: Authority,
    account: string,
    appKey: string,
  ): Promise<ShareLinkStatus> {
    const { actor } = authority;
    const work = () =>
      store.transaction(async (tx) => {
        const now = clock.now();
        const key = await owned(tx, authority, account, appKey);
        await keys.checkIssue(tx, authority, key);
        const latest = await tx.shareLinks.latest(key.id);
        if (!latest || !isUnopened(latest, now) || !(await tx.shareLinks.cancel(latest.idHash, now))) {
          fail(
            "NO_UNOPENED_SHARE_LINK",
            `Key ${appKey} has no unopened share link: nothing blocks its renewal`,
          );
        }
        await audit(tx, actor, key, "share_link.cancelled", {
          createdAt: iso(latest.createdAt),
          expiresAt: iso(latest.expiresAt),
        });
        return shareLinkStatus(appKey, { ...latest, cancelledAt: now }, now);
      });
    return refusalsOf<ShareLinkStatus>(authority, account, appKey, "share_link.cancelled")(() => work());
  }

  return { start, complete, undo, shareLink, cancelShareLink };
}

export type RenewalService = ReturnType<typeof createRenewalService>;
