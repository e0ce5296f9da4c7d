/**
 * Tamper evidence of the audit log: each account's events form a hash chain. An event's `hash` is
 * the SHA-256 (hex) of the RFC 8785 canonical JSON of its fields as the API shows them
 * (AuditChainFields) plus `prevHash`, the hash of the account's previous event (null for its
 * first). The store computes it while holding the account's chain head (kysely-audit.ts);
 * services/audit-log.ts checks it. This serialization is a stored format: changing it would break
 * every existing chain.
 */
import { createHash } from "node:crypto";
import type { AuditEventInput } from "./store.js";

/** An event's fields as the API and the exports show them, and as its hash covers them. */
export interface AuditChainFields {
  id: string;
  /** ISO 8601 UTC with milliseconds. */
  at: string;
  account: string;
  actor: { type: string; id: string; label: string };
  action: string;
  target: { type: string | null; id: string | null } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  data: unknown;
}

/** The stored columns an event's chain fields come from (`data` already parsed, types as read back). */
export type AuditRow = Omit<AuditEventInput, "actorType" | "data"> & { actorType: string; data: unknown };

export function chainFieldsOf(row: AuditRow): AuditChainFields {
  return {
    id: row.id,
    at: isoOrRaw(row.at),
    account: row.account,
    actor: { type: row.actorType, id: row.actorId, label: row.actorLabel },
    action: row.action,
    target:
      row.targetType === null && row.targetId === null ? null : { type: row.targetType, id: row.targetId },
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    data: row.data,
  };
}

/** SHA-256 (hex) of the canonical JSON of the fields and the previous event's hash. */
export function auditHash(fields: AuditChainFields, prevHash: string | null): string {
  return createHash("sha256")
    .update(canonicalJson({ ...fields, prevHash }), "utf8")
    .digest("hex");
}

/**
 * RFC 8785 (JCS) for the values an event holds (strings, integers, booleans, null, arrays, objects):
 * object keys sorted by UTF-16 code units, no whitespace, strings and numbers as JSON.stringify
 * writes them. Keys whose value is undefined are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
}

/** `data` as stored: JSON text parsed, or the text itself when a damaged row holds no valid JSON. */
export function parseAuditData(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A damaged row may hold an instant no Date can show; it then stays a number in the text. */
function isoOrRaw(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
