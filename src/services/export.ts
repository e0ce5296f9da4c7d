/**
 * Export of an account's keys (SPEC §2.4) as csv, json or xlsx, streamed: generated keys are read
 * a page at a time in creation order (200 keys; 50 for xlsx, see writeWorkbook), and the next page is
 * read only when the client has taken what came before (csv and json: on demand; xlsx: once the zip
 * writer has taken the previous one), so memory stays flat however many keys there are. No token or
 * token hash goes into a row: rows are built field by field from the key's public facts.
 */
import { PassThrough } from "node:stream";
import { EXPORT_ROLE_SEPARATOR, generatedKeyRow, type KeyViewContext, presentKey } from "../core/key-view.js";
import { iso } from "../core/time.js";
import type { KeyListQuery } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import { keyViewContext } from "./keys.js";
import type { RoleDirectory } from "./role-directory.js";

export type ExportFormat = "csv" | "json" | "xlsx";

export const GENERATED_COLUMNS = [
  "id",
  "keyName",
  "label",
  "roles",
  "creationDate",
  "creationDateToken",
  "creationDateNewToken",
  "status",
  "inactiveReason",
  "alert",
  "lastUsedAt",
  "expiresAt",
  "ipAllowlist",
  "metadata",
  "allowBrowser",
  "rateLimit",
  "quotaRemaining",
  "quotaRefill",
] as const;
export const EXTERNAL_COLUMNS = [
  "id",
  "keyName",
  "roles",
  "account",
  "addedDate",
  "status",
  "lastUsedAt",
] as const;
/** The csv holds both sections: a leading `type` column, the generated columns, then external-only ones. */
export const CSV_COLUMNS = ["type", ...GENERATED_COLUMNS, "account", "addedDate"] as const;

type Excel = typeof import("exceljs");
type Row = Partial<Record<(typeof CSV_COLUMNS)[number], string | null>>;
type Pages = AsyncGenerator<Row[]>;

export interface KeyExport {
  contentType: string;
  filename: string;
  body: AsyncIterable<string | Uint8Array>;
}

const PAGE_SIZE = 200;
/** Smaller pages for xlsx: less is alive while ExcelJS renders a page (see writeWorkbook). */
const XLSX_PAGE_SIZE = 50;
const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8; header=present",
  json: "application/json; charset=utf-8",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

export function createExportService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;

  async function* generatedPages(account: string, context: KeyViewContext, pageSize: number): Pages {
    let after: KeyListQuery["after"];
    for (;;) {
      const page = await readPage(account, context, pageSize, after);
      // Only the rows are kept while the consumer works on them; the key records are gone.
      yield page.rows;
      if (!page.next) return;
      after = page.next;
    }
  }

  async function readPage(
    account: string,
    context: KeyViewContext,
    limit: number,
    after: KeyListQuery["after"],
  ): Promise<{ rows: Row[]; next: KeyListQuery["after"] }> {
    const query: KeyListQuery = { account, sort: "createdAt", order: "asc", limit, skipTotal: true };
    if (after) query.after = after;
    const { items, hasMore } = await store.keys.list(query);
    const last = items.at(-1);
    return {
      rows: items.map((key) => ({ type: "generated", ...generatedKeyRow(presentKey(key, context)) })),
      next: hasMore && last ? { value: last.createdAt, id: last.id } : undefined,
    };
  }

  /**
   * The store lists external keys in one call (an account adds few); written out page by page all the
   * same. As in the list (services/external-keys.ts): the addition's own id and the key's last use in
   * this account, never the owner's key id or its use elsewhere.
   */
  async function* externalPages(account: string, names: ReadonlyMap<number, string>): Pages {
    const records = await store.externalKeys.list(account);
    for (let start = 0; start < records.length; start += PAGE_SIZE) {
      yield records.slice(start, start + PAGE_SIZE).map(
        ({ id, key, addedAt, roleIds, lastUsedAt, request }): Row => ({
          type: "external",
          id,
          keyName: key.appKey,
          roles: roleList(roleIds, names),
          account: key.account,
          addedDate: iso(addedAt),
          // A request awaiting approval (requireExternalKeyApproval) grants nothing: pending, no roles.
          status: request ? "pending" : key.active ? "active" : "inactive",
          lastUsedAt: lastUsedAt === null ? null : iso(lastUsedAt),
        }),
      );
    }
  }

  /**
   * Prepares an export. Role names and the renewal period are read here, before the first byte is
   * sent, so that a failing store still gets a proper error response; rows are read as the body is
   * consumed. Role names and alert levels are those of this instant for every row.
   */
  async function open(account: string, format: ExportFormat): Promise<KeyExport> {
    // ExcelJS is the heaviest dependency and only xlsx needs it: loaded on the first xlsx export,
    // not at start, and before the first byte like the reads below.
    const excel = format === "xlsx" ? (await import("exceljs")).default : undefined;
    const context = await keyViewContext(store, roles, account, clock.now());
    const generated = generatedPages(account, context, excel ? XLSX_PAGE_SIZE : PAGE_SIZE);
    const external = externalPages(account, context.roleNames);
    const day = iso(context.now).slice(0, 10);
    const body = excel
      ? xlsxBody(excel, generated, external)
      : format === "csv"
        ? csvBody(generated, external)
        : jsonBody(generated, external);
    return {
      contentType: CONTENT_TYPES[format],
      filename: `latchkey-${account}-keys-${day}.${format}`,
      body,
    };
  }

  return { open };
}

export type ExportService = ReturnType<typeof createExportService>;

function roleList(roleIds: readonly number[], names: ReadonlyMap<number, string>): string {
  return roleIds.flatMap((id) => names.get(id) ?? []).join(EXPORT_ROLE_SEPARATOR);
}

/**
 * One cell of RFC 4180 csv. Formula injection (CWE-1236): a spreadsheet opening the file would run
 * a cell starting with = + - @ (or a tab or CR) as a formula, and labels and role names are chosen
 * by users; such cells get a leading single quote so they stay text.
 */
export function csvCell(value: string | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(row: Row): string {
  return `${CSV_COLUMNS.map((column) => csvCell(row[column])).join(",")}\r\n`;
}

async function* csvBody(generated: Pages, external: Pages): AsyncGenerator<string> {
  yield csvLine(Object.fromEntries(CSV_COLUMNS.map((column) => [column, column])));
  for (const pages of [generated, external]) {
    for await (const page of pages) if (page.length > 0) yield page.map(csvLine).join("");
  }
}

/** `{"generated":[…],"external":[…]}`, each row with exactly its section's columns. */
async function* jsonBody(generated: Pages, external: Pages): AsyncGenerator<string> {
  const sections = [
    ["generated", generated, GENERATED_COLUMNS],
    ["external", external, EXTERNAL_COLUMNS],
  ] as const;
  for (const [index, [name, pages, columns]] of sections.entries()) {
    yield `${index === 0 ? "{" : ","}${JSON.stringify(name)}:[`;
    let first = true;
    for await (const page of pages) {
      if (page.length === 0) continue;
      const rows = page.map((row) =>
        JSON.stringify(Object.fromEntries(columns.map((c) => [c, row[c] ?? null]))),
      );
      yield `${first ? "" : ","}${rows.join(",")}`;
      first = false;
    }
    yield "]";
  }
  yield "}";
}

/** Columns holding an instant: date cells in xlsx (UTC, shown to the second), ISO 8601 text elsewhere. */
const DATE_COLUMNS: ReadonlySet<string> = new Set([
  "creationDate",
  "creationDateToken",
  "creationDateNewToken",
  "lastUsedAt",
  "addedDate",
  "expiresAt",
]);
export const XLSX_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss";

/**
 * Two sheets, Generated and External, through ExcelJS's streaming writer. Text cells are typed
 * strings, never formulas, so they need no quote prefix; instants are date cells, so a spreadsheet
 * sorts and filters them as dates.
 */
function xlsxBody(ExcelJS: Excel, generated: Pages, external: Pages): AsyncIterable<Uint8Array> {
  const out = new PassThrough();
  // A write failure destroys `out` with the error, which its reader receives; this listener only
  // keeps an error raised before anyone reads from turning into an uncaught exception.
  out.on("error", () => {});
  void writeWorkbook(ExcelJS, out, generated, external).catch((error: unknown) => {
    out.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return out;
}

/**
 * Buffer of the zip writer (archiver) on each side; archiver's own default is 1 MiB each way, which
 * a slow client would fill.
 */
const ZIP_BUFFER_BYTES = 16 * 1024;

/**
 * Memory (bench/export.mjs; figures in bench/README.md) decides two things here:
 *
 * - The zip entries are stored, not deflated. With deflate, compression runs on libuv's thread pool
 *   and the 64 KiB buffers of sheet XML that ExcelJS hands it were, on a busy machine, freed only by
 *   V8's full collections: the peak grew with the number of keys (+45 MB of buffers at 100,000
 *   keys, up to 195 MB in all). Stored, the same export peaks flat and runs faster; the file is about
 *   5 times larger (0.46 KB a key instead of 0.09 KB).
 * - Pages are small and the writer waits, after each one, until the zip writer has taken all of it
 *   and `out` has room: what is alive while the young generation is collected stays small, so pages
 *   of keys do not reach V8's old generation either.
 */
async function writeWorkbook(
  ExcelJS: Excel,
  out: PassThrough,
  generated: Pages,
  external: Pages,
): Promise<void> {
  // `highWaterMark` is an archiver option that ExcelJS passes on but does not declare.
  const zip = { store: true, highWaterMark: ZIP_BUFFER_BYTES };
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    // Styles only for the date format: one shared style, however many cells use it.
    useStyles: true,
    useSharedStrings: false,
    zip,
  });
  const sheets = [
    ["Generated", generated, GENERATED_COLUMNS],
    ["External", external, EXTERNAL_COLUMNS],
  ] as const;
  for (const [name, pages, columns] of sheets) {
    const sheet = workbook.addWorksheet(name);
    sheet.addRow([...columns]).commit();
    for await (const page of pages) {
      for (const row of page) {
        const added = sheet.addRow(columns.map((column) => cellValue(column, row[column])));
        columns.forEach((column, i) => {
          if (DATE_COLUMNS.has(column) && row[column]) added.getCell(i + 1).numFmt = XLSX_DATE_FORMAT;
        });
        added.commit();
      }
      await settle(sheet, out);
      if (out.destroyed) return; // the reader went away: stop reading the store
    }
    sheet.commit();
  }
  await workbook.commit();
}

function cellValue(column: string, value: string | null | undefined): string | Date | null {
  if (value === null || value === undefined) return null;
  return DATE_COLUMNS.has(column) ? new Date(value) : value;
}

/**
 * ExcelJS's streaming writer ignores backpressure (exceljs#734): a committed row goes to the zip
 * writer whatever its backlog. So after each page we wait while the output buffer is full or the
 * zip writer has sheet XML it has not taken yet. The backlog is read from ExcelJS and Node stream
 * internals (exceljs 4.4); should they change, only the output buffer is watched, and the export
 * test with a stalled reader fails.
 */
async function settle(sheet: unknown, out: PassThrough): Promise<void> {
  for (;;) {
    if (out.destroyed) return;
    const input = zipInput(sheet);
    if (out.writableNeedDrain) await drainOf(out, out);
    else if (input?.pending()) await drainOf(input.stream, out);
    else return;
  }
}

interface InternalStream {
  destroyed?: boolean;
  _writableState?: { length?: unknown; needDrain?: unknown };
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * The zip writer's input (the checksum stream ExcelJS pipes the sheet into). `pending` is true while
 * written XML is not taken yet and a 'drain' will announce the end: ExcelJS writes 64 KiB at a
 * time, above the stream's 16 KiB high-water mark, so every such write sets `needDrain`.
 */
function zipInput(sheet: unknown): { stream: InternalStream; pending(): boolean } | undefined {
  const pipes = (sheet as { stream?: { pipes?: unknown } }).stream?.pipes;
  const stream = Array.isArray(pipes) ? (pipes[0] as InternalStream | undefined) : undefined;
  const state = stream?._writableState;
  if (!stream || typeof state?.length !== "number") return undefined;
  return {
    stream,
    pending: () => !stream.destroyed && Number(state.length) > 0 && state.needDrain === true,
  };
}

/** Resolves when `stream` drains, or when it or `out` closes (the reader went away). */
function drainOf(stream: InternalStream, out: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      out.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    out.on("close", done);
  });
}
