/**
 * Store contract for the per-account key counts behind the listing total, on SQLite and real
 * PostgreSQL: after every kind of write, a rolled-back transaction and concurrent writes, the stored
 * counts equal a count of the rows, and a listing filtered by status alone reports them.
 */
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { KeyListQuery, NewKey } from "../src/storage/store.js";
import { conflictOf, newKey, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store key counts on %s", (kind) => {
  const db = useStore(kind);

  const list = (account: string, over: Partial<KeyListQuery> = {}) =>
    db.store.keys.list({ account, sort: "name", order: "asc", limit: 1, ...over });

  /** The stored counts, the rows' own count, and the totals of the three status listings all agree. */
  async function expectCounts(account: string, total: number, active: number) {
    const stored = await db
      .raw()
      .selectFrom("key_counts")
      .select(["total", "active"])
      .where("account", "=", account)
      .executeTakeFirst();
    const rows = await db
      .raw()
      .selectFrom("keys")
      .select((eb) => [eb.fn.countAll().as("total"), sql<number>`coalesce(sum(active), 0)`.as("active")])
      .where("account", "=", account)
      .executeTakeFirstOrThrow();
    const counted = { total: Number(rows.total), active: Number(rows.active) };
    expect(counted).toEqual({ total, active });
    expect(stored ?? { total: 0, active: 0 }).toEqual(counted);
    expect((await list(account)).total).toBe(total);
    expect((await list(account, { status: "active" })).total).toBe(active);
    expect((await list(account, { status: "inactive" })).total).toBe(total - active);
  }

  async function created(account: string, name: string, over: Partial<NewKey> = {}): Promise<NewKey> {
    const key = newKey(account, name, over);
    await db.store.keys.create(key);
    return key;
  }

  it("counts nothing in an account without keys", async () => {
    await expectCounts(await db.account(), 0, 0);
  });

  it("counts created keys, active or not, per account", async () => {
    const [a, b] = [await db.account(), await db.account()];
    await created(a, "One");
    await created(a, "Two", { active: false });
    await created(a, "Three");
    await created(b, "Other", { active: false });
    await expectCounts(a, 3, 2);
    await expectCounts(b, 1, 0);
  });

  it("moves the active count only when an update flips `active`", async () => {
    const account = await db.account();
    const key = await created(account, "Flip");
    await created(account, "Stays");
    await db.store.keys.update(account, key.appKey, { active: false, updatedAt: T0 + 1 });
    await expectCounts(account, 2, 1);
    await db.store.keys.update(account, key.appKey, { active: false, updatedAt: T0 + 2 });
    await db.store.keys.update(account, key.appKey, { name: "Renamed", updatedAt: T0 + 3 });
    await expectCounts(account, 2, 1);
    const back = await db.store.keys.update(account, key.appKey, { active: true, updatedAt: T0 + 4 });
    expect(back).toMatchObject({ name: "Renamed", active: true, updatedAt: T0 + 4 });
    await db.store.keys.update(account, key.appKey, { active: true, name: "Again", updatedAt: T0 + 5 });
    expect(await db.store.keys.getByAppKey(key.appKey)).toMatchObject({ name: "Again", updatedAt: T0 + 5 });
    await expectCounts(account, 2, 2);
    const other = await db.account();
    expect(
      await db.store.keys.update(other, key.appKey, { active: false, updatedAt: T0 + 6 }),
    ).toBeUndefined();
    await expectCounts(account, 2, 2);
    await expectCounts(other, 0, 0);
  });

  it("uncounts deleted keys, active or not, and nothing for a key the account does not own", async () => {
    const account = await db.account();
    const on = await created(account, "On");
    const off = await created(account, "Off", { active: false });
    await created(account, "Kept");
    expect(await db.store.keys.delete(await db.account(), on.appKey)).toBe(false);
    expect(await db.store.keys.delete(account, on.appKey)).toBe(true);
    await expectCounts(account, 2, 1);
    expect(await db.store.keys.delete(account, off.appKey)).toBe(true);
    expect(await db.store.keys.delete(account, off.appKey)).toBe(false);
    await expectCounts(account, 1, 1);
  });

  it("keeps the counts of a rolled-back transaction or a refused create out", async () => {
    const account = await db.account();
    const kept = await created(account, "Kept");
    const gone = await created(account, "Gone", { active: false });
    const work = db.store.transaction(async (tx) => {
      await tx.keys.create(newKey(account, "New"));
      await tx.keys.update(account, kept.appKey, { active: false, updatedAt: T0 + 1 });
      await tx.keys.delete(account, gone.appKey);
      throw new Error("rolled back");
    });
    await expect(work).rejects.toThrow("rolled back");
    await expectCounts(account, 2, 1);
    expect(await conflictOf(db.store.keys.create(newKey(account, "KEPT")))).toBe("key_name");
    await expectCounts(account, 2, 1);
  });

  it("counts every one of concurrent creates in one account", async () => {
    const account = await db.account();
    const keys = Array.from({ length: 20 }, (_, i) => newKey(account, `Key ${i}`, { active: i % 4 !== 0 }));
    await Promise.all(keys.map((k) => db.store.keys.create(k)));
    await expectCounts(account, 20, 15);
  });

  it("counts a key once when deactivations and deletes of it race", async () => {
    const account = await db.account();
    const [raced, deleted] = [await created(account, "Raced"), await created(account, "Deleted")];
    await created(account, "Bystander");
    const off = (appKey: string, i: number) =>
      db.store.keys.update(account, appKey, { active: false, updatedAt: T0 + i });
    await Promise.all(Array.from({ length: 10 }, (_, i) => off(raced.appKey, i)));
    await expectCounts(account, 3, 2);
    const racing = await Promise.all([
      db.store.keys.delete(account, deleted.appKey),
      off(deleted.appKey, 1),
      db.store.keys.delete(account, deleted.appKey),
      off(deleted.appKey, 2),
    ]);
    expect([racing[0], racing[2]].filter(Boolean)).toHaveLength(1);
    await expectCounts(account, 2, 1);
  });

  it("takes the status-only total from the stored counts and counts rows under other filters", async () => {
    const account = await db.account();
    await created(account, "Alpha");
    await created(account, "Beta", { active: false, roleIds: [1] });
    // Skewing the stored row shows which total comes from where.
    await db
      .raw()
      .updateTable("key_counts")
      .set((eb) => ({ total: eb("total", "+", 100), active: eb("active", "+", 10) }))
      .where("account", "=", account)
      .execute();
    expect((await list(account)).total).toBe(102);
    expect((await list(account, { status: "active", q: "" })).total).toBe(11);
    expect((await list(account, { status: "inactive", after: { value: "a", id: "" } })).total).toBe(91);
    expect((await list(account, { skipTotal: true })).total).toBe(-1);
    expect((await list(account, { q: "a" })).total).toBe(2);
    expect((await list(account, { roleId: 1 })).total).toBe(1);
    expect((await list(account, { tokenCreatedFrom: 0 })).total).toBe(2);
    expect((await list(account, { status: "active", tokenCreatedBefore: T0 + 1 })).total).toBe(1);
  });
});
