/**
 * Tables that stay readable on a phone: below 720 px each row becomes a card and every cell shows
 * its column name (data-label), so nothing scrolls sideways.
 */
import type { ReactNode } from "react";

export interface Column<T> {
  key: string;
  header: ReactNode;
  /** Plain text for the phone layout's cell label. */
  label: string;
  cell: (row: T) => ReactNode;
  /** Sort field sent to the API, when the column can be sorted. */
  sort?: string;
  className?: string;
}

/** Row selection: a checkbox per row and one for every row shown (select-all on the page). */
export interface Selection<T> {
  selected: ReadonlySet<string>;
  /** Sets the selection to these row keys. */
  onChange: (selected: Set<string>) => void;
  /** The accessible name of a row's checkbox, e.g. "Select ERP connector". */
  label: (row: T) => string;
  /** What select-all is called, e.g. "Select every key on this page". */
  allLabel: string;
}

export interface SortState {
  field: string;
  order: "asc" | "desc";
}

export function DataTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  sort,
  onSort,
  selection,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  sort?: SortState | undefined;
  onSort?: (field: string) => void;
  selection?: Selection<T> | undefined;
}) {
  return (
    <table className="table">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {selection ? (
            <th scope="col" className="select-cell">
              <SelectAll rows={rows.map(rowKey)} selection={selection} />
            </th>
          ) : null}
          {columns.map((column) => {
            const active = sort && column.sort === sort.field;
            return (
              <th
                key={column.key}
                scope="col"
                className={column.className}
                aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : undefined}
              >
                {column.sort && onSort ? (
                  <button
                    type="button"
                    className="sort-button"
                    onClick={() => onSort(column.sort as string)}
                    aria-label={`Sort by ${column.label}`}
                  >
                    {column.header}
                    <span aria-hidden="true" className="sort-mark">
                      {active ? (sort.order === "asc" ? "▲" : "▼") : "↕"}
                    </span>
                  </button>
                ) : (
                  column.header
                )}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} className={selection?.selected.has(rowKey(row)) ? "selected" : undefined}>
            {selection ? (
              <td className="select-cell" data-label="Select">
                <input
                  type="checkbox"
                  aria-label={selection.label(row)}
                  checked={selection.selected.has(rowKey(row))}
                  onChange={(event) => {
                    const next = new Set(selection.selected);
                    if (event.target.checked) next.add(rowKey(row));
                    else next.delete(rowKey(row));
                    selection.onChange(next);
                  }}
                />
              </td>
            ) : null}
            {columns.map((column) => (
              <td key={column.key} data-label={column.label} className={column.className}>
                {column.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SelectAll<T>({ rows, selection }: { rows: string[]; selection: Selection<T> }) {
  const chosen = rows.filter((row) => selection.selected.has(row)).length;
  const all = rows.length > 0 && chosen === rows.length;
  return (
    <input
      type="checkbox"
      aria-label={selection.allLabel}
      checked={all}
      // Some but not all: neither ticked nor empty.
      ref={(input) => {
        if (input) input.indeterminate = chosen > 0 && !all;
      }}
      onChange={() => selection.onChange(all ? new Set() : new Set(rows))}
    />
  );
}
