/**
 * Reads a key import file (docs/import.md) into the entries of
 * `POST /v1/accounts/{account}/keys/import`: a JSON array of entries (or `{"keys": [...]}`), or a
 * CSV file with a header row naming its columns: `name`, `tokenHash` (required), `appKey`, `roles`
 * (role ids separated by `;`), `createdAt`, `expiresAt` (ISO 8601); an empty cell is an absent
 * value. Shared by the CLI (`latchkey keys import FILE`) and the admin's import dialog. Pure: no I/O.
 *
 * Only the shape is checked here (columns, role ids as numbers); what the values mean is the
 * server's, reported per entry by a dry run.
 */

export interface ImportFileEntry {
  name: string;
  appKey?: string;
  tokenHash: string;
  roles: number[];
  createdAt?: string;
  expiresAt?: string;
}

export type ImportFile = { ok: true; keys: ImportFileEntry[] } | { ok: false; error: string };

const COLUMNS = ["name", "appKey", "tokenHash", "roles", "createdAt", "expiresAt"] as const;
const REQUIRED = ["name", "tokenHash"] as const;

export function parseImportFile(raw: string): ImportFile {
  const text = raw.replace(/^\uFEFF/, "");
  const first = text.trimStart()[0];
  try {
    return first === "[" || first === "{" ? parseJson(text) : parseCsv(text);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function parseJson(text: string): ImportFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("the file starts like JSON but is not valid JSON");
  }
  const keys = Array.isArray(value) ? value : (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new Error('a JSON import is an array of keys, or an object with "keys"');
  // Entries go to the server as they are: it names whatever is wrong in each.
  return { ok: true, keys: keys as ImportFileEntry[] };
}

function parseCsv(text: string): ImportFile {
  const rows = csvRows(text).filter((row) => row.some((cell) => cell.trim() !== ""));
  const [header, ...data] = rows;
  if (!header) throw new Error("the file is empty");
  const columns = header.map((cell) => cell.trim());
  for (const column of columns) {
    if (!(COLUMNS as readonly string[]).includes(column)) {
      throw new Error(`unknown column "${column}": the columns are ${COLUMNS.join(", ")}`);
    }
  }
  for (const column of REQUIRED) {
    if (!columns.includes(column)) throw new Error(`the header lacks the column "${column}"`);
  }
  const keys = data.map((row, i) => {
    const line = i + 2;
    const cell = (column: string) => {
      const at = columns.indexOf(column);
      const value = at < 0 ? "" : (row[at] ?? "").trim();
      return value === "" ? undefined : value;
    };
    const entry: ImportFileEntry = {
      name: cell("name") ?? "",
      tokenHash: cell("tokenHash") ?? "",
      roles: rolesOf(cell("roles"), line),
    };
    const appKey = cell("appKey");
    const createdAt = cell("createdAt");
    const expiresAt = cell("expiresAt");
    if (appKey !== undefined) entry.appKey = appKey;
    if (createdAt !== undefined) entry.createdAt = createdAt;
    if (expiresAt !== undefined) entry.expiresAt = expiresAt;
    return entry;
  });
  return { ok: true, keys };
}

function rolesOf(cell: string | undefined, line: number): number[] {
  if (cell === undefined) return [];
  return cell
    .split(/[;\s]+/)
    .filter(Boolean)
    .map((part) => {
      if (!/^\d+$/.test(part))
        throw new Error(`line ${line}: roles must be role ids separated by ";" (got "${part}")`);
      return Number(part);
    });
}

/** RFC 4180: commas, double-quoted cells (with "" for a quote), CRLF or LF line ends. */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      row.push(cell);
      cell = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += char;
  }
  if (quoted) throw new Error("a quoted cell is not closed");
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
