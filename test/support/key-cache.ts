/**
 * A key-state cache over an in-memory stand-in for the store, for the key-cache tests: it counts
 * reads, and can hold key reads (`hold`) to make a read be in flight when something changes.
 */
import { createHash } from "node:crypto";
import { NO_CONTROLS } from "../../src/core/key-controls.js";
import type { RoleView } from "../../src/core/permissions.js";
import type { ExternalKeyRecord, KeyRecord, StoreOps } from "../../src/storage/store.js";
import { createChangeBus } from "../../src/verify/changes.js";
import { createKeyCache } from "../../src/verify/key-cache.js";

export const T0 = Date.parse("2026-11-26T10:00:00Z");
export const hash = (token: string) => createHash("sha256").update(token).digest("base64url");

const PREDEFINED: Record<number, RoleView> = {
  10: { id: 10, name: "Read orders", predefined: true, allResources: false, resources: ["ViewOrders"] },
  1: { id: 1, name: "Owner", predefined: true, allResources: true, resources: [] },
};

export function key(i: number, fields: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    appKey: `appkey-acme-${i}`,
    account: "acme",
    name: `key ${i}`,
    active: true,
    inactiveReason: null,
    createdAt: T0,
    updatedAt: T0,
    tokenCreatedAt: T0,
    lastUsedAt: null,
    roleIds: [10],
    tokens: [{ id: `token-${i}`, hash: hash(`secret-${i}`), createdAt: T0 }],
    ...NO_CONTROLS,
    quotaPeriod: 0,
    quotaSetAt: 0,
    quotaBase: null,
    ...fields,
  };
}

export function setUp(records: KeyRecord[], external: ExternalKeyRecord[] = []) {
  let now = T0;
  const reads = { keys: 0, roles: 0, adders: 0, external: 0 };
  /** While set, key reads take their snapshot at once but answer only when it resolves. */
  let gate: Promise<void> | null = null;
  const custom = new Map<number, RoleView>([
    [
      100,
      {
        id: 100,
        name: "Custom A",
        predefined: false,
        allResources: false,
        resources: ["EditOrders", "ViewOrders"],
      },
    ],
    [
      101,
      {
        id: 101,
        name: "Custom B",
        predefined: false,
        allResources: false,
        resources: ["ViewOrders", "EditOrders"],
      },
    ],
  ]);
  const store = {
    keys: {
      async getByAppKey(appKey: string) {
        reads.keys++;
        const found = records.find((record) => record.appKey === appKey);
        // A fresh copy per read, as a database would return.
        const copy = found ? structuredClone(found) : null;
        if (gate) await gate;
        return copy;
      },
    },
    externalKeys: {
      async get(account: string, keyId: string) {
        reads.external++;
        return external.find((e) => e.account === account && e.key.id === keyId) ?? null;
      },
      async listAccounts(keyId: string) {
        reads.adders++;
        return external.filter((e) => e.key.id === keyId).map((e) => e.account);
      },
    },
  } as unknown as StoreOps;
  const changes = createChangeBus();
  const cache = createKeyCache({
    store,
    roles: {
      async existing(_tx, _account, ids) {
        reads.roles++;
        return ids.flatMap((id) => {
          const role = PREDEFINED[id] ?? custom.get(id);
          return role ? [role] : [];
        });
      },
      predefined: (id) => PREDEFINED[id],
    },
    everyResource: ["EditOrders", "ViewOrders"],
    changes,
    clock: { now: () => now },
  });
  /** Holds key reads until the returned function is called. */
  function hold(): () => void {
    let release = () => {};
    gate = new Promise((resolve) => {
      release = () => {
        gate = null;
        resolve();
      };
    });
    return release;
  }
  return { cache, changes, reads, custom, hold, advance: (ms: number) => (now += ms) };
}

/** Lets pending reads settle. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
