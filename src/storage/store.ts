/**
 * The Store port: every persistent fact of latchkey goes through this interface, and one Kysely
 * implementation serves both SQLite (embedded) and PostgreSQL (scale-out).
 *
 * Secrets: the store only ever sees token *hashes* (base64url SHA-256) and password hashes. No method
 * takes or returns a plaintext token or password.
 *
 * Atomicity: each method is atomic on its own. Several calls made through the `tx` handed to
 * `transaction()` commit or roll back together; services use one transaction per use case, and the
 * audit event of a change is appended inside the same transaction as the change.
 *
 * Conflicts: a write that would break a uniqueness rule throws `StoreConflict` naming the rule
 * (e.g. "key_name"); inside a transaction the caller must then let the transaction fail.
 *
 * Times are integers: milliseconds since the Unix epoch (UTC).
 */

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

export interface AccountRecord {
  name: string;
  createdAt: number;
}

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: number;
}

/**
 * Active: the user holds `roleIds` in the account. Invited: the user already had a sign-in when added,
 * and `roleIds` are only offered until the user accepts; an invitation grants nothing.
 */
export type MemberStatus = "active" | "invited";

/** A user as seen from one account: membership plus the roles held (or, invited, offered) there. */
export interface MemberRecord {
  id: string;
  email: string;
  createdAt: number;
  addedAt: number;
  roleIds: number[];
  status: MemberStatus;
  /**
   * Who made the invitation, as its user may see it (an email or appKey of the inviting account);
   * null for a membership that was active at once, or an inviter that is not of the account.
   */
  invitedBy: string | null;
  /** The invitation's code, as its hash; null when active, or for an invitation made before codes. */
  invitationCode: InvitationCode | null;
}

/** What is kept of an invitation's code: only its SHA-256 (the code itself is shown once). */
export interface InvitationCode {
  hash: string;
  expiresAt: number;
}

export interface SessionRecord {
  /** base64url SHA-256 of the session secret held in the cookie. */
  idHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface CustomRoleRecord {
  id: number;
  account: string;
  name: string;
  resources: string[];
  createdAt: number;
  updatedAt: number;
}

export interface TokenRecord {
  id: string;
  /** base64url SHA-256 of the appToken. */
  hash: string;
  createdAt: number;
}

export interface KeyRecord {
  id: string;
  appKey: string;
  /** The account that generated (owns) the key. */
  account: string;
  name: string;
  active: boolean;
  createdAt: number;
  updatedAt: number;
  /** Creation time of the newest token. */
  tokenCreatedAt: number;
  lastUsedAt: number | null;
  /** Role ids the key holds in its own account. */
  roleIds: number[];
  /** Oldest first. One token, or two while a renewal is pending. */
  tokens: TokenRecord[];
}

export type KeySort = "name" | "createdAt" | "tokenCreatedAt" | "lastUsedAt";

export interface KeyListQuery {
  account: string;
  /** Case-insensitive substring of the name or the appKey. */
  q?: string;
  status?: "active" | "inactive";
  roleId?: number;
  sort: KeySort;
  order: "asc" | "desc";
  /** 1..200 */
  limit: number;
  /** Keyset position: the sort value and id of the last item of the previous page. */
  after?: { value: string | number; id: string };
  /** Only keys whose newest token was created at or after this instant (alert filters). */
  tokenCreatedFrom?: number;
  /** Only keys whose newest token was created strictly before this instant (alert filters). */
  tokenCreatedBefore?: number;
  /** Skip the `total` count (returned as -1): for exports and scans that page through everything. */
  skipTotal?: boolean;
}

export interface KeyListPage {
  items: KeyRecord[];
  /** Matches of the whole query, ignoring paging. */
  total: number;
  /** True when more items follow the last one returned. */
  hasMore: boolean;
}

export interface NewKey {
  id: string;
  appKey: string;
  account: string;
  name: string;
  active: boolean;
  createdAt: number;
  token: TokenRecord;
  roleIds: number[];
}

export interface KeyPatch {
  name?: string;
  active?: boolean;
  updatedAt: number;
}

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
}

export type ShareReveal =
  | { status: "revealed"; link: ShareLinkRecord; sealed: string }
  /** Known, but already revealed or expired: its sealed token is gone. */
  | { status: "gone"; link: ShareLinkRecord }
  | { status: "unknown" };

/** A key generated by another account and added to `account` (SPEC §2.2). */
export interface ExternalKeyRecord {
  /**
   * The addition's own id. What `account` is shown of the key is this, its roles and `lastUsedAt`
   * here, and the key's appKey, owner and active flag: never the owner's `key.id` or other details.
   */
  id: string;
  account: string;
  /** The key as its owner holds it: `key.account` is the owner, `key.roleIds` its roles there. */
  key: KeyRecord;
  addedAt: number;
  /** Roles the key holds in `account`. */
  roleIds: number[];
  /** Last allowed call of the key in `account`; null when none since it was added. */
  lastUsedAt: number | null;
}

/** Which write of an account's settings document is stored: revision 1 is the first write. */
export interface SettingsVersion {
  revision: number;
  updatedAt: number;
}

export interface StoredSettings extends SettingsVersion {
  settings: Record<string, unknown>;
}

export type NotificationChannel = "email" | "webhook";
export type NotificationStatus = "pending" | "sent" | "failed";

export interface NotificationInput {
  id: string;
  account: string;
  channel: NotificationChannel;
  /** Email address, or webhook id in the account's settings. */
  target: string;
  /** What happened, e.g. "key.alert.orange", "key.deactivated_by_policy", "key.leaked". */
  event: string;
  /** The message body: JSON facts, never a token. */
  payload: Record<string, unknown>;
  createdAt: number;
}

export interface NotificationRecord extends NotificationInput {
  status: NotificationStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  sentAt: number | null;
}

export type ActorType = "user" | "key" | "system";

export interface AuditEventInput {
  id: string;
  account: string;
  at: number;
  actorType: ActorType;
  /** User id, appKey, or "system". */
  actorId: string;
  /** Human label: the user's email, the appKey, or "system". */
  actorLabel: string;
  /** Dotted verb, e.g. "key.created", "key.roles_set", "user.signed_in". */
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** Before/after of the changed fields, or other facts. Never a token or password. */
  data: Record<string, unknown> | null;
}

export interface AuditEventRecord extends AuditEventInput {
  seq: number;
}

/**
 * An event as stored, with its place in the account's hash chain (src/storage/audit-chain.ts). `data` is
 * what the row holds: parsed JSON, or the raw text if a damaged row holds none.
 */
export interface ChainedAuditEvent extends Omit<AuditEventRecord, "data"> {
  data: unknown;
  /** Hash of the account's previous event; null for its first. */
  prevHash: string | null;
  /** Null only in a damaged row. */
  hash: string | null;
}

/** The last link of an account's audit chain. */
export interface AuditHead {
  account: string;
  seq: number;
  hash: string;
}

/** A page of one account's audit events. Filters combine with AND. */
export interface AuditQuery {
  account: string;
  /** By seq: "desc" is newest first. */
  order: "asc" | "desc";
  /** 1..1000 */
  limit: number;
  /** Keyset position: only events past this seq in `order`. */
  afterSeq?: number;
  /** Only events with seq at most this (a consistent end for exports and checks). */
  maxSeq?: number;
  /** Exact action, or (`actionPrefix`) every action starting with it. */
  action?: string;
  actionPrefix?: string;
  /** The actor's id or label, exactly. */
  actor?: string;
  targetId?: string;
  /** at >= from */
  from?: number;
  /** at < to */
  to?: number;
}

/**
 * A JWT signing key (ES256) of the installation. The private half is sealed with LATCHKEY_SECRET
 * before it reaches the store: no method takes or returns it in plaintext.
 */
export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key; the `kid` of the JWTs it signs. */
  kid: string;
  /** 1 for the first key, one more per rotation. Unique. */
  generation: number;
  createdAt: number;
  /** Null while current (the key new JWTs are signed with). */
  retiredAt: number | null;
  publicJwk: { kty: string; crv: string; x: string; y: string };
  /** The private JWK, sealed (services/sealing.ts) with the kid as context. */
  sealedPrivateKey: string;
}

export interface StoreOps {
  // Accounts
  createAccount(account: AccountRecord): Promise<void>;
  getAccount(name: string): Promise<AccountRecord | undefined>;
  /**
   * Holds the grants of the account (the roles its users and keys hold there) until the caller's
   * transaction ends: a change computed from what it reads next (roles added to the current ones,
   * the last Owner kept) then waits for a concurrent one instead of overwriting it. Call it inside
   * `transaction()`, before reading. False when there is no such account.
   */
  lockGrants(account: string): Promise<boolean>;

  // Users and membership
  createUser(user: UserRecord): Promise<void>;
  getUserById(id: string): Promise<UserRecord | undefined>;
  /** Emails are stored and matched lower-cased. */
  getUserByEmail(email: string): Promise<UserRecord | undefined>;
  /**
   * An active membership, or with `invitation` an invited one (see MemberStatus). Idempotent: a
   * user who is already a member (active or invited) keeps that membership as it is.
   */
  addMember(
    account: string,
    userId: string,
    addedAt: number,
    invitation?: { invitedBy: string | null; code: InvitationCode },
  ): Promise<void>;
  /** Removes the membership and every role the user held in the account. False if not a member. */
  removeMember(account: string, userId: string): Promise<boolean>;
  /** Active or invited. */
  getMember(account: string, userId: string): Promise<MemberRecord | undefined>;
  /** Active and invited members, sorted by email. */
  listMembers(account: string): Promise<MemberRecord[]>;
  /** Accounts where the user's membership is active (invitations left out), by name, sorted. */
  listUserAccounts(userId: string): Promise<string[]>;
  /**
   * Makes the user's invitation to the account an active membership, its code erased. False when
   * there is none.
   */
  acceptInvitation(account: string, userId: string): Promise<boolean>;
  /**
   * Removes the user's invitation to the account, with its roles. False when there is none (an
   * active membership is left alone).
   */
  declineInvitation(account: string, userId: string): Promise<boolean>;
  /** Replaces the user's roles (offered roles, for an invitation) in the account. */
  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void>;
  /** Active members of the account holding the role (invitations are not counted). */
  countUsersWithRole(account: string, roleId: number): Promise<number>;

  // Sessions
  createSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  deleteSession(idHash: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<number>;

  // Custom roles (predefined roles live in the catalog, not here). Ids start at 100000.
  createRole(role: Omit<CustomRoleRecord, "id">): Promise<CustomRoleRecord>;
  getRole(account: string, id: number): Promise<CustomRoleRecord | undefined>;
  listRoles(account: string): Promise<CustomRoleRecord[]>;
  updateRole(
    account: string,
    id: number,
    patch: { name: string; resources: string[]; updatedAt: number },
  ): Promise<boolean>;
  deleteRole(account: string, id: number): Promise<boolean>;
  /** Users (invitations offering it included) and keys that hold the role in the account. */
  countRoleHolders(account: string, roleId: number): Promise<number>;
  /**
   * Distinct role ids held in the account by the users and keys holding `roleId` there, ascending.
   * Invitations count as holding the roles they offer.
   */
  coHeldRoleIds(account: string, roleId: number): Promise<number[]>;
  /** Distinct role ids held in the account by its own generated keys, ascending. */
  ownKeysRoleIds(account: string): Promise<number[]>;

  // Keys
  createKey(key: NewKey): Promise<void>;
  /** Any key of the installation, with its tokens and its roles in its own account. */
  getKeyByAppKey(appKey: string): Promise<KeyRecord | undefined>;
  /**
   * The key `account` generated with this id, as getKeyByAppKey returns it; undefined when no key
   * has the id or another account generated it (a key added to `account` as external is not found).
   */
  findKeyById(account: string, id: string): Promise<KeyRecord | undefined>;
  /** The key holding a token with this hash (current or pending), whatever its account or state. */
  findKeyByTokenHash(hash: string): Promise<KeyRecord | undefined>;
  listKeys(query: KeyListQuery): Promise<KeyListPage>;
  /** Returns the updated key, or undefined when the account owns no such key. */
  updateKey(account: string, appKey: string, patch: KeyPatch): Promise<KeyRecord | undefined>;
  /** Replaces the roles the key holds in `account` (its own account, or one it was added to). */
  setKeyRoles(account: string, keyId: string, roleIds: number[]): Promise<void>;
  getKeyRoleIds(account: string, keyId: string): Promise<number[]>;
  /** Deletes the key, its tokens and every grant of it. False if the account owns no such key. */
  deleteKey(account: string, appKey: string): Promise<boolean>;

  // Renewal (SPEC §2.1). A key has its current token and, while a renewal is pending, a newer one.
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

  // Share links
  createShareLink(link: ShareLinkRecord, sealed: string): Promise<void>;
  /**
   * Atomically marks the link revealed and hands out its sealed token, at most once. An expired
   * or already revealed link answers "gone"; the sealed token is erased in every case.
   */
  revealShareLink(idHash: string, now: number): Promise<ShareReveal>;
  /** The key's newest share link, if any. */
  latestShareLink(keyId: string): Promise<ShareLinkRecord | undefined>;
  /** Erases the sealed tokens of links expired at `now`; returns how many were erased. */
  purgeExpiredShareLinks(now: number): Promise<number>;

  // External keys (SPEC §2.2)
  /** `id` names the addition (unique). Throws StoreConflict("external_key") when already added. */
  addExternalKey(account: string, keyId: string, addedAt: number, id: string): Promise<void>;
  getExternalKey(account: string, keyId: string): Promise<ExternalKeyRecord | undefined>;
  /** The addition to `account` with this id (the addition's own, not the key's); exact match. */
  findExternalKeyById(account: string, id: string): Promise<ExternalKeyRecord | undefined>;
  /** Oldest addition first. */
  listExternalKeys(account: string): Promise<ExternalKeyRecord[]>;
  /** Removes the addition and every role the key held in `account`. False if it was not added. */
  removeExternalKey(account: string, keyId: string): Promise<boolean>;
  /** Accounts the key was added to as an external key, sorted. */
  listExternalAccounts(keyId: string): Promise<string[]>;

  // Settings: one JSON document per account; its shape belongs to the settings service.
  getSettings(account: string): Promise<Record<string, unknown> | undefined>;
  /** The document with its version (revision and updatedAt), read in one statement. */
  getStoredSettings(account: string): Promise<StoredSettings | undefined>;
  /** Replaces the document whatever it was (last write wins); returns its new revision. */
  putSettings(account: string, settings: Record<string, unknown>, updatedAt: number): Promise<number>;
  /**
   * Replaces the document only if it is still the version `read` (undefined: none stored yet), in
   * one conditional statement: of writers that read the same version, exactly one succeeds, however
   * they interleave. Returns the new revision, or undefined (nothing written) when it had changed.
   */
  putSettingsIfUnchanged(
    account: string,
    settings: Record<string, unknown>,
    updatedAt: number,
    read: SettingsVersion | undefined,
  ): Promise<number | undefined>;

  // Alerts, policies and the notification outbox
  /** Every account name, sorted (the scheduler visits each). */
  listAccounts(): Promise<string[]>;
  /**
   * Records that `level` was announced for the token; false when it already was (once per token
   * and level, whatever the number of instances running the scheduler).
   */
  markAlert(tokenId: string, level: string, at: number): Promise<boolean>;
  /** Active generated keys of the account neither used nor created since `before` (unused policy). */
  listUnusedKeys(account: string, before: number, limit: number): Promise<KeyRecord[]>;
  enqueueNotification(notification: NotificationInput): Promise<void>;
  /**
   * Atomically leases up to `limit` pending notifications due at `now` until `leaseUntil` (their
   * nextAttemptAt moves there), so that two schedulers never send the same one at once.
   */
  claimNotifications(now: number, leaseUntil: number, limit: number): Promise<NotificationRecord[]>;
  markNotificationSent(id: string, sentAt: number): Promise<void>;
  /** Counts an attempt; `retryAt` null gives up (status "failed"). */
  markNotificationFailed(id: string, error: string, retryAt: number | null): Promise<void>;
  /** Newest first. */
  listNotifications(account: string, limit: number): Promise<NotificationRecord[]>;

  // Usage (written in batches by the usage recorder, never on the request path)
  /**
   * Adds the counts and moves `lastUsedAt` forward (the key's, and an external key's in the account
   * that added it); keys deleted or removed meanwhile are skipped.
   */
  recordUsage(batch: UsageBatch): Promise<void>;
  /** Stored days of one key between two UTC day numbers, inclusive, oldest first. */
  getUsage(keyId: string, fromDay: number, toDay: number): Promise<UsageDay[]>;
  /** Last allowed use of each resource by keys in one account (the access review). */
  listResourceUse(account: string): Promise<ResourceUseRecord[]>;

  // JWT signing keys: a handful of rows for the whole installation.
  /** Every stored signing key, newest generation first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /**
   * Adds a signing key; false when its generation is already taken, so of two instances creating the
   * first key (or two racing rotations) exactly one succeeds and the other re-reads.
   */
  insertSigningKey(key: SigningKeyRecord): Promise<boolean>;
  /** Sets `retiredAt`; false when the key is unknown or already retired. */
  retireSigningKey(kid: string, at: number): Promise<boolean>;
  /** Deletes the keys retired before `before`; returns how many. */
  deleteSigningKeysRetiredBefore(before: number): Promise<number>;

  // Audit (append-only: there is no method to change or remove an event)
  /**
   * Appends the event to its account's hash chain: locks the account's chain head (PostgreSQL: the
   * head row, until the caller's transaction ends; SQLite: the database's single writer), links the
   * event to the head's hash, then moves the head. Two transactions appending to one account
   * therefore chain one after the other, never fork.
   */
  appendAudit(event: AuditEventInput): Promise<void>;
  /** Newest first. */
  listAudit(account: string, limit: number): Promise<AuditEventRecord[]>;
  /** A page of one account's events, with their chain fields. */
  listAuditEvents(query: AuditQuery): Promise<ChainedAuditEvent[]>;
  /** The account's chain head; undefined before its first event. */
  getAuditHead(account: string): Promise<AuditHead | undefined>;
  /** Every account that has audit events or a chain head, sorted. */
  listAuditAccounts(): Promise<string[]>;
}

/** Verification counts of one key on one UTC day (days since the epoch). */
export interface UsageDay {
  day: number;
  ok: number;
  denied: number;
}

export interface UsageBatch {
  counts: readonly (UsageDay & { keyId: string })[];
  lastUsed: readonly { keyId: string; at: number }[];
  /** Last allowed use of a resource by a key in an account. */
  resources: readonly ResourceUseRecord[];
  /**
   * Last allowed call of a key in an account, whatever the resource. Stored only where the key was
   * added as an external key (its use in its own account is `lastUsed`); other entries are skipped.
   */
  accounts?: readonly AccountUseRecord[];
}

export interface AccountUseRecord {
  keyId: string;
  account: string;
  at: number;
}

export interface ResourceUseRecord {
  keyId: string;
  account: string;
  resource: string;
  at: number;
}

export interface Store extends StoreOps {
  readonly dialect: Dialect;
  /** Runs `fn` in one database transaction. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /** Applies pending migrations; safe to call on every start and from several instances. */
  migrate(): Promise<void>;
  /** Cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
