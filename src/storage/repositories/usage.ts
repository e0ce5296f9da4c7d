/** Usage counts, written in batches by the usage recorder, never on the request path. */

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
  /** Last authentication with each token (`tokens.last_used_at`); tokens deleted meanwhile are skipped. */
  tokens?: readonly TokenUseRecord[];
  /**
   * Calls spent from keys' quotas, each in the refill period it was spent in: subtracted from the
   * stored remaining (never below 0), after refilling it when the period is later than the stored
   * one; spends of an earlier period than the stored one, spends made under another setting of the
   * quota (`setAt`: a PATCH since started a fresh count), and keys without a quota, are skipped.
   */
  quotas?: readonly QuotaSpend[];
}

export interface QuotaSpend {
  keyId: string;
  /** Start of the refill period (core/key-controls.ts `quotaPeriod`; 0 without refill). */
  period: number;
  /** The setting of the quota the calls were spent under (`quota_set_at`, KeyRecord `quotaSetAt`). */
  setAt: number;
  spent: number;
}

export interface TokenUseRecord {
  tokenId: string;
  at: number;
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

export interface UsageRepository {
  /**
   * Adds the counts and moves `lastUsedAt` forward (the key's, and an external key's in the account
   * that added it); keys deleted or removed meanwhile are skipped.
   */
  record(batch: UsageBatch): Promise<void>;
  /** Stored days of one key between two UTC day numbers, inclusive, oldest first. */
  get(keyId: string, fromDay: number, toDay: number): Promise<UsageDay[]>;
  /** Last allowed use of each resource by keys in one account (the access review). */
  listResourceUse(account: string): Promise<ResourceUseRecord[]>;
}
