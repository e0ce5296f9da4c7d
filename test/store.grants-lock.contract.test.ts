/**
 * Store contract for accounts.lockGrants: a transaction that locks an account's grants before
 * reading them makes a second one wait until it ends, so read-modify-write changes of roles compose
 * instead of overwriting each other, on SQLite and real PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { newKey, useStore } from "./support/store-fixtures.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(["sqlite", "postgres"] as const)("Store accounts.lockGrants on %s", (kind) => {
  const db = useStore(kind);

  it("is false for an account that does not exist, and changes nothing it locks", async () => {
    const a = await db.account();
    expect(await db.store.transaction((tx) => tx.accounts.lockGrants("no-such-account"))).toBe(false);
    expect(await db.store.transaction((tx) => tx.accounts.lockGrants(a))).toBe(true);
    expect(await db.store.accounts.get(a)).toEqual({ name: a, createdAt: expect.any(Number) });
  });

  it("makes a second transaction locking the same account wait, so both role changes land", async () => {
    const a = await db.account();
    const key = newKey(a, "Shared");
    await db.store.keys.create(key);
    const order: string[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstLocked = () => {};
    const locked = new Promise<void>((resolve) => {
      firstLocked = resolve;
    });
    const addRole = (roleId: number, step: () => Promise<void>) =>
      db.store.transaction(async (tx) => {
        expect(await tx.accounts.lockGrants(a)).toBe(true);
        await step();
        const current = await tx.keys.getRoleIds(a, key.id);
        await tx.keys.setRoles(a, key.id, [...current, roleId]);
        order.push(`added ${roleId}`);
      });
    const first = addRole(10, async () => {
      firstLocked();
      await held;
    });
    await locked;
    const second = addRole(30, async () => {
      order.push("second locked");
    });
    await pause(150);
    order.push("first released");
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first released", "added 10", "second locked", "added 30"]);
    expect(await db.store.keys.getRoleIds(a, key.id)).toEqual([10, 30]);
  });
});

describe("Store accounts.lockGrants on postgres, beyond the lock", () => {
  const db = useStore("postgres");

  it("holds up neither another account's grants nor a key created in the locked account", async () => {
    const [a, b] = [await db.account(), await db.account()];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstLocked = () => {};
    const locked = new Promise<void>((resolve) => {
      firstLocked = resolve;
    });
    const first = db.store.transaction(async (tx) => {
      await tx.accounts.lockGrants(a);
      firstLocked();
      await held;
    });
    await locked;
    try {
      // Both finish while the first transaction still holds a's grants.
      expect(await db.store.transaction((tx) => tx.accounts.lockGrants(b))).toBe(true);
      const key = newKey(a, "Created meanwhile", { roleIds: [10] });
      await db.store.keys.create(key);
      expect((await db.store.keys.getByAppKey(key.appKey))?.roleIds).toEqual([10]);
    } finally {
      release();
      await first;
    }
  });
});
