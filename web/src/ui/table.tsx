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
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  sort?: SortState | undefined;
  onSort?: (field: string) => void;
}) {
  return (
    <table className="table">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
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
          <tr key={rowKey(row)}>
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
