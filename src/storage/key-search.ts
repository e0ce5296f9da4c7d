/**
 * The key list's substring search (`q=`): a key matches when its lower-cased name or appKey
 * contains the lower-cased search text, `%`, `_` and `\` taken literally. The LIKE test below is
 * the definition on both dialects; the trigram indexes of migration 0023 only find candidates:
 * - PostgreSQL: GIN pg_trgm indexes on the two compared expressions serve the LIKE itself (the
 *   planner chooses them by statistics);
 * - SQLite: the FTS5 trigram table `keys_search` is asked for the keys holding every trigram of the
 *   search text, and the LIKE then decides. Text of fewer than 3 characters has no trigram: it is
 *   the LIKE alone, over the account's keys (many keys match such text, so pages fill fast).
 */
import { type RawBuilder, sql } from "kysely";
import type { Dialect } from "./store.js";

/** `%`, `_` and the escape character itself match literally in the user's search text. */
function likeContains(lowered: string): string {
  return `%${lowered.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The distinct 3-character substrings of `text`, by code point as FTS5's trigram tokenizer counts,
 * each quoted as an FTS5 string (a `"` doubled).
 */
export function trigramsOf(text: string): string[] {
  const chars = [...text];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(""));
  return [...grams].map((gram) => `"${gram.replaceAll('"', '""')}"`);
}

/** The condition on `keys` for a non-empty search text without NUL. */
export function keySearchCondition(dialect: Dialect, q: string): RawBuilder<boolean> {
  const lowered = q.toLowerCase();
  const pattern = likeContains(lowered);
  // SQLite has no default LIKE escape character, so both dialects name it explicitly.
  const like = sql<boolean>`(keys.name_lower like ${pattern} escape '\\' or lower(keys.app_key) like ${pattern} escape '\\')`;
  const grams = trigramsOf(lowered);
  if (dialect === "postgres" || grams.length === 0) return like;
  return sql<boolean>`keys.id in (select r.key_id from keys_search s
      join keys_search_rows r on r.n = s.rowid where keys_search match ${grams.join(" AND ")}) and ${like}`;
}
