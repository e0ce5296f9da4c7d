/**
 * Kysely table types: the shape of the rows as the database holds them, shared by both dialects.
 *
 * Conventions, so both dialects read back the same values:
 * - times are integer milliseconds since the epoch (PostgreSQL `bigint`, parsed to number by open.ts);
 * - booleans are integers 0/1;
 * - lists and objects are JSON text;
 * - case-insensitive uniqueness uses a lower-cased twin column (computed in JS, so both dialects agree
 *   on non-ASCII letters, which SQLite's `lower()` leaves untouched).
 */
import type { Generated } from "kysely";

export interface AccountsTable {
  name: string;
  created_at: number;
  /** Since 0014: the name shown for the account (VTEX's tradingName); null: the account name. */
  display_name: Generated<string | null>;
  /** Since 0014: JSON array of the hosts the account's store answers on. */
  hosts: Generated<string>;
}

export interface UsersTable {
  id: string;
  /** Always lower-cased. */
  email: string;
  password_hash: string;
  created_at: number;
  /** Since 0014: 1 while a sign-in made by an invitation has no password of its person's choosing. */
  password_pending: Generated<number>;
  /** 1 after an administrator's reset: the next session may only change the password (0015). */
  must_change_password: Generated<number>;
}

/** An emailed password-reset code, known by its SHA-256 only; single use (`used_at`), 30 minutes. */
export interface PasswordResetsTable {
  code_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/**
 * A user's membership of an account. `status` "invited" is an invitation: its roles (user_roles) are
 * offered, not held, until the user accepts. Rows from before 0010 are "active".
 */
export interface AccountMembersTable {
  account: string;
  user_id: string;
  added_at: number;
  status: "active" | "invited";
  /**
   * Who invited, as the invited user may see it: an email or appKey of the inviting account, or null
   * (a membership made active, or an inviter of another account: an external key).
   */
  invited_by: string | null;
  /** SHA-256 (base64url) of the invitation's code; null when active, or invited before 0011. */
  invitation_hash: string | null;
  invitation_expires_at: number | null;
  /** Since 0014: the name the account knows the member by; null when none was given. */
  name: string | null;
}

/** Roles a user holds in an account; role_id is a catalog role (< 100000) or a custom role. */
export interface UserRolesTable {
  account: string;
  user_id: string;
  role_id: number;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface RolesTable {
  /** Custom role ids start at 100000; lower ids belong to the catalog. */
  id: Generated<number>;
  account: string;
  name: string;
  name_lower: string;
  /** JSON array of resource keys. */
  resources: string;
  created_at: number;
  updated_at: number;
}

export interface KeysTable {
  id: string;
  app_key: string;
  /** The owning (generating) account. */
  account: string;
  name: string;
  name_lower: string;
  active: number;
  created_at: number;
  updated_at: number;
  /** Creation time of the newest token; kept in step with `tokens` for sorting and alerts. */
  token_created_at: number;
  /** 0 means never used, so the column stays NOT NULL and sorts without NULLS handling. */
  last_used_at: number;
  /** Per-key controls (core/key-controls.ts). Expiry instant; null: never. */
  expires_at: Generated<number | null>;
  /** JSON array of CIDR blocks; null: any address. */
  ip_allowlist: Generated<string | null>;
  /** JSON object; null: none. */
  metadata: Generated<string | null>;
  /** 1: may be used from a browser page. */
  allow_browser: Generated<number>;
  /** Rate limit: calls per window; both null when none. */
  rate_limit: Generated<number | null>;
  rate_window_seconds: Generated<number | null>;
  /** Quota: calls left in the period starting at `quota_period` (0 without refill); null when none. */
  quota_remaining: Generated<number | null>;
  quota_refill_amount: Generated<number | null>;
  /** "day" or "month"; null: no refill. */
  quota_refill_every: Generated<string | null>;
  quota_period: Generated<number>;
  /** When the quota was last set (its version: Redis counters and usage spends name it); 0 before 0021. */
  quota_set_at: Generated<number>;
  /** The calls the quota was set to, for the period holding `quota_set_at`; null when none. */
  quota_base: Generated<number | null>;
  /** Why an inactive key is inactive (an InactiveReason); null when active or deactivated before 0016. */
  inactive_reason: Generated<string | null>;
}

/**
 * Keys an account owns, all and active, kept in step with `keys` by every write that changes them
 * (kysely-key-counts.ts). An account with no row has no keys.
 */
export interface KeyUsageTable {
  key_id: string;
  /** UTC days since the epoch. */
  day: number;
  ok: number;
  denied: number;
}

export interface KeyResourceUseTable {
  key_id: string;
  account: string;
  resource: string;
  last_used_at: number;
}

export interface KeyCountsTable {
  account: string;
  total: number;
  active: number;
}

export interface TokensTable {
  id: string;
  key_id: string;
  /** base64url SHA-256 of the appToken; never the token itself. */
  hash: string;
  created_at: number;
  /**
   * 0 for the current token, 1 for the pending one of a renewal. Unique per key, so a second
   * renewal started at the same time fails on the index instead of adding a third token.
   */
  slot: number;
  /** Last authentication with this token (0: none recorded); batched like `keys.last_used_at`. Since 0013. */
  last_used_at: Generated<number>;
  /** 1 when the token was imported by its hash (issued by another system, any shape); since 0020. */
  imported: Generated<number>;
}

/**
 * Roles a key holds in an account. `account` may differ from the key's own account (external keys),
 * which is why grants are not a column of `keys`.
 */
export interface KeyRolesTable {
  account: string;
  key_id: string;
  role_id: number;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  id: string;
  account: string;
  at: number;
  actor_type: string;
  actor_id: string;
  actor_label: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  /** JSON text. */
  data: string | null;
  /** Hash of the account's previous event (null for its first); see src/storage/audit-chain.ts. Since 0006. */
  prev_hash: string | null;
  /** SHA-256 (hex) of this event's canonical form and prev_hash. Null only in a damaged row. */
  hash: string | null;
}

/** The last event of each account's audit chain: appends lock this row, so chains never fork. */
export interface AuditHeadsTable {
  account: string;
  /** seq of the account's last event (0 before the first one commits). */
  seq: number;
  /** hash of that event; null before the first one commits. */
  hash: string | null;
}

/** Sealed tokens of share links; the link id itself is only held as a hash. */
export interface ShareLinksTable {
  /** base64url SHA-256 of the link id. */
  id_hash: string;
  account: string;
  key_id: string;
  app_key: string;
  token_id: string;
  /** The token encrypted with LATCHKEY_SECRET; null once revealed or expired. */
  sealed: string | null;
  created_at: number;
  expires_at: number;
  revealed_at: number | null;
  /** When the link was cancelled before it was opened (its seal is erased then). Since 0013. */
  cancelled_at: number | null;
}

/** Keys of other accounts added to `account`; the roles granted there live in key_roles. */
export interface ExternalKeysTable {
  /** The addition's own id, shown to the adding account instead of the owner's internal key id. */
  id: string;
  account: string;
  key_id: string;
  added_at: number;
  /** Last allowed call of the key in `account` (0: none), never its use elsewhere. */
  last_used_at: number;
  /** Set while the addition awaits approval (a request); null once approved. Since 0019. */
  requested_at: number | null;
  /** JSON `{type, id, label}` of the requester while pending; null otherwise. Since 0019. */
  requested_by: string | null;
  /** JSON array of the role ids asked for while pending; null otherwise. Since 0019. */
  requested_roles: string | null;
}

export interface AccountSettingsTable {
  account: string;
  /** JSON object; its shape belongs to the settings service. */
  settings: string;
  updated_at: number;
  /** 1 for the first document, one more on every write (0 stands for "none stored yet"). */
  revision: number;
}

/** Alert levels already announced, once per token and level. */
export interface AlertMarksTable {
  token_id: string;
  level: string;
  at: number;
}

export interface NotificationsTable {
  id: string;
  account: string;
  channel: string;
  target: string;
  event: string;
  /** JSON object. */
  payload: string;
  created_at: number;
  /** "pending" | "sent" | "failed". */
  status: string;
  attempts: number;
  /** When the next delivery is due; a claim moves it to the end of the lease. */
  next_attempt_at: number;
  last_error: string | null;
  sent_at: number | null;
}

/**
 * JWT signing keys (ES256) of the installation. One is current (retired_at null); retired ones stay
 * published in the JWKS until every JWT they signed has expired, then may be deleted.
 */
export interface SigningKeysTable {
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
  /** 1 for the first key, one more per rotation; unique, so racing creators agree on one key. */
  generation: number;
  created_at: number;
  /** Null while current. */
  retired_at: number | null;
  /** JSON text of the public JWK (kty, crv, x, y). */
  public_jwk: string;
  /** The private JWK sealed with LATCHKEY_SECRET (services/sealing.ts), the kid as context; never plaintext. */
  sealed_private_key: string;
}

/** The change journal: every change that can alter a verification decision, in commit order (seq). */
export interface ChangeLogTable {
  seq: Generated<number>;
  /** The instance that made the change (it applied it already). */
  origin: string;
  /** The change, as encodeChange writes it: names an appKey, an account or "signing keys", never a secret. */
  change: string;
  at: number;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  account_members: AccountMembersTable;
  user_roles: UserRolesTable;
  sessions: SessionsTable;
  password_resets: PasswordResetsTable;
  roles: RolesTable;
  keys: KeysTable;
  key_counts: KeyCountsTable;
  key_usage: KeyUsageTable;
  key_resource_use: KeyResourceUseTable;
  tokens: TokensTable;
  key_roles: KeyRolesTable;
  audit_events: AuditEventsTable;
  audit_heads: AuditHeadsTable;
  share_links: ShareLinksTable;
  external_keys: ExternalKeysTable;
  account_settings: AccountSettingsTable;
  alert_marks: AlertMarksTable;
  notifications: NotificationsTable;
  signing_keys: SigningKeysTable;
  change_log: ChangeLogTable;
}
