/**
 * Store contract for lockGrants: a transaction that locks an account's grants before reading them
 * makes a second one wait until it ends, so read-modify-write changes of roles compose instead of
 * overwriting each other, on SQLite and real PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { newKey, useStore } from "./support/store-fixtures.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(["sqlite", "postgres"] as const)("Store lockGrants on %s", (kind) => {
  const db = useStore(kind);

  it("is false for an account that does not exist, and changes nothing it locks", async () => {
    const a = await db.account();
    expect(await db.store.transaction((tx) => tx.lockGrants("no-such-account"))).toBe(false);
    expect(await db.store.transaction((tx) => tx.lockGrants(a))).toBe(true);
    expect(await db.store.getAccount(a)).toEqual({ name: a, createdAt: expect.any(Number) });
  });

  it("makes a second transaction locking the same account wait, so both role changes land", async () => {
    const a = await db.account();
    const key = newKey(a, "Shared");
    await db.store.createKey(key);
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
        expect(await tx.lockGrants(a)).toBe(true);
        await step();
        const current = await tx.getKeyRoleIds(a, key.id);
        await tx.setKeyRoles(a, key.id, [...current, roleId]);
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
    expect(await db.store.getKeyRoleIds(a, key.id)).toEqual([10, 30]);
  });
});

describe("Store lockGrants on postgres, beyond the lock", () => {
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
      await tx.lockGrants(a);
      firstLocked();
      await held;
    });
    await locked;
    try {
      // Both finish while the first transaction still holds a's grants.
      expect(await db.store.transaction((tx) => tx.lockGrants(b))).toBe(true);
      const key = newKey(a, "Created meanwhile", { roleIds: [10] });
      await db.store.createKey(key);
      expect((await db.store.getKeyByAppKey(key.appKey))?.roleIds).toEqual([10]);
    } finally {
      release();
      await first;
    }
  });
});
