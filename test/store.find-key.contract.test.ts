/**
 * Store contract for finding a key by its id within an account (the VTEX paths name keys by id),
 * and for key lookups with text PostgreSQL cannot take (NUL), on SQLite and real PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../src/storage/store.js";
import { hex, newKey, newToken, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store keys.findById on %s", (kind) => {
  const db = useStore(kind);

  async function ownedKey(account: string, name: string, roleIds: number[] = []): Promise<KeyRecord> {
    const k = newKey(account, name, { roleIds });
    await db.store.keys.create(k);
    return (await db.store.keys.getByAppKey(k.appKey)) as KeyRecord;
  }

  it("finds the account's key by id, with its tokens and own roles, as keys.getByAppKey does", async () => {
    const a = await db.account();
    const key = await ownedKey(a, "ERP", [5, 2]);
    await ownedKey(a, "CRM");
    await db.store.renewals.addPendingToken(key.id, newToken(T0 + 10), T0 + 10);
    const found = await db.store.keys.findById(a, key.id);
    expect(found).toEqual(await db.store.keys.getByAppKey(key.appKey));
    expect(found?.roleIds).toEqual([2, 5]);
    expect(found?.tokens).toHaveLength(2);
  });

  it("does not find a key of another account, even one added there as an external key", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const key = await ownedKey(a, "Theirs", [1]);
    expect(await db.store.keys.findById(b, key.id)).toBeUndefined();
    await db.store.externalKeys.add(b, key.id, T0, `x${hex()}`);
    await db.store.keys.setRoles(b, key.id, [7]);
    expect(await db.store.keys.findById(b, key.id)).toBeUndefined();
    // Its grants in b are not its own roles.
    expect((await db.store.keys.findById(a, key.id))?.roleIds).toEqual([1]);
  });

  it("finds nothing for an unknown id, an appKey, another case or a deleted key", async () => {
    const a = await db.account();
    const key = await ownedKey(a, "Gone");
    expect(await db.store.keys.findById(a, "no-such-id")).toBeUndefined();
    expect(await db.store.keys.findById(a, key.appKey)).toBeUndefined();
    expect(await db.store.keys.findById(a, key.id.toUpperCase())).toBeUndefined();
    expect(await db.store.keys.findById(a, "")).toBeUndefined();
    await db.store.keys.delete(a, key.appKey);
    expect(await db.store.keys.findById(a, key.id)).toBeUndefined();
  });

  it("answers lookups holding NUL with nothing rather than a database error", async () => {
    const a = await db.account();
    const key = await ownedKey(a, "Plain");
    expect(await db.store.keys.findById(a, `${key.id}\u0000`)).toBeUndefined();
    expect(await db.store.keys.getByAppKey(`${key.appKey}\u0000`)).toBeUndefined();
    const page = await db.store.keys.list({
      account: a,
      q: "Pl\u0000",
      sort: "name",
      order: "asc",
      limit: 10,
    });
    expect(page).toEqual({ items: [], total: 0, totalExact: true, hasMore: false });
    // The same search without NUL still matches.
    expect(
      (await db.store.keys.list({ account: a, q: "pl", sort: "name", order: "asc", limit: 10 })).total,
    ).toBe(1);
  });
});
