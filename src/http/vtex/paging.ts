/**
 * VTEX's paged lists (License Manager `…/list/paged`): `numItems` (default 10; above 200 served 200),
 * `pageNumber` (from 1), `sort` (a field of the list) and `sortType` (`ASC` or `DSC`), answered as
 * `{items, paging: {page, perPage, total, pages}}`. One parser and one pager for the roles and the
 * users lists.
 */
import { z } from "@hono/zod-openapi";

export const MAX_PAGE_SIZE = 200;

export function pagedQuery<const F extends readonly [string, ...string[]]>(
  fields: F,
  defaultSort: F[number],
) {
  return z.object({
    // A larger page is served MAX_PAGE_SIZE items, as VTEX clamps, not refused.
    numItems: z.coerce
      .number()
      .int()
      .min(1)
      .default(10)
      .transform((n) => Math.min(n, MAX_PAGE_SIZE)),
    pageNumber: z.coerce.number().int().min(1).default(1),
    sort: z.enum(fields).default(defaultSort as never),
    sortType: z.enum(["ASC", "DSC"]).default("ASC"),
  });
}

export interface PageQuery {
  numItems: number;
  pageNumber: number;
  sortType: "ASC" | "DSC";
}

/** The page `query` asks for of `list`, already sorted ascending; `DSC` reverses it. */
export function pageOf<T, U>(list: readonly T[], query: PageQuery, shape: (item: T) => U) {
  const ordered = query.sortType === "DSC" ? [...list].reverse() : list;
  const start = (query.pageNumber - 1) * query.numItems;
  return {
    items: ordered.slice(start, start + query.numItems).map(shape),
    paging: {
      page: query.pageNumber,
      perPage: query.numItems,
      total: list.length,
      pages: Math.ceil(list.length / query.numItems),
    },
  };
}
