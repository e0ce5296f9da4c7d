/**
 * The audit log: append-only (no method changes or removes an event), one hash chain per account
 * (src/storage/audit-chain.ts). Event data never holds a token or password: callers keep them out.
 */

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

export interface AuditRepository {
  /**
   * Appends the event to its account's hash chain: locks the account's chain head (PostgreSQL: the
   * head row, until the caller's transaction ends; SQLite: the database's single writer), links the
   * event to the head's hash, then moves the head. Two transactions appending to one account
   * therefore chain one after the other, never fork.
   */
  append(event: AuditEventInput): Promise<void>;
  /** Appends the events in their order, as `append` would one after the other (one head lock per account). */
  appendMany(events: readonly AuditEventInput[]): Promise<void>;
  /** Newest first. */
  list(account: string, limit: number): Promise<AuditEventRecord[]>;
  /** A page of one account's events, with their chain fields. */
  listEvents(query: AuditQuery): Promise<ChainedAuditEvent[]>;
  /** The account's chain head; undefined before its first event. */
  getHead(account: string): Promise<AuditHead | undefined>;
  /** Every account that has audit events or a chain head, sorted. */
  listAccounts(): Promise<string[]>;
}
