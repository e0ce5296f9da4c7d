/**
 * Plain-text rendering for people: aligned tables and field lists. Every value passes through
 * `cell`, which escapes control characters and bidirectional overrides: names and labels are
 * chosen by users, and one must not be able to rewrite or disguise the operator's terminal.
 */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: "left" | "right";
}

/** C0 and C1 controls, and the bidirectional overrides that can make text read as something else. */
function isUnsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** A value as one safe line of text: unsafe characters shown as `\uXXXX` escapes. */
export function cell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "";
  let text = "";
  for (const char of String(value)) {
    const code = char.codePointAt(0) ?? 0;
    text += isUnsafe(code) ? `\\u${code.toString(16).padStart(4, "0")}` : char;
  }
  return text;
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, size - width(text)));
  return align === "right" ? fill + text : text + fill;
}

/** Columns separated by two spaces, headers in capitals, no trailing spaces. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row))));
  const headers = columns.map((column) => column.header.toUpperCase());
  const widths = columns.map((_, index) =>
    Math.max(width(headers[index] ?? ""), ...cells.map((line) => width(line[index] ?? ""))),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, index) => pad(value, widths[index] ?? 0, columns[index]?.align ?? "left"))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** `label: value` lines with the values aligned. */
export function renderFields(
  fields: readonly (readonly [string, string | number | boolean | null])[],
): string {
  const size = Math.max(0, ...fields.map(([label]) => width(label))) + 1;
  return fields
    .map(([label, value]) => `${pad(`${label}:`, size, "left")} ${cell(value)}`.trimEnd())
    .join("\n");
}

/** An ISO instant as `YYYY-MM-DD HH:MM` UTC, or the given word when there is none. */
export function formatDate(iso: string | null | undefined, none = "never"): string {
  if (!iso) return none;
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]}` : iso;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Role names for a table cell; `none` when there are none. */
export function roleNames(roles: readonly { name: string }[]): string {
  return roles.length === 0 ? "none" : roles.map((role) => role.name).join(", ");
}
