/**
 * Several instances flush usage into one PostgreSQL database at the same moment, for the same keys.
 * Each collected its rows in its own order; the store must take row locks in one order so that the
 * flushes wait for each other instead of one being chosen as a deadlock victim.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../src/storage/open.js";
import type { Store, UsageBatch } from "../src/storage/store.js";
import { inLockOrder } from "../src/storage/usage-order.js";
import { newKey, T0 } from "./support/store-fixtures.js";
import { openTestStore, TEST_PG_URL, type TestStore } from "./support/stores.js";

const KEYS = 300;
const ROUNDS = 12;
const DAY_NUMBER = 19_700;

function batchFor(keyIds: readonly string[], account: string, at: number): UsageBatch {
  return {
    counts: keyIds.map((keyId) => ({ keyId, day: DAY_NUMBER, ok: 1, denied: 0 })),
    lastUsed: keyIds.map((keyId) => ({ keyId, at })),
    resources: keyIds.map((keyId) => ({ keyId, account, resource: "License Manager/Keys/View", at })),
    accounts: [],
  };
}

describe("usage writes from several instances at once (postgres)", () => {
  let first: TestStore;
  let second: Store;
  let account: string;
  const keyIds: string[] = [];

  beforeAll(async () => {
    first = await openTestStore("postgres");
    const schema = (
      await first
        .raw()
        .selectNoFrom((eb) => eb.fn<string>("current_schema").as("s"))
        .executeTakeFirstOrThrow()
    ).s;
    second = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
    account = `acct-usage-${Date.now()}`;
    await first.store.accounts.create({ name: account, createdAt: T0 });
    for (let i = 0; i < KEYS; i++) {
      const key = newKey(account, `key ${i}`);
      await first.store.keys.create(key);
      keyIds.push(key.id);
    }
  }, 60_000);

  afterAll(async () => {
    await second?.close();
    await first?.cleanup();
  });

  it("never deadlocks when two flushes hold the same keys in opposite orders, and loses no count", async () => {
    const forward = [...keyIds];
    const backward = [...keyIds].reverse();
    for (let round = 0; round < ROUNDS; round++) {
      const at = T0 + round + 1;
      await Promise.all([
        first.store.usage.record(batchFor(forward, account, at)),
        second.usage.record(batchFor(backward, account, at)),
        first.store.usage.record(batchFor(backward, account, at)),
        second.usage.record(batchFor(forward, account, at)),
      ]);
    }
    for (const keyId of [keyIds[0], keyIds[KEYS - 1]] as string[]) {
      const days = await first.store.usage.get(keyId, DAY_NUMBER, DAY_NUMBER);
      expect(days).toEqual([{ day: DAY_NUMBER, ok: 4 * ROUNDS, denied: 0 }]);
    }
  }, 120_000);

  it("orders every list by key, then by the rest of the row's identity", () => {
    const ordered = inLockOrder({
      counts: [
        { keyId: "b", day: 2, ok: 1, denied: 0 },
        { keyId: "a", day: 3, ok: 1, denied: 0 },
        { keyId: "b", day: 1, ok: 1, denied: 0 },
      ],
      lastUsed: [
        { keyId: "z", at: 1 },
        { keyId: "c", at: 2 },
      ],
      resources: [
        { keyId: "a", account: "y", resource: "r2", at: 1 },
        { keyId: "a", account: "x", resource: "r2", at: 1 },
        { keyId: "a", account: "x", resource: "r1", at: 1 },
      ],
      accounts: [
        { keyId: "b", account: "y", at: 1 },
        { keyId: "b", account: "x", at: 1 },
      ],
      tokens: [
        { tokenId: "t2", at: 1 },
        { tokenId: "t1", at: 2 },
      ],
    });
    expect(ordered.counts.map((r) => `${r.keyId}${r.day}`)).toEqual(["a3", "b1", "b2"]);
    expect(ordered.lastUsed.map((r) => r.keyId)).toEqual(["c", "z"]);
    expect(ordered.resources.map((r) => `${r.account}${r.resource}`)).toEqual(["xr1", "xr2", "yr2"]);
    expect(ordered.accounts?.map((r) => r.account)).toEqual(["x", "y"]);
    expect(ordered.tokens?.map((r) => r.tokenId)).toEqual(["t1", "t2"]);
  });
});
