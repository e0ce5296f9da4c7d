/**
 * The key list's substring search (`q=`) on its trigram indexes (migration 0023), on SQLite and real
 * PostgreSQL: it finds exactly what a plain substring test of the lower-cased name and appKey finds
 * (`%`, `_`, `\` literal, Unicode case, fewer than 3 characters, FTS5 query syntax taken as text),
 * with the same pages, cursors and totals under every other filter and sort; the index follows
 * renames and deletions, and is built for the keys already there when the migration runs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Migrator } from "kysely";
import { describe, expect, it } from "vitest";
import { keySearchPlan, SQLITE_SEARCH_CANDIDATES } from "../src/storage/key-search.js";
import { keyCountQuery, keyPageQuery } from "../src/storage/kysely-keys.js";
import { buildMigrations } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open.js";
import type { Dialect, KeyListQuery, KeyRecord, KeySort, Store } from "../src/storage/store.js";
import { DAY, hex, newKey, newToken, T0, useStore } from "./support/store-fixtures.js";
import { dropTestSchema, openRawDb, TEST_PG_URL } from "./support/stores.js";

const NAMES = [
  "Warehouse sync",
  "WAREHOUSE export",
  "ware house",
  "Été 2026",
  "été",
  "Straße",
  "İstanbul feed",
  "100% off",
  "100 off",
  "a_b",
  "axb",
  "back\\slash",
  'say "hi"',
  "x AND y",
  "NEAR(x y)",
  "star*",
  "emoji 🔑🔑 key",
  "aé",
  "Connector 4242",
];

/** What the search is defined as (no index): a substring of the lower-cased name or appKey. */
function matches(key: KeyRecord, q: string): boolean {
  const text = q.toLowerCase();
  return key.name.toLowerCase().includes(text) || key.appKey.toLowerCase().includes(text);
}

const QUERIES = [
  ...["ware", "WAREHOUSE", "house", "e s", "été", "ÉTÉ", "é", "ss", "straße", "i̇stanbul", "istanbul"],
  ...["%", "100%", "0% o", "_", "a_b", "\\", "back\\s", '"', 'say "', "x and y", "AND", "near(", "*"],
  ...["🔑", "🔑🔑", "y 🔑", "42", "4242", "key", "AB", "ab", "zzz", "aé", "xé"],
];

function sortValue(key: KeyRecord, sort: KeySort): string | number {
  if (sort === "name") return key.name.toLowerCase();
  if (sort === "createdAt") return key.createdAt;
  if (sort === "tokenCreatedAt") return key.tokenCreatedAt;
  return key.lastUsedAt ?? 0;
}

/** Every page of a listing, 3 keys a page, following the cursors; the first page's total. */
async function listAll(store: Store, query: Omit<KeyListQuery, "limit">) {
  const ids: string[] = [];
  let total = -1;
  let after: KeyListQuery["after"];
  for (let pages = 0; pages < 30; pages++) {
    const page = await store.keys.list({ ...query, limit: 3, ...(after ? { after } : {}) });
    if (pages === 0) total = page.total;
    ids.push(...page.items.map((k) => k.id));
    const last = page.items.at(-1);
    if (!page.hasMore || !last) break;
    after = { value: sortValue(last, query.sort), id: last.id };
  }
  return { ids, total };
}

function expected(keys: KeyRecord[], q: string, query: Omit<KeyListQuery, "limit">) {
  const sign = query.order === "asc" ? 1 : -1;
  const ids = keys
    .filter((k) => matches(k, q))
    .filter((k) => query.status === undefined || k.active === (query.status === "active"))
    .filter((k) => query.roleId === undefined || k.roleIds.includes(query.roleId))
    .sort((a, b) => {
      const [va, vb] = [sortValue(a, query.sort), sortValue(b, query.sort)];
      if (va !== vb) return (va < vb ? -1 : 1) * sign;
      return (a.id < b.id ? -1 : 1) * sign;
    })
    .map((k) => k.id);
  return { ids, total: ids.length };
}

describe.each(["sqlite", "postgres"] as const)("Key search on %s", (kind) => {
  const db = useStore(kind);

  async function seed(account: string): Promise<KeyRecord[]> {
    const keys: KeyRecord[] = [];
    for (const [i, name] of NAMES.entries()) {
      const key = newKey(account, name, {
        active: i % 4 !== 1,
        roleIds: i % 3 === 0 ? [10] : [],
        createdAt: T0 + (i % 5) * DAY,
        token: newToken(T0 + (i % 2) * DAY),
      });
      await db.store.keys.create(key);
      const stored = await db.store.keys.getByAppKey(key.appKey);
      if (stored) keys.push(stored);
    }
    return keys;
  }

  it("finds what a substring test finds, with the same pages, cursors and totals under other filters", async () => {
    const [account, other] = [await db.account(), await db.account()];
    const keys = await seed(account);
    await seed(other);
    // On SQLite through the index for 3 characters or more (few candidates), by scan below.
    const planOf = (q: string) =>
      keySearchPlan(db.raw(), kind, { account, sort: "name", order: "asc", limit: 3, q });
    expect(await planOf("warehouse")).toBe(kind === "sqlite" ? "index" : "scan");
    expect(await planOf("wa")).toBe("scan");
    // The appKey's random part is upper-case: searched in lower case, and across its dashes.
    const appKeyPart = keys[3]?.appKey.slice(-9, -3) ?? "";
    const listings: Omit<KeyListQuery, "limit">[] = [
      { account, sort: "name", order: "asc" },
      { account, sort: "createdAt", order: "desc" },
      { account, sort: "tokenCreatedAt", order: "asc", status: "active" },
      { account, sort: "lastUsedAt", order: "desc", roleId: 10 },
      { account, sort: "name", order: "desc", status: "inactive", roleId: 10 },
    ];
    for (const q of [...QUERIES, appKeyPart, appKeyPart.toLowerCase(), `${account}-`, "appkey-"]) {
      for (const listing of listings) {
        const got = await listAll(db.store, { ...listing, q });
        expect({ q, listing, got }).toEqual({ q, listing, got: expected(keys, q, listing) });
      }
    }
    // Not across the name and the appKey.
    const straddle = `${keys[0]?.name.slice(-3).toLowerCase()}appkey`;
    expect((await listAll(db.store, { account, sort: "name", order: "asc", q: straddle })).total).toBe(0);
    expect((await listAll(db.store, { account, sort: "name", order: "asc", q: "ab\0c" })).total).toBe(0);
  });

  it("follows renames and deletions", async () => {
    const account = await db.account();
    const key = newKey(account, "Original title");
    await db.store.keys.create(key);
    const search = async (q: string) =>
      (await listAll(db.store, { account, sort: "name", order: "asc", q })).ids;
    expect(await search("original")).toEqual([key.id]);
    await db.store.keys.update(account, key.appKey, { name: "Renamed entry", updatedAt: T0 + 1 });
    expect(await search("original")).toEqual([]);
    expect(await search("renamed")).toEqual([key.id]);
    expect(await search(key.appKey.slice(-6))).toEqual([key.id]);
    await db.store.keys.delete(account, key.appKey);
    expect(await search("renamed")).toEqual([]);
    expect(await search(key.appKey.slice(-6))).toEqual([]);
  });
});

/** PostgreSQL's plans are asserted with the other list plans (store.list-at-size.contract.test.ts). */
describe("Key search plans on sqlite", () => {
  const db = useStore("sqlite");

  it("fetches the candidates of the FTS5 index by id, not a walk of the account, for 3 characters or more", async () => {
    const account = await db.account();
    await db.store.keys.create(newKey(account, "Warehouse sync"));
    const raw = db.raw();
    const explain = async (compiled: { sql: string; parameters: readonly unknown[] }) => {
      const { rows } = await raw.executeQuery<{ detail: string }>({
        ...compiled,
        sql: `explain query plan ${compiled.sql}`,
        query: { kind: "RawNode" } as never,
      } as never);
      return rows.map((r) => r.detail).join("\n");
    };
    for (const sort of ["name", "createdAt", "lastUsedAt"] as const) {
      for (const extra of [{}, { status: "active" as const }, { roleId: 10 }]) {
        const query: KeyListQuery = { account, sort, order: "desc", limit: 50, q: "warehouse", ...extra };
        for (const text of [
          await explain(keyPageQuery(raw, query, "index").compile()),
          await explain(keyCountQuery(raw, query, "index").compile()),
        ]) {
          expect({ query, text }).toMatchObject({
            text: expect.stringMatching(/SCAN s VIRTUAL TABLE INDEX \d+:M/),
          });
          expect({ query, text }).toMatchObject({
            text: expect.stringMatching(/SEARCH keys USING INDEX sqlite_autoindex_keys_1 \(id=\?\)/),
          });
          expect({ query, text }).toMatchObject({
            text: expect.not.stringMatching(/keys_account_|SCAN keys/),
          });
        }
      }
    }
    const short = await explain(
      keyPageQuery(raw, { account, sort: "name", order: "asc", limit: 50, q: "wa" }).compile(),
    );
    expect(short).not.toContain("VIRTUAL TABLE");
  });

  it("scans the account for a text with more candidates than SQLITE_SEARCH_CANDIDATES, in any account", async () => {
    const [account, other] = [await db.account(), await db.account()];
    await db.store.keys.create(newKey(account, "Common word"));
    const query: KeyListQuery = { account, sort: "name", order: "asc", limit: 50, q: "common word" };
    expect(await keySearchPlan(db.raw(), "sqlite", query)).toBe("index");
    const rows = Array.from({ length: SQLITE_SEARCH_CANDIDATES }, (_, i) => ({
      id: `k${i}-${hex()}`,
      app_key: `appkey-${other}-${i}`,
      account: other,
      name: `Common word ${i}`,
      name_lower: `common word ${i}`,
      active: 1,
      created_at: T0,
      updated_at: T0,
      token_created_at: T0,
      last_used_at: 0,
    }));
    for (let i = 0; i < rows.length; i += 200)
      await db
        .raw()
        .insertInto("keys")
        .values(rows.slice(i, i + 200))
        .execute();
    expect(await keySearchPlan(db.raw(), "sqlite", query)).toBe("scan");
    const page = await db.store.keys.list(query);
    expect({ names: page.items.map((k) => k.name), total: page.total }).toEqual({
      names: ["Common word"],
      total: 1,
    });
    expect(await keySearchPlan(db.raw(), "sqlite", { ...query, q: "common word 1999" })).toBe("index");
  });
});

/** A database migrated up to the release before 0023, holding keys, then migrated to the latest. */
async function withKeysBeforeSearch(kind: Dialect, check: (store: Store, account: string) => Promise<void>) {
  const earlier = Object.fromEntries(Object.entries(buildMigrations(kind)).filter(([name]) => name < "0023"));
  const dir = kind === "sqlite" ? await mkdtemp(join(tmpdir(), "latchkey-search-")) : "";
  const schema = `test_${hex()}`;
  const at = kind === "sqlite" ? { file: join(dir, "latchkey.db") } : { schema };
  const store =
    "file" in at
      ? await openStore({ kind: "sqlite", file: at.file })
      : await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
  const raw = openRawDb(at);
  try {
    const migrator = new Migrator({
      db: raw,
      provider: { getMigrations: async () => earlier },
      ...(kind === "postgres" ? { migrationTableSchema: schema } : {}),
    });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
    const account = `acct-${hex()}`;
    await raw.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
    const row = (i: number) => ({
      id: `k${i}-${hex()}`,
      app_key: `appkey-${account}-OLD${i}`,
      account,
      name: `Old key ${i}`,
      name_lower: `old key ${i}`,
      active: 1,
      created_at: T0 + i,
      updated_at: T0,
      token_created_at: T0,
      last_used_at: 0,
    });
    await raw.insertInto("keys").values([0, 1, 2, 12].map(row)).execute();
    await store.migrate();
    await check(store, account);
  } finally {
    await raw.destroy();
    await store.close();
    if (kind === "sqlite") await rm(dir, { recursive: true, force: true });
    else await dropTestSchema(schema);
  }
}

describe.each(["sqlite", "postgres"] as const)("Key search upgrade on %s", (kind) => {
  it("indexes the keys already there when 0023_key_search runs", async () => {
    await withKeysBeforeSearch(kind, async (store, account) => {
      const list = (q: string) => store.keys.list({ account, sort: "createdAt", order: "asc", limit: 10, q });
      expect((await list("key 1")).items.map((k) => k.name)).toEqual(["Old key 1", "Old key 12"]);
      expect((await list("old2")).items.map((k) => k.name)).toEqual(["Old key 2"]);
      expect((await list("key 1")).total).toBe(2);
    });
  });
});
