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

export type ConflictName = "account" | "user_email" | "role_name" | "key_name" | "app_key" | "token_hash";

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

/** A user as seen from one account: membership plus the roles held there. */
export interface MemberRecord {
  id: string;
  email: string;
  createdAt: number;
  addedAt: number;
  roleIds: number[];
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

export interface StoreOps {
  // Accounts
  createAccount(account: AccountRecord): Promise<void>;
  getAccount(name: string): Promise<AccountRecord | undefined>;

  // Users and membership
  createUser(user: UserRecord): Promise<void>;
  getUserById(id: string): Promise<UserRecord | undefined>;
  /** Emails are stored and matched lower-cased. */
  getUserByEmail(email: string): Promise<UserRecord | undefined>;
  addMember(account: string, userId: string, addedAt: number): Promise<void>;
  /** Removes the membership and every role the user held in the account. False if not a member. */
  removeMember(account: string, userId: string): Promise<boolean>;
  getMember(account: string, userId: string): Promise<MemberRecord | undefined>;
  listMembers(account: string): Promise<MemberRecord[]>;
  /** Accounts the user is a member of, by name, sorted. */
  listUserAccounts(userId: string): Promise<string[]>;
  /** Replaces the user's roles in the account. */
  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void>;
  /** Members of the account holding the role. */
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
  /** Users and keys that hold the role in the account. */
  countRoleHolders(account: string, roleId: number): Promise<number>;

  // Keys
  createKey(key: NewKey): Promise<void>;
  /** Any key of the installation, with its tokens and its roles in its own account. */
  getKeyByAppKey(appKey: string): Promise<KeyRecord | undefined>;
  listKeys(query: KeyListQuery): Promise<KeyListPage>;
  /** Returns the updated key, or undefined when the account owns no such key. */
  updateKey(account: string, appKey: string, patch: KeyPatch): Promise<KeyRecord | undefined>;
  /** Replaces the roles the key holds in `account` (its own account, or one it was added to). */
  setKeyRoles(account: string, keyId: string, roleIds: number[]): Promise<void>;
  getKeyRoleIds(account: string, keyId: string): Promise<number[]>;
  /** Deletes the key, its tokens and every grant of it. False if the account owns no such key. */
  deleteKey(account: string, appKey: string): Promise<boolean>;

  // Audit (append-only)
  appendAudit(event: AuditEventInput): Promise<void>;
  /** Newest first. Read API comes with the audit issue; tests use this. */
  listAudit(account: string, limit: number): Promise<AuditEventRecord[]>;
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
