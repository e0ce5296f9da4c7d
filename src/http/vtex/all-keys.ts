import type { Key } from "../../core/api.js";
import type { Services } from "../../services/index.js";

const PAGE_SIZE = 200;

/** Every generated key of the account, oldest first, page by page through the native list. */
export async function allKeys(services: Services, account: string): Promise<Key[]> {
  const found: Key[] = [];
  let cursor: string | undefined;
  do {
    const page = await services.keys.list(account, {
      sort: "createdAt",
      order: "asc",
      limit: PAGE_SIZE,
      ...(cursor ? { cursor } : {}),
    });
    found.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return found;
}
