/**
 * The order in which a usage batch's rows are written: by key (then by the rest of each row's
 * key). Every write takes its row locks in this order, so two instances' flushes wait for each
 * other instead of deadlocking (kysely-usage.ts); and the usage recorder puts a whole batch in
 * this order (a chunk at a time, `lockOrderSlices`) before cutting it into slices, so that each
 * slice covers a run of neighbouring keys and touches few pages of each index (on SQLite every
 * page a transaction touches is written to the WAL).
 */
import type { QuotaSpend, UsageBatch } from "./store.js";

const byKey = (a: { keyId: string }, b: { keyId: string }) =>
  a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

type Row<K extends keyof UsageBatch> = NonNullable<UsageBatch[K]>[number];

/** Lock order, list by list (`inLockOrder`, `lockOrderSlices`). */
const LOCK_ORDER = {
  counts: (a: Row<"counts">, b: Row<"counts">) => byKey(a, b) || a.day - b.day,
  lastUsed: (a: Row<"lastUsed">, b: Row<"lastUsed">) => byKey(a, b),
  resources: (a: Row<"resources">, b: Row<"resources">) =>
    byKey(a, b) || byText(a.account, b.account) || byText(a.resource, b.resource),
  accounts: (a: Row<"accounts">, b: Row<"accounts">) => byKey(a, b) || byText(a.account, b.account),
  tokens: (a: Row<"tokens">, b: Row<"tokens">) => byText(a.tokenId, b.tokenId),
  /** After `latestPeriods`: one spend per key. */
  quotas: (a: Row<"quotas">, b: Row<"quotas">) => byKey(a, b),
};

/** The batch with every list in lock order. */
export function inLockOrder(batch: UsageBatch): UsageBatch {
  return {
    counts: [...batch.counts].sort(LOCK_ORDER.counts),
    resources: [...batch.resources].sort(LOCK_ORDER.resources),
    lastUsed: [...batch.lastUsed].sort(LOCK_ORDER.lastUsed),
    accounts: [...(batch.accounts ?? [])].sort(LOCK_ORDER.accounts),
    tokens: [...(batch.tokens ?? [])].sort(LOCK_ORDER.tokens),
    quotas: latestPeriods(batch.quotas ?? []).sort(LOCK_ORDER.quotas),
  };
}

/**
 * Entries sorted between two pauses of `lockOrderSlices`: about a millisecond of sorting. Sorting
 * 100,000 keys' lists at once held the event loop for ~370 ms (bench/usage-write.mjs).
 */
export const SORT_CHUNK = 2048;

/** A batch in lock order, cut into slices taken one at a time. */
export interface OrderedSlices {
  /** How many slices `next()` gives: one at least. */
  readonly slices: number;
  next(): UsageBatch;
}

/**
 * The batch as `inLockOrder` and then cutting every list `size` entries at a time would give (slice
 * `i` holds entries `i * size` to `(i + 1) * size - 1` of every list in lock order), without sorting
 * a whole list at once: the lists are sorted in chunks of about `SORT_CHUNK` entries, `pause()`
 * awaited between them, and each slice is merged from the sorted chunks when it is taken.
 */
export async function lockOrderSlices(
  batch: UsageBatch,
  size: number,
  pause: () => Promise<void>,
): Promise<OrderedSlices> {
  let sortedSincePause = 0;
  const inChunks = async <T>(list: readonly T[], compare: (a: T, b: T) => number) => {
    const chunks: T[][] = [];
    for (let from = 0; from < list.length; from += SORT_CHUNK) {
      const chunk = list.slice(from, from + SORT_CHUNK).sort(compare);
      chunks.push(chunk);
      sortedSincePause += chunk.length;
      if (sortedSincePause >= SORT_CHUNK) {
        sortedSincePause = 0;
        await pause();
      }
    }
    return mergeOf(chunks, compare);
  };
  const counts = await inChunks(batch.counts, LOCK_ORDER.counts);
  const lastUsed = await inChunks(batch.lastUsed, LOCK_ORDER.lastUsed);
  const resources = await inChunks(batch.resources, LOCK_ORDER.resources);
  const accounts = await inChunks(batch.accounts ?? [], LOCK_ORDER.accounts);
  const tokens = await inChunks(batch.tokens ?? [], LOCK_ORDER.tokens);
  const quotas = await inChunks(latestPeriods(batch.quotas ?? []), LOCK_ORDER.quotas);
  const longest = Math.max(
    ...[counts, lastUsed, resources, accounts, tokens, quotas].map((merge) => merge.length),
  );
  return {
    slices: Math.max(1, Math.ceil(longest / size)),
    next: () => ({
      counts: counts.take(size),
      lastUsed: lastUsed.take(size),
      resources: resources.take(size),
      accounts: accounts.take(size),
      tokens: tokens.take(size),
      quotas: quotas.take(size),
    }),
  };
}

/**
 * The entries of sorted chunks in one order, taken `n` at a time: a binary heap of the chunks by
 * their next entry. Of two equal entries the earlier chunk's comes first, so chunks of a list sorted
 * stably give what a stable sort of the whole list gives.
 */
function mergeOf<T>(chunks: readonly T[][], compare: (a: T, b: T) => number) {
  const next = chunks.map(() => 0);
  const heap = chunks.flatMap((chunk, i) => (chunk.length > 0 ? [i] : []));
  const before = (x: number, y: number) => {
    const order = compare(chunks[x]?.[next[x] ?? 0] as T, chunks[y]?.[next[y] ?? 0] as T);
    return order < 0 || (order === 0 && x < y);
  };
  const sink = (from: number) => {
    for (let at = from; ; ) {
      const left = 2 * at + 1;
      const right = left + 1;
      let first = at;
      if (left < heap.length && before(heap[left] as number, heap[first] as number)) first = left;
      if (right < heap.length && before(heap[right] as number, heap[first] as number)) first = right;
      if (first === at) return;
      [heap[at], heap[first]] = [heap[first] as number, heap[at] as number];
      at = first;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) sink(i);
  return {
    length: chunks.reduce((sum, chunk) => sum + chunk.length, 0),
    take(n: number): T[] {
      const out: T[] = [];
      while (out.length < n && heap.length > 0) {
        const top = heap[0] as number;
        const chunk = chunks[top] as T[];
        out.push(chunk[next[top] as number] as T);
        next[top] = (next[top] as number) + 1;
        if ((next[top] as number) === chunk.length) {
          heap[0] = heap[heap.length - 1] as number;
          heap.pop();
        }
        sink(0);
      }
      return out;
    },
  };
}

/**
 * One spend per key (an update touches a row once): of two settings of the quota, the later one
 * (an earlier setting's spends no longer count); of two periods, the later one (the earlier period
 * has ended and was refilled; its spends no longer count); the same setting and period's summed.
 */
function latestPeriods(spends: readonly QuotaSpend[]): QuotaSpend[] {
  const byId = new Map<string, QuotaSpend>();
  for (const spend of spends) {
    const seen = byId.get(spend.keyId);
    if (
      seen === undefined ||
      spend.setAt > seen.setAt ||
      (spend.setAt === seen.setAt && spend.period > seen.period)
    ) {
      byId.set(spend.keyId, { ...spend });
    } else if (spend.setAt === seen.setAt && spend.period === seen.period) seen.spent += spend.spent;
  }
  return [...byId.values()];
}
