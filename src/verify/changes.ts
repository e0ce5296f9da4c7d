/**
 * Change notifications: every change that can alter a verification decision is announced here,
 * after its transaction commits. Subscribers on this instance (the key-state cache, the signing-key
 * ring) hear it synchronously, before the request that made the change answers, so the next
 * request on this instance already sees it. Other instances hear it two ways:
 *
 * - the **change journal** (change-journal.ts): `changeWithin` appends the change to a table of the
 *   database in the change's own transaction, and every instance reads the table every 250 ms.
 *   This is what the 1 s promise rests on: a journal row cannot be lost the way a message can;
 * - the **fan-out** (change-fanout.ts: Redis pub/sub or PostgreSQL NOTIFY), the fast path: the same
 *   change, with its journal number, within milliseconds. A change heard both ways is applied once.
 *
 * Messages name what changed, never a token or a hash.
 *
 * The bus also tells whether this instance hears every change from the others now (`down()`): while
 * the journal cannot be read, caches must not answer from their state (they read the store). And
 * whether the fast path works (`fanoutDown()`): while it does not, changes still arrive through the
 * journal, only later (up to 250 ms), so nothing is refused or read more for it.
 */
import { randomUUID } from "node:crypto";
import type { Store, StoreOps } from "../storage/store.js";

export type Change =
  /** A key's state, tokens, roles or external grants changed (or it was created or deleted). */
  | { kind: "key"; appKey: string }
  /** Something shared by many keys of one account changed (a custom role was edited or deleted). */
  | { kind: "account"; account: string }
  /** The JWT signing keys changed (rotation). */
  | { kind: "signing-keys" }
  /** Unknown scope (changes may have been missed and cannot be replayed): forget everything cached. */
  | { kind: "all" };

export type ChangeListener = (change: Change) => void;

/** Why changes from other instances may be missed or late now, for logs and `/readyz`. */
export interface BusDown {
  /** The dependency that carries changes: "redis", "postgres", "primary" (WORKERS) or "database". */
  readonly dependency: string;
  readonly reason: string;
}

export interface ChangeBus {
  /** This instance's id: the journal and the fan-out tag its changes with it, to skip their echo. */
  readonly instance: string;
  /**
   * Applies locally at once and fans out a change already journaled (by `changeWithin`, in the
   * transaction of the change), with its journal number when it has one.
   */
  announce(change: Change, seq: number | undefined): void;
  /** Listens to changes from this instance and from others. Returns an unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
  /**
   * Delivers a change that arrived from another instance to local listeners only. A change with a
   * journal number already delivered (heard through the fan-out, then read in the journal) is not
   * delivered again.
   */
  deliver(change: Change, seq?: number): void;
  /** Sets where announced changes go beyond this instance (none by default). */
  setFanout(send: ((change: Change, seq: number | undefined) => void) | null): void;
  /** Null while every change from other instances is heard in time; else why not. */
  down(): BusDown | null;
  /** Set by the journal reader when it cannot be sure to hear every change in time. */
  setDown(down: BusDown): void;
  /** Set by the journal reader once it has read every change again. */
  setUp(): void;
  /** Null while the fan-out (fast path) works; else why not. Changes then come through the journal. */
  fanoutDown(): BusDown | null;
  setFanoutDown(down: BusDown | null): void;
}

/** Journal numbers remembered as delivered; older ones may be delivered twice (one more cache read). */
const MAX_SEEN = 10_000;

export function createChangeBus(instance: string = randomUUID()): ChangeBus {
  const listeners = new Set<ChangeListener>();
  let fanout: ((change: Change, seq: number | undefined) => void) | null = null;
  let downState: BusDown | null = null;
  let fanoutDownState: BusDown | null = null;
  const seen = new Set<number>();
  function deliverLocal(change: Change) {
    for (const listener of listeners) listener(change);
  }
  return {
    instance,
    announce(change, seq) {
      deliverLocal(change);
      fanout?.(change, seq);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    deliver(change, seq) {
      if (seq !== undefined) {
        if (seen.has(seq)) return;
        seen.add(seq);
        // A Set iterates in insertion order: the first is the oldest.
        if (seen.size > MAX_SEEN) seen.delete(seen.values().next().value as number);
      }
      deliverLocal(change);
    },
    setFanout(send) {
      fanout = send;
    },
    down: () => downState,
    setDown(down) {
      downState = down;
    },
    setUp() {
      downState = null;
    },
    fanoutDown: () => fanoutDownState,
    setFanoutDown(down) {
      fanoutDownState = down;
    },
  };
}

const KINDS = new Set(["key", "account", "signing-keys", "all"]);

/** Wire format between instances: compact JSON, validated on receipt (a bad message means "all"). */
export function encodeChange(change: Change): string {
  return JSON.stringify(change);
}

export function decodeChange(text: string): Change {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (!value || typeof value !== "object" || !KINDS.has(String(value.kind))) return { kind: "all" };
    if (value.kind === "key" && typeof value.appKey === "string")
      return { kind: "key", appKey: value.appKey };
    if (value.kind === "account" && typeof value.account === "string")
      return { kind: "account", account: value.account };
    if (value.kind === "signing-keys") return { kind: "signing-keys" };
    return { kind: "all" };
  } catch {
    return { kind: "all" };
  }
}

/**
 * Runs `fn` in one transaction of `store` that also appends `change` to the change journal, so the
 * change and its journal entry commit together (a change that committed is never unannounced,
 * whatever happens to this process next), then announces it: local caches, then the fan-out.
 * Announced whether the transaction committed or not: after a rolled-back write it only costs one
 * cache reload; announcing before the commit could let a reload see the old state.
 */
export async function changeWithin<T>(
  store: Pick<Store, "transaction">,
  bus: ChangeBus,
  change: Change,
  fn: (tx: StoreOps) => Promise<T>,
): Promise<T> {
  return changesWithin(store, bus, (tx, changed) => {
    changed(change);
    return fn(tx);
  });
}

/**
 * `changeWithin` for a use case that changes several keys in one transaction (an import): `fn`
 * names each change as it learns it (`changed`); all are journaled, then announced, as one is.
 */
export async function changesWithin<T>(
  store: Pick<Store, "transaction">,
  bus: ChangeBus,
  fn: (tx: StoreOps, changed: (change: Change) => void) => Promise<T>,
): Promise<T> {
  let changes: Change[] = [];
  let seqs: (number | undefined)[] = [];
  try {
    return await store.transaction(async (tx) => {
      // A retried transaction starts again with nothing named.
      changes = [];
      seqs = [];
      const result = await fn(tx, (change) => changes.push(change));
      const at = Date.now();
      const entries = changes.map((change) => ({ origin: bus.instance, change: encodeChange(change), at }));
      seqs =
        entries.length === 1
          ? [await tx.changeLog.append(entries[0] as (typeof entries)[0])]
          : await tx.changeLog.appendMany(entries);
      return result;
    });
  } finally {
    for (const [i, change] of changes.entries()) bus.announce(change, seqs[i]);
  }
}
