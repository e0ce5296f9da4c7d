/**
 * Change notifications: every change that can alter a verification decision is published here,
 * after its transaction commits. Subscribers on this instance (the key-state cache, the signing-key
 * ring) hear it synchronously, before the request that made the change answers, so the next
 * request on this instance already sees it. A fan-out (PostgreSQL LISTEN/NOTIFY or Redis pub/sub,
 * see change-fanout.ts) carries the same message to every other instance within a second.
 *
 * Messages name what changed, never a token or a hash.
 *
 * The bus also tells whether this instance hears every change from the others now (`down()`):
 * always with no fan-out (one instance); with one, only while the fan-out is connected, subscribed
 * and its heartbeat comes back in time. While it does not, caches must not answer from their
 * state (they read the store), and when it comes back every cached state is dropped first
 * (`{kind: "all"}`), since what was missed in between cannot be known.
 */
export type Change =
  /** A key's state, tokens, roles or external grants changed (or it was created or deleted). */
  | { kind: "key"; appKey: string }
  /** Something shared by many keys of one account changed (a custom role was edited or deleted). */
  | { kind: "account"; account: string }
  /** The JWT signing keys changed (rotation). */
  | { kind: "signing-keys" }
  /** Unknown scope (a fan-out reconnected and may have missed messages): forget everything cached. */
  | { kind: "all" };

export type ChangeListener = (change: Change) => void;

/** Why changes from other instances may be missed now, for logs and `/readyz`. */
export interface BusDown {
  /** The dependency that carries changes: "redis" or "postgres". */
  readonly dependency: string;
  readonly reason: string;
}

export interface ChangeBus {
  /** Applies locally at once, then fans out to other instances (best effort, never throws). */
  publish(change: Change): void;
  /** Listens to changes from this instance and from others. Returns an unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
  /** Delivers a change that arrived from another instance to local listeners only. */
  deliver(change: Change): void;
  /** Sets where published changes go beyond this instance (none by default). */
  setFanout(send: ((change: Change) => void) | null): void;
  /** Null while every change from other instances is heard; else why not. */
  down(): BusDown | null;
  /** Set by the fan-out when it cannot be sure to hear every change. */
  setDown(down: BusDown): void;
  /** Set by the fan-out once it hears again: delivers `{kind: "all"}` first if it was down. */
  setUp(): void;
}

export function createChangeBus(): ChangeBus {
  const listeners = new Set<ChangeListener>();
  let fanout: ((change: Change) => void) | null = null;
  let downState: BusDown | null = null;
  function deliver(change: Change) {
    for (const listener of listeners) listener(change);
  }
  return {
    publish(change) {
      deliver(change);
      fanout?.(change);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    deliver,
    setFanout(send) {
      fanout = send;
    },
    down: () => downState,
    setDown(down) {
      downState = down;
    },
    setUp() {
      if (downState === null) return;
      // Dropped while still down, so no cached state from before is used once up.
      deliver({ kind: "all" });
      downState = null;
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
 * Runs a write and publishes `change` once it has settled. Publishing after a rolled-back write
 * only costs one cache reload; publishing before a commit could let a reload see the old state.
 */
export async function publishAfter<T>(bus: ChangeBus, change: Change, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } finally {
    bus.publish(change);
  }
}
