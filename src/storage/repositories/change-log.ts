/**
 * The change journal (src/verify/change-journal.ts): changes that can alter a verification decision,
 * numbered in the order they were appended. Entries name what changed, never a secret.
 */

export interface ChangeLogEntry {
  seq: number;
  /** The instance that made the change. */
  origin: string;
  /** The change as `encodeChange` writes it. */
  change: string;
  at: number;
}

export interface ChangeLogRepository {
  /** Appends a change; answers its sequence number. */
  append(entry: { origin: string; change: string; at: number }): Promise<number>;
  /** Appends changes in their order (one transaction's several changes); answers their numbers. */
  appendMany(entries: readonly { origin: string; change: string; at: number }[]): Promise<number[]>;
  /** Entries with a sequence number above `afterSeq`, oldest first, at most `limit`. */
  since(afterSeq: number, limit: number): Promise<ChangeLogEntry[]>;
  /** The entries of these numbers that exist (numbers skipped earlier, whose rows may have committed since). */
  some(seqs: readonly number[]): Promise<ChangeLogEntry[]>;
  /** The lowest and highest sequence numbers held (0 and 0 when empty). */
  bounds(): Promise<{ min: number; max: number }>;
  /** Deletes entries appended before `before`; answers how many. */
  prune(before: number): Promise<number>;
}
