/**
 * The Store port: every persistent fact of latchkey goes through it, and one Kysely implementation
 * serves both SQLite (embedded) and PostgreSQL (scale-out). It is a set of repositories, one per
 * area (src/storage/repositories/), each implemented by its kysely-*.ts module.
 *
 * Secrets: the store only ever sees token *hashes* (base64url SHA-256) and password hashes. No method
 * takes or returns a plaintext token or password.
 *
 * Atomicity: each method is atomic on its own. Several calls made through the repositories handed to
 * `transaction()` commit or roll back together; services use one transaction per use case, and the
 * audit event of a change is appended inside the same transaction as the change.
 *
 * Conflicts: a write that would break a uniqueness rule throws `StoreConflict` naming the rule
 * (e.g. "key_name"); inside a transaction the caller must then let the transaction fail.
 *
 * Times are integers: milliseconds since the Unix epoch (UTC).
 */
import type { AccountRepository } from "./repositories/accounts.js";
import type { AuditRepository } from "./repositories/audit.js";
import type { ChangeLogRepository } from "./repositories/change-log.js";
import type { ExternalKeyRepository } from "./repositories/external-keys.js";
import type { KeyRepository } from "./repositories/keys.js";
import type { OutboxRepository } from "./repositories/outbox.js";
import type { PasswordResetRepository, PeopleRepository, SessionRepository } from "./repositories/people.js";
import type { RenewalRepository, ShareLinkRepository } from "./repositories/renewal.js";
import type { RoleRepository } from "./repositories/roles.js";
import type { SettingsRepository } from "./repositories/settings.js";
import type { SigningKeyRepository } from "./repositories/signing-keys.js";
import type { UsageRepository } from "./repositories/usage.js";

export type * from "./repositories/accounts.js";
export type * from "./repositories/audit.js";
export type * from "./repositories/change-log.js";
export type * from "./repositories/external-keys.js";
export type * from "./repositories/keys.js";
export type * from "./repositories/outbox.js";
export type * from "./repositories/people.js";
export type * from "./repositories/renewal.js";
export type * from "./repositories/roles.js";
export type * from "./repositories/settings.js";
export type * from "./repositories/signing-keys.js";
export type * from "./repositories/usage.js";

export type Dialect = "sqlite" | "postgres";

export class StoreConflict extends Error {
  constructor(readonly constraint: ConflictName) {
    super(`unique constraint violated: ${constraint}`);
    this.name = "StoreConflict";
  }
}

export type ConflictName =
  | "account"
  | "user_email"
  | "role_name"
  | "key_name"
  | "app_key"
  | "token_hash"
  /** A renewal is already pending on the key (its second token slot is taken). */
  | "renewal_pending"
  /** The key was already added to the account as an external key. */
  | "external_key";

/** The repositories, bound either to the store (each call on its own) or to one transaction. */
export interface StoreOps {
  readonly accounts: AccountRepository;
  /** Users and their membership of accounts. */
  readonly people: PeopleRepository;
  readonly sessions: SessionRepository;
  /** Emailed password-reset codes, as hashes. */
  readonly passwordResets: PasswordResetRepository;
  readonly roles: RoleRepository;
  readonly keys: KeyRepository;
  /** Pending tokens and renewal alert marks. */
  readonly renewals: RenewalRepository;
  readonly shareLinks: ShareLinkRepository;
  readonly externalKeys: ExternalKeyRepository;
  readonly settings: SettingsRepository;
  readonly outbox: OutboxRepository;
  readonly usage: UsageRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly audit: AuditRepository;
  /** Changes that can alter a verification decision, for the other instances (change-journal.ts). */
  readonly changeLog: ChangeLogRepository;
}

export interface Store extends StoreOps {
  readonly dialect: Dialect;
  /** Runs `fn` in one database transaction, with the repositories bound to it. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /** Applies pending migrations; safe to call on every start and from several instances. */
  migrate(): Promise<void>;
  /** Cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
