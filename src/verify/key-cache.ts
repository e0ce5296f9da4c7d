/**
 * The key-state cache of the verification hot path.
 *
 * Entries are keyed by appKey, never by a token: an entry holds the key's status, the SHA-256
 * hashes of its current tokens and its grants per account, so a cached verification is one hash,
 * a few Map lookups and a constant-time comparison, with no I/O. Unknown appKeys are cached too
 * (negative caching), for a shorter time, so floods of made-up keys do not reach the database.
 *
 * Freshness: every change that can alter a decision is published on the change bus after it
 * commits (src/verify/changes.ts); the cache drops what it names before the changing request
 * answers, and other instances hear it through the fan-out within a second. A time-to-live bounds
 * the damage of a missed message (a fan-out outage, a write by a process without a fan-out).
 * An expired entry is never used for a decision, but it is kept until the key is read again (or
 * evicted, or changed): `peekExpired` lets the verifier tell whether a client address over the
 * failure limit presents a token the key held, before it spends a lookup on it (rate-limit.ts).
 *
 * Loads are coalesced: concurrent misses on one appKey share one read. A load that was in flight
 * when its key changed is used by the requests already waiting on it (they started before the
 * change) but is not stored.
 *
 * Memory: an entry is one compact object (key-state.ts); grants, role-id lists and account names
 * are shared between keys that have the same ones (bench/cache-memory.mjs measures it).
 */
import { type Grant, grantOf, grantResources, type RoleView } from "../core/permissions.js";
import type { KeyRecord, StoreOps } from "../storage/store.js";
import type { Change, ChangeBus } from "./changes.js";
import { CachedKey, type GrantCell } from "./key-state.js";

/** What a verification needs to know about one account's grant to a key. */
export interface GrantState {
  /** The key's own account, or an account that added it as an external key. */
  readonly type: "generated" | "external";
  readonly grant: Grant;
  /** Sorted resource keys of the grant (every resource for Owner-like grants). */
  readonly resources: readonly string[];
}

/** An appKey known not to exist, until `expiresAt`. */
interface Missing {
  readonly missing: true;
  readonly expiresAt: number;
}

export interface KeyState {
  /** Always false: lets one property tell cached keys from cached absences. */
  readonly missing: false;
  readonly keyId: string;
  readonly appKey: string;
  readonly account: string;
  readonly active: boolean;
  /** base64url SHA-256 of each current token (one, or two while a renewal is pending); derived from the digests on each read. */
  readonly tokenHashes: readonly string[];
  /** The same hashes as 32-byte digests, compared as they are on the hot path. */
  readonly tokenDigests: readonly Buffer[];
  /**
   * Whether `presented` (a token's SHA-256 as a binary string) is one of the current tokens'
   * digests: every digest is compared in constant time, with no early exit and no allocation.
   */
  holdsDigest(presented: string): boolean;
  readonly tokenIds: readonly string[];
  /** Role ids the key holds in its own account. */
  readonly ownRoleIds: readonly number[];
  /**
   * Grants of accounts other than the key's own, filled on first use; `null` when that account
   * grants the key nothing. (The own account's grant is held in the entry itself.)
   */
  readonly grants: Map<string, GrantCell>;
  readonly expiresAt: number;
}

export interface KeyCacheOptions {
  store: StoreOps;
  /** Resolves role ids of an account to roles (predefined from the catalog, custom from the store). */
  roles: {
    existing(tx: StoreOps, account: string, ids: readonly number[]): Promise<RoleView[]>;
    /** A predefined role from the catalog (no I/O), or undefined for a custom role. */
    predefined(id: number): RoleView | undefined;
  };
  /** Every resource key of the installation (for Owner-like grants). */
  everyResource: readonly string[];
  changes: ChangeBus;
  clock: { now(): number };
  /** Time to live of a known key (default 60 s) and of an unknown appKey (default 10 s). */
  ttlMs?: number;
  negativeTtlMs?: number;
  /** Most entries kept; the oldest are dropped first (default 1,000,000). */
  maxEntries?: number;
}

export type KeyCache = ReturnType<typeof createKeyCache>;

export function createKeyCache(options: KeyCacheOptions) {
  const { store, roles, clock } = options;
  const ttlMs = options.ttlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 1_000_000;
  const refreshAheadMs = Math.min(10_000, ttlMs / 4);
  /** appKey → state, or null for "no such key". Insertion order approximates age for eviction. */
  const entries = new Map<string, CachedKey | Missing>();
  const inflight = new Map<string, Promise<CachedKey | null>>();
  /** appKeys that changed while their load was in flight: the load's result must not be stored. */
  const changedInFlight = new Set<string>();
  const accountGenerations = new Map<string, number>();
  /** Own grants of predefined role sets, by role ids ("10,11"). */
  const predefinedGrants = new Map<string, GrantState>();
  /** Shared between keys: grants by content, role-id lists by ids, account names. */
  const sharedGrants = new Map<string, GrantState>();
  const sharedRoleIds = new Map<string, readonly number[]>();
  const sharedAccounts = new Map<string, string>();
  const SHARED_MAX = 10_000;
  let globalGeneration = 0;

  function generationOf(account: string): number {
    return (accountGenerations.get(account) ?? 0) + globalGeneration;
  }

  function forget(change: Change) {
    switch (change.kind) {
      case "key":
        entries.delete(change.appKey);
        if (inflight.has(change.appKey)) changedInFlight.add(change.appKey);
        return;
      case "account":
        accountGenerations.set(change.account, (accountGenerations.get(change.account) ?? 0) + 1);
        return;
      case "all":
        entries.clear();
        globalGeneration++;
        for (const appKey of inflight.keys()) changedInFlight.add(appKey);
        return;
      default:
        return;
    }
  }
  const unsubscribe = options.changes.subscribe(forget);

  function remember(appKey: string, value: CachedKey | Missing) {
    // Deleted first, so that a key read again moves to the back of the eviction order.
    entries.delete(appKey);
    if (entries.size >= maxEntries) {
      // Drop the oldest tenth at once, so a full cache does not evict on every insert.
      let drop = Math.max(1, Math.floor(maxEntries / 10));
      for (const key of entries.keys()) {
        entries.delete(key);
        if (--drop === 0) break;
      }
    }
    entries.set(appKey, value);
  }

  /**
   * The cached state: a KeyState, `null` for a key known not to exist, `undefined` when the cache
   * cannot answer (never loaded, expired, or changed) and `load` must be called.
   */
  function peek(appKey: string): CachedKey | null | undefined {
    const entry = entries.get(appKey);
    if (entry === undefined) return undefined;
    const left = entry.missing ? entry.expiresAt - clock.now() : entry.leftAt(clock.now());
    if (left <= 0) {
      if (entry.missing) entries.delete(appKey);
      return undefined;
    }
    if (entry.missing) return null;
    // Refresh ahead: a key in use is re-read in the background shortly before it expires, so
    // steady traffic never waits for the database.
    if (left < refreshAheadMs && !inflight.has(appKey)) load(appKey).catch(() => {});
    return entry;
  }

  /**
   * The last state read for a known key, however old (expired entries stay until read again), or
   * undefined when none is held (never read, unknown, evicted, or dropped by a change). Not a basis
   * for a decision: only for whether a token deserves a lookup.
   */
  function peekExpired(appKey: string): CachedKey | undefined {
    const entry = entries.get(appKey);
    return entry === undefined || entry.missing ? undefined : entry;
  }

  function load(appKey: string): Promise<CachedKey | null> {
    const pending = inflight.get(appKey);
    if (pending) return pending;
    const promise = store
      .getKeyByAppKey(appKey)
      .then((record) => {
        const state = record ? stateOf(record) : null;
        if (!changedInFlight.has(appKey)) {
          // The record's appKey string serves as the Map's key too when it is the same text.
          remember(
            state?.appKey === appKey ? state.appKey : appKey,
            state ?? { missing: true, expiresAt: clock.now() + negativeTtlMs },
          );
        }
        return state;
      })
      .finally(() => {
        inflight.delete(appKey);
        changedInFlight.delete(appKey);
      });
    inflight.set(appKey, promise);
    return promise;
  }

  function stateOf(record: KeyRecord): CachedKey {
    const memo = record.roleIds.join(",");
    const state = new CachedKey({
      keyId: record.id,
      appKey: record.appKey,
      account: shared(sharedAccounts, record.account, record.account),
      active: record.active,
      tokenHashes: record.tokens.map((token) => token.hash),
      tokenIds: record.tokens.map((token) => token.id),
      // A frozen copy: shared by every key with these roles, so nobody may change it.
      ownRoleIds: sharedRoleIds.get(memo) ?? shared(sharedRoleIds, memo, Object.freeze([...record.roleIds])),
      // Spread over the last 10 % of the time to live, so keys loaded together (a start, a burst)
      // do not all expire together; none lives longer than `ttlMs`.
      expiresAt: clock.now() + ttlMs * (0.9 + Math.random() * 0.1),
    });
    // Keys holding predefined roles only (the common case) get their own grant now, with no I/O,
    // shared by every key with the same roles (predefined roles never change while running).
    let value = predefinedGrants.get(memo);
    if (value === undefined) {
      const held: RoleView[] = [];
      for (const id of record.roleIds) {
        const role = roles.predefined(id);
        if (!role) return state;
        held.push(role);
      }
      value = grantState("generated", held);
      if (predefinedGrants.size < SHARED_MAX) predefinedGrants.set(memo, value);
    }
    state.setOwnGrant(value, generationOf(state.account), state.expiresAt);
    return state;
  }

  /** The value shared under `id`, remembering `value` there if none is (up to SHARED_MAX). */
  function shared<T>(pool: Map<string, T>, id: string, value: T): T {
    const known = pool.get(id);
    if (known !== undefined) return known;
    if (pool.size < SHARED_MAX) pool.set(id, value);
    return value;
  }

  /** The grant of `account` to the key from the cache, or `undefined` when it must be loaded. */
  function peekGrant(state: KeyState, account: string): GrantState | null | undefined {
    if (state instanceof CachedKey) {
      if (account === state.account) {
        return state.ownGrantFresh(generationOf(account), clock.now()) ? state.ownGrant : undefined;
      }
      const cell = state.cellOf(account);
      if (!cell || cell.generation !== generationOf(account) || cell.expiresAt <= clock.now())
        return undefined;
      return cell.value;
    }
    const cell = state.grants.get(account);
    if (!cell || cell.generation !== generationOf(account) || cell.expiresAt <= clock.now()) return undefined;
    return cell.value;
  }

  async function loadGrant(state: KeyState, account: string): Promise<GrantState | null> {
    const generation = generationOf(account);
    let value: GrantState | null;
    if (account === state.account) {
      value = grantState("generated", await roles.existing(store, account, state.ownRoleIds));
    } else {
      const external = await store.getExternalKey(account, state.keyId);
      value = external
        ? grantState("external", await roles.existing(store, account, external.roleIds))
        : null;
    }
    if (state instanceof CachedKey && account === state.account) {
      state.setOwnGrant(value, generation, clock.now() + ttlMs);
    } else {
      state.grants.set(account, { value, generation, expiresAt: clock.now() + ttlMs });
    }
    return value;
  }

  /** Identical grants (same type, same resources) are one shared object. */
  function grantState(type: GrantState["type"], held: RoleView[]): GrantState {
    const grant = grantOf(held);
    const resources = grantResources(grant, options.everyResource);
    const id = `${type}:${grant.all ? "*" : resources.join(",")}`;
    return shared(sharedGrants, id, { type, grant, resources });
  }

  return {
    peek,
    peekExpired,
    load,
    peekGrant,
    loadGrant,
    /** Number of entries (known and unknown keys) held now. */
    size: () => entries.size,
    close: unsubscribe,
  };
}
