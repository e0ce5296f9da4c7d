import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { tokenDigestBinary } from "../../src/crypto/token-hash.js";
import type { ExternalKeyRecord } from "../../src/storage/store.js";
import { hash, key, settle, setUp, T0 } from "../support/key-cache.js";

describe("key-state cache", () => {
  it("holds digests, hashes and ids of the current tokens, and shares grants, role ids and account names", async () => {
    const renewing = key(2, {
      tokens: [
        { id: "token-2a", hash: hash("secret-2a"), createdAt: T0 },
        { id: "token-2b", hash: hash("secret-2b"), createdAt: T0 },
      ],
    });
    const { cache } = setUp([key(1), renewing]);
    const one = await cache.load("appkey-acme-1");
    const two = await cache.load("appkey-acme-2");
    if (!one || !two) throw new Error("not loaded");
    expect(one.tokenHashes).toEqual([hash("secret-1")]);
    expect(one.tokenDigests.map((d) => d.toString("base64url"))).toEqual([hash("secret-1")]);
    expect(one.tokenDigests[0]?.length).toBe(32);
    expect(one.tokenIds).toEqual(["token-1"]);
    expect(two.tokenHashes).toEqual([hash("secret-2a"), hash("secret-2b")]);
    expect(two.tokenIds).toEqual(["token-2a", "token-2b"]);
    const binary = tokenDigestBinary;
    expect(one.holdsDigest(binary("secret-1"))).toBe(true);
    expect(one.holdsDigest(binary("secret-2a"))).toBe(false);
    expect(two.holdsDigest(binary("secret-2a"))).toBe(true);
    expect(two.holdsDigest(binary("secret-2b"))).toBe(true);
    expect(two.holdsDigest(binary("secret-1"))).toBe(false);
    expect(two.holdsDigest("")).toBe(false);
    expect(one).toMatchObject({
      missing: false,
      keyId: key(1).id,
      appKey: "appkey-acme-1",
      account: "acme",
      active: true,
    });
    expect(one.ownRoleIds).toEqual([10]);
    // Keys with the same roles share one grant and one role-id list.
    expect(one.ownRoleIds).toBe(two.ownRoleIds);
    const grant = cache.peekGrant(one, "acme");
    expect(grant).toMatchObject({ type: "generated", resources: ["ViewOrders"] });
    expect(cache.peekGrant(two, "acme")).toBe(grant);
    expect(cache.peek("appkey-acme-1")).toBe(one);
    // No plaintext token anywhere in the entry.
    expect(JSON.stringify({ ...one, hashes: one.tokenHashes, ids: one.tokenIds })).not.toContain("secret-1");
  });

  it("keeps every key's digest and token id apart, however many keys are cached", async () => {
    const uuid = (i: number) => `0a1b2c3d-4e5f-4a6b-8c7d-${i.toString(16).padStart(12, "0")}`;
    const records = Array.from({ length: 1000 }, (_, i) =>
      key(i, { tokens: [{ id: uuid(i), hash: hash(`secret-${i}`), createdAt: T0 }] }),
    );
    const { cache } = setUp(records);
    const states = [];
    for (const record of records) states.push(await cache.load(record.appKey));
    states.forEach((state, i) => {
      expect(state?.tokenIds).toEqual([uuid(i)]);
      expect(state?.tokenHashes).toEqual([hash(`secret-${i}`)]);
      expect(state?.tokenDigests[0]?.equals(createHash("sha256").update(`secret-${i}`).digest())).toBe(true);
    });
  });

  it("expires entries and own grants within the time to live, and caches unknown appKeys for less", async () => {
    const { cache, advance, reads } = setUp([key(1)]);
    const state = await cache.load("appkey-acme-1");
    if (!state) throw new Error("not loaded");
    expect(state.expiresAt).toBeGreaterThan(T0 + 47_999);
    expect(state.expiresAt).toBeLessThanOrEqual(T0 + 60_000);
    expect(await cache.load("appkey-acme-404")).toBeNull();
    expect(cache.peek("appkey-acme-404")).toBeNull();
    advance(10_001);
    expect(cache.peek("appkey-acme-404")).toBeUndefined();
    expect(cache.peek("appkey-acme-1")).toBe(state);
    advance(50_000);
    expect(cache.peekGrant(state, "acme")).toBeUndefined();
    expect(cache.peek("appkey-acme-1")).toBeUndefined();
    expect(reads.keys).toBe(2);
  });

  it("refreshes keys ahead of expiry in the background, at most four reads at once", async () => {
    const records = Array.from({ length: 50 }, (_, i) => key(i));
    const { cache, advance, reads, hold } = setUp(records);
    for (const record of records) await cache.load(record.appKey);
    expect(reads.keys).toBe(50);
    // Every key is within its refresh window (the last third of its life, which is at least
    // 48 s) and still answers from the cache.
    advance(41_000);
    const release = hold();
    for (const record of records) expect(cache.peek(record.appKey)).not.toBeUndefined();
    expect(reads.keys).toBe(54);
    release();
    await settle();
    await settle();
    // The next requests start the next refreshes.
    for (const record of records) cache.peek(record.appKey);
    expect(reads.keys).toBe(58);
  });

  it("starts a key's refresh in the last third of its life, not before, and spreads expiries over the last fifth", async () => {
    const random = vi.spyOn(Math, "random");
    try {
      random.mockReturnValue(0);
      const { cache, advance, reads } = setUp([key(1), key(2)]);
      const early = await cache.load("appkey-acme-1");
      expect(early?.expiresAt).toBe(T0 + 48_000);
      random.mockReturnValue(0.999_999);
      const late = await cache.load("appkey-acme-2");
      expect(late?.expiresAt).toBeGreaterThanOrEqual(T0 + 59_999);
      expect(reads.keys).toBe(2);
      // 21 s left of 48: still in the first two thirds, nothing is read.
      advance(27_000);
      expect(cache.peek("appkey-acme-1")).toBe(early);
      expect(reads.keys).toBe(2);
      // 19 s left: in the last third (20 s), read in the background while the entry answers.
      advance(2_000);
      expect(cache.peek("appkey-acme-1")).toBe(early);
      expect(reads.keys).toBe(3);
      // The other key (60 s) is not yet in its window.
      expect(cache.peek("appkey-acme-2")).toBe(late);
      expect(reads.keys).toBe(3);
      await settle();
      // Read unchanged: the same state, its expiry moved on from the read.
      expect(cache.peek("appkey-acme-1")).toBe(early);
      expect(early?.expiresAt).toBeGreaterThanOrEqual(T0 + 29_000 + 59_999);
    } finally {
      random.mockRestore();
    }
  });

  it("keeps an unchanged key's state when it is read again (expiry moved on, grants read again), and makes a new one for any difference", async () => {
    const records = [key(1, { roleIds: [100] }), key(2), key(3), key(4), key(5), key(6), key(7)];
    const external: ExternalKeyRecord[] = [
      {
        id: "addition",
        account: "partner",
        key: records[0] as never,
        addedAt: T0,
        roleIds: [10],
        lastUsedAt: null,
      },
    ];
    const { cache, advance, reads } = setUp(records, external);
    const states = [];
    for (const record of records) states.push(await cache.load(record.appKey));
    const custom = states[0];
    if (!custom) throw new Error("not loaded");
    await cache.loadGrant(custom, "acme");
    await cache.loadGrant(custom, "partner");
    expect(cache.peekGrant(custom, "partner")).toMatchObject({ type: "external" });
    const expiry = custom.expiresAt;
    // Every way a read can differ: a renewal's second token, another role, deactivated, a control,
    // the same token id with another digest. Keys 1 and 7 are unchanged.
    records[1] = key(2, {
      tokens: [...(records[1]?.tokens ?? []), { id: "token-2b", hash: hash("secret-2b"), createdAt: T0 }],
    });
    records[2] = key(3, { roleIds: [1] });
    records[3] = key(4, { active: false, inactiveReason: "deactivated" });
    records[4] = key(5, { ipAllowlist: ["10.0.0.0/8"] });
    records[5] = key(6, { tokens: [{ id: "token-6", hash: hash("another-6"), createdAt: T0 }] });
    advance(61_000);
    for (const record of records) expect(cache.peek(record.appKey)).toBeUndefined();
    const again = [];
    for (const record of records) again.push(await cache.load(record.appKey));
    expect(reads.keys).toBe(14);
    expect(again[0]).toBe(custom);
    expect(again[6]).toBe(states[6]);
    for (const i of [1, 2, 3, 4, 5]) expect(again[i]).not.toBe(states[i]);
    expect(custom.expiresAt).toBeGreaterThanOrEqual(expiry + 61_000 - 12_000);
    expect(cache.peek(custom.appKey)).toBe(custom);
    // As a new state: the custom grant and what was known of other accounts are read again.
    expect(cache.peekGrant(custom, "acme")).toBeUndefined();
    expect(custom.peekOthers()).toBeNull();
    expect(await cache.loadGrant(custom, "partner")).toMatchObject({ type: "external" });
    // A predefined grant is there at once, current.
    expect(cache.peekGrant(again[6] as NonNullable<(typeof again)[6]>, "acme")).toMatchObject({
      resources: ["ViewOrders"],
    });
    expect(again[1]?.tokenCount).toBe(2);
    expect(again[2]?.ownRoleIds).toEqual([1]);
    expect(again[3]?.active).toBe(false);
    expect(again[4]?.controls?.ipBlocks).not.toBeNull();
    expect(again[5]?.holdsDigest(tokenDigestBinary("another-6"))).toBe(true);
    expect(again[5]?.holdsDigest(tokenDigestBinary("secret-6"))).toBe(false);
    // A key with controls is made anew even when nothing changed (its quota moves between reads).
    advance(61_000);
    expect(await cache.load(records[4]?.appKey as string)).not.toBe(again[4]);
    expect(await cache.load(records[6]?.appKey as string)).toBe(states[6]);
  });

  it("keeps an expired or changed key's last state for peekExpired until it is read again", async () => {
    const { cache, advance, changes, hold } = setUp([key(1)]);
    expect(cache.peekExpired("appkey-acme-1")).toBeUndefined();
    const state = await cache.load("appkey-acme-1");
    await cache.load("appkey-acme-404");
    advance(61_000);
    expect(cache.peek("appkey-acme-1")).toBeUndefined();
    // Never a decision: only whether a presented token was one of the key's.
    const expired = cache.peekExpired("appkey-acme-1");
    expect(expired).toBe(state);
    expect(expired?.holdsDigest(tokenDigestBinary("secret-1"))).toBe(true);
    expect(expired?.holdsDigest(tokenDigestBinary("secret-2"))).toBe(false);
    expect(cache.peekExpired("appkey-acme-404")).toBeUndefined();
    const reloaded = await cache.load("appkey-acme-1");
    expect(cache.peekExpired("appkey-acme-1")).toBe(reloaded);
    // A change takes the state out of use at once; it is kept for peekExpired until the key has
    // been read again, then the new state is.
    const release = hold();
    changes.announce({ kind: "key", appKey: "appkey-acme-1" }, undefined);
    expect(cache.peek("appkey-acme-1")).toBeUndefined();
    expect(cache.peekExpired("appkey-acme-1")).toBe(reloaded);
    release();
    await settle();
    const fresh = cache.peek("appkey-acme-1");
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(reloaded);
    expect(cache.peekExpired("appkey-acme-1")).toBe(fresh);
  });

  it("reloads a stale own grant after an account-wide change, and drops a changed key", async () => {
    const { cache, changes, reads, custom } = setUp([key(1, { roleIds: [100] })]);
    const state = await cache.load("appkey-acme-1");
    if (!state) throw new Error("not loaded");
    // A custom role: the grant is read on first use, then cached.
    expect(cache.peekGrant(state, "acme")).toBeUndefined();
    expect(await cache.loadGrant(state, "acme")).toMatchObject({ resources: ["EditOrders", "ViewOrders"] });
    expect(cache.peekGrant(state, "acme")).toMatchObject({ resources: ["EditOrders", "ViewOrders"] });
    custom.set(100, {
      id: 100,
      name: "Custom A",
      predefined: false,
      allResources: false,
      resources: ["ViewOrders"],
    });
    changes.announce({ kind: "account", account: "acme" }, undefined);
    expect(cache.peekGrant(state, "acme")).toBeUndefined();
    expect(await cache.loadGrant(state, "acme")).toMatchObject({ resources: ["ViewOrders"] });
    expect(reads.roles).toBe(2);
    changes.announce({ kind: "key", appKey: "appkey-acme-1" }, undefined);
    expect(cache.peek("appkey-acme-1")).toBeUndefined();
    changes.announce({ kind: "all" }, undefined);
    expect(cache.peekGrant(state, "acme")).toBeUndefined();
  });

  it("shares identical custom grants between keys, and keeps external grants per account", async () => {
    const a = key(1, { roleIds: [100] });
    const b = key(2, { roleIds: [101] });
    const external: ExternalKeyRecord[] = [
      { id: "addition", account: "partner", key: a, addedAt: T0, roleIds: [10], lastUsedAt: null },
    ];
    const { cache } = setUp([a, b], external);
    const first = await cache.load(a.appKey);
    const second = await cache.load(b.appKey);
    if (!first || !second) throw new Error("not loaded");
    // Different custom roles with the same resources: one grant object.
    expect(await cache.loadGrant(first, "acme")).toBe(await cache.loadGrant(second, "acme"));
    expect(await cache.loadGrant(first, "partner")).toMatchObject({
      type: "external",
      resources: ["ViewOrders"],
    });
    expect(cache.peekGrant(first, "partner")).toMatchObject({ type: "external" });
    expect(first.peekOthers()?.cells?.has("partner")).toBe(true);
    expect(await cache.loadGrant(first, "stranger")).toBeNull();
    expect(cache.peekGrant(first, "stranger")).toBeNull();
    expect(first.peekOthers()?.cells?.has("stranger")).toBe(false);
    // The own grant is unaffected by other accounts' cells.
    expect(cache.peekGrant(first, "acme")).toMatchObject({ type: "generated" });
  });
});
