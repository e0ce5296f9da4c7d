/** Accounts: the tenants every other record belongs to. */

export interface AccountRecord {
  name: string;
  createdAt: number;
}

export interface AccountRepository {
  /** Throws StoreConflict("account") when the name is taken. */
  create(account: AccountRecord): Promise<void>;
  get(name: string): Promise<AccountRecord | undefined>;
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
