/**
 * Store contract for JWT signing keys, on SQLite and real PostgreSQL: the table holds installation-
 * wide rows, so each test uses a store of its own.
 */
import { describe, expect, it } from "vitest";
import type { SigningKeyRecord } from "../src/storage/store.js";
import { hex, T0, withOwnStore } from "./support/store-fixtures.js";

function signingKey(generation: number, over: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid: `kid-${hex(8)}`,
    generation,
    createdAt: T0 + generation,
    retiredAt: null,
    publicJwk: { kty: "EC", crv: "P-256", x: hex(16), y: hex(16) },
    sealedPrivateKey: `v1.${hex(12)}`,
    ...over,
  };
}

describe.each(["sqlite", "postgres"] as const)("Store signing keys on %s", (kind) => {
  it("stores keys, lists them newest generation first, retires and deletes them", () =>
    withOwnStore(kind, async (store) => {
      expect(await store.signingKeys.list()).toEqual([]);
      const first = signingKey(1);
      const second = signingKey(2);
      expect(await store.signingKeys.insert(first)).toBe(true);
      expect(await store.signingKeys.retire(first.kid, T0 + 10)).toBe(true);
      expect(await store.signingKeys.retire(first.kid, T0 + 20)).toBe(false);
      expect(await store.signingKeys.retire("kid-unknown", T0 + 20)).toBe(false);
      expect(await store.signingKeys.insert(second)).toBe(true);
      expect(await store.signingKeys.list()).toEqual([second, { ...first, retiredAt: T0 + 10 }]);
      // Only retired keys go, and only those retired strictly before the cut.
      expect(await store.signingKeys.deleteRetiredBefore(T0 + 10)).toBe(0);
      expect(await store.signingKeys.deleteRetiredBefore(T0 + 11)).toBe(1);
      expect(await store.signingKeys.list()).toEqual([second]);
    }));

  it("lets one of two keys of the same generation in, and reports the other", () =>
    withOwnStore(kind, async (store) => {
      const [a, b] = [signingKey(1), signingKey(1)];
      const inserted = await Promise.all([store.signingKeys.insert(a), store.signingKeys.insert(b)]);
      expect(inserted.filter(Boolean)).toHaveLength(1);
      expect((await store.signingKeys.list()).map((key) => key.kid)).toEqual([inserted[0] ? a.kid : b.kid]);
    }));

  it("rolls a retirement back with its transaction", () =>
    withOwnStore(kind, async (store) => {
      const key = signingKey(1);
      await store.signingKeys.insert(key);
      const failed = store.transaction(async (tx) => {
        expect(await tx.signingKeys.retire(key.kid, T0 + 5)).toBe(true);
        expect(await tx.signingKeys.insert(signingKey(1))).toBe(false);
        throw new Error("lost the race");
      });
      await expect(failed).rejects.toThrow("lost the race");
      expect(await store.signingKeys.list()).toEqual([key]);
    }));
});
