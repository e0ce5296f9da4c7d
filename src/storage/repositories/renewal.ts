/**
 * Renewal (SPEC §2.1): a key has its current token and, while a renewal is pending, a newer one;
 * share links reveal a token once; alert marks record which renewal alerts were announced.
 *
 * Secrets: tokens only as hashes. A share link holds its token *sealed* (services/sealing.ts) until
 * it is revealed or expires; the link id itself is stored only as a hash.
 */
import type { TokenRecord } from "./keys.js";

/** A single-use link that reveals a token once (SPEC §1, §2.1). The link id itself is never stored. */
export interface ShareLinkRecord {
  /** base64url SHA-256 of the link id. */
  idHash: string;
  account: string;
  keyId: string;
  appKey: string;
  /** The token the link reveals; deleting that token (undo renewal, key deletion) deletes the link. */
  tokenId: string;
  createdAt: number;
  expiresAt: number;
  revealedAt: number | null;
  /** When it was cancelled before it was opened; absent when it was not. Ignored when a link is created. */
  cancelledAt?: number;
}

export type ShareReveal =
  | { status: "revealed"; link: ShareLinkRecord; sealed: string }
  /** Known, but already revealed or expired: its sealed token is gone. */
  | { status: "gone"; link: ShareLinkRecord }
  | { status: "unknown" };

export interface RenewalRepository {
  /**
   * Adds `token` as the key's pending (newest) token and moves `keys.token_created_at` to its
   * creation. Throws StoreConflict("renewal_pending") when one is already pending: of two racing
   * renewals exactly one succeeds.
   */
  addPendingToken(keyId: string, token: TokenRecord, updatedAt: number): Promise<void>;
  /** Deletes the older token, so the pending one is the only one. False when nothing is pending. */
  dropOldToken(keyId: string, updatedAt: number): Promise<boolean>;
  /** Deletes the pending token (and its share links); the older one stays. False when nothing is pending. */
  dropPendingToken(keyId: string, updatedAt: number): Promise<boolean>;
  /**
   * Records that `level` was announced for the token; false when it already was (once per token
   * and level, whatever the number of instances running the scheduler).
   */
  markAlert(tokenId: string, level: string, at: number): Promise<boolean>;
}

export interface ShareLinkRepository {
  create(link: ShareLinkRecord, sealed: string): Promise<void>;
  /**
   * Atomically marks the link revealed and hands out its sealed token, at most once. An expired
   * or already revealed link answers "gone"; the sealed token is erased in every case.
   */
  reveal(idHash: string, now: number): Promise<ShareReveal>;
  /**
   * Cancels the link if it is still unopened, unexpired and not cancelled at `now`: marks it
   * cancelled and erases its sealed token in one conditional update, so of a cancel and a reveal
   * racing exactly one succeeds. False when the link was not in that state.
   */
  cancel(idHash: string, now: number): Promise<boolean>;
  /** The key's newest share link, if any. */
  latest(keyId: string): Promise<ShareLinkRecord | undefined>;
  /** Erases the sealed tokens of links expired at `now`; returns how many were erased. */
  purgeExpired(now: number): Promise<number>;
}
