/**
 * The key list's substring search (`q=`): a key matches when its lower-cased name or appKey
 * contains the lower-cased search text, `%`, `_` and `\` taken literally. The LIKE test below is
 * the definition on both dialects; the trigram indexes of migration 0023 only find candidates:
 * - PostgreSQL: GIN pg_trgm indexes on the two compared expressions serve the LIKE itself (the
 *   planner chooses them by statistics);
 * - SQLite: the FTS5 trigram table `keys_search` is asked for the keys holding every trigram of the
 *   search text, and the LIKE then decides. Text of fewer than 3 characters has no trigram: it is
 *   the LIKE alone, over the account's keys (many keys match such text, so pages fill fast), and so
 *   is a text with many candidates (see KeySearchPlan).
 */
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { Database } from "./schema.js";
import type { Dialect, KeyListQuery } from "./store.js";

/**
 * PostgreSQL refuses NUL in text parameters, and no stored appKey, id or name holds one: a lookup
 * with one finds nothing on both dialects instead of failing on one.
 */
export const hasNul = (text: string) => text.includes("\0");

/** `%`, `_` and the escape character itself match literally in the user's search text. */
function likeContains(lowered: string): string {
  return `%${lowered.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The FTS5 query for the keys holding every trigram of `text` (by code point, as FTS5's trigram
 * tokenizer counts; each quoted as an FTS5 string, so the text's `"`, `*`, AND … are plain
 * characters), or undefined when it has fewer than 3 characters.
 */
export function trigramMatch(text: string): string | undefined {
  const chars = [...text];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(""));
  if (grams.size === 0) return undefined;
  return [...grams].map((gram) => `"${gram.replaceAll('"', '""')}"`).join(" AND ");
}

/**
 * How a listing searches on SQLite, decided per listing because SQLite's planner has no statistics
 * of the FTS5 table. `index`: the candidates of the FTS5 index (from every account) are fetched by
 * key id and sorted; `+keys.account` keeps the planner off the account's indexes, whose walk in sort
 * order would visit every key of the account when matches are rare. `scan`: the LIKE over the
 * account's keys in sort order, as without the index; a page of a text with many matches fills in a
 * few rows. A text with more than SQLITE_SEARCH_CANDIDATES candidates (counted up to that, in the
 * index alone) is scanned: past that, fetching and sorting them costs more than the walk's page.
 * PostgreSQL's planner makes this choice itself.
 */
export type KeySearchPlan = "index" | "scan";

export const SQLITE_SEARCH_CANDIDATES = 2_000;

export async function keySearchPlan(
  db: Kysely<Database>,
  dialect: Dialect,
  query: KeyListQuery,
): Promise<KeySearchPlan> {
  if (dialect !== "sqlite" || query.q === undefined || hasNul(query.q)) return "scan";
  const match = trigramMatch(query.q.toLowerCase());
  if (match === undefined) return "scan";
  const { rows } = await sql<{ n: number }>`select count(*) as n from (select rowid from keys_search
      where keys_search match ${match} limit ${SQLITE_SEARCH_CANDIDATES + 1})`.execute(db);
  return Number(rows[0]?.n ?? 0) <= SQLITE_SEARCH_CANDIDATES ? "index" : "scan";
}

/** The condition on `keys` for a non-empty search text without NUL. */
export function keySearchCondition(q: string, plan: KeySearchPlan): RawBuilder<boolean> {
  const lowered = q.toLowerCase();
  const pattern = likeContains(lowered);
  // SQLite has no default LIKE escape character, so both dialects name it explicitly.
  const like = sql<boolean>`(keys.name_lower like ${pattern} escape '\\' or lower(keys.app_key) like ${pattern} escape '\\')`;
  const match = trigramMatch(lowered);
  if (plan === "scan" || match === undefined) return like;
  return sql<boolean>`keys.id in (select r.key_id from keys_search s
      join keys_search_rows r on r.n = s.rowid where keys_search match ${match}) and ${like}`;
}
