/**
 * Store contract for quota settings and spends, on SQLite and real PostgreSQL: each setting of a
 * key's quota has its own version (`quotaSetAt`, never shared even within one millisecond) and base,
 * and the usage write takes from the stored count only the spends made under the setting in force.
 */
import { describe, expect, it } from "vitest";
import { DAY, newKey, T0, useStore } from "./support/store-fixtures.js";

describe.each(["sqlite", "postgres"] as const)("Store quota settings on %s", (kind) => {
  const db = useStore(kind);

  const quotaOf = async (appKey: string) => {
    const key = await db.store.keys.getByAppKey(appKey);
    return {
      remaining: key?.quota?.remaining,
      period: key?.quotaPeriod,
      setAt: key?.quotaSetAt,
      base: key?.quotaBase,
    };
  };

  const spend = (keyId: string, setAt: number, spent: number, period = 0) =>
    db.store.usage.record({
      counts: [],
      lastUsed: [],
      resources: [],
      quotas: [{ keyId, setAt, period, spent }],
    });

  it("versions each setting and writes only the spends made under the one in force", async () => {
    const a = await db.account();
    const k = { ...newKey(a, "Metered"), controls: { quota: { remaining: 10, refill: null } } };
    await db.store.keys.create(k);
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 10, period: 0, setAt: T0, base: 10 });
    await spend(k.id, T0, 3);
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 7, period: 0, setAt: T0, base: 10 });

    // Set again in the same millisecond: still a new version.
    await db.store.keys.update(a, k.appKey, {
      updatedAt: T0,
      controls: { quota: { remaining: 5, refill: null } },
    });
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 5, period: 0, setAt: T0 + 1, base: 5 });
    await spend(k.id, T0, 2);
    expect((await quotaOf(k.appKey)).remaining).toBe(5);
    await spend(k.id, T0 + 1, 1);
    expect((await quotaOf(k.appKey)).remaining).toBe(4);

    // A later setting takes its own time; a change of other controls keeps the version.
    await db.store.keys.update(a, k.appKey, {
      updatedAt: T0 + 50,
      controls: { quota: { remaining: 8, refill: null } },
    });
    await db.store.keys.update(a, k.appKey, { updatedAt: T0 + 60, controls: { metadata: { plan: "pro" } } });
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 8, period: 0, setAt: T0 + 50, base: 8 });
    await db.store.keys.update(a, k.appKey, { updatedAt: T0 + 70, controls: { quota: null } });
    expect(await quotaOf(k.appKey)).toMatchObject({ remaining: undefined, setAt: 0, base: null });
  });

  it("refills a later period of the setting in force before taking its spends", async () => {
    const a = await db.account();
    const today = T0 - (T0 % DAY);
    const k = {
      ...newKey(a, "Daily"),
      controls: { quota: { remaining: 3, refill: { amount: 20, every: "day" as const } } },
      quotaPeriod: today,
    };
    await db.store.keys.create(k);
    await spend(k.id, T0, 1, today);
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 2, period: today, setAt: T0, base: 3 });
    await spend(k.id, T0 - 1, 4, today + DAY);
    expect((await quotaOf(k.appKey)).remaining).toBe(2);
    await spend(k.id, T0, 4, today + DAY);
    expect(await quotaOf(k.appKey)).toEqual({ remaining: 16, period: today + DAY, setAt: T0, base: 3 });
  });
});
