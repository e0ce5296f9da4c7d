/**
 * The change journal: what the promise "a change is refused everywhere within a second" rests on.
 *
 * Writing: every change is appended to the `change_log` table, with this instance's id, in the
 * transaction that makes it (`changeWithin`, changes.ts). A change that committed is thus in the
 * journal, whatever becomes of this process or of pub/sub messages.
 *
 * Reading (`startChangeJournal`): every POLL_MS the instance reads the entries numbered above the
 * highest it has read, and delivers those of other instances to its caches (the fan-out usually
 * delivered them already, within milliseconds: the bus applies each number once). Numbers are
 * given when a row is inserted but rows become visible when they commit, so a lower number may
 * appear after a higher one: a number skipped is asked for again on every poll until it appears
 * or GAP_GIVE_UP_MS have passed (a rolled-back insert never appears).
 *
 * While the journal cannot be read (the database does not answer, or a read hangs), the instance
 * cannot know what it misses: DOWN_AFTER_MS after the start of the last read that succeeded, the
 * bus is set down: caches answer nothing from their state (every verification reads the store, and
 * fails closed with 503 if that fails too) and /readyz answers 503 naming the database. The first
 * read that succeeds again replays every entry missed, in order, and sets the bus up: nothing
 * cached has to be dropped, unless entries were pruned before they were read (an instance cut off
 * for longer than RETAIN_MS), in which case every cached state is dropped ({kind: "all"}).
 *
 * The bound: a change acknowledged at *t* is in the journal at *t*. Another instance's next read
 * starts at most POLL_MS after *t* and delivers it; if reads fail, that instance stops trusting its
 * cache DOWN_AFTER_MS (+ CHECK_MS) after the start of its last good read, which started before *t*.
 * Either way under a second (docs/verification.md#instant-revocation).
 *
 * Entries are pruned after RETAIN_MS by every instance (deleting what another already deleted costs
 * nothing). Times here are the wall clock: they measure the journal, not the keys.
 */
import type { Logger } from "pino";
import type { ChangeLogRepository } from "../storage/store.js";
import { type ChangeBus, decodeChange } from "./changes.js";

export const POLL_MS = 250;
export const DOWN_AFTER_MS = 750;
export const CHECK_MS = 50;
/** A read that has not answered by then is abandoned (and counts as failed). */
const READ_TIMEOUT_MS = 2_000;
const GAP_GIVE_UP_MS = 10_000;
/** Numbers skipped at once beyond this are not waited for (no insert burst skips that many). */
const MAX_GAP = 1_000;
export const RETAIN_MS = 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60_000;
const BATCH = 1_000;

export interface ChangeJournal {
  /** Reads once now (tests; the timer reads every POLL_MS). */
  readNow(): Promise<void>;
  close(): Promise<void>;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Follows the journal from its current end (nothing before start-up concerns an empty cache). The
 * first read must succeed: the store was just opened.
 */
export async function startChangeJournal(options: {
  bus: ChangeBus;
  journal: ChangeLogRepository;
  logger: Logger;
  /** Named by /readyz while the journal cannot be read ("database", as when the database does not answer). */
  dependency: string;
  pollMs?: number;
}): Promise<ChangeJournal> {
  const { bus, journal, logger, dependency } = options;
  const pollMs = options.pollMs ?? POLL_MS;
  let high = (await journal.bounds()).max;
  /** Numbers below `high` not read yet, and when each was first missed. */
  const missing = new Map<number, number>();
  let lastGoodStart = performance.now();
  let lastPrune = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  let closed = false;
  let lastError = "";

  function take(seq: number, origin: string, change: string) {
    if (origin !== bus.instance) bus.deliver(decodeChange(change), seq);
  }

  function noteSkipped(from: number, to: number, now: number) {
    // Numbers from..to (inclusive) were skipped by the row just read.
    const first = Math.max(from, to - MAX_GAP + 1);
    for (let seq = first; seq <= to; seq++) missing.set(seq, now);
  }

  async function readAll(): Promise<void> {
    const started = performance.now();
    const wasDown = bus.down() !== null;
    if (wasDown) {
      const { min } = await journal.bounds();
      if (min > 0 && min > high + 1) {
        // Entries were pruned before this instance read them: what changed cannot be known.
        bus.deliver({ kind: "all" });
        high = min - 1;
        missing.clear();
      }
    }
    for (;;) {
      const rows = await journal.since(high, BATCH);
      const now = performance.now();
      for (const row of rows) {
        if (row.seq > high + 1) noteSkipped(high + 1, row.seq - 1, now);
        high = Math.max(high, row.seq);
        take(row.seq, row.origin, row.change);
      }
      if (rows.length < BATCH) break;
    }
    if (missing.size > 0) {
      const asked = [...missing.keys()];
      const found = await journal.some(asked);
      for (const row of found) {
        missing.delete(row.seq);
        take(row.seq, row.origin, row.change);
      }
      const now = performance.now();
      for (const [seq, since] of missing) if (now - since > GAP_GIVE_UP_MS) missing.delete(seq);
    }
    // A read abandoned for slowness may end after a later one: keep the latest start.
    lastGoodStart = Math.max(lastGoodStart, started);
    if (wasDown) {
      bus.setUp();
      logger.info({ dependency }, "change journal: read again; every change missed was applied");
    }
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      journal.prune(Date.now() - RETAIN_MS).catch(() => {});
    }
  }

  async function read(): Promise<void> {
    reading ??= withTimeout(readAll(), READ_TIMEOUT_MS)
      .then(
        () => {
          lastError = "";
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          if (message !== lastError)
            logger.warn({ dependency, error: message }, "change journal: cannot read it");
          lastError = message;
        },
      )
      .finally(() => {
        reading = undefined;
      });
    return reading;
  }

  await read();
  const poll = setInterval(() => {
    if (!closed) void read();
  }, pollMs);
  poll.unref();
  const check = setInterval(() => {
    const silentMs = performance.now() - lastGoodStart;
    if (bus.down() === null && silentMs > DOWN_AFTER_MS) {
      const reason = `${dependency}: the change journal could not be read for ${Math.round(silentMs)} ms`;
      bus.setDown({ dependency, reason });
      logger.warn({ dependency }, `change journal: ${reason}; verifying every key against the database`);
    }
  }, CHECK_MS);
  check.unref();

  return {
    readNow: read,
    async close() {
      closed = true;
      clearInterval(poll);
      clearInterval(check);
      await reading;
    },
  };
}
