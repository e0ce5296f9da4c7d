/**
 * Store contract for settings, renewal alerts and policies, and the notification outbox, on SQLite
 * and real PostgreSQL. The outbox acts on the whole installation, so its tests use stores of their
 * own.
 */
import { describe, expect, it } from "vitest";
import type { KeyListQuery, NotificationInput, Store } from "../src/storage/store.js";
import { DAY, hex, newKey, newToken, T0, useStore, withOwnStore } from "./support/store-fixtures.js";

function notification(account: string, createdAt: number, over: Partial<NotificationInput> = {}) {
  return {
    id: `n${hex(8)}`,
    account,
    channel: "email",
    target: "ops@example.com",
    event: "key.alert.orange",
    payload: { appKey: `appkey-${account}-ABCDEF`, level: "orange", at: createdAt },
    createdAt,
    ...over,
  } satisfies NotificationInput;
}

describe.each(["sqlite", "postgres"] as const)("Store alerts and outbox on %s", (kind) => {
  const db = useStore(kind);

  it("keeps one settings document per account, replaced whole", async () => {
    const [a, b] = [await db.account(), await db.account()];
    expect(await db.store.settings.get(a)).toBeUndefined();
    const first = { renewalPeriodMonths: 6, alerts: { emails: ["ops@example.com"], webhooks: [] } };
    await db.store.settings.put(a, first, T0);
    expect(await db.store.settings.get(a)).toEqual(first);
    await db.store.settings.put(a, { renewalPeriodMonths: 3 }, T0 + 1);
    expect(await db.store.settings.get(a)).toEqual({ renewalPeriodMonths: 3 });
    expect(await db.store.settings.get(b)).toBeUndefined();
  });

  it("counts a revision per settings write, one more each time, whatever the time", async () => {
    const a = await db.account();
    expect(await db.store.settings.getStored(a)).toBeUndefined();
    expect(await db.store.settings.put(a, { renewalPeriodMonths: 6 }, T0)).toBe(1);
    expect(await db.store.settings.put(a, { renewalPeriodMonths: 6 }, T0)).toBe(2);
    expect(await db.store.settings.getStored(a)).toEqual({
      settings: { renewalPeriodMonths: 6 },
      revision: 2,
      updatedAt: T0,
    });
  });

  it("writes settings conditionally: only over the version read, one winner among racers", async () => {
    const a = await db.account();
    const doc = (n: number) => ({ renewalPeriodMonths: 3, n });
    // None stored yet: of simultaneous first writers, one inserts.
    const first = await Promise.all(
      [1, 2, 3].map((n) => db.store.settings.putIfUnchanged(a, doc(n), T0, undefined)),
    );
    expect(first.filter((revision) => revision !== undefined)).toEqual([1]);
    const stored = await db.store.settings.getStored(a);
    expect(stored?.revision).toBe(1);
    expect(await db.store.settings.putIfUnchanged(a, doc(9), T0, undefined)).toBeUndefined();

    // Over a stored version: one of the racers in plain calls, and one of them in transactions.
    const version = { revision: 1, updatedAt: T0 };
    const raced = await Promise.all(
      [4, 5, 6].map((n) => db.store.settings.putIfUnchanged(a, doc(n), T0, version)),
    );
    expect(raced.filter((revision) => revision !== undefined)).toEqual([2]);
    const inTx = await Promise.all(
      [7, 8].map((n) =>
        db.store.transaction((tx) =>
          tx.settings.putIfUnchanged(a, doc(n), T0 + 1, { revision: 2, updatedAt: T0 }),
        ),
      ),
    );
    expect(inTx.filter((revision) => revision !== undefined)).toEqual([3]);
    const winner = await db.store.settings.getStored(a);
    expect(winner).toMatchObject({ revision: 3, updatedAt: T0 + 1 });
    expect([7, 8]).toContain(winner?.settings.n);

    // A stale revision, or the right revision with another time, writes nothing.
    expect(await db.store.settings.putIfUnchanged(a, doc(10), T0 + 2, version)).toBeUndefined();
    expect(
      await db.store.settings.putIfUnchanged(a, doc(10), T0 + 2, { revision: 3, updatedAt: T0 }),
    ).toBeUndefined();
    expect(await db.store.settings.getStored(a)).toEqual(winner);
    expect(
      await db.store.settings.putIfUnchanged(a, doc(11), T0 + 2, { revision: 3, updatedAt: T0 + 1 }),
    ).toBe(4);
    expect((await db.store.settings.get(a))?.n).toBe(11);
  });

  it("lists every account, sorted", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const all = await db.store.accounts.list();
    expect(all).toEqual(expect.arrayContaining([a, b]));
    expect(all).toEqual([...all].sort());
  });

  it("marks an alert once per token and level, even from simultaneous schedulers", async () => {
    const [token, other] = [`t${hex(8)}`, `t${hex(8)}`];
    expect(await db.store.renewals.markAlert(token, "orange", T0)).toBe(true);
    expect(await db.store.renewals.markAlert(token, "orange", T0 + 1)).toBe(false);
    expect(await db.store.renewals.markAlert(token, "red", T0 + 2)).toBe(true);
    expect(await db.store.renewals.markAlert(other, "orange", T0)).toBe(true);
    const raced = await Promise.all([1, 2, 3].map((i) => db.store.renewals.markAlert(other, "red", T0 + i)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    const inTx = await Promise.all(
      [1, 2].map(() => db.store.transaction((tx) => tx.renewals.markAlert(token, "policy@1", T0))),
    );
    expect(inTx.filter(Boolean)).toHaveLength(1);
  });

  it("lists active keys of the account created before the cut-off, by id", async () => {
    const [a, b] = [await db.account(), await db.account()];
    const keys = [0, 1, 2, 3].map((i) => newKey(a, `k${i}`, { createdAt: T0 + i * DAY }));
    for (const k of keys) await db.store.keys.create(k);
    await db.store.keys.update(a, (keys[1] as (typeof keys)[number]).appKey, {
      active: false,
      updatedAt: T0,
    });
    await db.store.keys.create(newKey(b, "elsewhere"));
    const unused = (before: number, limit = 10) =>
      db.store.keys.listUnused(a, before, limit).then((ks) => ks.map((k) => k.id));
    const ids = (...i: number[]) => i.map((n) => (keys[n] as (typeof keys)[number]).id).sort();
    expect(await unused(T0 + 2 * DAY)).toEqual(ids(0));
    expect(await unused(T0 + 2 * DAY + 1)).toEqual(ids(0, 2));
    expect(await unused(T0 + 9 * DAY)).toEqual(ids(0, 2, 3));
    expect(await unused(T0 + 9 * DAY, 2)).toEqual(ids(0, 2, 3).slice(0, 2));
    expect((await db.store.keys.listUnused(a, T0 + 9 * DAY, 1))[0]?.tokens).toHaveLength(1);
  });

  it("filters keys by the newest token's creation and can skip the total", async () => {
    const a = await db.account();
    const keys = [0, 1, 2, 3].map((i) => newKey(a, `age${i}`, { token: newToken(T0 + i * DAY) }));
    for (const k of keys) await db.store.keys.create(k);
    const list = (over: Partial<KeyListQuery>) =>
      db.store.keys.list({ account: a, sort: "tokenCreatedAt", order: "asc", limit: 10, ...over });
    const names = async (over: Partial<KeyListQuery>) => (await list(over)).items.map((k) => k.name);
    expect(await names({ tokenCreatedFrom: T0 + DAY, tokenCreatedBefore: T0 + 3 * DAY })).toEqual([
      "age1",
      "age2",
    ]);
    expect(await names({ tokenCreatedBefore: T0 + DAY })).toEqual(["age0"]);
    expect(await names({ tokenCreatedFrom: T0 + 3 * DAY })).toEqual(["age3"]);
    // A renewal moves the key's age to the new token.
    await db.store.renewals.addPendingToken(
      (keys[0] as (typeof keys)[number]).id,
      newToken(T0 + 5 * DAY),
      T0,
    );
    expect(await names({ tokenCreatedBefore: T0 + DAY })).toEqual([]);
    expect(await names({ tokenCreatedFrom: T0 + 3 * DAY })).toEqual(["age3", "age0"]);
    const counted = await list({ limit: 3 });
    expect([counted.total, counted.hasMore]).toEqual([4, true]);
    expect(await list({ limit: 3, skipTotal: true })).toEqual({ ...counted, total: -1, totalExact: false });
  });

  it("leases due notifications, retries failures and records deliveries", async () => {
    await withOwnStore(kind, async (store, account) => {
      const [a, b] = [await account(), await account()];
      const [n1, n2, later] = [notification(a, T0), notification(a, T0 + 1), notification(a, T0 + 5000)];
      const other = notification(b, T0 + 2, { channel: "webhook", target: "wh_1" });
      for (const n of [n2, n1, later, other]) await store.outbox.enqueue(n);
      const fresh = { status: "pending", attempts: 0, lastError: null, sentAt: null };
      const claimed = await store.outbox.claim(T0 + 100, T0 + 60_000, 10);
      expect(claimed).toEqual([n1, n2, other].map((n) => ({ ...n, ...fresh, nextAttemptAt: T0 + 60_000 })));
      expect(await store.outbox.claim(T0 + 100, T0 + 60_000, 10)).toEqual([]);

      await store.outbox.markFailed(n1.id, `${"x".repeat(499)}\u0000🔥${"y".repeat(100)}`, T0 + 200);
      await store.outbox.markSent(n2.id, T0 + 150);
      const [, , first] = await store.outbox.list(a, 10);
      expect(first).toMatchObject({ id: n1.id, status: "pending", attempts: 1, nextAttemptAt: T0 + 200 });
      expect(first?.lastError).toBe("x".repeat(499));
      expect((await store.outbox.claim(T0 + 200, T0 + 70_000, 10)).map((n) => n.id)).toEqual([n1.id]);
      await store.outbox.markFailed(n1.id, "smtp 550", null);
      // Given up (n1) and sent (n2) stay put; a lease that ran out without a report (other) is due again.
      expect((await store.outbox.claim(T0 + 99_000, T0 + 200_000, 10)).map((n) => n.id)).toEqual([
        other.id,
        later.id,
      ]);

      const listed = await store.outbox.list(a, 10);
      expect(listed.map((n) => [n.id, n.status, n.attempts, n.lastError, n.sentAt])).toEqual([
        [later.id, "pending", 0, null, null],
        [n2.id, "sent", 1, null, T0 + 150],
        [n1.id, "failed", 2, "smtp 550", null],
      ]);
      expect(listed[0]?.payload).toEqual(later.payload);
      expect((await store.outbox.list(a, 1)).map((n) => n.id)).toEqual([later.id]);
      expect((await store.outbox.list(b, 10)).map((n) => n.id)).toEqual([other.id]);
    });
  });

  it("never leases one notification to two simultaneous schedulers", async () => {
    await withOwnStore(kind, async (store: Store, account) => {
      const a = await account();
      const queued = Array.from({ length: 30 }, (_, i) => notification(a, T0 + i));
      for (const n of queued) await store.outbox.enqueue(n);
      const batches = await Promise.all([1, 2, 3].map(() => store.outbox.claim(T0 + 100, T0 + 60_000, 12)));
      const ids = batches.flat().map((n) => n.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(queued.map((n) => n.id).sort());
    });
  });
});
