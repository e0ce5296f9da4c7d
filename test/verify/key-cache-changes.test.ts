/**
 * A change to a key the cache holds: the old state never answers again, and the key is read again
 * at once, so that right after the change it is cached with its new state (a failure-limited
 * address then needs no lookup for it). Reads are coalesced; keys never held are not read.
 */
import { describe, expect, it } from "vitest";
import { tokenDigestBinary } from "../../src/crypto/token-hash.js";
import type { ExternalKeyRecord } from "../../src/storage/store.js";
import { MAX_OTHER_GRANTS } from "../../src/verify/key-state.js";
import { hash, key, settle, setUp, T0 } from "../support/key-cache.js";

const APPKEY = "appkey-acme-1";

describe("a change to a cached key", () => {
  it("is read again at once: never answered from the old state, cached with the new one right after", async () => {
    const records = [key(1)];
    const { cache, changes, reads } = setUp(records);
    const before = await cache.load(APPKEY);
    expect(reads.keys).toBe(1);
    // A renewal: a second token.
    records[0] = key(1, {
      tokens: [...key(1).tokens, { id: "token-1b", hash: hash("secret-1b"), createdAt: T0 }],
    });
    changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    expect(cache.peek(APPKEY)).toBeUndefined();
    expect(cache.loading(APPKEY)).toBe(true);
    await settle();
    const after = cache.peek(APPKEY);
    expect(after).not.toBe(before);
    expect(after?.holdsDigest(tokenDigestBinary("secret-1b"))).toBe(true);
    expect(after?.holdsDigest(tokenDigestBinary("secret-1"))).toBe(true);
    expect(reads.keys).toBe(2);

    // Deactivated: the fresh state says so at once.
    records[0] = key(1, { active: false });
    changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    await settle();
    expect(cache.peek(APPKEY)?.active).toBe(false);
    // Deleted: the read finds nothing, and the appKey is cached as unknown.
    records.length = 0;
    changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    await settle();
    expect(cache.peek(APPKEY)).toBeNull();
    expect(cache.peekExpired(APPKEY)).toBeUndefined();
    expect(reads.keys).toBe(4);
  });

  it("heard from another instance, does the same", async () => {
    const records = [key(1)];
    const { cache, changes, reads } = setUp(records);
    await cache.load(APPKEY);
    records[0] = key(1, { roleIds: [1] });
    changes.deliver({ kind: "key", appKey: APPKEY });
    expect(cache.peek(APPKEY)).toBeUndefined();
    await settle();
    const state = cache.peek(APPKEY);
    if (!state) throw new Error("not cached again");
    expect(cache.peekGrant(state, "acme")?.grant.all).toBe(true);
    expect(reads.keys).toBe(2);
  });

  it("coalesces a burst of changes, and reads no key it never held", async () => {
    const records = [key(1), key(2)];
    const { cache, changes, reads, hold } = setUp(records);
    await cache.load(APPKEY);
    await cache.load("appkey-acme-404");
    const release = hold();
    for (let i = 0; i < 10; i++) changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    // A read in flight when the key changes again is not stored; one more read follows it, and
    // every change meanwhile is answered by that one.
    for (let i = 0; i < 10; i++) changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    changes.announce({ kind: "key", appKey: "appkey-acme-2" }, undefined);
    changes.announce({ kind: "key", appKey: "appkey-acme-404" }, undefined);
    release();
    await settle();
    await settle();
    expect(reads.keys).toBe(2 + 2);
    expect(cache.peek(APPKEY)).toBeTruthy();
    expect(cache.peek("appkey-acme-2")).toBeUndefined();
    expect(cache.peek("appkey-acme-404")).toBeUndefined();
  });

  it("answers requests after the change from a read that started after it", async () => {
    const records = [key(1)];
    const { cache, changes, hold } = setUp(records);
    const release = hold();
    const early = cache.load(APPKEY);
    records[0] = key(1, { active: false });
    changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    const late = cache.load(APPKEY);
    release();
    // The request that asked before the change gets what was read then; the later one, the new state.
    expect((await early)?.active).toBe(true);
    expect((await late)?.active).toBe(false);
    await settle();
    expect(cache.peek(APPKEY)?.active).toBe(false);
  });

  it("takes every entry out of use on an unknown change, keeping the states for peekExpired only", async () => {
    const { cache, changes, reads } = setUp([key(1), key(2)]);
    const one = await cache.load(APPKEY);
    await cache.load("appkey-acme-2");
    changes.announce({ kind: "all" }, undefined);
    await settle();
    expect(reads.keys).toBe(2);
    expect(cache.peek(APPKEY)).toBeUndefined();
    expect(cache.peekExpired(APPKEY)).toBe(one);
    const again = await cache.load(APPKEY);
    expect(cache.peek(APPKEY)).toBe(again);
    expect(cache.peekExpired(APPKEY)).toBe(again);
  });
});

describe("other accounts' grants", () => {
  const adders = (count: number, keyIndex = 1): ExternalKeyRecord[] =>
    Array.from({ length: count }, (_, i) => ({
      id: `addition-${i}`,
      account: `partner-${i}`,
      key: key(keyIndex),
      addedAt: T0,
      roleIds: [10],
      lastUsedAt: null,
    }));

  it("answer an account that never added the key with no I/O and nothing kept, after one read of who did", async () => {
    const { cache, reads } = setUp([key(1)], adders(1));
    const state = await cache.load(APPKEY);
    if (!state) throw new Error("not loaded");
    const names = Array.from({ length: 300 }, (_, i) => `made-up-${i}`);
    const answers = await Promise.all(names.map((name) => cache.loadGrant(state, name)));
    expect(answers.every((answer) => answer === null)).toBe(true);
    expect(names.every((name) => cache.peekGrant(state, name) === null)).toBe(true);
    expect([reads.adders, reads.external]).toEqual([1, 0]);
    expect(state.peekOthers()?.cells?.size ?? 0).toBe(0);
    expect(await cache.loadGrant(state, "partner-0")).toMatchObject({ type: "external" });
    expect([reads.adders, reads.external]).toEqual([1, 1]);
    // Not an account name: no I/O at all.
    expect(await cache.loadGrant(state, "x".repeat(8000))).toBeNull();
    expect(await cache.loadGrant(state, "Partner-0")).toBeNull();
    expect([reads.adders, reads.external]).toEqual([1, 1]);
  });

  it("keep at most MAX_OTHER_GRANTS grants per key, the oldest dropped first", async () => {
    const count = MAX_OTHER_GRANTS + 8;
    const { cache, reads } = setUp([key(1)], adders(count));
    const state = await cache.load(APPKEY);
    if (!state) throw new Error("not loaded");
    for (let i = 0; i < count; i++) expect(await cache.loadGrant(state, `partner-${i}`)).not.toBeNull();
    expect(state.peekOthers()?.cells?.size).toBe(MAX_OTHER_GRANTS);
    expect(cache.peekGrant(state, "partner-0")).toBeUndefined();
    expect(cache.peekGrant(state, `partner-${count - 1}`)).toMatchObject({ type: "external" });
    expect(reads.external).toBe(count);
  });

  it("learn of an addition through the key's change", async () => {
    const external = adders(0);
    const { cache, changes } = setUp([key(1)], external);
    const state = await cache.load(APPKEY);
    if (!state) throw new Error("not loaded");
    expect(await cache.loadGrant(state, "partner-0")).toBeNull();
    external.push(...adders(1));
    changes.announce({ kind: "key", appKey: APPKEY }, undefined);
    await settle();
    const fresh = cache.peek(APPKEY);
    if (!fresh) throw new Error("not cached again");
    expect(cache.peekGrant(fresh, "partner-0")).toBeUndefined();
    expect(await cache.loadGrant(fresh, "partner-0")).toMatchObject({ type: "external" });
  });
});
