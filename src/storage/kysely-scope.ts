/**
 * What the Kysely repositories run their statements on: the store's connections, or one open
 * transaction. Each repository of a scope shares it, so a store hands out one set of repositories
 * and every `transaction()` another, bound to that transaction.
 */
import { type Kysely, sql } from "kysely";
import { guard } from "./kysely-conflicts.js";
import type { Database } from "./schema.js";
import type { Dialect } from "./store.js";

export class Scope {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly inTransaction: boolean,
  ) {}

  /**
   * Multi-statement writes join the scope's transaction, or open their own. Kysely's transactions
   * do not nest, so a scope bound to a transaction must not open another.
   */
  atomic<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return guard(this.inTransaction ? fn(this.db) : this.db.transaction().execute(fn));
  }

  /**
   * `atomic` for writes that may be lost to a power cut (never to a killed process): usage counts
   * and last-use times. On SQLite their commit does not wait for the disk (`synchronous = NORMAL`
   * for that transaction; every other commit syncs, open.ts): the flushes of a busy server commit
   * every few seconds, and each sync held the event loop 15-40 ms, which every request waiting
   * behind it paid. In WAL mode the next synced commit (or checkpoint) makes them durable too; a
   * power cut loses at most the counts of the seconds before it. PostgreSQL: `atomic`.
   */
  atomicUnsynced<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    if (this.dialect !== "sqlite" || this.inTransaction) return this.atomic(fn);
    // One connection (SQLite's only one) for the pragma, the transaction and the pragma back.
    return guard(
      this.db.connection().execute(async (db) => {
        await sql`pragma synchronous = NORMAL`.execute(db);
        try {
          return await db.transaction().execute(fn);
        } finally {
          await sql`pragma synchronous = FULL`.execute(db);
        }
      }),
    );
  }
}

/** Base of the Kysely repositories: single statements run on `db`, several through `atomic`. */
export abstract class KyselyRepository {
  constructor(protected readonly scope: Scope) {}

  protected get db(): Kysely<Database> {
    return this.scope.db;
  }

  protected atomic<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.scope.atomic(fn);
  }
}
