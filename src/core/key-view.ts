/**
 * How a generated key is shown, in one place: the API's `Key` (GET …/keys and every answer with a
 * key in it) and, from that, a row of the keys export. Only the key's public facts go in: never a
 * token or its hash.
 */
import { alertLevel } from "./alerts.js";
import type { InactiveReason, Key } from "./api.js";
import {
  expiresSoon,
  formatRateLimit,
  formatRefill,
  type KeyControls,
  nextQuotaPeriod,
  quotaPeriod,
  quotaRemaining,
} from "./key-controls.js";
import { DAY_MS } from "./time.js";

/** The stored facts a view is made of (the store's KeyRecord extends them). */
export interface KeyFacts {
  id: string;
  appKey: string;
  account: string;
  name: string;
  active: boolean;
  /** Null when active, or deactivated before reasons were recorded. */
  inactiveReason: InactiveReason | null;
  createdAt: number;
  updatedAt: number;
  /** Creation of the newest token. */
  tokenCreatedAt: number;
  lastUsedAt: number | null;
  roleIds: readonly number[];
  /** Oldest first: one token, or two while a renewal is pending. `lastUsedAt` absent: no use recorded. */
  tokens: readonly { createdAt: number; lastUsedAt?: number }[];
  /** Per-key controls (key-controls.ts). */
  expiresAt: number | null;
  ipAllowlist: readonly string[] | null;
  metadata: Readonly<Record<string, unknown>> | null;
  allowBrowser: boolean;
  rateLimit: KeyControls["rateLimit"];
  /** `remaining` as stored for the refill period starting at `quotaPeriod` (see `quotaRemaining`). */
  quota: KeyControls["quota"];
  quotaPeriod: number;
}

/** What every view of one account's keys shares, read once. */
export interface KeyViewContext {
  roleNames: ReadonlyMap<number, string>;
  renewalPeriodMonths: number;
  now: number;
  /**
   * Calls left in keys' quotas as the verification path counts them, by key id (with Redis, every
   * instance's spends, written or not); a key not in it shows what the usage flush wrote.
   */
  quotaLeft?: ReadonlyMap<string, number>;
}

/** Roles the account no longer has (deleted in between) are left out. */
export function presentKey(key: KeyFacts, context: KeyViewContext): Key {
  const [current, pending] = key.tokens;
  return {
    id: key.id,
    appKey: key.appKey,
    account: key.account,
    name: key.name,
    keyType: "generated",
    status: key.active ? "active" : "inactive",
    active: key.active,
    inactiveReason: key.active ? null : key.inactiveReason,
    roles: key.roleIds.flatMap((id) => {
      const name = context.roleNames.get(id);
      return name === undefined ? [] : [{ id, name }];
    }),
    creationDate: iso(key.createdAt),
    creationDateToken: iso(current?.createdAt ?? key.tokenCreatedAt),
    creationDateNewToken: pending ? iso(pending.createdAt) : null,
    pendingRenewal: pending !== undefined,
    alert: alertLevel(key.tokenCreatedAt, context.renewalPeriodMonths, context.now),
    lastUsedAt: key.lastUsedAt === null ? null : iso(key.lastUsedAt),
    lastUsedAtToken: current?.lastUsedAt === undefined ? null : iso(current.lastUsedAt),
    lastUsedAtNewToken: pending?.lastUsedAt === undefined ? null : iso(pending.lastUsedAt),
    tokenAgeDays: Math.max(0, Math.floor((context.now - key.tokenCreatedAt) / DAY_MS)),
    updatedAt: iso(key.updatedAt),
    expiresAt: key.expiresAt === null ? null : iso(key.expiresAt),
    expiry: expiryOf(key.expiresAt, context.now),
    ipAllowlist: key.ipAllowlist === null ? null : [...key.ipAllowlist],
    metadata: key.metadata,
    allowBrowser: key.allowBrowser,
    rateLimit: key.rateLimit === null ? null : { ...key.rateLimit },
    quota: quotaView(key, context.now, context.quotaLeft?.get(key.id)),
  };
}

/**
 * The quota as shown: calls left now (as last written by the usage flush, or `counted` by the
 * verification path when fewer), and when it refills.
 */
function quotaView(key: KeyFacts, now: number, counted: number | undefined): Key["quota"] {
  const { quota } = key;
  if (quota === null) return null;
  const refill = quota.refill === null ? null : { ...quota.refill };
  const next = nextQuotaPeriod(quota.refill, quotaPeriod(quota.refill, now));
  return {
    remaining: Math.min(quotaRemaining(quota, key.quotaPeriod, now), counted ?? Number.POSITIVE_INFINITY),
    refill,
    refillsAt: Number.isFinite(next) ? iso(next) : null,
  };
}

/** The expiry badge: none, ok, soon (within EXPIRY_WARNING_DAYS) or expired. */
export function expiryOf(expiresAt: number | null, now: number): Key["expiry"] {
  if (expiresAt === null) return "none";
  if (expiresAt <= now) return "expired";
  return expiresSoon(expiresAt, now) ? "soon" : "ok";
}

export const EXPORT_ROLE_SEPARATOR = "; ";

/** A key's row in the export's generated section (its column names are the export's own). */
export interface GeneratedKeyRow {
  id: string;
  keyName: string;
  label: string;
  roles: string;
  creationDate: string;
  creationDateToken: string;
  creationDateNewToken: string | null;
  status: Key["status"];
  inactiveReason: Key["inactiveReason"];
  alert: Key["alert"];
  lastUsedAt: string | null;
  expiresAt: string | null;
  /** CIDR blocks joined with `; `; empty when any address may use the key. */
  ipAllowlist: string;
  /** The metadata as JSON; empty when none. */
  metadata: string;
  allowBrowser: "true" | "false";
  /** "LIMIT/WINDOWs" (e.g. 100/60s); empty when none. */
  rateLimit: string;
  /** Calls left; empty when the key has no quota. */
  quotaRemaining: string;
  /** "AMOUNT/day" or "AMOUNT/month"; empty when none. */
  quotaRefill: string;
}

export function generatedKeyRow(key: Key): GeneratedKeyRow {
  return {
    id: key.id,
    keyName: key.appKey,
    label: key.name,
    roles: key.roles.map((role) => role.name).join(EXPORT_ROLE_SEPARATOR),
    creationDate: key.creationDate,
    creationDateToken: key.creationDateToken,
    creationDateNewToken: key.creationDateNewToken,
    status: key.status,
    inactiveReason: key.inactiveReason,
    alert: key.alert,
    lastUsedAt: key.lastUsedAt,
    expiresAt: key.expiresAt,
    ipAllowlist: (key.ipAllowlist ?? []).join(EXPORT_ROLE_SEPARATOR),
    metadata: key.metadata === null ? "" : JSON.stringify(key.metadata),
    allowBrowser: key.allowBrowser ? "true" : "false",
    rateLimit: key.rateLimit === null ? "" : formatRateLimit(key.rateLimit),
    quotaRemaining: key.quota === null ? "" : String(key.quota.remaining),
    quotaRefill: key.quota?.refill ? formatRefill(key.quota.refill) : "",
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
