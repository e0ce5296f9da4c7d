/**
 * The key-state cache of the verification hot path.
 *
 * Entries are keyed by appKey, never by a token: an entry holds the key's status, the SHA-256
 * hashes of its current tokens and its grants per account, so a cached verification is one hash,
 * a few Map lookups and a constant-time comparison, with no I/O. Unknown appKeys are cached too
 * (negative caching), for a shorter time, so floods of made-up keys do not reach the database.
 *
 * Freshness: every change that can alter a decision is published on the change bus after it
 * commits (src/verify/changes.ts), and other instances hear it through the journal within a second.
 * A change to a key held here takes its entry out of use at once, before the changing request
 * answers, and reads the key again (a deleted key is then cached as unknown), so that the key is
 * cached with its new state right after the change rather than left for the next request to read.
 * A time-to-live bounds the damage of a change that reached the store without being journaled (a
 * write by hand, a restored backup). A change that names no key ("all") reads nothing: it takes every entry out
 * of use, and keys are read again when asked for. While the bus says changes from other instances
 * may be missed (`changes.down()`), nothing cached answers: every verification reads the store.
 *
 * An expired entry, or one a change took out of use, is never used for a decision, but its state
 * is kept until the key is read again (or evicted): `peekExpired` lets the verifier tell whether a
 * client address over the failure limit presents a token the key held, before it spends a lookup
 * on it (rate-limit.ts). A key being read (`loading`) costs such an address nothing more to ask.
 *
 * A key in use is read again in the background in the last third of its life (at most
 * `maxRefreshes` such reads at once), so steady traffic does not wait for the database.
 *
 * Loads are coalesced: concurrent misses on one appKey share one read. A read that was in flight
 * when its key changed is used by the requests already waiting on it (they started before the
 * change) but is not stored; requests after the change wait for a read that starts after it. A
 * burst of changes to one key costs at most one more read than that: changes that arrive while
 * such a read waits to start are answered by it.
 *
 * Other accounts: the accounts that added a key as an external key are read once per cached state,
 * on the first ask for an account other than the key's own; an account that did not add it is then
 * answered with no I/O and leaves nothing in the entry, and at most MAX_OTHER_GRANTS grants of
 * those that did are kept per key.
 *
 * Memory: an entry is one compact object (key-state.ts); grants, role-id lists and account names
 * are shared between keys that have the same ones (bench/cache-memory.mjs measures it). States
 * kept after a change count towards `maxEntries` and are the first to go.
 */
import { type ControlState, controlState } from "../core/key-controls.js";
import { isAccountName } from "../core/names.js";
import { type Grant, grantOf, grantResources, type RoleView } from "../core/permissions.js";
import type { KeyRecord, StoreOps } from "../storage/store.js";
import type { Change, ChangeBus } from "./changes.js";
import { CachedKey, type GrantCell, type OtherAccounts } from "./key-state.js";

/** What a verification needs to know about one account's grant to a key. */
export interface GrantState {
  /** The key's own account, or an account that added it as an external key. */
  readonly type: "generated" | "external";
  readonly grant: Grant;
  /** Sorted resource keys of the grant (every resource for Owner-like grants). */
  readonly resources: readonly string[];
  /** The addition is a request awaiting approval (services/external-key-requests.ts): it grants nothing. */
  readonly pending?: true;
}

/** The grant of an account whose addition of the key awaits approval: nothing, said as such. */
const PENDING_GRANT: GrantState = Object.freeze({
  type: "external",
  grant: grantOf([]),
  resources: Object.freeze([]) as readonly string[],
  pending: true,
});

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
  /** The index (oldest first) of the current token whose digest `presented` is, or -1; as `holdsDigest`, constant time. */
  tokenIndexOf(presented: string): number;
  /** How many current tokens the key has: 1, or 2 while a renewal is pending. */
  readonly tokenCount: number;
  readonly tokenIds: readonly string[];
  /** Role ids the key holds in its own account. */
  readonly ownRoleIds: readonly number[];
  /** The key's controls, prepared once per cached state; null when it has none. */
  readonly controls: ControlState | null;
  /** Whether a current token was imported by its hash: only then is a token of another shape than latchkey's looked for. */
  readonly importedTokens: boolean;
  /**
   * What is known of accounts other than the key's own (which added it, their grants), made on
   * first use; `peekOthers` reads it without making it. (The own account's grant is held in the
   * entry itself.)
   */
  readonly others: OtherAccounts;
  peekOthers(): OtherAccounts | null;
  /** Keeps one other account's grant (a bounded number of them, the oldest dropped first). */
  setOtherGrant(account: string, cell: GrantCell): void;
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
  /** Most entries kept, states kept after a change included; the oldest are dropped first (default 1,000,000). */
  maxEntries?: number;
  /** Most background refreshes (reads ahead of expiry) in flight at once (default 4). */
  maxRefreshes?: number;
}

/**
 * One read of a key. `started` once the store was asked (a read queued behind a stale one has not);
 * `stale` once the key changed after that: its result is then not stored.
 */
interface Read {
  promise: Promise<CachedKey | null>;
  started: boolean;
  stale: boolean;
}

const NO_ADDERS: ReadonlySet<string> = new Set();

export type KeyCache = ReturnType<typeof createKeyCache>;

export function createKeyCache(options: KeyCacheOptions) {
  const { store, roles, clock } = options;
  const ttlMs = options.ttlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 1_000_000;
  // The last third of a key's life (20 s of 60): a key in use gets many chances to be re-read
  // before it expires. With the last 10 s, keys loaded together (a start: 10,000 keys read within
  // seconds) reached their window together, 4 reads at once could not re-read them all in time
  // while the database was busy, and the requests for the keys that expired waited for it: the
  // soak's lost stretches, once a minute (bench/README.md, Soak). A key in use is then read about
  // every 28–40 s (it was 44–50).
  const refreshAheadMs = ttlMs / 3;
  const maxRefreshes = options.maxRefreshes ?? 4;
  let refreshes = 0;
  /** appKey → state, or null for "no such key". Insertion order approximates age for eviction. */
  let entries = new Map<string, CachedKey | Missing>();
  /**
   * States a change took out of use (never a basis for a decision: only for `peekExpired`), until
   * the key is read again. Disjoint from `entries`; may hold absences after an "all" change.
   */
  let superseded = new Map<string, CachedKey | Missing>();
  const inflight = new Map<string, Read>();
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

  function changed(change: Change) {
    switch (change.kind) {
      case "key":
        return keyChanged(change.appKey);
      case "account":
        accountGenerations.set(change.account, (accountGenerations.get(change.account) ?? 0) + 1);
        return;
      case "all":
        return everythingChanged();
      default:
        return;
    }
  }
  const unsubscribe = options.changes.subscribe(changed);

  /** Takes the key's entry out of use at once, and reads it again if it was held or being read. */
  function keyChanged(appKey: string) {
    const entry = entries.get(appKey);
    if (entry !== undefined) {
      entries.delete(appKey);
      if (!entry.missing) superseded.set(appKey, entry);
    }
    // An absence is only dropped: a key never held here is not read because it changed.
    if ((entry !== undefined && !entry.missing) || inflight.has(appKey)) reread(appKey).catch(() => {});
  }

  function everythingChanged() {
    globalGeneration++;
    if (superseded.size === 0) {
      superseded = entries;
    } else {
      for (const [appKey, entry] of entries) if (!entry.missing) superseded.set(appKey, entry);
    }
    entries = new Map();
    for (const appKey of [...inflight.keys()]) reread(appKey).catch(() => {});
  }

  /**
   * A read of the key that starts after now: the read in flight is marked stale and the new one
   * queued behind it (at most one queued read per key: a queued read answers later changes too).
   */
  function reread(appKey: string): Promise<CachedKey | null> {
    const current = inflight.get(appKey);
    if (current && !current.started) return current.promise;
    if (current) current.stale = true;
    return startRead(appKey, current).promise;
  }

  function load(appKey: string): Promise<CachedKey | null> {
    return (inflight.get(appKey) ?? startRead(appKey, undefined)).promise;
  }

  /** Whether the key is being read: asking for it then costs no further lookup. */
  function loading(appKey: string): boolean {
    return inflight.has(appKey);
  }

  function startRead(appKey: string, after: Read | undefined): Read {
    const read: Read = { promise: Promise.resolve(null), started: false, stale: false };
    const run = () => {
      read.started = true;
      return store.keys.getByAppKey(appKey);
    };
    read.promise = (after ? after.promise.then(run, run) : run())
      .then((record) => {
        // A read that a change made stale never renews the held state (a new one is made).
        const held = read.stale ? undefined : entries.get(appKey);
        const state = record ? stateOf(record, held) : null;
        if (!read.stale) {
          superseded.delete(appKey);
          // The record's appKey string serves as the Map's key too when it is the same text. A
          // renewed state keeps its place in the eviction order until the cache is half full (moving
          // it costs the Map a rehash every ~30,000 moves: megabytes of garbage at 100,000 keys).
          if (state === null || state !== held || entries.size + superseded.size >= maxEntries / 2)
            remember(
              state?.appKey === appKey ? state.appKey : appKey,
              state ?? { missing: true, expiresAt: clock.now() + negativeTtlMs },
            );
        }
        return state;
      })
      .finally(() => {
        if (inflight.get(appKey) === read) inflight.delete(appKey);
      });
    inflight.set(appKey, read);
    return read;
  }

  function remember(appKey: string, value: CachedKey | Missing) {
    // Deleted first, so that a key read again moves to the back of the eviction order.
    entries.delete(appKey);
    if (entries.size + superseded.size >= maxEntries) makeRoom();
    entries.set(appKey, value);
  }

  /** Drops the oldest tenth at once, so a full cache does not evict on every insert; superseded states go first. */
  function makeRoom() {
    let drop = Math.max(1, Math.floor(maxEntries / 10));
    for (const pool of [superseded, entries]) {
      for (const key of pool.keys()) {
        pool.delete(key);
        if (--drop === 0) return;
      }
    }
  }

  /**
   * The cached state: a KeyState, `null` for a key known not to exist, `undefined` when the cache
   * cannot answer (never loaded, expired, or changed) and `load` must be called. `now`: the
   * caller's reading of the cache's clock, when it has one (the verifier reads it once a request).
   */
  function peek(appKey: string, now = clock.now()): CachedKey | null | undefined {
    // Changes from other instances may be missed now: every decision reads the store.
    if (options.changes.down() !== null) return undefined;
    const entry = entries.get(appKey);
    if (entry === undefined) return undefined;
    const left = entry.missing ? entry.expiresAt - now : entry.leftAt(now);
    if (left <= 0) {
      if (entry.missing) entries.delete(appKey);
      return undefined;
    }
    if (entry.missing) return null;
    // Refresh ahead: a key in use is re-read in the background in the last third of its life, so
    // steady traffic never waits for the database.
    if (left < refreshAheadMs && refreshes < maxRefreshes && !inflight.has(appKey)) refresh(appKey);
    return entry;
  }

  /**
   * A background read of a key still cached. Few at once: keys loaded together (a start, a cache
   * fill) reach their refresh window together, and thousands of reads queued at once held the
   * database pool (a change's re-read waited seconds behind them) and their pending queries grew
   * the heap by 100 MB. A key not refreshed now is on its next request, or read when it expires.
   */
  function refresh(appKey: string) {
    refreshes++;
    load(appKey)
      .catch(() => {})
      .finally(() => {
        refreshes--;
      });
  }

  /**
   * The last state read for a known key, however old: expired, or taken out of use by a change
   * (kept until the key is read again), or undefined when none is held (never read, unknown,
   * evicted). Not a basis for a decision: only for whether a token deserves a lookup.
   */
  function peekExpired(appKey: string): CachedKey | undefined {
    const entry = entries.get(appKey) ?? superseded.get(appKey);
    return entry === undefined || entry.missing ? undefined : entry;
  }

  /**
   * The state of a key read from the store. `held`: the entry the cache holds for it (expired, or
   * being refreshed); when the read finds that key unchanged and without controls, the held state
   * is renewed rather than replaced (a key with controls is always made anew: its quota moves).
   */
  function stateOf(record: KeyRecord, held: CachedKey | Missing | undefined): CachedKey {
    const memo = record.roleIds.join(",");
    // Spread over the last 20 % of the time to live, so keys loaded together (a start, a burst)
    // do not all expire together, and their refreshes drift apart cycle after cycle; none lives
    // longer than `ttlMs`.
    const expiresAt = clock.now() + ttlMs * (0.8 + Math.random() * 0.2);
    const controls = controlState(record);
    let state: CachedKey;
    if (held instanceof CachedKey && controls === null && held.controls === null && held.sameRead(record)) {
      state = held;
      state.renew(expiresAt);
    } else {
      state = new CachedKey({
        keyId: record.id,
        appKey: record.appKey,
        account: shared(sharedAccounts, record.account, record.account),
        active: record.active,
        tokenHashes: record.tokens.map((token) => token.hash),
        tokenIds: record.tokens.map((token) => token.id),
        // A frozen copy: shared by every key with these roles, so nobody may change it.
        ownRoleIds:
          sharedRoleIds.get(memo) ?? shared(sharedRoleIds, memo, Object.freeze([...record.roleIds])),
        controls,
        importedTokens: record.tokens.some((token) => token.imported === true),
        expiresAt,
      });
    }
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

  /** The grant of `account` to the key from the cache, or `undefined` when it must be loaded (`now` as `peek`'s). */
  function peekGrant(state: KeyState, account: string, now = clock.now()): GrantState | null | undefined {
    if (options.changes.down() !== null) return undefined;
    if (account === state.account) {
      if (!(state instanceof CachedKey)) return undefined;
      return state.ownGrantFresh(generationOf(account), now) ? state.ownGrant : undefined;
    }
    const others = state.peekOthers();
    if (others === null || others.adders === null) return undefined;
    if (!others.adders.has(account)) return null;
    const cell = others.cells?.get(account);
    if (!cell || cell.generation !== generationOf(account) || cell.expiresAt <= now) return undefined;
    return cell.value;
  }

  async function loadGrant(state: KeyState, account: string): Promise<GrantState | null> {
    const generation = generationOf(account);
    if (account === state.account) {
      const value = grantState("generated", await roles.existing(store, account, state.ownRoleIds));
      if (state instanceof CachedKey) state.setOwnGrant(value, generation, clock.now() + ttlMs);
      return value;
    }
    // Callers refuse what cannot be an account name; this keeps such a value from any I/O anyway.
    if (!isAccountName(account) || !(await addersOf(state)).has(account)) return null;
    const external = await store.externalKeys.get(account, state.keyId);
    const value = !external
      ? null
      : external.request
        ? PENDING_GRANT
        : grantState("external", await roles.existing(store, account, external.roleIds));
    state.setOtherGrant(account, { value, generation, expiresAt: clock.now() + ttlMs });
    return value;
  }

  /** The accounts that added the key: read once per cached state, concurrent asks sharing the read. */
  function addersOf(state: KeyState): ReadonlySet<string> | Promise<ReadonlySet<string>> {
    const others = state.others;
    if (others.adders !== null) return others.adders;
    others.reading ??= store.externalKeys.listAccounts(state.keyId).then(
      (accounts) => {
        others.adders =
          accounts.length === 0
            ? NO_ADDERS
            : new Set(accounts.map((name) => shared(sharedAccounts, name, name)));
        others.reading = null;
        return others.adders;
      },
      (error: unknown) => {
        others.reading = null;
        throw error;
      },
    );
    return others.reading;
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
    loading,
    peekGrant,
    loadGrant,
    /** Key states held in memory: the entries and those a change took out of use, not read again yet. */
    held: () => entries.size + superseded.size,
    close: unsubscribe,
  };
}
