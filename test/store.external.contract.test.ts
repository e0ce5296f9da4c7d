/**
 * Store contract for external keys (a key of one account added to another, with grants there, an id
 * of its own and its last use there) and for what deleting a key takes with it, on SQLite and real
 * PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../src/storage/store.js";
import { StoreConflict } from "../src/storage/store.js";
import { conflictOf, DAY, hex, newKey, newToken, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store external keys on %s", (kind) => {
  const db = useStore(kind);

  async function ownedKey(account: string, name: string, roleIds: number[] = []): Promise<KeyRecord> {
    const k = newKey(account, name, { roleIds });
    await db.store.keys.create(k);
    return (await db.store.keys.getByAppKey(k.appKey)) as KeyRecord;
  }

  it("adds another account's key with roles of its own there, lists it and removes it", async () => {
    const [a, b, c] = [await db.account(), await db.account(), await db.account()];
    const erp = await ownedKey(a, "ERP", [1]);
    const crm = await ownedKey(a, "CRM");
    const [erpInB, crmInB, erpInC] = [`x${hex()}`, `x${hex()}`, `x${hex()}`];
    await db.store.externalKeys.add(b, erp.id, T0 + 5, erpInB);
    await db.store.externalKeys.add(b, crm.id, T0 + 3, crmInB);
    await db.store.externalKeys.add(c, erp.id, T0 + 4, erpInC);
    await db.store.keys.setRoles(b, erp.id, [7, 3]);
    expect(await conflictOf(db.store.externalKeys.add(b, erp.id, T0 + 9, `x${hex()}`))).toBe("external_key");
    expect(await db.store.externalKeys.get(b, erp.id)).toEqual({
      id: erpInB,
      account: b,
      key: erp,
      addedAt: T0 + 5,
      roleIds: [3, 7],
      lastUsedAt: null,
    });
    expect(await db.store.externalKeys.get(a, erp.id)).toBeUndefined();
    expect((await db.store.externalKeys.list(b)).map((e) => [e.key.appKey, e.addedAt, e.roleIds])).toEqual([
      [crm.appKey, T0 + 3, []],
      [erp.appKey, T0 + 5, [3, 7]],
    ]);
    expect(await db.store.externalKeys.list(a)).toEqual([]);
    expect(await db.store.externalKeys.listAccounts(erp.id)).toEqual([b, c].sort());
    // The owner controls the credential: its changes show wherever the key was added.
    await db.store.keys.update(a, crm.appKey, { active: false, updatedAt: T0 + 6 });
    expect((await db.store.externalKeys.get(b, crm.id))?.key).toMatchObject({
      active: false,
      updatedAt: T0 + 6,
    });
    expect(await db.store.externalKeys.remove(b, erp.id)).toBe(true);
    expect(await db.store.externalKeys.remove(b, erp.id)).toBe(false);
    expect(await db.store.externalKeys.get(b, erp.id)).toBeUndefined();
    expect(await db.store.keys.getRoleIds(b, erp.id)).toEqual([]);
    expect(await db.store.externalKeys.listAccounts(erp.id)).toEqual([c]);
    // Removing an addition that does not exist never touches the owner's own grants.
    expect(await db.store.externalKeys.remove(a, erp.id)).toBe(false);
    expect(await db.store.keys.getRoleIds(a, erp.id)).toEqual([1]);
  });

  it("finds an addition by its own id in its account only, never by the key's id", async () => {
    const [a, b, c] = [await db.account(), await db.account(), await db.account()];
    const key = await ownedKey(a, "Found", [1]);
    const [inB, inC] = [`x${hex()}`, `x${hex()}`];
    await db.store.externalKeys.add(b, key.id, T0, inB);
    await db.store.externalKeys.add(c, key.id, T0 + 1, inC);
    await db.store.keys.setRoles(b, key.id, [7]);
    const found = await db.store.externalKeys.findById(b, inB);
    expect(found).toEqual(await db.store.externalKeys.get(b, key.id));
    expect(found).toMatchObject({ id: inB, account: b, roleIds: [7], addedAt: T0 });
    expect((await db.store.externalKeys.findById(c, inC))?.roleIds).toEqual([]);
    // Another account's addition, the key's own id, near misses and NUL find nothing.
    for (const [account, id] of [
      [c, inB],
      [a, inB],
      [b, inC],
      [b, key.id],
      [b, inB.toUpperCase()],
      [b, ` ${inB}`],
      [b, `${inB}\u0000`],
    ] as const) {
      expect(await db.store.externalKeys.findById(account, id), `${account} ${id}`).toBeUndefined();
    }
    expect(await db.store.externalKeys.get(b, `${key.id}\u0000`)).toBeUndefined();
    // The id names one addition: reusing it fails (not as the "already added" conflict).
    const other = await ownedKey(a, "Other");
    const reused = await db.store.externalKeys.add(c, other.id, T0, inB).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(reused).toBeInstanceOf(Error);
    expect(reused).not.toBeInstanceOf(StoreConflict);
    expect(await db.store.externalKeys.remove(b, key.id)).toBe(true);
    expect(await db.store.externalKeys.findById(b, inB)).toBeUndefined();
  });

  it("keeps an addition's last use per account, apart from the key's own last use", async () => {
    const [a, b, c] = [await db.account(), await db.account(), await db.account()];
    const key = await ownedKey(a, "Used");
    const spare = await ownedKey(a, "Spare");
    await db.store.externalKeys.add(b, key.id, T0, `x${hex()}`);
    await db.store.externalKeys.add(c, key.id, T0, `x${hex()}`);
    const lastUsedIn = async (account: string) =>
      (await db.store.externalKeys.get(account, key.id))?.lastUsedAt;
    // Used in its own account, and in one that never added it: no addition moves.
    await db.store.usage.record({
      counts: [],
      lastUsed: [{ keyId: key.id, at: T0 + 10 }],
      resources: [],
      accounts: [
        { keyId: key.id, account: a, at: T0 + 10 },
        { keyId: key.id, account: `acct-${hex()}`, at: T0 + 10 },
      ],
    });
    expect((await db.store.keys.getByAppKey(key.appKey))?.lastUsedAt).toBe(T0 + 10);
    expect([await lastUsedIn(b), await lastUsedIn(c)]).toEqual([null, null]);
    // Used in b: only b's addition moves, forward only; a batch without the list changes nothing.
    await db.store.usage.record({
      counts: [],
      lastUsed: [],
      resources: [],
      accounts: [
        { keyId: key.id, account: b, at: T0 + 20 },
        { keyId: spare.id, account: b, at: T0 + 20 },
      ],
    });
    await db.store.usage.record({
      counts: [],
      lastUsed: [],
      resources: [],
      accounts: [{ keyId: key.id, account: b, at: T0 + 15 }],
    });
    await db.store.usage.record({ counts: [], lastUsed: [], resources: [] });
    expect([await lastUsedIn(b), await lastUsedIn(c)]).toEqual([T0 + 20, null]);
    expect((await db.store.externalKeys.list(b)).map((e) => e.lastUsedAt)).toEqual([T0 + 20]);
    expect((await db.store.keys.getByAppKey(key.appKey))?.lastUsedAt).toBe(T0 + 10);
    // Removed and added again: the new addition starts unused.
    await db.store.externalKeys.remove(b, key.id);
    await db.store.externalKeys.add(b, key.id, T0 + 30, `x${hex()}`);
    expect(await lastUsedIn(b)).toBeNull();
  });

  it("lets exactly one of two simultaneous additions of a key win", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const key = await ownedKey(a, "Twice");
    const results = await Promise.allSettled([
      db.store.externalKeys.add(b, key.id, T0, `x${hex()}`),
      db.store.externalKeys.add(b, key.id, T0 + 1, `x${hex()}`),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")?.reason).toEqual(new StoreConflict("external_key"));
  });

  it("deletes a key with its tokens, share links, grants, external additions and alert marks", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const key = await ownedKey(a, "Doomed", [1]);
    const [old] = key.tokens as [KeyRecord["tokens"][number]];
    const pending = newToken(T0 + 1000);
    await db.store.renewals.addPendingToken(key.id, pending, T0 + 1000);
    const link = {
      idHash: `l${hex(16)}`,
      account: a,
      keyId: key.id,
      appKey: key.appKey,
      tokenId: pending.id,
      createdAt: T0 + 1000,
      expiresAt: T0 + DAY,
      revealedAt: null,
    };
    await db.store.shareLinks.create(link, "sealed");
    await db.store.externalKeys.add(b, key.id, T0, `x${hex()}`);
    await db.store.keys.setRoles(b, key.id, [7]);
    expect(await db.store.renewals.markAlert(old.id, "orange", T0)).toBe(true);

    expect(await db.store.keys.delete(a, key.appKey)).toBe(true);
    expect(await db.store.shareLinks.latest(key.id)).toBeUndefined();
    expect(await db.store.shareLinks.reveal(link.idHash, T0 + 2000)).toEqual({ status: "unknown" });
    expect(await db.store.externalKeys.list(b)).toEqual([]);
    expect(await db.store.externalKeys.listAccounts(key.id)).toEqual([]);
    expect(await db.store.keys.getRoleIds(b, key.id)).toEqual([]);
    expect(await db.store.keys.getRoleIds(a, key.id)).toEqual([]);
    expect(await db.store.renewals.markAlert(old.id, "orange", T0 + 1)).toBe(true);
    // Both token hashes are free again.
    await db.store.keys.create(newKey(a, "Old", { token: { ...old, id: `t${hex()}` } }));
    await db.store.keys.create(newKey(a, "New", { token: { ...pending, id: `t${hex()}` } }));
  });
  it("keeps a request apart from the grants until one approval wins; lists requests by age", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const erp = await ownedKey(a, "ERP requested", [1]);
    const crm = await ownedKey(a, "CRM requested");
    const requestedBy = { type: "key" as const, id: "appkey-x-REQSTR", label: "appkey-x-REQSTR" };
    await db.store.externalKeys.add(b, erp.id, T0, `x${hex()}`, { requestedBy, roleIds: [7, 3] });
    await db.store.externalKeys.add(b, crm.id, T0 + DAY, `x${hex()}`, { requestedBy, roleIds: [] });
    const pending = await db.store.externalKeys.get(b, erp.id);
    expect(pending).toMatchObject({
      addedAt: T0,
      roleIds: [],
      request: { requestedAt: T0, requestedBy, roleIds: [7, 3] },
    });
    expect(await db.store.keys.getRoleIds(b, erp.id)).toEqual([]);
    expect(await db.store.externalKeys.listAccounts(erp.id)).toEqual([b]);
    expect(await db.store.externalKeys.listRequestedBefore(T0 + DAY + 1, 10)).toEqual([
      { account: b, keyId: erp.id },
      { account: b, keyId: crm.id },
    ]);
    expect(await db.store.externalKeys.listRequestedBefore(T0 + DAY, 10)).toEqual([
      { account: b, keyId: erp.id },
    ]);
    const [first, second] = await Promise.all([
      db.store.transaction((tx) => tx.externalKeys.approve(b, erp.id, T0 + 5)),
      db.store.transaction((tx) => tx.externalKeys.approve(b, erp.id, T0 + 6)),
    ]);
    expect([first, second].sort()).toEqual([false, true]);
    const approved = await db.store.externalKeys.get(b, erp.id);
    expect(approved?.request).toBeUndefined();
    expect(approved?.addedAt === T0 + 5 || approved?.addedAt === T0 + 6).toBe(true);
    expect(await db.store.externalKeys.approve(b, erp.id, T0 + 7)).toBe(false);
    expect(await db.store.externalKeys.listRequestedBefore(T0 + 2 * DAY, 10)).toEqual([
      { account: b, keyId: crm.id },
    ]);
    expect(await db.store.externalKeys.remove(b, crm.id)).toBe(true);
    expect(await db.store.externalKeys.listRequestedBefore(T0 + 2 * DAY, 10)).toEqual([]);
  });
});
