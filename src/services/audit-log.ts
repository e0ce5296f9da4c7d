/**
 * Reading the audit log (SPEC §3): a filtered page newest first, a streamed export, and the check of
 * each account's hash chain (src/storage/audit-chain.ts). Nothing here writes: events are appended only by
 * the changes they record.
 *
 * Secrets: events never hold a token, hash or password (their writers see to it), so items are
 * shown as stored.
 */
import type { AuditChainCheck, AuditEvent, AuditPage } from "../core/api.js";
import { fail } from "../core/errors.js";
import { iso } from "../core/time.js";
import { auditHash, canonicalJson, chainFieldsOf } from "../storage/audit-chain.js";
import type { AuditHead, AuditQuery, ChainedAuditEvent, StoreOps } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import { csvCell } from "./export.js";

export type AuditItem = AuditEvent;

export interface AuditFilters {
  /** Exact action, or a prefix ending in "." (e.g. "key."). */
  action?: string;
  /** Actor id or label, exactly. */
  actor?: string;
  /** Target id, exactly. */
  target?: string;
  /** Inclusive, ms since the epoch. */
  from?: number;
  /** Exclusive, ms since the epoch. */
  to?: number;
}

export type AuditExportFormat = "csv" | "json";

export interface AuditExport {
  contentType: string;
  filename: string;
  body: AsyncIterable<string>;
}

/**
 * The first event that does not check (`id` null when the account has no event left at all), with
 * one sentence for people in `detail`.
 */
export type BrokenLink = NonNullable<AuditChainCheck["firstBroken"]>;
export type BreakReason = BrokenLink["reason"];

/**
 * `checked`: events that checked before the first broken one (all of them when ok). `head`: the
 * chain's last link as stored; worth writing down elsewhere to detect a rewrite later.
 */
export type AccountChainReport = AuditChainCheck & { account: string };

export interface ChainReport {
  ok: boolean;
  checked: number;
  /** The first broken event of the first broken account (accounts in name order). */
  firstBroken: BrokenLink | null;
  accounts: AccountChainReport[];
}

export const AUDIT_CSV_COLUMNS = [
  "seq",
  "id",
  "at",
  "account",
  "actorType",
  "actorId",
  "actorLabel",
  "action",
  "targetType",
  "targetId",
  "ip",
  "userAgent",
  "requestId",
  "data",
  "prevHash",
  "hash",
] as const;

const EXPORT_PAGE = 500;
const CHECK_PAGE = 1000;
const CONTENT_TYPES: Record<AuditExportFormat, string> = {
  csv: "text/csv; charset=utf-8; header=present",
  json: "application/json; charset=utf-8",
};

export function toAuditItem(event: ChainedAuditEvent): AuditItem {
  return { ...chainFieldsOf(event), seq: event.seq, hash: event.hash, prevHash: event.prevHash };
}

export function createAuditLogService(deps: ServiceDeps) {
  const { store, clock } = deps;

  async function list(
    account: string,
    filters: AuditFilters,
    page: { limit: number; cursor?: string },
  ): Promise<AuditPage> {
    const query: AuditQuery = { ...toQuery(account, filters), order: "desc", limit: page.limit + 1 };
    if (page.cursor !== undefined) query.afterSeq = decodeCursor(page.cursor);
    const events = await store.audit.listEvents(query);
    const items = events.slice(0, page.limit).map(toAuditItem);
    const last = items.at(-1);
    return { items, nextCursor: events.length > page.limit && last ? encodeCursor(last.seq) : null };
  }

  /**
   * Prepares an export, oldest event first (chain order). It ends at the account's newest event of
   * this instant, so the file is a consistent prefix of the log; rows are read as the body is consumed.
   */
  async function openExport(account: string, format: AuditExportFormat, filters: AuditFilters) {
    const base = toQuery(account, filters);
    const newest = (await store.audit.listEvents({ account, order: "desc", limit: 1 }))[0];
    const pages = exportPages({ ...base, order: "asc", limit: EXPORT_PAGE, maxSeq: newest?.seq ?? 0 });
    const day = iso(clock.now()).slice(0, 10);
    return {
      contentType: CONTENT_TYPES[format],
      filename: `latchkey-${account}-audit-${day}.${format}`,
      body: format === "csv" ? csvBody(pages) : jsonBody(pages),
    } satisfies AuditExport;
  }

  async function* exportPages(query: AuditQuery): AsyncGenerator<AuditItem[]> {
    for (;;) {
      const events = await store.audit.listEvents(query);
      yield events.map(toAuditItem);
      const last = events.at(-1);
      if (events.length < query.limit || !last) return;
      query.afterSeq = last.seq;
    }
  }

  async function verify(account: string): Promise<AccountChainReport> {
    return verifyAccountChain(store, account);
  }

  return { list, openExport, verify };
}

export type AuditLogService = ReturnType<typeof createAuditLogService>;

function toQuery(account: string, filters: AuditFilters): Omit<AuditQuery, "order" | "limit"> {
  if (filters.from !== undefined && filters.to !== undefined && filters.from >= filters.to) {
    fail("VALIDATION_FAILED", "from must be earlier than to");
  }
  const query: Omit<AuditQuery, "order" | "limit"> = { account };
  if (filters.action !== undefined) {
    if (filters.action.endsWith(".")) query.actionPrefix = filters.action;
    else query.action = filters.action;
  }
  if (filters.actor !== undefined) query.actor = filters.actor;
  if (filters.target !== undefined) query.targetId = filters.target;
  if (filters.from !== undefined) query.from = filters.from;
  if (filters.to !== undefined) query.to = filters.to;
  return query;
}

function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify(["audit", seq])).toString("base64url");
}

function decodeCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed[0] === "audit") {
      const seq: unknown = parsed[1];
      if (typeof seq === "number" && Number.isSafeInteger(seq) && seq > 0) return seq;
    }
  } catch {
    // fall through to the error below
  }
  return fail("INVALID_CURSOR", "The cursor is not one this audit log handed out; start again without it");
}

function csvLine(values: readonly (string | null)[]): string {
  return `${values.map((value) => csvCell(value)).join(",")}\r\n`;
}

function csvRow(item: AuditItem): (string | null)[] {
  return [
    String(item.seq),
    item.id,
    item.at,
    item.account,
    item.actor.type,
    item.actor.id,
    item.actor.label,
    item.action,
    item.target?.type ?? null,
    item.target?.id ?? null,
    item.ip,
    item.userAgent,
    item.requestId,
    item.data === null ? null : canonicalJson(item.data),
    item.prevHash,
    item.hash,
  ];
}

async function* csvBody(pages: AsyncGenerator<AuditItem[]>): AsyncGenerator<string> {
  yield csvLine(AUDIT_CSV_COLUMNS);
  for await (const page of pages)
    if (page.length > 0) yield page.map((item) => csvLine(csvRow(item))).join("");
}

/** `{"items":[…]}`, each item as the list endpoint shows it. */
async function* jsonBody(pages: AsyncGenerator<AuditItem[]>): AsyncGenerator<string> {
  yield '{"items":[';
  let first = true;
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield `${first ? "" : ","}${page.map((item) => JSON.stringify(item)).join(",")}`;
    first = false;
  }
  yield "]}";
}

/**
 * Checks one account's chain: every event's prevHash is the hash of the event before it, every
 * hash matches the event's content, and the head names the last event. The check runs up to the
 * head read first, so events appended meanwhile are left for the next check.
 */
export async function verifyAccountChain(store: StoreOps, account: string): Promise<AccountChainReport> {
  let head = await store.audit.getHead(account);
  let report = await walkChain(store, account, head);
  if (head === undefined && report.firstBroken?.reason === "head_missing") {
    // The account's first event may have committed after the head was read: look again once.
    head = await store.audit.getHead(account);
    if (head !== undefined) report = await walkChain(store, account, head);
  }
  return report;
}

async function walkChain(
  store: StoreOps,
  account: string,
  head: AuditHead | undefined,
): Promise<AccountChainReport> {
  const headView = head ? { seq: head.seq, hash: head.hash } : null;
  const report = (checked: number, firstBroken: BrokenLink | null): AccountChainReport => ({
    account,
    ok: firstBroken === null,
    checked,
    firstBroken,
    head: headView,
  });
  const broken = (event: ChainedAuditEvent | undefined, reason: BreakReason, detail: string): BrokenLink => ({
    account,
    id: event?.id ?? null,
    seq: event?.seq ?? null,
    reason,
    detail,
  });
  let prevHash: string | null = null;
  let checked = 0;
  let last: ChainedAuditEvent | undefined;
  const query: AuditQuery = { account, order: "asc", limit: CHECK_PAGE };
  if (head) query.maxSeq = head.seq;
  for (;;) {
    const events = await store.audit.listEvents(query);
    for (const event of events) {
      if (event.prevHash !== prevHash) {
        const detail = `prevHash of event ${event.id} is not the hash of the event before it: an event before it was removed, inserted or rewritten`;
        return report(checked, broken(event, "prev_hash_mismatch", detail));
      }
      if (event.hash !== auditHash(chainFieldsOf(event), event.prevHash)) {
        const detail = `event ${event.id} does not match its hash: its stored fields were changed`;
        return report(checked, broken(event, "hash_mismatch", detail));
      }
      prevHash = event.hash;
      checked += 1;
      last = event;
    }
    if (events.length < CHECK_PAGE || !last) break;
    query.afterSeq = last.seq;
  }
  if (!head) {
    const detail = "the account has audit events but no chain head: the head was removed";
    return report(checked, last ? broken(last, "head_missing", detail) : null);
  }
  if (!last || last.seq !== head.seq || last.hash !== head.hash) {
    const detail = last
      ? `the chain head (seq ${head.seq}) does not match the last event ${last.id} (seq ${last.seq}): events after it were removed, or the head was changed`
      : `the chain head (seq ${head.seq}) names an event that is gone: every event was removed`;
    return report(checked, broken(last, "head_mismatch", detail));
  }
  return report(checked, null);
}

/**
 * Checks the chains of one account, or of every account with audit events (for `latchkey
 * verify-audit`, which reads the database directly).
 */
export async function verifyAuditChain(store: StoreOps, account?: string): Promise<ChainReport> {
  const accounts = account === undefined ? await store.audit.listAccounts() : [account];
  const reports: AccountChainReport[] = [];
  for (const name of accounts) reports.push(await verifyAccountChain(store, name));
  const firstBroken = reports.find((r) => r.firstBroken !== null)?.firstBroken ?? null;
  return {
    ok: firstBroken === null,
    checked: reports.reduce((sum, r) => sum + r.checked, 0),
    firstBroken,
    accounts: reports,
  };
}

/**
 * An ISO 8601 date (`2026-11-26`, midnight UTC) or date-time with a zone (`2026-11-26T10:00:00Z`,
 * `…+02:00`) as ms since the epoch; undefined for anything else, impossible dates included.
 */
export function parseInstant(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,9})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/i.exec(
      text,
    );
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  const ms = Date.parse(match[4] === undefined ? `${match[1]}-${match[2]}-${match[3]}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}
