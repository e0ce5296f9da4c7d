/**
 * HTTP preconditions (RFC 9110 §8.8.3, §13.1.1) for documents a client reads, edits and writes back
 * whole: the ETag is a strong validator quoting the document's version, and If-Match names the
 * version the client read. If-Match uses the strong comparison, so a weak tag (`W/"…"`) never
 * matches.
 */

/** The ETag header's value for a version (its characters are digits and "-", never a quote). */
export function etagOf(version: string): string {
  return `"${version}"`;
}

/**
 * An If-Match header: "*" (any current representation) or the versions its strong tags name, weak
 * ones left out since they cannot match. Undefined when the header is not an If-Match value.
 */
export type IfMatch = { any: true } | { any: false; versions: string[] };

const ENTITY_TAG = /^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

export function parseIfMatch(raw: string): IfMatch | undefined {
  const text = raw.trim();
  if (text === "*") return { any: true };
  // A list (RFC 9110 §5.6.1): entity-tags separated by commas, with optional spaces and empty items.
  const items = text.split(",").map((item) => item.trim());
  const tags = items.filter((item) => item !== "");
  // A comma inside a tag would split it: such a tag is not one of ours, and a client reading ours
  // never sends one, so refusing it as malformed costs nothing.
  if (tags.length === 0 || !tags.every((tag) => ENTITY_TAG.test(tag))) return undefined;
  const versions = tags.filter((tag) => !tag.startsWith("W/")).map((tag) => tag.slice(1, -1));
  return { any: false, versions };
}
