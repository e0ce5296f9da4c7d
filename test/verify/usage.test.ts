import { describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../../src/core/time.js";
import type { QuotaSpend, UsageBatch } from "../../src/storage/store.js";
import { inLockOrder, lockOrderSlices, SORT_CHUNK } from "../../src/storage/usage-order.js";
import { createAllowances } from "../../src/verify/allowance.js";
import { createUsageRecorder, SLICE_KEYS } from "../../src/verify/usage.js";

const T0 = Date.parse("2026-11-26T10:00:00Z");

/** A recorder on a clock that starts at T0 (`advance` moves it); `timing`: its timer's intervals, for `start()`. */
function recorder(
  fail: (slice: UsageBatch, call: number) => boolean,
  timing: { intervalMs?: number; stampIntervalMs?: number } = {},
) {
  const written: UsageBatch[] = [];
  let now = T0;
  let calls = 0;
  const usage = createUsageRecorder({
    clock: { now: () => now },
    ...timing,
    store: {
      usage: {
        async record(batch) {
          calls++;
          if (fail(batch, calls)) throw new Error("database unavailable");
          written.push(batch);
        },
      },
    },
  });
  return { usage, written, advance: (ms: number) => (now += ms) };
}

describe("usage recorder", () => {
  it("writes large batches in slices, and keeps only the unwritten slices after a failure", async () => {
    const { usage, written } = recorder((_slice, call) => call === 2);
    const keys = 2 * SLICE_KEYS + 88;
    for (let i = 0; i < keys; i++) usage.record(`key-${i}`, "allowed");
    await usage.flush();
    // Three slices: the first was written, the second failed, the third was never tried.
    expect(written).toHaveLength(1);
    expect(written[0]?.counts).toHaveLength(SLICE_KEYS);
    await usage.flush();
    const seen = new Set(written.flatMap((batch) => batch.counts.map((c) => c.keyId)));
    expect(seen.size).toBe(keys);
    const total = written.flatMap((batch) => batch.counts).reduce((sum, c) => sum + c.ok, 0);
    expect(total).toBe(keys);
  });

  it("counts ok and denied per day, moves last use only on authentication, and splits days", async () => {
    const { usage, written, advance } = recorder(() => false);
    usage.record("k", "allowed", "acme", "ViewOrders");
    usage.record("k", "denied");
    usage.record("k", "rejected");
    advance(DAY_MS);
    usage.record("k", "allowed");
    await usage.flush();
    const batch = written[0] as UsageBatch;
    const day = Math.floor(T0 / DAY_MS);
    expect([...batch.counts].sort((a, b) => a.day - b.day)).toEqual([
      { keyId: "k", day, ok: 1, denied: 2 },
      { keyId: "k", day: day + 1, ok: 1, denied: 0 },
    ]);
    expect(batch.lastUsed).toEqual([{ keyId: "k", at: T0 + DAY_MS }]);
    expect(batch.resources).toEqual([{ keyId: "k", account: "acme", resource: "ViewOrders", at: T0 }]);
  });

  it("keeps the last use of each resource per key and account, across accounts and writes", async () => {
    const { usage, written, advance } = recorder(() => false);
    const sorted = (batch: UsageBatch | undefined) =>
      [...(batch?.resources ?? [])].sort((a, b) =>
        `${a.keyId} ${a.account} ${a.resource}`.localeCompare(`${b.keyId} ${b.account} ${b.resource}`),
      );
    usage.record("k", "allowed", "acme", "ViewOrders");
    advance(1);
    usage.record("k", "allowed", "acme", "ViewOrders");
    usage.record("k", "allowed", "other", "ViewOrders");
    advance(1);
    usage.record("k", "allowed", "acme", "EditOrders");
    usage.record("j", "allowed", "acme", "ViewOrders");
    usage.record("k", "denied", "acme", undefined);
    advance(1);
    usage.record("k", "allowed", "other", "ViewOrders");
    await usage.flush();
    expect(sorted(written[0])).toEqual([
      { keyId: "j", account: "acme", resource: "ViewOrders", at: T0 + 2 },
      { keyId: "k", account: "acme", resource: "EditOrders", at: T0 + 2 },
      { keyId: "k", account: "acme", resource: "ViewOrders", at: T0 + 1 },
      { keyId: "k", account: "other", resource: "ViewOrders", at: T0 + 3 },
    ]);
    // After a write, uses start afresh: only what came since is in the next batch.
    advance(1);
    usage.record("k", "allowed", "other", "ViewOrders");
    await usage.flush();
    expect(sorted(written[1])).toEqual([
      { keyId: "k", account: "other", resource: "ViewOrders", at: T0 + 4 },
    ]);
  });

  it("keeps the last allowed call of each key per account, merging a failed write's back", async () => {
    let failing = false;
    const { usage, written, advance } = recorder(() => failing);
    const sorted = (batch: UsageBatch | undefined) =>
      [...(batch?.accounts ?? [])].sort((a, b) =>
        `${a.keyId} ${a.account}`.localeCompare(`${b.keyId} ${b.account}`),
      );
    usage.record("k", "allowed", "acme");
    advance(1);
    usage.record("k", "allowed", "beta", "ViewOrders");
    advance(1);
    // Refused in beta (a resource not granted), or with no account: not a use there.
    usage.record("k", "denied", "beta", undefined);
    usage.record("k", "allowed");
    usage.record("j", "denied", "beta");
    // A management call allowed in beta, authenticated (and counted) in the key's own account.
    usage.usedIn("j", "beta");
    advance(1);
    usage.record("k", "allowed", "acme");
    failing = true;
    await usage.flush();
    expect(written).toHaveLength(0);
    failing = false;
    advance(1);
    usage.record("k", "allowed", "beta");
    await usage.flush();
    expect(sorted(written[0])).toEqual([
      { keyId: "j", account: "beta", at: T0 + 2 },
      { keyId: "k", account: "acme", at: T0 + 3 },
      { keyId: "k", account: "beta", at: T0 + 4 },
    ]);
    await usage.flush();
    expect(written).toHaveLength(1);
  });

  it("keeps the last use of each token, read from the key's state at the write, merging a failed write's back", async () => {
    let failing = false;
    const { usage, written, advance } = recorder(() => failing);
    const renewing = { tokenIds: ["old-token", "new-token"] };
    const sorted = (batch: UsageBatch | undefined) =>
      [...(batch?.tokens ?? [])].sort((a, b) => a.tokenId.localeCompare(b.tokenId));
    usage.record("k", "allowed", "acme", undefined, renewing, 0);
    advance(1);
    usage.record("k", "allowed", "acme", undefined, renewing, 1);
    advance(1);
    usage.record("k", "denied", undefined, undefined, renewing, 0);
    // A wrong token is no use of any token.
    usage.record("k", "rejected");
    failing = true;
    await usage.flush();
    failing = false;
    advance(1);
    // The renewal completed: a new state, in which the new token is the only one.
    usage.record("k", "allowed", "acme", undefined, { tokenIds: ["new-token"] }, 0);
    await usage.flush();
    expect(sorted(written[0])).toEqual([
      { tokenId: "new-token", at: T0 + 3 },
      { tokenId: "old-token", at: T0 + 2 },
    ]);
    await usage.flush();
    expect(written).toHaveLength(1);
  });

  it("writes exact times after the clock is set back days before the recorder was made, for counters made before and after", async () => {
    const { usage, written, advance } = recorder(() => false);
    const token = { tokenIds: ["t1"] };
    usage.record("j", "allowed", "acme", "ViewOrders", token, 0);
    advance(-3 * DAY_MS);
    usage.record("k", "allowed", "acme", "ViewOrders", { tokenIds: ["t2"] }, 0);
    await usage.flush();
    const back = T0 - 3 * DAY_MS;
    const byKey = <T extends { keyId: string }>(list: readonly T[] | undefined) =>
      [...(list ?? [])].sort((a, b) => a.keyId.localeCompare(b.keyId));
    expect(byKey(written[0]?.lastUsed)).toEqual([
      { keyId: "j", at: T0 },
      { keyId: "k", at: back },
    ]);
    expect(byKey(written[0]?.resources)).toEqual([
      { keyId: "j", account: "acme", resource: "ViewOrders", at: T0 },
      { keyId: "k", account: "acme", resource: "ViewOrders", at: back },
    ]);
    expect([...(written[0]?.tokens ?? [])].sort((a, b) => a.at - b.at)).toEqual([
      { tokenId: "t2", at: back },
      { tokenId: "t1", at: T0 },
    ]);
    // Later uses move on from there.
    advance(60_000);
    usage.record("k", "allowed", "acme", "ViewOrders", { tokenIds: ["t2"] }, 0);
    await usage.flush();
    expect(written[1]?.lastUsed).toEqual([{ keyId: "k", at: back + 60_000 }]);
    expect(written[1]?.tokens).toEqual([{ tokenId: "t2", at: back + 60_000 }]);
  });

  it("writes every time exactly as the clock gave it: an hour before the recorder was made, and months after", async () => {
    const { usage, written, advance } = recorder(() => false);
    const token = { tokenIds: ["t1", "t2"] };
    // A clock set back an hour after the start (within the counters' day of slack).
    advance(-3_600_000);
    usage.record("k", "allowed", "acme", "ViewOrders", token, 0);
    await usage.flush();
    const early = T0 - 3_600_000;
    expect(written[0]?.lastUsed).toEqual([{ keyId: "k", at: early }]);
    expect(written[0]?.resources).toEqual([
      { keyId: "k", account: "acme", resource: "ViewOrders", at: early },
    ]);
    expect(written[0]?.accounts).toEqual([{ keyId: "k", account: "acme", at: early }]);
    expect(written[0]?.tokens).toEqual([{ tokenId: "t1", at: early }]);
    // 90 days on (past the range of small integers), with a switch of resource, account and
    // token in between, so that the earlier uses go through the per-key maps too.
    advance(3_600_000 + 90 * DAY_MS);
    const later = T0 + 90 * DAY_MS;
    usage.record("k", "allowed", "acme", "ViewOrders", token, 0);
    advance(7);
    usage.record("k", "allowed", "other", "EditOrders", token, 1);
    await usage.flush();
    const batch = written[1] as UsageBatch;
    expect(batch.lastUsed).toEqual([{ keyId: "k", at: later + 7 }]);
    const byTime = <T extends { at: number }>(list: readonly T[] | undefined) =>
      [...(list ?? [])].sort((a, b) => a.at - b.at);
    expect(byTime(batch.resources)).toEqual([
      { keyId: "k", account: "acme", resource: "ViewOrders", at: later },
      { keyId: "k", account: "other", resource: "EditOrders", at: later + 7 },
    ]);
    expect(byTime(batch.accounts)).toEqual([
      { keyId: "k", account: "acme", at: later },
      { keyId: "k", account: "other", at: later + 7 },
    ]);
    expect(byTime(batch.tokens)).toEqual([
      { tokenId: "t1", at: later },
      { tokenId: "t2", at: later + 7 },
    ]);
  });

  it("moves its origin at a write once half its span is used, shifting the times counters hold", async () => {
    const { usage, written, advance } = recorder(() => false);
    const token = { tokenIds: ["t1"] };
    // ~6.2 days after the origin (a day before T0) the next write moves it; "j" is used just before.
    advance(5.5 * DAY_MS);
    const used = T0 + 5.5 * DAY_MS;
    usage.record("j", "allowed", "acme", "ViewOrders", token, 0);
    advance(3_600_000);
    await usage.flush();
    expect(written[0]?.lastUsed).toEqual([{ keyId: "j", at: used }]);
    expect(written[0]?.resources).toEqual([
      { keyId: "j", account: "acme", resource: "ViewOrders", at: used },
    ]);
    expect(written[0]?.tokens).toEqual([{ tokenId: "t1", at: used }]);
    // Later uses are timed from the new origin, and what was written is not written again.
    advance(60_000);
    usage.record("j", "allowed", "acme", "ViewOrders", token, 0);
    await usage.flush();
    const later = used + 3_660_000;
    expect(written[1]?.lastUsed).toEqual([{ keyId: "j", at: later }]);
    expect(written[1]?.tokens).toEqual([{ tokenId: "t1", at: later }]);
    await usage.flush();
    expect(written).toHaveLength(2);
  });

  it("keeps every time exactly when counters move to a new origin after ~12 days: unwritten ones written, written ones used again", async () => {
    const { usage, written, advance } = recorder(() => false);
    const token = { tokenIds: ["t1"] };
    // "w" is used and written; "p" is used and not written before the clock moves 13 days on.
    usage.record("w", "allowed", "acme", "ViewOrders", token, 0);
    await usage.flush();
    advance(5);
    usage.record("p", "allowed", "acme", "EditOrders", { tokenIds: ["t2"] }, 0);
    advance(13 * DAY_MS);
    const later = T0 + 5 + 13 * DAY_MS;
    usage.record("w", "allowed", "acme", "ViewOrders", token, 0);
    await usage.flush();
    const batch = written[1] as UsageBatch;
    const byKey = <T extends { keyId: string }>(list: readonly T[] | undefined) =>
      [...(list ?? [])].sort((a, b) => a.keyId.localeCompare(b.keyId));
    expect(byKey(batch.counts).map(({ keyId, ok }) => [keyId, ok])).toEqual([
      ["p", 1],
      ["w", 1],
    ]);
    expect(byKey(batch.lastUsed)).toEqual([
      { keyId: "p", at: T0 + 5 },
      { keyId: "w", at: later },
    ]);
    expect(byKey(batch.resources)).toEqual([
      { keyId: "p", account: "acme", resource: "EditOrders", at: T0 + 5 },
      { keyId: "w", account: "acme", resource: "ViewOrders", at: later },
    ]);
    expect(byKey(batch.accounts)).toEqual([
      { keyId: "p", account: "acme", at: T0 + 5 },
      { keyId: "w", account: "acme", at: later },
    ]);
    expect([...(batch.tokens ?? [])].sort((a, b) => a.at - b.at)).toEqual([
      { tokenId: "t2", at: T0 + 5 },
      { tokenId: "t1", at: later },
    ]);
    // Nothing is written twice, and uses after the move are timed from the new origin.
    await usage.flush();
    expect(written).toHaveLength(2);
    advance(60_000);
    usage.record("p", "allowed", "acme", "EditOrders", { tokenIds: ["t2"] }, 0);
    await usage.flush();
    expect(written[2]?.lastUsed).toEqual([{ keyId: "p", at: later + 60_000 }]);
    expect(written[2]?.resources).toEqual([
      { keyId: "p", account: "acme", resource: "EditOrders", at: later + 60_000 },
    ]);
    expect(written[2]?.tokens).toEqual([{ tokenId: "t2", at: later + 60_000 }]);
  });

  it("writes a key's two tokens once per stamp interval when its clients alternate between them (a renewal), not at every tick", async () => {
    const { usage, written, advance } = recorder(() => false, { intervalMs: 20, stampIntervalMs: 60_000 });
    const renewed = { tokenIds: ["old", "new"] };
    const times = () =>
      written.flatMap((b) => [...b.lastUsed, ...b.resources, ...(b.accounts ?? []), ...(b.tokens ?? [])]);
    usage.start();
    try {
      usage.record("k", "allowed", "acme", "ViewOrders", renewed, 0);
      await vi.waitFor(() => expect(written.flatMap((b) => b.tokens ?? [])).toHaveLength(1));
      advance(10);
      usage.record("k", "allowed", "acme", "ViewOrders", renewed, 1);
      await vi.waitFor(() => expect(written.flatMap((b) => b.tokens ?? [])).toHaveLength(2));
      // Both written since the stamp write: alternating uses wait for the next one.
      written.length = 0;
      for (let i = 0; i < 8; i++) {
        advance(10);
        usage.record("k", "allowed", "acme", "ViewOrders", renewed, i % 2);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(written.flatMap((b) => b.counts).reduce((sum, c) => sum + c.ok, 0)).toBe(8);
      expect(times()).toEqual([]);
      await usage.flush();
      expect([...(written.at(-1)?.tokens ?? [])].sort((a, b) => a.at - b.at)).toEqual([
        { tokenId: "old", at: T0 + 80 },
        { tokenId: "new", at: T0 + 90 },
      ]);
    } finally {
      await usage.stop();
    }
  });

  it("writes a token's latest use when the clock is set back days before a tick", async () => {
    const { usage, written, advance } = recorder(() => false, { intervalMs: 20, stampIntervalMs: 60_000 });
    const holder = { tokenIds: ["t0"] };
    usage.start();
    try {
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      advance(-2 * DAY_MS);
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      await vi.waitFor(() => expect(written.flatMap((b) => b.tokens ?? []).length).toBeGreaterThan(0));
      await usage.flush();
      const tokenTimes = written.flatMap((b) => b.tokens ?? []).map((t) => t.at);
      expect(Math.max(...tokenTimes)).toBe(T0);
    } finally {
      await usage.stop();
    }
  });

  it("merges what waits through failed writes: bounded by the keys in use, one row per stored row", async () => {
    let failing = true;
    const { usage, written, advance } = recorder(() => failing);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) usage.record(`key-${i}`, "allowed", "acme", "ViewOrders");
      usage.record("key-0", "denied");
      advance(1000);
      await usage.flush();
      // However many writes failed, one entry per key and day waits (plus nothing counted since).
      expect(usage.pendingKeys()).toBe(300);
    }
    expect(written).toHaveLength(0);
    failing = false;
    usage.record("key-1", "allowed", "acme", "ViewOrders");
    await usage.flush();
    const counts = written.flatMap((batch) => batch.counts);
    const resources = written.flatMap((batch) => batch.resources);
    const lastUsed = written.flatMap((batch) => batch.lastUsed);
    // PostgreSQL refuses an upsert that touches one row twice: every list names each row once.
    expect(new Set(counts.map((c) => `${c.keyId} ${c.day}`)).size).toBe(counts.length);
    expect(new Set(resources.map((r) => `${r.keyId} ${r.account} ${r.resource}`)).size).toBe(300);
    expect(resources).toHaveLength(300);
    expect(new Set(lastUsed.map((l) => l.keyId)).size).toBe(lastUsed.length);
    expect(counts).toHaveLength(300);
    const byKey = new Map(counts.map((c) => [c.keyId, c]));
    expect(byKey.get("key-0")).toMatchObject({ ok: 20, denied: 20 });
    expect(byKey.get("key-1")).toMatchObject({ ok: 21, denied: 0 });
    expect(resources.find((r) => r.keyId === "key-1")?.at).toBe(T0 + 20_000);
    expect(usage.pendingKeys()).toBe(0);
  });

  it("writes quota spends at every timer tick, not only with last-use times", async () => {
    const written: UsageBatch[] = [];
    const quotas = createAllowances({ clock: { now: () => T0 } });
    const usage = createUsageRecorder({
      clock: { now: () => T0 },
      intervalMs: 20,
      stampIntervalMs: 60_000,
      quotas,
      store: {
        usage: {
          async record(batch) {
            written.push(batch);
          },
        },
      },
    });
    const read = { remaining: 10, period: 0, refill: null, setAt: 0, base: 10 };
    quotas.spend("k", read, T0);
    quotas.spend("k", read, T0);
    usage.start();
    try {
      await vi.waitFor(() => expect(written.flatMap((b) => b.quotas ?? [])).toHaveLength(1));
      expect(written.flatMap((b) => b.quotas ?? [])).toEqual([{ keyId: "k", setAt: 0, period: 0, spent: 2 }]);
      expect(written.flatMap((b) => b.lastUsed)).toEqual([]);
    } finally {
      await usage.stop();
    }
  });

  it("writes a key's first use at the next tick, later ones once per stamp interval (its own row every 10 minutes, or once it stops), and everything on flush", async () => {
    let now = T0;
    const written: UsageBatch[] = [];
    const usage = createUsageRecorder({
      clock: { now: () => now },
      intervalMs: 20,
      stampIntervalMs: 60_000,
      store: {
        usage: {
          async record(batch) {
            written.push(batch);
          },
        },
      },
    });
    const holder = { tokenIds: ["tok-1"] };
    const stamps = () => written.flatMap((b) => b.lastUsed);
    const day = Math.floor(T0 / DAY_MS);
    usage.start();
    try {
      // A key not written before: its use goes with the next tick's counts.
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      await vi.waitFor(() => expect(written.flatMap((b) => b.counts)).toHaveLength(1));
      expect(stamps()).toEqual([{ keyId: "k", at: T0 }]);
      expect(written.flatMap((b) => b.tokens ?? [])).toEqual([{ tokenId: "tok-1", at: T0 }]);
      // Its next uses before the stamp interval: the counts at each tick, the times held.
      written.length = 0;
      now += 1_000;
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      await vi.waitFor(() =>
        expect(written.flatMap((b) => b.counts)).toEqual([{ keyId: "k", day, ok: 1, denied: 0 }]),
      );
      await new Promise((resolve) => setTimeout(resolve, 60));
      for (const batch of written) {
        expect([batch.lastUsed, batch.resources, batch.accounts, batch.tokens]).toEqual([[], [], [], []]);
      }
      // Another token of the key (a renewal's new one) not written yet: its use goes at the next tick.
      written.length = 0;
      const renewed = { tokenIds: ["tok-1", "tok-2"] };
      usage.record("k", "allowed", "acme", "ViewOrders", renewed, 1);
      await vi.waitFor(() =>
        expect(written.flatMap((b) => b.tokens ?? [])).toEqual([{ tokenId: "tok-2", at: T0 + 1_000 }]),
      );
      now += 500;
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      // Once the interval has passed, the next tick writes the times held so far (the latest), and
      // only those not written yet: tok-2's use went at its tick. The key's own row waits: it was
      // written 1.5 s before, and the key is still in use.
      written.length = 0;
      now += 60_000;
      await vi.waitFor(() => expect(written.flatMap((b) => b.resources).length).toBeGreaterThan(0));
      const stamped = written.find((b) => b.resources.length > 0) as UsageBatch;
      expect(stamped.lastUsed).toEqual([]);
      expect(stamped.resources).toEqual([
        { keyId: "k", account: "acme", resource: "ViewOrders", at: T0 + 1_500 },
      ]);
      expect(stamped.accounts).toEqual([{ keyId: "k", account: "acme", at: T0 + 1_500 }]);
      expect(stamped.tokens).toEqual([{ tokenId: "tok-1", at: T0 + 1_500 }]);
      // Not used since that stamp write: the key's row gets its exact last use at the next one.
      written.length = 0;
      now += 60_000;
      await vi.waitFor(() => expect(stamps()).toEqual([{ keyId: "k", at: T0 + 1_500 }]));
      expect(written.flatMap((b) => [...b.resources, ...(b.accounts ?? []), ...(b.tokens ?? [])])).toEqual(
        [],
      );
      // A stamp write that finds a key unused since the last one forgets it: its next use is a
      // first use again, written at the next tick.
      written.length = 0;
      now += 60_000;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(written).toEqual([]);
      expect(usage.pendingKeys()).toBe(0);
      now += 1;
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      await vi.waitFor(() => expect(stamps()).toEqual([{ keyId: "k", at: T0 + 181_501 }]));
      // In constant use, the key's row moves once its use is 10 minutes past the one written,
      // while its token's last use is written at every stamp write.
      const rowAt = T0 + 181_501;
      const tokenTimes: number[] = [];
      written.length = 0;
      for (let minute = 1; minute <= 10; minute++) {
        now = rowAt + minute * 60_000;
        usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
        now += 1;
        await vi.waitFor(() => expect(written.flatMap((b) => b.tokens ?? [])).toHaveLength(minute));
        tokenTimes.push(now - 1);
      }
      expect(written.flatMap((b) => b.tokens ?? []).map((t) => t.at)).toEqual(tokenTimes);
      expect(stamps()).toEqual([{ keyId: "k", at: rowAt + 600_000 }]);
      // An explicit flush writes the times at once, whatever the interval, the key's row included.
      written.length = 0;
      now += 1;
      usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
      await usage.flush();
      expect(stamps()).toEqual([{ keyId: "k", at: now }]);
    } finally {
      await usage.stop();
    }
  });

  it("slices every list of a batch alike, in lock order", async () => {
    const batch: UsageBatch = {
      counts: [4, 2, 0, 3, 1].map((i) => ({ keyId: `c${i}`, day: 1, ok: 1, denied: 0 })),
      lastUsed: [1, 0].map((i) => ({ keyId: `l${i}`, at: 1 })),
      resources: [],
      accounts: [2, 0, 1].map((i) => ({ keyId: `a${i}`, account: "beta", at: 1 })),
    };
    const ordered = await lockOrderSlices(batch, 2, nextTurn);
    const slices = Array.from({ length: ordered.slices }, () => ordered.next());
    expect(slices.map((s) => [s.counts.length, s.lastUsed.length, s.accounts?.length])).toEqual([
      [2, 2, 2],
      [2, 0, 1],
      [1, 0, 0],
    ]);
    expect(slices.flatMap((s) => s.counts.map((c) => c.keyId))).toEqual(["c0", "c1", "c2", "c3", "c4"]);
    const whole = await lockOrderSlices(batch, 10, nextTurn);
    expect(whole.slices).toBe(1);
    expect(whole.next()).toEqual(inLockOrder(batch));
  });

  it("gives the slices a sort of each whole list then cutting gives, sorting a chunk at a time", async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const next = random(seed);
      const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
      const at = () => 1_700_000_000_000 + Math.floor(next() * 1e9);
      const keys = Array.from({ length: 1 + Math.floor(next() * 3000) }, () => crypto.randomUUID());
      // Up to a few chunks' worth per list, rows as the recorder makes them (one per stored row;
      // quota spends may repeat a key, and are merged first).
      const rows = (most: number) => Math.floor(next() * most);
      const unique = <T>(list: T[], id: (row: T) => string) => [
        ...new Map(list.map((r) => [id(r), r])).values(),
      ];
      const batch: UsageBatch = {
        counts: unique(
          Array.from({ length: rows(3 * SORT_CHUNK) }, () => ({
            keyId: pick(keys),
            day: pick([5, 6]),
            ok: 1,
            denied: 0,
          })),
          (r) => `${r.keyId} ${r.day}`,
        ),
        lastUsed: unique(
          Array.from({ length: rows(SORT_CHUNK + 10) }, () => ({ keyId: pick(keys), at: at() })),
          (r) => r.keyId,
        ),
        resources: unique(
          Array.from({ length: rows(2 * SORT_CHUNK) }, () => ({
            keyId: pick(keys),
            account: pick(["acme", "beta", "Beta"]),
            resource: pick(["ViewOrders", "EditOrders"]),
            at: at(),
          })),
          (r) => `${r.keyId} ${r.account} ${r.resource}`,
        ),
        accounts: unique(
          Array.from({ length: rows(SORT_CHUNK) }, () => ({
            keyId: pick(keys),
            account: pick(["acme", "beta"]),
            at: at(),
          })),
          (r) => `${r.keyId} ${r.account}`,
        ),
        tokens: Array.from({ length: rows(2 * SORT_CHUNK) }, () => ({
          tokenId: crypto.randomUUID(),
          at: at(),
        })),
        quotas: Array.from({ length: rows(SORT_CHUNK) }, () => ({
          keyId: pick(keys),
          period: pick([0, 1]),
          setAt: pick([0, 1]),
          spent: 1,
        })),
      };
      const sorted = inLockOrder(batch);
      const lists = ["counts", "lastUsed", "resources", "accounts", "tokens", "quotas"] as const;
      for (const size of [1 + Math.floor(next() * 300), SLICE_KEYS]) {
        let pauses = 0;
        const ordered = await lockOrderSlices(batch, size, async () => {
          pauses++;
        });
        const longest = Math.max(...lists.map((list) => (sorted[list] ?? []).length));
        expect(ordered.slices).toBe(Math.max(1, Math.ceil(longest / size)));
        for (let i = 0; i < ordered.slices; i++) {
          const slice = ordered.next();
          for (const list of lists) {
            expect(slice[list], `seed ${seed}, size ${size}, slice ${i}, ${list}`).toEqual(
              (sorted[list] ?? []).slice(i * size, (i + 1) * size),
            );
          }
        }
        const entries = lists.reduce((sum, list) => sum + (batch[list] ?? []).length, 0);
        expect(pauses).toBeGreaterThanOrEqual(Math.floor(entries / SORT_CHUNK) - lists.length);
      }
    }
  });

  it("lets requests run while it sorts a large batch, before its first slice is written", async () => {
    let written = 0;
    const usage = createUsageRecorder({
      clock: { now: () => T0 },
      store: {
        usage: {
          async record() {
            written++;
          },
        },
      },
    });
    const keys = 4 * SORT_CHUNK;
    for (let i = 0; i < keys; i++) usage.record(`key-${(i * 7919) % keys}`, "allowed", "acme", "ViewOrders");
    // A request's turn on the event loop, over and over until the first slice is written.
    let turns = 0;
    const turn = () => {
      if (written > 0) return;
      turns++;
      setImmediate(turn);
    };
    setImmediate(turn);
    await usage.flush();
    // Four lists of 8,192 entries (counts, last uses, resources, accounts): a turn after each chunk sorted.
    expect(turns).toBeGreaterThanOrEqual((4 * keys) / SORT_CHUNK);
    expect(written).toBe(keys / SLICE_KEYS);
  });

  it("loses nothing and writes no stored row twice in a batch while requests run between a write's steps", async () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
      let now = T0;
      // More keys than a write takes in one turn, so that every write runs between requests.
      const keys = Array.from({ length: 3 * 2048 }, (_, i) => `key-${String(i).padStart(5, "0")}`);
      const holders = new Map(
        keys.map((k) => [k, [{ tokenIds: [`${k}-t0`, `${k}-t1`] }, { tokenIds: [`${k}-t0`, `${k}-t1`] }]]),
      );
      const expected = { counts: new Map<string, number>(), times: new Map<string, number>() };
      const stored = { counts: new Map<string, number>(), times: new Map<string, number>() };
      const add = (into: Map<string, number>, id: string, n: number) => into.set(id, (into.get(id) ?? 0) + n);
      const latest = (into: Map<string, number>, id: string, at: number) =>
        into.set(id, Math.max(into.get(id) ?? 0, at));
      const twice: string[] = [];
      let failing = true;
      const usage = createUsageRecorder({
        clock: { now: () => now },
        intervalMs: 20,
        // Stamp writes from the timer every 30 minutes of this clock, and from flush() below.
        stampIntervalMs: 1_800_000,
        store: {
          usage: {
            async record(batch) {
              if (failing && next() < 0.15) throw new Error("database unavailable");
              const rows = [
                ...batch.counts.map((c) => `count ${c.keyId} ${c.day}`),
                ...batch.lastUsed.map((l) => `key ${l.keyId}`),
                ...batch.resources.map((r) => `resource ${r.keyId} ${r.account} ${r.resource}`),
                ...(batch.accounts ?? []).map((a) => `account ${a.keyId} ${a.account}`),
                ...(batch.tokens ?? []).map((t) => `token ${t.tokenId}`),
              ];
              if (new Set(rows).size !== rows.length) twice.push(rows.join("; "));
              for (const c of batch.counts) {
                add(stored.counts, `${c.keyId} ${c.day} ok`, c.ok);
                add(stored.counts, `${c.keyId} ${c.day} denied`, c.denied);
              }
              for (const l of batch.lastUsed) latest(stored.times, `key ${l.keyId}`, l.at);
              for (const r of batch.resources)
                latest(stored.times, `resource ${r.keyId} ${r.account} ${r.resource}`, r.at);
              for (const a of batch.accounts ?? [])
                latest(stored.times, `account ${a.keyId} ${a.account}`, a.at);
              for (const t of batch.tokens ?? []) latest(stored.times, `token ${t.tokenId}`, t.at);
            },
          },
        },
      });
      /** One verification, as the verifier records it, and what it must leave in the store. */
      const verify = (keyId = pick(keys), away = false) => {
        // Up to a minute apart, now and then an hour back (the clock stepped): days change, and the
        // recorder's origin moves, mid-write.
        now += next() < 0.001 ? -3_600_000 : Math.floor(next() * 60_000);
        // A key calls its own account and resource, unless `away`: then another, and what it used
        // before waits outside its counter (the case where a write could list a row twice).
        const outcome = away
          ? "allowed"
          : pick(["allowed", "allowed", "allowed", "denied", "rejected"] as const);
        const home = Number(keyId.slice(4)) % 2 === 0;
        const account = outcome === "rejected" ? undefined : home !== away ? "acme" : "beta";
        const resource = outcome === "allowed" ? (home !== away ? "ViewOrders" : "EditOrders") : undefined;
        const token = outcome === "rejected" ? undefined : pick(holders.get(keyId) ?? []);
        const index = Math.floor(next() * 2);
        usage.record(keyId, outcome, account, resource, token, token && index, now);
        const day = Math.floor(now / DAY_MS);
        add(expected.counts, `${keyId} ${day} ${outcome === "allowed" ? "ok" : "denied"}`, 1);
        if (outcome !== "rejected") latest(expected.times, `key ${keyId}`, now);
        if (account !== undefined && resource !== undefined)
          latest(expected.times, `resource ${keyId} ${account} ${resource}`, now);
        if (outcome === "allowed" && account !== undefined)
          latest(expected.times, `account ${keyId} ${account}`, now);
        if (token !== undefined) latest(expected.times, `token ${token.tokenIds[index]}`, now);
      };
      for (let i = 0; i < keys.length; i++) verify();
      usage.start();
      for (let turn = 0; turn < 250; turn++) {
        for (let n = 0; n < 250; n++) verify();
        for (let n = 0; n < 25; n++) {
          const keyId = pick(keys);
          verify(keyId);
          verify(keyId, true);
        }
        // A management call of a key allowed in an account that added it.
        const added = pick(keys);
        usage.usedIn(added, "gamma");
        latest(expected.times, `account ${added} gamma`, now);
        if (next() < 0.3) void usage.flush();
        await nextTurn();
      }
      failing = false;
      await usage.stop();
      expect(twice, `seed ${seed}`).toEqual([]);
      const nonZero = (m: Map<string, number>) => new Map([...m].filter(([, n]) => n !== 0));
      expect(nonZero(stored.counts), `seed ${seed}`).toEqual(nonZero(expected.counts));
      expect(stored.times, `seed ${seed}`).toEqual(expected.times);
    }
  });

  it("leaves a day's counts made while a write takes its counters for the next write, never twice in one batch", async () => {
    const midnight = Math.ceil(T0 / DAY_MS) * DAY_MS;
    let now = midnight - 10_000;
    const batches: UsageBatch[] = [];
    const usage = createUsageRecorder({
      clock: { now: () => now },
      store: {
        usage: {
          async record(batch) {
            batches.push(batch);
          },
        },
      },
    });
    // More counters than one turn takes; key-00000 is taken in the first turn.
    for (let i = 0; i < 5000; i++) usage.record(`key-${String(i).padStart(5, "0")}`, "allowed");
    const written = usage.flush();
    await nextTurn();
    // Used again before midnight, then after: the day's counts move to what waits for a write.
    now = midnight - 1;
    usage.record("key-00000", "allowed");
    now = midnight + 1;
    usage.record("key-00000", "allowed");
    await written;
    await usage.flush();
    for (const batch of batches) {
      const rows = batch.counts.map((c) => `${c.keyId} ${c.day}`);
      expect(new Set(rows).size).toBe(rows.length);
    }
    const counts = batches.flatMap((b) => b.counts).filter((c) => c.keyId === "key-00000");
    const day = Math.floor(midnight / DAY_MS);
    expect(counts.filter((c) => c.day === day - 1).reduce((sum, c) => sum + c.ok, 0)).toBe(2);
    expect(counts.filter((c) => c.day === day).reduce((sum, c) => sum + c.ok, 0)).toBe(1);
  });

  it("keeps the later last use when the clock is set back less than a day", async () => {
    const { usage, written, advance } = recorder(() => false);
    const holder = { tokenIds: ["t1"] };
    advance(3_600_000);
    usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
    const later = T0 + 3_600_000;
    // The clock steps back an hour (NTP), and the key is used again before any write.
    advance(-3_600_000);
    usage.record("k", "allowed", "acme", "ViewOrders", holder, 0);
    await usage.flush();
    const batch = written[0] as UsageBatch;
    expect(batch.lastUsed).toEqual([{ keyId: "k", at: later }]);
    expect(batch.resources).toEqual([{ keyId: "k", account: "acme", resource: "ViewOrders", at: later }]);
    expect(batch.accounts).toEqual([{ keyId: "k", account: "acme", at: later }]);
    expect(batch.tokens).toEqual([{ tokenId: "t1", at: later }]);
    expect(batch.counts.reduce((sum, c) => sum + c.ok, 0)).toBe(2);
  });

  it("has one write at most waiting behind the one running: later calls join it", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const flushes: boolean[] = [];
    const slices: UsageBatch[] = [];
    const usage = createUsageRecorder({
      clock: { now: () => T0 },
      onFlush: (ok) => flushes.push(ok),
      store: {
        usage: {
          async record(batch) {
            slices.push(batch);
            await gate;
          },
        },
      },
    });
    usage.record("a", "allowed");
    const running = usage.flush();
    await nextTurn();
    const waiting = [1, 2, 3, 4].map((n) => {
      usage.record(`key-${n}`, "allowed");
      return usage.flush();
    });
    release();
    await Promise.all([running, ...waiting]);
    // The running write and one more, which took every key counted while the first ran.
    expect(flushes).toEqual([true, true]);
    expect(slices.map((s) => s.counts.map((c) => c.keyId).sort())).toEqual([
      ["a"],
      ["key-1", "key-2", "key-3", "key-4"],
    ]);
  });
  it("keeps what a take gathered when it fails at its end: the next write has every count, time and spend", async () => {
    const written: UsageBatch[] = [];
    const flushed: boolean[] = [];
    let now = T0;
    let broken = true;
    const spends: QuotaSpend[] = [{ keyId: "key-0", period: 0, setAt: 1, spent: 3 }];
    const quotas = {
      takeSpends(): QuotaSpend[] {
        // The take's last step, after every counter was taken (over several turns).
        if (broken) {
          broken = false;
          throw new Error("quota tracker fault");
        }
        return spends.splice(0);
      },
      written() {},
      putBack(back: readonly QuotaSpend[]) {
        spends.push(...back);
      },
    };
    const usage = createUsageRecorder({
      clock: { now: () => now },
      quotas,
      onFlush: (ok) => flushed.push(ok),
      store: {
        usage: {
          async record(batch) {
            written.push(batch);
          },
        },
      },
    });
    const keys = 3 * 2048 + 5;
    const holders = Array.from({ length: keys }, (_, i) => ({ tokenIds: [`token-${i}`] }));
    for (let i = 0; i < keys; i++) usage.record(`key-${i}`, "allowed", "acme", "ViewOrders", holders[i], 0);
    // Times waiting from before the take: key-1's earlier resource, key-2's earlier account.
    now += 1000;
    usage.record("key-1", "allowed", "acme", "EditOrders", holders[1], 0);
    usage.record("key-2", "denied", "other", undefined, holders[2], 0);
    await usage.flush();
    expect(flushed).toEqual([false]);
    expect(written).toHaveLength(0);

    now += 1000;
    await usage.flush();
    expect(flushed).toEqual([false, true]);
    const all = <T>(pick: (batch: UsageBatch) => readonly T[] | undefined) =>
      written.flatMap((b) => pick(b) ?? []);
    const counts = all((b) => b.counts);
    expect(counts.reduce((sum, c) => sum + c.ok, 0)).toBe(keys + 1);
    expect(counts.reduce((sum, c) => sum + c.denied, 0)).toBe(1);
    const lastUsed = new Map(all((b) => b.lastUsed).map((row) => [row.keyId, row.at]));
    expect(lastUsed.size).toBe(keys);
    expect(lastUsed.get("key-1")).toBe(T0 + 1000);
    expect(lastUsed.get("key-9")).toBe(T0);
    const resources = all((b) => b.resources).map(
      (r) => `${r.keyId} ${r.account} ${r.resource} ${r.at - T0}`,
    );
    expect(resources).toHaveLength(keys + 1);
    expect(resources).toEqual(
      expect.arrayContaining([
        "key-1 acme ViewOrders 0",
        "key-1 acme EditOrders 1000",
        "key-2 acme ViewOrders 0",
      ]),
    );
    expect(all((b) => b.accounts).filter((a) => a.keyId === "key-2")).toEqual([
      { keyId: "key-2", account: "acme", at: T0 },
    ]);
    expect(new Set(all((b) => b.tokens).map((t) => t.tokenId)).size).toBe(keys);
    expect(all((b) => b.quotas)).toEqual([{ keyId: "key-0", period: 0, setAt: 1, spent: 3 }]);
  });
  it("keeps what a timer tick's take gathered when it fails, waiting times included, for the next write", async () => {
    const written: UsageBatch[] = [];
    const flushed: boolean[] = [];
    let broken = true;
    const quotas = {
      takeSpends(): QuotaSpend[] {
        if (broken) {
          broken = false;
          throw new Error("quota tracker fault");
        }
        return [];
      },
      written() {},
      putBack() {},
    };
    const usage = createUsageRecorder({
      clock: { now: () => T0 },
      intervalMs: 20,
      stampIntervalMs: 3_600_000,
      quotas,
      onFlush: (ok) => flushed.push(ok),
      store: {
        usage: {
          async record(batch) {
            written.push(batch);
          },
        },
      },
    });
    const keys = 2 * 2048 + 7;
    const holder = { tokenIds: ["token-a", "token-b"] };
    for (let i = 0; i < keys; i++) usage.record(`key-${i}`, "allowed", "acme", "ViewOrders", holder, 0);
    // key-0 moves to its other token and resource: the first ones wait for a later write.
    usage.record("key-0", "allowed", "acme", "EditOrders", holder, 1);
    usage.start();
    try {
      await vi.waitFor(() => expect(flushed.slice(0, 2)).toEqual([false, true]));
    } finally {
      await usage.stop();
    }
    const all = <T>(pick: (batch: UsageBatch) => readonly T[] | undefined) =>
      written.flatMap((b) => pick(b) ?? []);
    expect(all((b) => b.counts).reduce((sum, c) => sum + c.ok, 0)).toBe(keys + 1);
    expect(new Set(all((b) => b.lastUsed).map((row) => row.keyId)).size).toBe(keys);
    expect(
      all((b) => b.resources)
        .filter((r) => r.keyId === "key-0")
        .map((r) => r.resource)
        .sort(),
    ).toEqual(["EditOrders", "ViewOrders"]);
    expect(new Set(all((b) => b.tokens).map((t) => t.tokenId))).toEqual(new Set(["token-a", "token-b"]));
  });
  it("keeps what a take gathered when it fails partway through the counters, requests having run between its chunks", async () => {
    const written: UsageBatch[] = [];
    const flushed: boolean[] = [];
    const usage = createUsageRecorder({
      clock: { now: () => T0 },
      onFlush: (ok) => flushed.push(ok),
      store: {
        usage: {
          async record(batch) {
            written.push(batch);
          },
        },
      },
    });
    const keys = 3 * 2048 + 5;
    let failing = false;
    const holder = (i: number) => ({
      get tokenIds(): readonly string[] {
        // The key taken after two chunks cannot be read once: the take fails there.
        if (failing && i === 5000) {
          failing = false;
          throw new Error("state read fault");
        }
        return [`token-${i}`];
      },
    });
    const holders = Array.from({ length: keys }, (_, i) => holder(i));
    for (let i = 0; i < keys; i++) usage.record(`key-${i}`, "allowed", "acme", "ViewOrders", holders[i], 0);
    failing = true;
    const flushing = usage.flush();
    // Requests between the take's chunks: counted again, after some counters were taken.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let i = 0; i < keys; i += 97)
      usage.record(`key-${i}`, "denied", undefined, undefined, holders[i], 0);
    await flushing;
    expect(flushed).toEqual([false]);
    await usage.flush();
    expect(flushed).toEqual([false, true]);
    const all = <T>(pick: (batch: UsageBatch) => readonly T[] | undefined) =>
      written.flatMap((b) => pick(b) ?? []);
    const counts = all((b) => b.counts);
    expect(counts.reduce((sum, c) => sum + c.ok, 0)).toBe(keys);
    expect(counts.reduce((sum, c) => sum + c.denied, 0)).toBe(Math.ceil(keys / 97));
    for (const batch of written) {
      expect(new Set(batch.counts.map((c) => `${c.keyId} ${c.day}`)).size).toBe(batch.counts.length);
    }
    expect(new Set(all((b) => b.lastUsed).map((row) => row.keyId)).size).toBe(keys);
    expect(all((b) => b.resources)).toHaveLength(keys);
    expect(new Set(all((b) => b.tokens).map((t) => t.tokenId)).size).toBe(keys);
  });
});

/** A small deterministic generator (mulberry32), so that a failing seed can be run again. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
