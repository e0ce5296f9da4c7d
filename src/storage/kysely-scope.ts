/**
 * What the Kysely repositories run their statements on: the store's connections, or one open
 * transaction. Each repository of a scope shares it, so a store hands out one set of repositories
 * and every `transaction()` another, bound to that transaction.
 */
import type { Kysely } from "kysely";
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
