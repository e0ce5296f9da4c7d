/** Accounts: the tenants every other record belongs to. */

export interface AccountRecord {
  name: string;
  createdAt: number;
}

/** What the account says of itself (VTEX's account and stores answers); see migration 0014. */
export interface AccountProfile {
  /** Null: none set (the account's name is shown). */
  displayName: string | null;
  hosts: string[];
}

export interface AccountRepository {
  /** Throws StoreConflict("account") when the name is taken. */
  create(account: AccountRecord): Promise<void>;
  get(name: string): Promise<AccountRecord | undefined>;
  /** Undefined when there is no such account. */
  getProfile(name: string): Promise<AccountProfile | undefined>;
  /** Replaces the profile; false when there is no such account. */
  setProfile(name: string, profile: AccountProfile): Promise<boolean>;
  /** Every account name, sorted (the scheduler visits each). */
  list(): Promise<string[]>;
  /**
   * Holds the grants of the account (the roles its users and keys hold there) until the caller's
   * transaction ends: a change computed from what it reads next (roles added to the current ones,
   * the last Owner kept) then waits for a concurrent one instead of overwriting it. Call it inside
   * `transaction()`, before reading. False when there is no such account.
   */
  lockGrants(account: string): Promise<boolean>;
}
