/**
 * The Store over Kysely, one implementation for SQLite and PostgreSQL: the repositories of each
 * area (kysely-*.ts), bound to the store's connections or, through `transaction()`, to one
 * transaction.
 *
 * Secrets: tokens and sessions arrive here as SHA-256 hashes and passwords as password hashes; no
 * plaintext secret passes through. Audit `data` is stored as given: callers keep secrets out of it.
 *
 * Atomicity: methods that write several rows run in a transaction of their own, or in the caller's
 * when reached through `transaction()`. Unique violations surface as StoreConflict naming the rule.
 */
import { type Kysely, sql } from "kysely";
import { KyselyAccounts } from "./kysely-accounts.js";
import { KyselyAudit } from "./kysely-audit.js";
import { KyselyChangeLog } from "./kysely-change-log.js";
import { KyselyExternalKeys } from "./kysely-external-keys.js";
import { KyselyKeys } from "./kysely-keys.js";
import { KyselyOutbox } from "./kysely-outbox.js";
import { KyselyPasswordResets, KyselyPeople, KyselySessions } from "./kysely-people.js";
import { KyselyRenewals, KyselyShareLinks } from "./kysely-renewal.js";
import { KyselyRoles } from "./kysely-roles.js";
import { Scope } from "./kysely-scope.js";
import { KyselySettings } from "./kysely-settings.js";
import { KyselySigningKeys } from "./kysely-signing-keys.js";
import { KyselyUsage } from "./kysely-usage.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import type { Dialect, Store, StoreOps } from "./store.js";

/** The repositories bound to `db`, a Kysely handle or an open transaction (for copy.ts's checks). */
export function storeOpsOn(db: Kysely<Database>, dialect: Dialect, inTransaction: boolean): StoreOps {
  return repositories(new Scope(db, dialect, inTransaction));
}

function repositories(scope: Scope): StoreOps {
  return {
    accounts: new KyselyAccounts(scope),
    people: new KyselyPeople(scope),
    sessions: new KyselySessions(scope),
    passwordResets: new KyselyPasswordResets(scope),
    roles: new KyselyRoles(scope),
    keys: new KyselyKeys(scope),
    renewals: new KyselyRenewals(scope),
    shareLinks: new KyselyShareLinks(scope),
    externalKeys: new KyselyExternalKeys(scope),
    settings: new KyselySettings(scope),
    outbox: new KyselyOutbox(scope),
    usage: new KyselyUsage(scope),
    signingKeys: new KyselySigningKeys(scope),
    audit: new KyselyAudit(scope),
    changeLog: new KyselyChangeLog(scope),
  };
}

export function createKyselyStore(db: Kysely<Database>, dialect: Dialect): Store {
  let migrating: Promise<void> | undefined;
  return {
    ...repositories(new Scope(db, dialect, false)),
    dialect,
    transaction: (fn) => db.transaction().execute((trx) => fn(repositories(new Scope(trx, dialect, true)))),
    /** Concurrent calls on one store share a single run; other instances are handled in migrations.ts. */
    migrate() {
      migrating ??= migrateToLatest(db, dialect).finally(() => {
        migrating = undefined;
      });
      return migrating;
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
