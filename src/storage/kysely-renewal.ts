/**
 * Renewal and share-link queries of the Kysely store (SPEC §2.1).
 *
 * Secrets: tokens appear here only as hashes; a share link holds its token *sealed* (encrypted by the
 * sealing service with LATCHKEY_SECRET) until it is revealed or expires, and the seal is erased in
 * the transaction that reveals it. The link id itself is only stored as a hash.
 *
 * Renewal alert marks are kept here too: one row per token and announced level.
 */
import type { Kysely, Selectable } from "kysely";
import { guard } from "./kysely-conflicts.js";
import { deleteTokens } from "./kysely-keys.js";
import { KyselyRepository } from "./kysely-scope.js";
import type { Database, ShareLinksTable } from "./schema.js";
import type {
  RenewalRepository,
  ShareLinkRecord,
  ShareLinkRepository,
  ShareReveal,
  TokenRecord,
} from "./store.js";

/**
 * Takes the key row's lock before the key's tokens are read: PostgreSQL's row lock, SQLite's write
 * lock. A completion and an undo of one renewal then run one after the other, the second seeing the
 * first's result (without it, both could succeed and leave the key with no token). Starting a
 * renewal needs no lock: the (key_id, slot) index serializes it. False when there is no key.
 */
async function lockKey(db: Kysely<Database>, keyId: string): Promise<boolean> {
  const r = await db
    .updateTable("keys")
    .set((eb) => ({ updated_at: eb.ref("updated_at") }))
    .where("id", "=", keyId)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

async function tokenInSlot(db: Kysely<Database>, keyId: string, slot: 0 | 1) {
  return db
    .selectFrom("tokens")
    .select(["id", "created_at"])
    .where("key_id", "=", keyId)
    .where("slot", "=", slot)
    .executeTakeFirst();
}

export class KyselyRenewals extends KyselyRepository implements RenewalRepository {
  /**
   * The token goes in first: a second pending token fails on the (key_id, slot) index before anything
   * else was written, so even a caller that swallowed the conflict would commit no half renewal.
   */
  addPendingToken(keyId: string, token: TokenRecord, updatedAt: number): Promise<void> {
    return this.atomic(async (db) => {
      await db
        .insertInto("tokens")
        .values({ id: token.id, key_id: keyId, hash: token.hash, created_at: token.createdAt, slot: 1 })
        .execute();
      await db
        .updateTable("keys")
        .set({ token_created_at: token.createdAt, updated_at: updatedAt })
        .where("id", "=", keyId)
        .execute();
    });
  }

  dropOldToken(keyId: string, updatedAt: number): Promise<boolean> {
    return this.atomic(async (db) => {
      if (!(await lockKey(db, keyId))) return false;
      const pending = await tokenInSlot(db, keyId, 1);
      if (pending === undefined) return false;
      await deleteTokens(db, keyId, 0);
      await db.updateTable("tokens").set({ slot: 0 }).where("id", "=", pending.id).execute();
      await db
        .updateTable("keys")
        .set({ token_created_at: pending.created_at, updated_at: updatedAt })
        .where("id", "=", keyId)
        .execute();
      return true;
    });
  }

  dropPendingToken(keyId: string, updatedAt: number): Promise<boolean> {
    return this.atomic(async (db) => {
      if (!(await lockKey(db, keyId))) return false;
      if ((await deleteTokens(db, keyId, 1)) === 0) return false;
      const current = await tokenInSlot(db, keyId, 0);
      await db
        .updateTable("keys")
        .set({ updated_at: updatedAt, ...(current ? { token_created_at: current.created_at } : {}) })
        .where("id", "=", keyId)
        .execute();
      return true;
    });
  }

  /** The primary key decides, so of several schedulers marking at once exactly one gets true. */
  async markAlert(tokenId: string, level: string, at: number): Promise<boolean> {
    const r = await this.db
      .insertInto("alert_marks")
      .values({ token_id: tokenId, level, at })
      .onConflict((oc) => oc.columns(["token_id", "level"]).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
}

const toShareLink = (r: Selectable<ShareLinksTable>): ShareLinkRecord => ({
  idHash: r.id_hash,
  account: r.account,
  keyId: r.key_id,
  appKey: r.app_key,
  tokenId: r.token_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revealedAt: r.revealed_at,
  ...(r.cancelled_at === null ? {} : { cancelledAt: r.cancelled_at }),
});

export class KyselyShareLinks extends KyselyRepository implements ShareLinkRepository {
  async create(link: ShareLinkRecord, sealed: string): Promise<void> {
    await guard(
      this.db
        .insertInto("share_links")
        .values({
          id_hash: link.idHash,
          account: link.account,
          key_id: link.keyId,
          app_key: link.appKey,
          token_id: link.tokenId,
          sealed,
          created_at: link.createdAt,
          expires_at: link.expiresAt,
          revealed_at: link.revealedAt,
        })
        .execute(),
    );
  }

  /**
   * The claim is one conditional UPDATE: of two concurrent reveals, PostgreSQL makes the second wait
   * for the first's row lock and then re-checks `revealed_at is null`, so only one gets the row back
   * (SQLite serializes writers). RETURNING shows values after the update, so the seal is read by the
   * claim and erased by the next statement of the same transaction; a losing, expired or repeated
   * reveal erases it too.
   */
  reveal(idHash: string, now: number): Promise<ShareReveal> {
    return this.atomic(async (db) => {
      const claimed = await db
        .updateTable("share_links")
        .set({ revealed_at: now })
        .where("id_hash", "=", idHash)
        .where("revealed_at", "is", null)
        .where("sealed", "is not", null)
        .where("expires_at", ">", now)
        .returning("sealed")
        .executeTakeFirst();
      const link = await db
        .updateTable("share_links")
        .set({ sealed: null })
        .where("id_hash", "=", idHash)
        .returningAll()
        .executeTakeFirst();
      if (link === undefined) return { status: "unknown" };
      return claimed?.sealed
        ? { status: "revealed", link: toShareLink(link), sealed: claimed.sealed }
        : { status: "gone", link: toShareLink(link) };
    });
  }

  async cancel(idHash: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("share_links")
      .set({ sealed: null, cancelled_at: now })
      .where("id_hash", "=", idHash)
      .where("revealed_at", "is", null)
      .where("cancelled_at", "is", null)
      .where("sealed", "is not", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async latest(keyId: string): Promise<ShareLinkRecord | undefined> {
    const r = await this.db
      .selectFrom("share_links")
      .selectAll()
      .where("key_id", "=", keyId)
      .orderBy("created_at", "desc")
      .orderBy("id_hash", "desc")
      .limit(1)
      .executeTakeFirst();
    return r && toShareLink(r);
  }

  /** A link is expired once `now` reaches its `expiresAt`, as `reveal` decides. */
  async purgeExpired(now: number): Promise<number> {
    const r = await this.db
      .updateTable("share_links")
      .set({ sealed: null })
      .where("sealed", "is not", null)
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}
