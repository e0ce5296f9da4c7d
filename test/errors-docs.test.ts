/**
 * Keeps docs/errors.md and the error registry in step (STYLE: one error registry, documented).
 * The table is parsed, not grepped, so a code mentioned in prose does not count as documented.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERRORS, type ErrorCode } from "../src/core/errors.js";

interface DocRow {
  code: string;
  status: number;
  title: string;
  when: string;
}

const HEADER = ["code", "status", "title", "when"];

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((cell) => cell.trim());
}

/** The rows of the one table whose header is `| code | status | title | when |`. */
function parseErrorTable(markdown: string): DocRow[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex(
    (line) => line.trim().startsWith("|") && cells(line).join() === HEADER.join(),
  );
  if (start < 0) throw new Error("docs/errors.md has no | code | status | title | when | table");
  const separator = lines[start + 1] ?? "";
  if (!cells(separator).every((cell) => /^:?-{3,}:?$/.test(cell)))
    throw new Error("table has no separator row");
  const rows: DocRow[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith("|")) break;
    const row = cells(line);
    if (row.length !== HEADER.length) throw new Error(`row has ${row.length} cells: ${line}`);
    const [code = "", status = "", title = "", when = ""] = row;
    rows.push({ code: code.replace(/^`(.*)`$/, "$1"), status: Number(status), title, when });
  }
  return rows;
}

const registry = Object.entries(ERRORS) as [ErrorCode, { status: number; title: string }][];
const rows = parseErrorTable(readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8"));

describe("the error registry", () => {
  it.each(registry)("%s has an error status and an UPPER_SNAKE code", (code, { status, title }) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThanOrEqual(599);
    expect(Number.isInteger(status)).toBe(true);
    expect(title.trim()).not.toBe("");
  });
});

describe("docs/errors.md", () => {
  it("documents every registry code", () => {
    const documented = new Set(rows.map((row) => row.code));
    expect(registry.map(([code]) => code).filter((code) => !documented.has(code))).toEqual([]);
  });

  it("documents no code the registry lacks", () => {
    expect(rows.map((row) => row.code).filter((code) => !Object.hasOwn(ERRORS, code))).toEqual([]);
  });

  it("lists each code once, in registry order", () => {
    expect(rows.map((row) => row.code)).toEqual(registry.map(([code]) => code));
  });

  it("gives each code the registry's status and title", () => {
    const drift = rows.flatMap((row) => {
      const entry = ERRORS[row.code as ErrorCode];
      if (!entry) return [];
      return entry.status === row.status && entry.title === row.title
        ? []
        : [`${row.code}: docs say ${row.status} "${row.title}", registry ${entry.status} "${entry.title}"`];
    });
    expect(drift).toEqual([]);
  });

  it("says when each error happens", () => {
    expect(rows.filter((row) => row.when.length < 15).map((row) => row.code)).toEqual([]);
  });
});

describe("parseErrorTable", () => {
  const table = (...body: string[]) =>
    ["# Errors", "", "| code | status | title | when |", "|---|---|---|---|", ...body, "", "after"].join(
      "\n",
    );

  it("reads codes with or without backticks and stops at the table's end", () => {
    expect(
      parseErrorTable(table("| `A_B` | 400 | Bad | when it is bad |", "| C | 500 | Oops | always |")),
    ).toEqual([
      { code: "A_B", status: 400, title: "Bad", when: "when it is bad" },
      { code: "C", status: 500, title: "Oops", when: "always" },
    ]);
  });

  it("fails on a missing table or a row with the wrong number of cells", () => {
    expect(() => parseErrorTable("# Errors\n\nno table")).toThrow(/no \| code/);
    expect(() => parseErrorTable(table("| A | 400 | Bad |"))).toThrow(/3 cells/);
  });
});
