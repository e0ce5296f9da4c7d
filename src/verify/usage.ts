/**
 * Usage counting off the request path. A verification adds to counters in memory (one Map lookup,
 * no allocation once a key has been seen); a timer writes them to the store every few seconds as
 * one batch, and the last batch is written at shutdown. A failed write keeps the counts for the
 * next attempt, so a database hiccup delays usage figures but loses none.
 *
 * What waits for a write is merged, never appended: one count per key and day, one last use per
 * key, per token, per key and account, and per key, account and resource. So however long the database stays
 * away, memory is bounded by the keys in use (not by the number of failed writes), and a batch
 * never holds two rows for one stored row (PostgreSQL refuses an upsert that touches a row twice,
 * which made every later write fail once one had).
 */
import { DAY_MS } from "../core/time.js";
import type {
  AccountUseRecord,
  QuotaSpend,
  ResourceUseRecord,
  TokenUseRecord,
  UsageBatch,
  UsageDay,
  UsageRepository,
} from "../storage/store.js";
import { lockOrderSlices } from "../storage/usage-order.js";

/**
 * Keys per write: a power of two, so that a slice's statements are whole (kysely-usage.ts `chunks`),
 * and small enough that no request waits long behind one on the embedded database, whose writes
 * are synchronous. Not smaller: each SQLite transaction writes every page it touched to the WAL,
 * and keys are spread over the tables' pages, so slices of 64 wrote about three times the bytes of
 * slices of 256 and served fewer requests in all.
 */
export const SLICE_KEYS = 256;

/**
 * How far the timer lets a busy key's own row (`keys.last_used_at`) lag behind its last use: 10
 * minutes. That row is wide and `last_used_at` is indexed (the listing's sort), so each rewrite
 * writes every index of `keys`; on PostgreSQL that is 11 of them, the trigram indexes included, and
 * a dead row for vacuum (0.2 ms a key: the largest part of a usage write once a minute, bench/README.md,
 * Soak). A key's first use, and the exact last use of a key that stopped being used, are written
 * at the next write all the same; each token's last use (`lastUsedAtToken`), the accounts' and the
 * resources' stay to the minute, and `flush()` and `stop()` write every time exactly.
 */
export const KEY_ROW_LAST_USE_MS = 600_000;

/** The span of a counter's times after the recorder's origin: 2^30 ms, ~12.4 days (see `since`). */
const TIME_SPAN = 2 ** 30;

class UsageWriteError extends Error {
  constructor(override readonly cause: unknown) {
    super("usage write failed");
  }
}

/** Lets the requests waiting on the event loop run (between a write's sorting steps and slices). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface UsageRecorderOptions {
  store: { usage: Pick<UsageRepository, "record"> };
  clock: { now(): number };
  /** How often counters are written (default 5 s; the contract is at most 10 s). */
  intervalMs?: number;
  /**
   * How often the timer's writes include last-use times (of the key, its tokens, its accounts and
   * resources; default 60 s): these are one row write each per key in use, four times the counts'
   * work, and a minute is precise enough for "last used" (a busy key's own row: every
   * `KEY_ROW_LAST_USE_MS`). Counts are written at every interval,
   * and so are the times of a key not written since the last stamp write (its first use in a
   * while shows within the interval, never as "not used" beside its counts); `flush()` and `stop()`
   * write everything.
   */
  stampIntervalMs?: number;
  /** Quota spends (allowance.ts), written with each batch. */
  quotas?: {
    takeSpends(): QuotaSpend[];
    written(spends: readonly QuotaSpend[]): void;
    putBack(spends: readonly QuotaSpend[]): void;
  };
  /** Told after every write attempt (metrics). */
  onFlush?: (ok: boolean, atMs: number, error?: unknown) => void;
}

/**
 * A key's usage since its last write. Counters stay from one write to the next (a write zeroes the
 * counts and marks the times as written) and go only at a stamp write that finds nothing new, so
 * the timer's writes allocate nothing per key in use.
 */
interface Counter {
  day: number;
  ok: number;
  denied: number;
  /**
   * Last successful authentication, 0 if none yet; `lastUsedWritten`: the value last written. Every
   * time of a counter is a `since` time (milliseconds after the recorder's origin), 0 meaning none.
   */
  lastUsed: number;
  lastUsedWritten: number;
  /**
   * The key's latest resource use, not yet in `resources`: a key calling the same resource in the
   * same account again only moves `usedAt` (no Map work, no allocation). It goes into `resources`
   * when the key uses another one, unless written already (`usedWritten`).
   */
  usedIn: string | null;
  usedResource: string | null;
  usedAt: number;
  usedWritten: number;
  /**
   * The account of the key's latest allowed call and when, not yet in `accountUses`: the same
   * pattern as `usedIn`, for the key's last use in each account (an external key's "last used" as
   * the adding account sees it).
   */
  allowedIn: string | null;
  allowedAt: number;
  allowedWritten: number;
  /**
   * The token of the key's latest authentication, as the key's cached state and the token's index
   * in it (the id is read from the state at the next write, so the hot path only stores a
   * reference), and when. A use of another token moves this one to `tokenUses`.
   */
  tokenHolder: TokenHolder | null;
  tokenIndex: number;
  tokenAt: number;
  tokenWritten: number;
  /**
   * Whether the key's times were written since the last stamp write: a key not written since then
   * goes at the next tick, the rest waits for the stamp write. `tokenStamped`: the same for the
   * token in `tokenHolder` (a token the key moved away from: `stampedTokens`), so that a tick
   * decides without making the token's id.
   */
  stamped: boolean;
  tokenStamped: boolean;
}

/** A counter's times (each a `since` time, 0 for none). */
const COUNTER_TIMES = [
  "lastUsed",
  "lastUsedWritten",
  "usedAt",
  "usedWritten",
  "allowedAt",
  "allowedWritten",
  "tokenAt",
  "tokenWritten",
] as const;

/** Counts waiting for a write, by `keyId day`. */
type CountsWaiting = Map<string, UsageDay & { keyId: string }>;

/**
 * Last-use times that no counter holds, waiting for the next stamp write: a key's that moved on to
 * another resource, account or token, and a failed write's.
 */
interface TimesWaiting {
  /** keyId → last use (a failed write's, or one a rebase took out of its counter). */
  lastUsed: Map<string, number>;
  /** keyId → account → resource → last allowed use. */
  resources: Map<string, Map<string, Map<string, number>>>;
  /** keyId → account → last allowed call there. */
  accounts: Map<string, Map<string, number>>;
  /** tokenId → last authentication with it. */
  tokens: Map<string, number>;
}

const noneWaiting = (): TimesWaiting => ({
  lastUsed: new Map(),
  resources: new Map(),
  accounts: new Map(),
  tokens: new Map(),
});

/**
 * Counters taken into a batch between two turns of the event loop: a write of 100,000 keys in use
 * took them all in one turn (~40 ms, bench/usage-write.mjs); 2,048 take about a millisecond.
 */
const TAKE_CHUNK = 2048;

/** The last-use lists of a batch. */
interface TimeLists {
  lastUsed: { keyId: string; at: number }[];
  resources: ResourceUseRecord[];
  accounts: AccountUseRecord[];
  tokens: TokenUseRecord[];
}

/** Where a token's id is read from: the key's cached state (its tokens, oldest first). */
export interface TokenHolder {
  readonly tokenIds: readonly string[];
}

/**
 * What one verification of a known key was: `allowed`; `denied` (the credentials were right, the
 * call was not allowed); `rejected` (wrong token, or the key inactive). Only `allowed` counts as ok,
 * and only `rejected` leaves the key's last use where it was.
 */
export type UsageOutcome = "allowed" | "denied" | "rejected";

export type UsageRecorder = ReturnType<typeof createUsageRecorder>;

export function createUsageRecorder(options: UsageRecorderOptions) {
  const { store, clock } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const stampIntervalMs = options.stampIntervalMs ?? 60_000;
  let stampsDueAt = 0;
  /** When the last stamp write took its batch: a key not used since then gets its exact last use. */
  let lastStampAt = 0;
  /**
   * A counter's times are milliseconds after `origin`, made 32-bit integers (`| 0`): V8 keeps those
   * inside the counter, where any other number, even a whole one such as a difference of two
   * times since 1970, is a separate 16-byte heap number, and once one is stored every counter's
   * time fields hold heap numbers (eight per key in use: 12 MB at 100,000 keys). `origin` starts
   * a day before the recorder is made and moves (`rebase`): to a day before now at a write once
   * half the span is used (~6 days), off the request path, and on a request whose time falls outside
   * (0, TIME_SPAN] (the clock set back more than a day, or stepped far on). `wall` turns a time
   * back; the lists, maps and batches outside the counters hold wall-clock times.
   */
  let origin = clock.now() - DAY_MS;
  const since = (at: number) => {
    let time = at - origin;
    if (!(time >= 1 && time <= TIME_SPAN)) {
      rebase(at - DAY_MS);
      time = at - origin;
    }
    return time | 0;
  };
  const wall = (time: number) => origin + time;

  /**
   * Moves the origin to `to`. Forward (the routine move at a write), a counter whose times all fit
   * the new span keeps them, shifted: a walk like a tick's. Otherwise (a time outside the span, or
   * the clock set back, when a use at the earlier time would overwrite a later one in the counter)
   * what the counter has not written goes to the maps that wait for the next stamp write, in
   * wall-clock time, where the latest wins, and its times are cleared: nothing is lost, and what
   * was moved is written by the next stamp write at the latest.
   */
  function rebase(to: number) {
    const shift = origin - to;
    const fits = (time: number) => time === 0 || (time + shift >= 1 && time + shift <= TIME_SPAN);
    const moved = (time: number) => (time === 0 ? 0 : (time + shift) | 0);
    for (const [keyId, counter] of counters) {
      if (shift < 0 && COUNTER_TIMES.every((name) => fits(counter[name]))) {
        for (const name of COUNTER_TIMES) counter[name] = moved(counter[name]);
        continue;
      }
      if (counter.lastUsed > counter.lastUsedWritten) {
        const at = wall(counter.lastUsed);
        if (at > (waiting.lastUsed.get(keyId) ?? 0)) waiting.lastUsed.set(keyId, at);
      }
      const { usedIn, usedResource, allowedIn, tokenHolder } = counter;
      if (usedIn !== null && usedResource !== null && counter.usedAt > counter.usedWritten)
        noteResource(keyId, usedIn, usedResource, wall(counter.usedAt));
      if (allowedIn !== null && counter.allowedAt > counter.allowedWritten)
        noteAccount(keyId, allowedIn, wall(counter.allowedAt));
      const tokenId = tokenHolder?.tokenIds[counter.tokenIndex];
      if (tokenId !== undefined) moveToken(counter, tokenId);
      for (const name of COUNTER_TIMES) counter[name] = 0;
    }
    origin = to;
  }
  /**
   * Tokens moved away from (in `tokenUses`) whose last use was written since the last stamp write
   * (a key's current token: `Counter.tokenStamped`).
   */
  let stampedTokens = new Set<string>();
  const counters = new Map<string, Counter>();
  /** Counts of an earlier day, or of a failed write, waiting for the next write: by `keyId day`. */
  let carried: CountsWaiting = new Map();
  /** Last-use times waiting for the next stamp write (a stamp write takes them all at its start). */
  let waiting = noneWaiting();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  /** The write that waits for the one running (`write`). */
  let queued: { stamps: boolean; exact: boolean; promise: Promise<void> } | undefined;

  /**
   * Counts one verification of a known key. `account`/`resource`: the account the call was decided
   * in and the resource an allowed call used, when a resource was asked for (the access review reads
   * these). An allowed call with an `account` is also the key's last use in that account.
   * `token`/`tokenIndex`: the key's state and the index of the token that authenticated (not for
   * `rejected`), whose last use moves too. `now`: when the call was decided, by the recorder's clock
   * (the verifier reads it once a request).
   */
  function record(
    keyId: string,
    outcome: UsageOutcome,
    account?: string,
    resource?: string,
    token?: TokenHolder,
    tokenIndex?: number,
    now = clock.now(),
  ): void {
    const ok = outcome === "allowed";
    const day = Math.floor(now / DAY_MS);
    const time = since(now);
    let counter = counters.get(keyId);
    if (counter === undefined) {
      counter = {
        day,
        ok: 0,
        denied: 0,
        lastUsed: 0,
        lastUsedWritten: 0,
        usedIn: null,
        usedResource: null,
        usedAt: 0,
        usedWritten: 0,
        allowedIn: null,
        allowedAt: 0,
        allowedWritten: 0,
        tokenHolder: null,
        tokenIndex: -1,
        tokenAt: 0,
        tokenWritten: 0,
        stamped: false,
        tokenStamped: false,
      };
      counters.set(keyId, counter);
    } else if (counter.day !== day) {
      carry(keyId, counter.day, counter.ok, counter.denied);
      counter.day = day;
      counter.ok = 0;
      counter.denied = 0;
    }
    if (ok) counter.ok++;
    else counter.denied++;
    // A use never moves a last use back: the clock set back less than a day (`since` handles more)
    // would otherwise replace a later time not written yet with an earlier one.
    if (outcome !== "rejected" && time > counter.lastUsed) counter.lastUsed = time;
    if (token !== undefined && tokenIndex !== undefined && tokenIndex >= 0) {
      if (counter.tokenHolder !== token || counter.tokenIndex !== tokenIndex) {
        // The same token in a state of the key read again stays as written as it was; another
        // is written if it was since the last stamp write (made only when the token changes).
        const before = counter.tokenHolder?.tokenIds[counter.tokenIndex];
        const next = token.tokenIds[tokenIndex];
        if (before !== undefined) moveToken(counter, before);
        if (before !== next) {
          counter.tokenStamped = next !== undefined && stampedTokens.has(next);
          counter.tokenAt = 0;
        }
        counter.tokenHolder = token;
        counter.tokenIndex = tokenIndex;
        counter.tokenWritten = 0;
      }
      if (time > counter.tokenAt) counter.tokenAt = time;
    }
    if (account !== undefined && resource !== undefined) {
      if (counter.usedIn !== account || counter.usedResource !== resource) {
        if (counter.usedIn !== null && counter.usedResource !== null && counter.usedAt > counter.usedWritten)
          noteResource(keyId, counter.usedIn, counter.usedResource, wall(counter.usedAt));
        counter.usedIn = account;
        counter.usedResource = resource;
        counter.usedWritten = 0;
        counter.usedAt = 0;
      }
      if (time > counter.usedAt) counter.usedAt = time;
    }
    if (ok && account !== undefined) {
      if (counter.allowedIn !== account) {
        if (counter.allowedIn !== null && counter.allowedAt > counter.allowedWritten)
          noteAccount(keyId, counter.allowedIn, wall(counter.allowedAt));
        counter.allowedIn = account;
        counter.allowedWritten = 0;
        counter.allowedAt = 0;
      }
      if (time > counter.allowedAt) counter.allowedAt = time;
    }
  }

  /**
   * An allowed call of the key in `account` that the verifier did not count there: a management API
   * call authenticated in the key's own account and allowed in one that added it. Only the key's
   * last use in `account` moves; its counts and last use were taken by the verifier.
   */
  function usedIn(keyId: string, account: string): void {
    noteAccount(keyId, account, clock.now());
  }

  /**
   * The key moves away from its token (`tokenId`): its last use, when not written, goes to
   * `tokenUses`, and whether it was written since the last stamp write to `stampedTokens`, so that a
   * key whose clients alternate between two tokens (during a renewal) writes each once a minute.
   */
  function moveToken(counter: Counter, tokenId: string) {
    if (counter.tokenStamped) stampedTokens.add(tokenId);
    if (counter.tokenAt > counter.tokenWritten) noteTokenId(tokenId, wall(counter.tokenAt));
  }

  function noteTokenId(tokenId: string, at: number, into = waiting) {
    if (at > (into.tokens.get(tokenId) ?? 0)) into.tokens.set(tokenId, at);
  }

  function noteAccount(keyId: string, account: string, at: number, into = waiting) {
    let accounts = into.accounts.get(keyId);
    if (accounts === undefined) {
      accounts = new Map();
      into.accounts.set(keyId, accounts);
    }
    if (at > (accounts.get(account) ?? 0)) accounts.set(account, at);
  }

  /** Last use of each resource by each key in each account, for the access review. */
  function noteResource(keyId: string, account: string, resource: string, now: number, into = waiting) {
    let accounts = into.resources.get(keyId);
    if (accounts === undefined) {
      accounts = new Map();
      into.resources.set(keyId, accounts);
    }
    let used = accounts.get(account);
    if (used === undefined) {
      used = new Map();
      accounts.set(account, used);
    }
    if (now > (used.get(resource) ?? 0)) used.set(resource, now);
  }

  /** Adds counts to those waiting for the next write (one entry per key and day). */
  function carry(keyId: string, day: number, ok: number, denied: number, into = carried) {
    if (ok + denied === 0) return;
    const id = `${keyId} ${day}`;
    const counts = into.get(id);
    if (counts === undefined) into.set(id, { keyId, day, ok, denied });
    else {
      counts.ok += ok;
      counts.denied += denied;
    }
  }

  /**
   * Everything counted and waiting, as one batch: every counter's counts (then zeroed); with
   * `stamps`, every time not written yet; without, only those of keys and tokens not written since
   * the last stamp write. A key's own latest uses go straight into the lists unless something of
   * the same key waits already, which is merged with them (a failed write's, or a resource the key
   * used before): no Map per key in the common case.
   *
   * The counters are taken `TAKE_CHUNK` at a time, requests running between, so a counter may be
   * used again after it was taken, or before: what it holds when it is taken goes, the rest waits
   * for the next write. What waited at the start (counts; with `stamps`, every time) is taken at
   * the start, and what waits meanwhile is left for the next write, so that nothing goes twice
   * into one batch (one row per stored row: PostgreSQL refuses an upsert that touches a row twice).
   */
  async function takeBatch(stamps: boolean, exact: boolean): Promise<UsageBatch> {
    const counts: (UsageDay & { keyId: string })[] = [];
    const lists: TimeLists = { lastUsed: [], resources: [], accounts: [], tokens: [] };
    const countsBefore = carried;
    carried = new Map();
    // A stamp write takes every time waiting; a tick's times of keys that have some waiting join them.
    const stampedBefore = lastStampAt;
    const times = waiting;
    if (stamps) {
      waiting = noneWaiting();
      stampedTokens = new Set();
      lastStampAt = clock.now();
    }
    let quotas: QuotaSpend[] = [];
    try {
      let visited = 0;
      for (const [keyId, counter] of counters) {
        if (++visited % TAKE_CHUNK === 0) await nextTurn();
        const counted = counter.ok + counter.denied > 0;
        if (counted) {
          if (countsBefore.size > 0) carry(keyId, counter.day, counter.ok, counter.denied, countsBefore);
          else counts.push({ keyId, day: counter.day, ok: counter.ok, denied: counter.denied });
          counter.ok = 0;
          counter.denied = 0;
        }
        if (stamps) {
          if (!counted && !hasNewTimes(counter)) {
            // Not used since the last stamp write: its next use is a first use again.
            counters.delete(keyId);
            continue;
          }
        } else if (counter.stamped && (counter.tokenHolder === null || counter.tokenStamped)) continue;
        counter.stamped = true;
        counter.tokenStamped = true;
        takeTimes(keyId, counter, stamps, exact, stampedBefore, lists, times);
      }
      // Quota spends go with every write, counts' and stamps' alike: they bound what other instances see.
      quotas = options.quotas?.takeSpends() ?? [];
    } catch (error) {
      // What the take had gathered (counts zeroed in their counters, times marked written, what
      // waited) goes back to wait for the next write, as a failed write's batch does: a fault here
      // delays usage figures but loses none.
      // (A tick took no waiting times: none goes back but what it gathered from its counters.)
      putBack(gathered(counts, countsBefore, lists, stamps ? times : noneWaiting(), true, quotas));
      throw error;
    }
    return gathered(counts, countsBefore, lists, times, stamps, quotas);
  }

  /**
   * The batch a take makes of what it gathered: the counts waiting from before join it, and the
   * times a stamp write took (`times`); a tick takes the tokens that wait unstamped from `waiting`.
   */
  function gathered(
    counts: (UsageDay & { keyId: string })[],
    countsBefore: CountsWaiting,
    lists: TimeLists,
    times: TimesWaiting,
    stamps: boolean,
    quotas: QuotaSpend[],
  ): UsageBatch {
    for (const waitingCounts of countsBefore.values()) counts.push(waitingCounts);
    if (!stamps) {
      // Tokens a key moved away from within the interval (renew with the old, then use the new):
      // one not written since the last stamp write goes now, as the key's latest token does.
      for (const [tokenId, at] of waiting.tokens) {
        if (stampedTokens.has(tokenId)) continue;
        stampedTokens.add(tokenId);
        waiting.tokens.delete(tokenId);
        lists.tokens.push({ tokenId, at });
      }
      return { counts, ...lists, quotas };
    }
    for (const [keyId, at] of times.lastUsed) lists.lastUsed.push({ keyId, at });
    for (const [keyId, accounts] of times.resources)
      for (const [account, used] of accounts)
        for (const [resource, at] of used) lists.resources.push({ keyId, account, resource, at });
    for (const [keyId, accounts] of times.accounts)
      for (const [account, at] of accounts) lists.accounts.push({ keyId, account, at });
    for (const [tokenId, at] of times.tokens) lists.tokens.push({ tokenId, at });
    return { counts, ...lists, quotas };
  }

  /**
   * Whether the key's own row (`keys.last_used_at`) takes the key's last use in a timer's write:
   * its first use, a use at least `KEY_ROW_LAST_USE_MS` after the one written, or the exact last
   * use of a key not used since the previous stamp write (`stampedAt`). Its tokens', accounts' and
   * resources' times are written every minute all the same.
   */
  function keyRowDue(counter: Counter, stampedAt: number): boolean {
    return (
      counter.lastUsedWritten === 0 ||
      wall(counter.lastUsed) <= stampedAt ||
      counter.lastUsed - counter.lastUsedWritten >= KEY_ROW_LAST_USE_MS
    );
  }

  function hasNewTimes(counter: Counter): boolean {
    return (
      counter.lastUsed > counter.lastUsedWritten ||
      counter.usedAt > counter.usedWritten ||
      counter.allowedAt > counter.allowedWritten ||
      counter.tokenAt > counter.tokenWritten
    );
  }

  /**
   * The counter's times not written yet go into the lists and count as written. A time of a key
   * that has some waiting in `times` (a failed write's, an earlier resource) is merged into them:
   * a stamp write lists them afterwards (what it took at its start), a tick leaves them for the next
   * stamp write. `stampedAt`: when the stamp write before this write took its batch.
   */
  function takeTimes(
    keyId: string,
    counter: Counter,
    stamps: boolean,
    exact: boolean,
    stampedAt: number,
    lists: TimeLists,
    times: TimesWaiting,
  ): void {
    if (counter.lastUsed > counter.lastUsedWritten && (exact || keyRowDue(counter, stampedAt))) {
      const lastUsed = wall(counter.lastUsed);
      if (times.lastUsed.has(keyId)) {
        if (lastUsed > (times.lastUsed.get(keyId) ?? 0)) times.lastUsed.set(keyId, lastUsed);
      } else lists.lastUsed.push({ keyId, at: lastUsed });
      counter.lastUsedWritten = counter.lastUsed;
    }
    const { usedIn, usedResource, allowedIn } = counter;
    if (usedIn !== null && usedResource !== null && counter.usedAt > counter.usedWritten) {
      const usedAt = wall(counter.usedAt);
      if (times.resources.has(keyId)) noteResource(keyId, usedIn, usedResource, usedAt, times);
      else lists.resources.push({ keyId, account: usedIn, resource: usedResource, at: usedAt });
      counter.usedWritten = counter.usedAt;
    }
    if (allowedIn !== null && counter.allowedAt > counter.allowedWritten) {
      const allowedAt = wall(counter.allowedAt);
      if (times.accounts.has(keyId)) noteAccount(keyId, allowedIn, allowedAt, times);
      else lists.accounts.push({ keyId, account: allowedIn, at: allowedAt });
      counter.allowedWritten = counter.allowedAt;
    }
    const tokenId =
      counter.tokenAt > counter.tokenWritten ? counter.tokenHolder?.tokenIds[counter.tokenIndex] : undefined;
    if (tokenId !== undefined) {
      const tokenAt = wall(counter.tokenAt);
      if (!stamps) {
        // Written now, with what waits of this token: older, unless the clock went back (`rebase`).
        const before = times.tokens.get(tokenId) ?? 0;
        times.tokens.delete(tokenId);
        lists.tokens.push({ tokenId, at: Math.max(tokenAt, before) });
      } else if (times.tokens.size > 0) noteTokenId(tokenId, tokenAt, times);
      else lists.tokens.push({ tokenId, at: tokenAt });
      counter.tokenWritten = counter.tokenAt;
    }
  }

  /** Merges a batch that was not written back into what waits for the next write. */
  function putBack(batch: UsageBatch) {
    for (const { keyId, day, ok, denied } of batch.counts) carry(keyId, day, ok, denied);
    for (const { keyId, account, resource, at } of batch.resources)
      noteResource(keyId, account, resource, at);
    for (const { keyId, account, at } of batch.accounts ?? []) noteAccount(keyId, account, at);
    for (const { tokenId, at } of batch.tokens ?? []) noteTokenId(tokenId, at);
    if (batch.quotas && batch.quotas.length > 0) options.quotas?.putBack(batch.quotas);
    for (const { keyId, at } of batch.lastUsed) {
      if (at > (waiting.lastUsed.get(keyId) ?? 0)) waiting.lastUsed.set(keyId, at);
    }
  }

  /**
   * Writes a batch a few hundred keys at a time, yielding to the event loop between slices: on the
   * embedded database a write is synchronous, and one write of every key at once would stall the
   * requests waiting behind it. Slices already written stay written if a later one fails; only
   * the unwritten rest is kept for the next attempt.
   */
  async function writeInSlices(batch: UsageBatch): Promise<void> {
    // Sorted whole (a chunk at a time, requests running between), then sliced: each slice is a run
    // of neighbouring keys (storage/usage-order.ts).
    const ordered = await lockOrderSlices(batch, SLICE_KEYS, nextTurn);
    for (let i = 0; i < ordered.slices; i++) {
      const slice = ordered.next();
      try {
        await store.usage.record(slice);
        options.quotas?.written(slice.quotas ?? []);
      } catch (error) {
        putBack(slice);
        for (let rest = i + 1; rest < ordered.slices; rest++) putBack(ordered.next());
        throw new UsageWriteError(error);
      }
      if (i < ordered.slices - 1) await nextTurn();
    }
  }

  /** Writes everything counted so far, every last-use time exactly (an explicit flush, stop). */
  function flush(): Promise<void> {
    return write(true, true);
  }

  /**
   * A write: last-use times included unless `stamps` is false (the timer's writes between two
   * stamp intervals); `exact`: every time as it is, not at the timer's pace for `keys` rows.
   * A call while a write runs joins the one write that waits for it (made on the first such call).
   */
  function write(stamps: boolean, exact: boolean): Promise<void> {
    if (flushing) {
      // One write waits at most: later calls join it (it takes what is counted when it starts).
      if (queued === undefined) {
        const next = { stamps, exact, promise: Promise.resolve() };
        next.promise = flushing.then(() => {
          queued = undefined;
          return write(next.stamps, next.exact);
        });
        queued = next;
      } else {
        queued.stamps ||= stamps;
        queued.exact ||= exact;
      }
      return queued.promise;
    }
    const now = clock.now();
    if (now - origin > TIME_SPAN / 2) rebase(now - DAY_MS);
    if (stamps) stampsDueAt = now + stampIntervalMs;
    let batch: UsageBatch | undefined;
    flushing = takeBatch(stamps, exact)
      .then((taken) => {
        batch = taken;
        const empty = [
          taken.counts,
          taken.lastUsed,
          taken.resources,
          taken.accounts ?? [],
          taken.tokens ?? [],
          taken.quotas ?? [],
        ].every((list) => list.length === 0);
        return empty ? undefined : writeInSlices(taken);
      })
      .then(
        () => options.onFlush?.(true, clock.now()),
        (error: unknown) => {
          // Slices that failed were put back already; anything else failed before writing.
          if (batch !== undefined && !(error instanceof UsageWriteError)) putBack(batch);
          options.onFlush?.(false, clock.now(), error instanceof UsageWriteError ? error.cause : error);
        },
      )
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  return {
    record,
    usedIn,
    flush,
    /** Counts not yet written: keys counted since the last write, plus (key, day) entries waiting. */
    pendingKeys() {
      let pending = carried.size;
      for (const counter of counters.values()) if (counter.ok + counter.denied > 0) pending++;
      return pending;
    },
    start() {
      stampsDueAt = clock.now() + stampIntervalMs;
      timer ??= setInterval(() => void write(clock.now() >= stampsDueAt, false), intervalMs);
      timer.unref();
    },
    /** Stops the timer and writes the last batch. */
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}
