/**
 * Labels on VTEX's create path. VTEX lets an account hold any number of app keys with the same
 * label; latchkey's key names are unique per account, case-insensitively (SPEC §2, kept on the
 * native API). So `POST /api/vlm/appkeys` with a label already in use stores the first free
 * `label (2)`, `label (3)`, … and answers with the name stored, which is what the key is then
 * listed, exported and audited under (docs/vtex.md).
 */
import { AppError } from "../../core/errors.js";
import { MAX_LABEL_LENGTH, normalizeLabel } from "../../core/names.js";
import type { Authority } from "../../services/authority.js";
import type { Services } from "../../services/index.js";

/** Two creates racing for the same free name: the loser looks again, this many times at most. */
const MAX_ATTEMPTS = 5;
/** Names looked at per page while finding the free one. */
const PAGE_SIZE = 200;
/** The longest copy number looked for; past it a long label's numbered forms may be missed (then 409). */
const LONGEST_SUFFIX = " (99999)".length;

/** `label` with copy number `n` (1 is the label itself), cut so that it stays a valid name. */
export function numberedLabel(label: string, n: number): string {
  if (n <= 1) return label;
  const suffix = ` (${n})`;
  return `${label.slice(0, MAX_LABEL_LENGTH - suffix.length).trimEnd()}${suffix}`;
}

/** The first of `label`, `label (2)`, `label (3)`, … that no name in `taken` (lower case) holds. */
export function freeLabel(label: string, taken: ReadonlySet<string>): string {
  for (let n = 1; ; n++) {
    const candidate = numberedLabel(label, n);
    if (!taken.has(candidate.toLowerCase())) return candidate;
  }
}

export function createLabelledKeys(services: Services) {
  const { keys } = services;

  /** Lower-cased names of the account's keys that may be `label` or one of its numbered forms. */
  async function namesLike(account: string, label: string): Promise<Set<string>> {
    // A numbered form of a long label is cut: search by the part every form keeps.
    const stem = label.slice(0, MAX_LABEL_LENGTH - LONGEST_SUFFIX).trimEnd();
    const taken = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await keys.list(account, {
        q: stem,
        sort: "createdAt",
        order: "asc",
        limit: PAGE_SIZE,
        ...(cursor ? { cursor } : {}),
      });
      for (const key of page.items) taken.add(key.name.toLowerCase());
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return taken;
  }

  /** Creates a key under `label`, or under its first free numbered form when the label is in use. */
  async function create(authority: Authority, account: string, label: string) {
    // An invalid label is refused by `keys.create` with its own message.
    const wanted = normalizeLabel(label);
    if (wanted === undefined) return keys.create(authority, account, { name: label });
    for (let attempt = 1; ; attempt++) {
      const name = freeLabel(wanted, await namesLike(account, wanted));
      try {
        return await keys.create(authority, account, { name });
      } catch (error) {
        const raced = error instanceof AppError && error.code === "KEY_NAME_TAKEN";
        if (!raced || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  return { create };
}
