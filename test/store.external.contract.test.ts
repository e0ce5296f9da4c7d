/**
 * Store contract for external keys (a key of one account added to another, with grants there) and
 * for what deleting a key takes with it, on SQLite and real PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../src/storage/store.js";
import { StoreConflict } from "../src/storage/store.js";
import { conflictOf, DAY, hex, newKey, newToken, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store external keys on %s", (kind) => {
  const db = useStore(kind);

  async function ownedKey(account: string, name: string, roleIds: number[] = []): Promise<KeyRecord> {
    const k = newKey(account, name, { roleIds });
    await db.store.createKey(k);
    return (await db.store.getKeyByAppKey(k.appKey)) as KeyRecord;
  }

  it("adds another account's key with roles of its own there, lists it and removes it", async () => {
    const [a, b, c] = [await db.account(), await db.account(), await db.account()];
    const erp = await ownedKey(a, "ERP", [1]);
    const crm = await ownedKey(a, "CRM");
    await db.store.addExternalKey(b, erp.id, T0 + 5);
    await db.store.addExternalKey(b, crm.id, T0 + 3);
    await db.store.addExternalKey(c, erp.id, T0 + 4);
    await db.store.setKeyRoles(b, erp.id, [7, 3]);
    expect(await conflictOf(db.store.addExternalKey(b, erp.id, T0 + 9))).toBe("external_key");
    expect(await db.store.getExternalKey(b, erp.id)).toEqual({
      account: b,
      key: erp,
      addedAt: T0 + 5,
      roleIds: [3, 7],
    });
    expect(await db.store.getExternalKey(a, erp.id)).toBeUndefined();
    expect((await db.store.listExternalKeys(b)).map((e) => [e.key.appKey, e.addedAt, e.roleIds])).toEqual([
      [crm.appKey, T0 + 3, []],
      [erp.appKey, T0 + 5, [3, 7]],
    ]);
    expect(await db.store.listExternalKeys(a)).toEqual([]);
    expect(await db.store.listExternalAccounts(erp.id)).toEqual([b, c].sort());
    // The owner controls the credential: its changes show wherever the key was added.
    await db.store.updateKey(a, crm.appKey, { active: false, updatedAt: T0 + 6 });
    expect((await db.store.getExternalKey(b, crm.id))?.key).toMatchObject({
      active: false,
      updatedAt: T0 + 6,
    });
    expect(await db.store.removeExternalKey(b, erp.id)).toBe(true);
    expect(await db.store.removeExternalKey(b, erp.id)).toBe(false);
    expect(await db.store.getExternalKey(b, erp.id)).toBeUndefined();
    expect(await db.store.getKeyRoleIds(b, erp.id)).toEqual([]);
    expect(await db.store.listExternalAccounts(erp.id)).toEqual([c]);
    // Removing an addition that does not exist never touches the owner's own grants.
    expect(await db.store.removeExternalKey(a, erp.id)).toBe(false);
    expect(await db.store.getKeyRoleIds(a, erp.id)).toEqual([1]);
  });

  it("lets exactly one of two simultaneous additions of a key win", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const key = await ownedKey(a, "Twice");
    const results = await Promise.allSettled([
      db.store.addExternalKey(b, key.id, T0),
      db.store.addExternalKey(b, key.id, T0 + 1),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")?.reason).toEqual(new StoreConflict("external_key"));
  });

  it("deletes a key with its tokens, share links, grants, external additions and alert marks", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const key = await ownedKey(a, "Doomed", [1]);
    const [old] = key.tokens as [KeyRecord["tokens"][number]];
    const pending = newToken(T0 + 1000);
    await db.store.addPendingToken(key.id, pending, T0 + 1000);
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
    await db.store.createShareLink(link, "sealed");
    await db.store.addExternalKey(b, key.id, T0);
    await db.store.setKeyRoles(b, key.id, [7]);
    expect(await db.store.markAlert(old.id, "orange", T0)).toBe(true);

    expect(await db.store.deleteKey(a, key.appKey)).toBe(true);
    expect(await db.store.latestShareLink(key.id)).toBeUndefined();
    expect(await db.store.revealShareLink(link.idHash, T0 + 2000)).toEqual({ status: "unknown" });
    expect(await db.store.listExternalKeys(b)).toEqual([]);
    expect(await db.store.listExternalAccounts(key.id)).toEqual([]);
    expect(await db.store.getKeyRoleIds(b, key.id)).toEqual([]);
    expect(await db.store.getKeyRoleIds(a, key.id)).toEqual([]);
    expect(await db.store.markAlert(old.id, "orange", T0 + 1)).toBe(true);
    // Both token hashes are free again.
    await db.store.createKey(newKey(a, "Old", { token: { ...old, id: `t${hex()}` } }));
    await db.store.createKey(newKey(a, "New", { token: { ...pending, id: `t${hex()}` } }));
  });
});
