/**
 * Store contract for renewal (two token slots) and share links, on SQLite and real PostgreSQL,
 * races included: two renewals, a completion racing an undo, two reveals of one link.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord, ShareLinkRecord, StoreOps } from "../src/storage/store.js";
import { StoreConflict } from "../src/storage/store.js";
import {
  auditEvent,
  conflictOf,
  DAY,
  hex,
  newKey,
  newToken,
  T0,
  useStore,
  withOwnStore,
} from "./support/store-fixtures.js";

function shareLink(key: KeyRecord, tokenId: string, createdAt = T0, ttl = DAY): ShareLinkRecord {
  return {
    idHash: `l${hex(16)}`,
    account: key.account,
    keyId: key.id,
    appKey: key.appKey,
    tokenId,
    createdAt,
    expiresAt: createdAt + ttl,
    revealedAt: null,
  };
}

describe.each(["sqlite", "postgres"] as const)("Store renewal and share links on %s", (kind) => {
  const db = useStore(kind);

  async function createdKey(): Promise<KeyRecord> {
    const k = newKey(await db.account(), "Renewed");
    await db.store.keys.create(k);
    return (await db.store.keys.getByAppKey(k.appKey)) as KeyRecord;
  }

  const reload = async (key: KeyRecord) => db.store.keys.getByAppKey(key.appKey);

  it("adds a pending token, refuses a second one, and completes by dropping the old token", async () => {
    const key = await createdKey();
    const [old] = key.tokens;
    const pending = newToken(T0 + 1000);
    await db.store.renewals.addPendingToken(key.id, pending, T0 + 1001);
    expect(await reload(key)).toEqual({
      ...key,
      tokens: [old, pending],
      tokenCreatedAt: T0 + 1000,
      updatedAt: T0 + 1001,
    });
    expect(await conflictOf(db.store.renewals.addPendingToken(key.id, newToken(T0 + 2000), T0 + 2000))).toBe(
      "renewal_pending",
    );
    expect(await db.store.renewals.dropOldToken(key.id, T0 + 3000)).toBe(true);
    const done = { ...key, tokens: [pending], tokenCreatedAt: T0 + 1000, updatedAt: T0 + 3000 };
    expect(await reload(key)).toEqual(done);
    expect(await db.store.renewals.dropOldToken(key.id, T0 + 4000)).toBe(false);
    expect(await db.store.renewals.dropPendingToken(key.id, T0 + 4000)).toBe(false);
    expect(await reload(key)).toEqual(done);
    // The old token's row is gone (its hash is free) and the next renewal can start.
    await db.store.keys.create(
      newKey(key.account, "Reuse", { token: { ...(old as typeof pending), id: `t${hex()}` } }),
    );
    const next = newToken(T0 + 5000);
    await db.store.renewals.addPendingToken(key.id, next, T0 + 5000);
    expect((await reload(key))?.tokens).toEqual([pending, next]);
  });

  it("undoes a renewal: the old token stays current and the pending token's share links go", async () => {
    const key = await createdKey();
    const [old] = key.tokens as [KeyRecord["tokens"][number]];
    const firstLink = shareLink(key, old.id);
    await db.store.shareLinks.create(firstLink, "sealed-old");
    const pending = newToken(T0 + 1000);
    await db.store.renewals.addPendingToken(key.id, pending, T0 + 1000);
    const pendingLink = shareLink(key, pending.id, T0 + 1000);
    await db.store.shareLinks.create(pendingLink, "sealed-new");
    expect(await db.store.shareLinks.latest(key.id)).toEqual(pendingLink);
    expect(await db.store.renewals.dropPendingToken(key.id, T0 + 2000)).toBe(true);
    expect(await reload(key)).toEqual({ ...key, tokens: [old], tokenCreatedAt: T0, updatedAt: T0 + 2000 });
    expect(await db.store.shareLinks.latest(key.id)).toEqual(firstLink);
    expect(await db.store.shareLinks.reveal(pendingLink.idHash, T0 + 2001)).toEqual({ status: "unknown" });
    expect(await db.store.renewals.dropPendingToken(key.id, T0 + 3000)).toBe(false);
    expect(await db.store.renewals.dropOldToken(key.id, T0 + 3000)).toBe(false);
    expect(await db.store.renewals.dropOldToken("no-such-key", T0)).toBe(false);
    expect(await db.store.renewals.dropPendingToken("no-such-key", T0)).toBe(false);
  });

  it("lets exactly one of two simultaneous renewals of a key start", async () => {
    const key = await createdKey();
    const tokens = [newToken(T0 + 1000), newToken(T0 + 2000)];
    const results = await Promise.allSettled(
      tokens.map((t) =>
        db.store.transaction(async (tx) => {
          await tx.renewals.addPendingToken(key.id, t, t.createdAt);
          await tx.audit.append(auditEvent(key.account, "key.renewal_started"));
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const lost = results.find((r) => r.status === "rejected");
    expect(lost?.reason).toEqual(new StoreConflict("renewal_pending"));
    const winner = tokens[results.findIndex((r) => r.status === "fulfilled")];
    const after = await reload(key);
    expect(after?.tokens).toEqual([key.tokens[0], winner]);
    expect(after?.tokenCreatedAt).toBe(winner?.createdAt);
    expect(await db.store.audit.list(key.account, 10)).toHaveLength(1);
  });

  it("applies exactly one of a completion and an undo racing on one key", async () => {
    for (let round = 0; round < 5; round++) {
      const key = await createdKey();
      const pending = newToken(T0 + 1000);
      await db.store.renewals.addPendingToken(key.id, pending, T0 + 1000);
      const [completed, undone] = await Promise.all([
        db.store.renewals.dropOldToken(key.id, T0 + 2000),
        db.store.renewals.dropPendingToken(key.id, T0 + 2000),
      ]);
      expect(completed).not.toBe(undone);
      const after = await reload(key);
      expect(after?.tokens).toEqual(completed ? [pending] : key.tokens);
      expect(after?.tokenCreatedAt).toBe(completed ? T0 + 1000 : T0);
    }
  });

  it("leaves the key exactly as it was when a transaction fails after a renewal step", async () => {
    const key = await createdKey();
    const fail = (step: (tx: StoreOps) => Promise<unknown>) =>
      expect(
        db.store.transaction(async (tx) => {
          await step(tx);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
    const pending = newToken(T0 + 1000);
    await fail(async (tx) => {
      await tx.renewals.addPendingToken(key.id, pending, T0 + 1000);
      await tx.shareLinks.create(shareLink(key, pending.id, T0 + 1000), "sealed");
    });
    expect(await reload(key)).toEqual(key);
    expect(await db.store.shareLinks.latest(key.id)).toBeUndefined();
    await db.store.renewals.addPendingToken(key.id, pending, T0 + 1000);
    const renewing = await reload(key);
    await fail((tx) => tx.renewals.dropOldToken(key.id, T0 + 2000));
    await fail((tx) => tx.renewals.dropPendingToken(key.id, T0 + 2000));
    expect(await reload(key)).toEqual(renewing);
  });

  it("reveals a share link once, then answers gone; expired links are gone unrevealed", async () => {
    const key = await createdKey();
    const tokenId = (key.tokens[0] as { id: string }).id;
    const link = shareLink(key, tokenId);
    await db.store.shareLinks.create(link, "sealed-1");
    expect(await db.store.shareLinks.latest(key.id)).toEqual(link);
    const revealed = { ...link, revealedAt: T0 + 10 };
    expect(await db.store.shareLinks.reveal(link.idHash, T0 + 10)).toEqual({
      status: "revealed",
      link: revealed,
      sealed: "sealed-1",
    });
    expect(await db.store.shareLinks.reveal(link.idHash, T0 + 20)).toEqual({
      status: "gone",
      link: revealed,
    });
    expect(await db.store.shareLinks.latest(key.id)).toEqual(revealed);
    const expiring = shareLink(key, tokenId, T0 + 100);
    await db.store.shareLinks.create(expiring, "sealed-2");
    expect(await db.store.shareLinks.reveal(expiring.idHash, expiring.expiresAt)).toEqual({
      status: "gone",
      link: expiring,
    });
    expect(await db.store.shareLinks.reveal(expiring.idHash, T0 + 200)).toEqual({
      status: "gone",
      link: expiring,
    });
    expect(await db.store.shareLinks.reveal(`l${hex(16)}`, T0)).toEqual({ status: "unknown" });
  });

  it("hands the token to exactly one of two simultaneous reveals", async () => {
    const key = await createdKey();
    const tokenId = (key.tokens[0] as { id: string }).id;
    for (let round = 0; round < 5; round++) {
      const link = shareLink(key, tokenId, T0 + round);
      await db.store.shareLinks.create(link, `sealed-${round}`);
      const results = await Promise.all([
        db.store.shareLinks.reveal(link.idHash, T0 + 100),
        db.store.shareLinks.reveal(link.idHash, T0 + 101),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["gone", "revealed"]);
      const winner = results.find((r) => r.status === "revealed");
      expect(winner).toMatchObject({ sealed: `sealed-${round}` });
    }
  });

  it("erases the sealed tokens of expired links only, once, whether revealed or not", async () => {
    await withOwnStore(kind, async (store, account) => {
      const k = newKey(await account(), "Purged");
      await store.keys.create(k);
      const key = (await store.keys.getByAppKey(k.appKey)) as KeyRecord;
      const links = [0, 1, 2, 3].map((i) => shareLink(key, k.token.id, T0 + i * 1000, DAY));
      for (const l of links) await store.shareLinks.create(l, "sealed");
      expect(await store.shareLinks.latest(key.id)).toEqual(links[3]);
      const [revealed, expired, edge, live] = links as [
        ShareLinkRecord,
        ShareLinkRecord,
        ShareLinkRecord,
        ShareLinkRecord,
      ];
      expect((await store.shareLinks.reveal(revealed.idHash, T0 + 1)).status).toBe("revealed");
      // At `edge.expiresAt` the edge link has expired; the revealed one holds no seal any more.
      expect(await store.shareLinks.purgeExpired(edge.expiresAt)).toBe(2);
      expect(await store.shareLinks.purgeExpired(edge.expiresAt)).toBe(0);
      expect((await store.shareLinks.reveal(expired.idHash, edge.expiresAt)).status).toBe("gone");
      expect((await store.shareLinks.reveal(live.idHash, edge.expiresAt)).status).toBe("revealed");
      expect(await store.shareLinks.purgeExpired(T0 + 10 * DAY)).toBe(0);
    });
  });
});
