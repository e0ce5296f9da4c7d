/**
 * Keys of the Kysely store: keys with their tokens and grants, and the keyset listing. Only token
 * hashes pass through here. The helpers exported for other repositories (hydrateKeys, deleteTokens)
 * expect their caller to run them in one transaction when they write several rows.
 */

import { CompiledQuery, type Kysely, type Selectable, type SelectQueryBuilder, sql } from "kysely";
import { COUNTED_TOTAL_MAX, INACTIVE_REASONS, type InactiveReason } from "../core/api.js";
import { type KeyControls, NO_CONTROLS } from "../core/key-controls.js";
import { hasNul, type KeySearchPlan, keySearchCondition, keySearchPlan } from "./key-search.js";
import { bumpKeyCounts, hasStoredTotal, storedTotal } from "./kysely-key-counts.js";
import { KyselyRepository } from "./kysely-scope.js";
import { nameStatement } from "./named-statements.js";
import type { Database, KeysTable } from "./schema.js";
import type {
  Dialect,
  KeyListPage,
  KeyListQuery,
  KeyPatch,
  KeyRecord,
  KeyRepository,
  KeySort,
  NewKey,
  TakenValues,
  TokenRecord,
} from "./store.js";

type KeyRow = Selectable<KeysTable>;

/** Each sort has its own (account, column, id) index; `name` sorts case-insensitively. */
const SORT_COLUMN = {
  name: "name_lower",
  createdAt: "created_at",
  tokenCreatedAt: "token_created_at",
  lastUsedAt: "last_used_at",
} as const satisfies Record<KeySort, keyof KeysTable>;

/** Reads keys with their tokens (current, then pending) and the roles each holds in its own account. */
export async function hydrateKeys(db: Kysely<Database>, rows: KeyRow[]): Promise<KeyRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const tokensQuery = db
    .selectFrom("tokens")
    .select(["id", "key_id", "hash", "created_at", "last_used_at", "imported"])
    .where("key_id", "in", ids)
    .orderBy("key_id")
    .orderBy("slot")
    .execute();
  // Grants by key id alone (the key_roles_key index), then only those in the key's own account:
  // grants it holds in accounts it was added to are not its own roles. A join on keys here made
  // SQLite walk key_roles once per page row (~50 ms a page of 200 at 100k keys).
  const grantsQuery = db
    .selectFrom("key_roles")
    .select(["key_id", "role_id", "account"])
    .where("key_id", "in", ids)
    .orderBy("role_id")
    .execute();
  // Both at once: on PostgreSQL outside a transaction they take two pooled connections.
  const [tokens, grants] = await Promise.all([tokensQuery, grantsQuery]);
  const ownAccount = new Map(rows.map((row) => [row.id, row.account]));
  const tokensByKey = groupBy(tokens, (t) => t.key_id);
  const rolesByKey = groupBy(
    grants.filter((g) => ownAccount.get(g.key_id) === g.account),
    (g) => g.key_id,
  );
  return rows.map((row) =>
    toKeyRecord(
      row,
      (tokensByKey.get(row.id) ?? []).map((t) => ({
        id: t.id,
        hash: t.hash,
        createdAt: t.created_at,
        ...(t.last_used_at > 0 ? { lastUsedAt: t.last_used_at } : {}),
        ...(t.imported ? { imported: true } : {}),
      })),
      (rolesByKey.get(row.id) ?? []).map((g) => g.role_id),
    ),
  );
}

export { hasNul };

/** The statement of `getKey`, exported for the plan tests. */
export function keyByAppKeyQuery(db: Kysely<Database>, appKey: string) {
  return db
    .selectFrom("keys")
    .leftJoin("tokens", "tokens.key_id", "keys.id")
    .leftJoin("key_roles", (join) =>
      join.onRef("key_roles.key_id", "=", "keys.id").onRef("key_roles.account", "=", "keys.account"),
    )
    .selectAll("keys")
    .select([
      "tokens.id as token_id",
      "tokens.hash as token_hash",
      "tokens.created_at as token_row_created_at",
      "tokens.last_used_at as token_last_used_at",
      "tokens.imported as token_imported",
      "key_roles.role_id as role_id",
    ])
    .where("keys.app_key", "=", appKey)
    .orderBy("tokens.slot")
    .orderBy("key_roles.role_id");
}

type KeyByAppKeyRow = Awaited<ReturnType<ReturnType<typeof keyByAppKeyQuery>["execute"]>>[number];

/** `keyByAppKeyQuery` compiled once per Kysely instance: its text, parameters and where the appKey goes. */
const compiledKeyByAppKey = new WeakMap<
  Kysely<Database>,
  { sql: string; parameters: readonly unknown[]; at: number }
>();
const APP_KEY_SLOT = "\u0000appKey";

/**
 * The statement of `getKey` for `appKey`. Building and compiling the query tree was about half of a
 * cold key lookup on SQLite (the key cache's every first sighting and its reads ahead of expiry:
 * 56 → 30 µs a key, 105 → 40 µs for a key with every control): the compiled text is kept and only
 * the appKey changes. On PostgreSQL the text is a named statement (named-statements.ts).
 */
function keyByAppKeyStatement(db: Kysely<Database>, appKey: string): CompiledQuery<KeyByAppKeyRow> {
  let compiled = compiledKeyByAppKey.get(db);
  if (compiled === undefined) {
    const query = keyByAppKeyQuery(db, APP_KEY_SLOT).compile();
    const at = query.parameters.indexOf(APP_KEY_SLOT);
    if (at < 0) throw new Error("the key lookup statement has no appKey parameter");
    compiled = { sql: query.sql, parameters: query.parameters, at };
    compiledKeyByAppKey.set(db, compiled);
    // PostgreSQL: parsed and planned once per connection (planning was most of the lookup's cost).
    nameStatement(query.sql);
  }
  const parameters = [...compiled.parameters];
  parameters[compiled.at] = appKey;
  return CompiledQuery.raw(compiled.sql, parameters) as CompiledQuery<KeyByAppKeyRow>;
}

/**
 * A key by appKey with its tokens and own-account roles in ONE statement (one round trip; the key
 * cache's cold lookup on every first sighting of a key): keys through `keys_app_key`, tokens through
 * `tokens_key_slot`, grants through `key_roles_pkey` (account, key_id). The left joins give one row
 * per (token, role) pair, at most 2 × the key's role count, folded back here.
 */
async function getKey(db: Kysely<Database>, appKey: string): Promise<KeyRecord | undefined> {
  if (hasNul(appKey)) return undefined;
  const rows = (await db.executeQuery<KeyByAppKeyRow>(keyByAppKeyStatement(db, appKey))).rows;
  const first = rows[0];
  if (first === undefined) return undefined;
  const tokens = new Map<string, TokenRecord>();
  const roleIds = new Set<number>();
  for (const row of rows) {
    if (
      row.token_id !== null &&
      row.token_hash !== null &&
      row.token_row_created_at !== null &&
      !tokens.has(row.token_id)
    ) {
      const lastUsedAt = Number(row.token_last_used_at ?? 0);
      tokens.set(row.token_id, {
        id: row.token_id,
        hash: row.token_hash,
        createdAt: Number(row.token_row_created_at),
        ...(lastUsedAt > 0 ? { lastUsedAt } : {}),
        ...(row.token_imported ? { imported: true } : {}),
      });
    }
    if (row.role_id !== null) roleIds.add(row.role_id);
  }
  return toKeyRecord(
    first,
    [...tokens.values()],
    [...roleIds].sort((a, b) => a - b),
  );
}

export class KyselyKeys extends KyselyRepository implements KeyRepository {
  /** Key, first token and grants in the key's own account, in one transaction. */
  create(key: NewKey): Promise<void> {
    return this.atomic(async (db) => {
      await db.insertInto("keys").values(keyRow(key)).execute();
      await bumpKeyCounts(db, key.account, 1, key.active ? 1 : 0);
      await db.insertInto("tokens").values(tokenRow(key)).execute();
      await insertGrants(db, key.account, key.id, key.roleIds);
    });
  }

  /** In chunks of IMPORT_CHUNK rows per statement (SQLite allows 32,766 parameters in one). */
  createMany(keys: readonly NewKey[]): Promise<void> {
    return this.atomic(async (db) => {
      for (let at = 0; at < keys.length; at += IMPORT_CHUNK) {
        const chunk = keys.slice(at, at + IMPORT_CHUNK);
        await db.insertInto("keys").values(chunk.map(keyRow)).execute();
        await db.insertInto("tokens").values(chunk.map(tokenRow)).execute();
        const grants = chunk.flatMap((key) =>
          [...new Set(key.roleIds)].map((role_id) => ({ account: key.account, key_id: key.id, role_id })),
        );
        for (let g = 0; g < grants.length; g += IMPORT_CHUNK) {
          await db
            .insertInto("key_roles")
            .values(grants.slice(g, g + IMPORT_CHUNK))
            .execute();
        }
      }
      const byAccount = new Map<string, { total: number; active: number }>();
      for (const key of keys) {
        const counts = byAccount.get(key.account) ?? { total: 0, active: 0 };
        counts.total++;
        if (key.active) counts.active++;
        byAccount.set(key.account, counts);
      }
      for (const [account, counts] of byAccount)
        await bumpKeyCounts(db, account, counts.total, counts.active);
    });
  }

  async taken(
    account: string,
    asked: { appKeys: string[]; names: string[]; hashes: string[] },
  ): Promise<TakenValues> {
    const found: TakenValues = { appKeys: new Set(), names: new Set(), hashes: new Set() };
    const clean = (values: string[]) => values.filter((value) => !hasNul(value));
    for (const chunk of chunks(clean(asked.appKeys))) {
      const rows = await this.db.selectFrom("keys").select("app_key").where("app_key", "in", chunk).execute();
      for (const row of rows) found.appKeys.add(row.app_key);
    }
    for (const chunk of chunks(clean(asked.names))) {
      const rows = await this.db
        .selectFrom("keys")
        .select("name_lower")
        .where("account", "=", account)
        .where("name_lower", "in", chunk)
        .execute();
      for (const row of rows) found.names.add(row.name_lower);
    }
    for (const chunk of chunks(clean(asked.hashes))) {
      const rows = await this.db.selectFrom("tokens").select("hash").where("hash", "in", chunk).execute();
      for (const row of rows) found.hashes.add(row.hash);
    }
    return found;
  }

  getByAppKey(appKey: string): Promise<KeyRecord | undefined> {
    return getKey(this.db, appKey);
  }

  /** Through the primary key; the account condition makes another account's key unknown. */
  async findById(account: string, id: string): Promise<KeyRecord | undefined> {
    if (hasNul(id)) return undefined;
    const rows = await this.db
      .selectFrom("keys")
      .selectAll()
      .where("id", "=", id)
      .where("account", "=", account)
      .execute();
    return (await hydrateKeys(this.db, rows))[0];
  }

  /** Through the unique index on token hashes. */
  async findByTokenHash(hash: string): Promise<KeyRecord | undefined> {
    const rows = await this.db
      .selectFrom("keys")
      .innerJoin("tokens", "tokens.key_id", "keys.id")
      .selectAll("keys")
      .where("tokens.hash", "=", hash)
      .execute();
    return (await hydrateKeys(this.db, rows))[0];
  }

  list(query: KeyListQuery): Promise<KeyListPage> {
    return listKeyPage(this.db, this.scope.dialect, query);
  }

  /**
   * A change of `active` is first tried as an update of a key that has the other value: only the write
   * that actually flips it moves the account's active count. On PostgreSQL a concurrent flip makes it
   * wait for the row lock and re-check the condition, so two deactivations count once.
   */
  update(account: string, appKey: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    return this.atomic(async (db) => {
      const set = {
        updated_at: patch.updatedAt,
        ...(patch.name === undefined ? {} : { name: patch.name, name_lower: patch.name.toLowerCase() }),
        ...(patch.active === undefined
          ? {}
          : {
              active: patch.active ? 1 : 0,
              inactive_reason: patch.active ? null : (patch.inactiveReason ?? "deactivated"),
            }),
        ...(patch.controls === undefined
          ? {}
          : controlColumns(patch.controls, patch.quotaPeriod ?? 0, patch.updatedAt)),
        ...(patch.controls?.quota ? { quota_set_at: nextQuotaVersion(patch.updatedAt) } : {}),
      };
      const query = db
        .updateTable("keys")
        .set(set)
        .where("account", "=", account)
        .where("app_key", "=", appKey);
      if (patch.active !== undefined) {
        const flip = await query.where("active", "<>", patch.active ? 1 : 0).executeTakeFirst();
        if (Number(flip.numUpdatedRows) > 0) {
          await bumpKeyCounts(db, account, 0, patch.active ? 1 : -1);
          return getKey(db, appKey);
        }
      }
      const r = await query.executeTakeFirst();
      return Number(r.numUpdatedRows) === 0 ? undefined : getKey(db, appKey);
    });
  }

  setRoles(account: string, keyId: string, roleIds: number[]): Promise<void> {
    return this.atomic(async (db) => {
      await db.deleteFrom("key_roles").where("account", "=", account).where("key_id", "=", keyId).execute();
      await insertGrants(db, account, keyId, roleIds);
    });
  }

  async getRoleIds(account: string, keyId: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom("key_roles")
      .select("role_id")
      .where("account", "=", account)
      .where("key_id", "=", keyId)
      .orderBy("role_id")
      .execute();
    return rows.map((r) => r.role_id);
  }

  /**
   * Removes the key's grants and additions in every account (so accounts that added it as external
   * lose it too), its tokens with their share links, then the key. The foreign keys cascade as well;
   * deleting explicitly keeps the result independent of SQLite's per-connection foreign_keys setting.
   * The counts follow the row the final delete removed (RETURNING), not the earlier read: a concurrent
   * flip of `active` or a concurrent delete is then counted once.
   */
  delete(account: string, appKey: string): Promise<boolean> {
    return this.atomic(async (db) => {
      const key = await db
        .selectFrom("keys")
        .select("id")
        .where("account", "=", account)
        .where("app_key", "=", appKey)
        .executeTakeFirst();
      if (key === undefined) return false;
      await db.deleteFrom("key_roles").where("key_id", "=", key.id).execute();
      await db.deleteFrom("external_keys").where("key_id", "=", key.id).execute();
      await db.deleteFrom("key_usage").where("key_id", "=", key.id).execute();
      await db.deleteFrom("key_resource_use").where("key_id", "=", key.id).execute();
      await deleteTokens(db, key.id);
      // Expiry notices are marked under the key's id (notify/expiry.ts).
      await db.deleteFrom("alert_marks").where("token_id", "=", key.id).execute();
      const deleted = await db
        .deleteFrom("keys")
        .where("id", "=", key.id)
        .returning("active")
        .executeTakeFirst();
      if (deleted === undefined) return false;
      await bumpKeyCounts(db, account, -1, deleted.active === 1 ? -1 : 0);
      return true;
    });
  }

  /** Two range conditions rather than max(), which the dialects spell differently (max / greatest). */
  async listUnused(account: string, before: number, limit: number): Promise<KeyRecord[]> {
    const rows = await this.db
      .selectFrom("keys")
      .selectAll()
      .where("account", "=", account)
      .where("active", "=", 1)
      .where("created_at", "<", before)
      .where("last_used_at", "<", before)
      .orderBy("id")
      .limit(limit)
      .execute();
    return hydrateKeys(this.db, rows);
  }
}

async function insertGrants(
  db: Kysely<Database>,
  account: string,
  keyId: string,
  roleIds: number[],
): Promise<void> {
  const rows = [...new Set(roleIds)].map((role_id) => ({ account, key_id: keyId, role_id }));
  if (rows.length > 0) await db.insertInto("key_roles").values(rows).execute();
}

/**
 * Deletes the key's tokens (all of them, or the one in `slot`) with their share links and alert
 * marks. Returns how many tokens went.
 */
export async function deleteTokens(db: Kysely<Database>, keyId: string, slot?: 0 | 1): Promise<number> {
  let tokens = db.selectFrom("tokens").select("id").where("key_id", "=", keyId);
  if (slot !== undefined) tokens = tokens.where("slot", "=", slot);
  const ids = (await tokens.execute()).map((t) => t.id);
  if (ids.length === 0) return 0;
  await db.deleteFrom("share_links").where("token_id", "in", ids).execute();
  await db.deleteFrom("alert_marks").where("token_id", "in", ids).execute();
  const r = await db.deleteFrom("tokens").where("id", "in", ids).executeTakeFirst();
  return Number(r.numDeletedRows);
}

function toKeyRecord(row: KeyRow, tokens: TokenRecord[], roleIds: number[]): KeyRecord {
  return {
    id: row.id,
    appKey: row.app_key,
    account: row.account,
    name: row.name,
    active: row.active === 1,
    inactiveReason: row.active === 1 ? null : inactiveReason(row.inactive_reason),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    tokenCreatedAt: row.token_created_at,
    lastUsedAt: row.last_used_at === 0 ? null : row.last_used_at,
    roleIds,
    tokens,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    ipAllowlist: row.ip_allowlist === null ? null : (JSON.parse(row.ip_allowlist) as string[]),
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
    allowBrowser: row.allow_browser === 1,
    rateLimit:
      row.rate_limit === null || row.rate_window_seconds === null
        ? null
        : { limit: Number(row.rate_limit), windowSeconds: Number(row.rate_window_seconds) },
    quota:
      row.quota_remaining === null
        ? null
        : {
            remaining: Number(row.quota_remaining),
            refill:
              row.quota_refill_amount === null || row.quota_refill_every === null
                ? null
                : {
                    amount: Number(row.quota_refill_amount),
                    every: row.quota_refill_every === "day" ? "day" : "month",
                  },
          },
    quotaPeriod: Number(row.quota_period),
    quotaSetAt: Number(row.quota_set_at),
    quotaBase: row.quota_base === null ? null : Number(row.quota_base),
  };
}

/** Rows per multi-row statement of an import: 500 keys of 14 columns stay far below both databases' limits. */
const IMPORT_CHUNK = 500;

function chunks<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < values.length; at += IMPORT_CHUNK) out.push(values.slice(at, at + IMPORT_CHUNK));
  return out;
}

function keyRow(key: NewKey) {
  return {
    id: key.id,
    app_key: key.appKey,
    account: key.account,
    name: key.name,
    name_lower: key.name.toLowerCase(),
    active: key.active ? 1 : 0,
    created_at: key.createdAt,
    updated_at: key.createdAt,
    token_created_at: key.token.createdAt,
    last_used_at: 0,
    ...controlColumns({ ...NO_CONTROLS, ...key.controls }, key.quotaPeriod ?? 0, key.createdAt),
  };
}

function tokenRow(key: NewKey) {
  const t = key.token;
  return {
    id: t.id,
    key_id: key.id,
    hash: t.hash,
    created_at: t.createdAt,
    slot: 0,
    imported: t.imported ? 1 : 0,
  };
}

/**
 * A new setting's `quota_set_at`: its time, or a millisecond after the setting it replaces when
 * that one is as recent (two settings never share a version, so each starts a fresh count).
 */
function nextQuotaVersion(at: number) {
  const now = sql<number>`cast(${at} as bigint)`;
  return sql<number>`case when quota_set_at >= ${now} then quota_set_at + 1 else ${now} end`;
}

/**
 * The columns of the controls given (all of them for a new key). A quota given is stored with
 * `quotaPeriod`, the refill period its `remaining` counts in, and `setAt`, the version its counts
 * belong to (a new setting starts a fresh count).
 */
function controlColumns(controls: Partial<KeyControls>, quotaPeriod: number, setAt: number) {
  const { expiresAt, ipAllowlist, metadata, allowBrowser, rateLimit, quota } = controls;
  return {
    ...(rateLimit === undefined
      ? {}
      : {
          rate_limit: rateLimit === null ? null : rateLimit.limit,
          rate_window_seconds: rateLimit === null ? null : rateLimit.windowSeconds,
        }),
    ...(quota === undefined
      ? {}
      : {
          quota_remaining: quota === null ? null : quota.remaining,
          quota_refill_amount: quota?.refill?.amount ?? null,
          quota_refill_every: quota?.refill?.every ?? null,
          quota_period: quota === null ? 0 : quotaPeriod,
          quota_set_at: quota === null ? 0 : setAt,
          quota_base: quota === null ? null : quota.remaining,
        }),
    ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
    ...(ipAllowlist === undefined
      ? {}
      : { ip_allowlist: ipAllowlist === null ? null : JSON.stringify(ipAllowlist) }),
    ...(metadata === undefined ? {} : { metadata: metadata === null ? null : JSON.stringify(metadata) }),
    ...(allowBrowser === undefined ? {} : { allow_browser: allowBrowser ? 1 : 0 }),
  };
}

/** A value this release does not know (written by a newer one) reads as unrecorded. */
function inactiveReason(stored: string | null): InactiveReason | null {
  return INACTIVE_REASONS.find((reason) => reason === stored) ?? null;
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/**
 * How a page filtered on the token's age (`alert=`) is read on SQLite, whose planner has no
 * statistics unless someone ran ANALYZE and then picks by rules that suit neither case alone.
 * `walk` (more than SQLITE_AGE_CANDIDATES keys match): the age is written `+token_created_at`,
 * which keeps the planner on the sort's index, walked in order until a page matches (the default
 * sort's index holds the token's age, so only matches are read from the table): 5–7 ms for the
 * 128,000 red keys of an account of 200,000, where the age index and a sort of every match took
 * 122 ms. `range` (few match): the sort column is written `+column` in ORDER BY, which keeps the
 * planner on the age index (a few rows, then sorted), where a walk in sort order could pass the
 * whole account before it found a page (59 ms by name with statistics). `none`: no hint, for
 * PostgreSQL (its planner has statistics, kept by autovacuum), no age filter, or a sort by the
 * token's age itself.
 */
export type KeyAgePlan = "walk" | "range" | "none";

const SQLITE_AGE_CANDIDATES = 2_000;

export async function keyAgePlan(
  db: Kysely<Database>,
  dialect: Dialect,
  query: KeyListQuery,
): Promise<KeyAgePlan> {
  const ranged = query.tokenCreatedFrom !== undefined || query.tokenCreatedBefore !== undefined;
  if (dialect !== "sqlite" || !ranged || query.sort === "tokenCreatedAt") return "none";
  let candidates = db
    .selectFrom("keys")
    .select(sql<number>`1`.as("one"))
    .where("keys.account", "=", query.account);
  if (query.tokenCreatedFrom !== undefined)
    candidates = candidates.where("keys.token_created_at", ">=", query.tokenCreatedFrom);
  if (query.tokenCreatedBefore !== undefined)
    candidates = candidates.where("keys.token_created_at", "<", query.tokenCreatedBefore);
  const row = await db
    .selectFrom(candidates.limit(SQLITE_AGE_CANDIDATES + 1).as("c"))
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n) <= SQLITE_AGE_CANDIDATES ? "range" : "walk";
}

function filteredKeys(
  db: Kysely<Database>,
  query: KeyListQuery,
  search: KeySearchPlan,
  age: KeyAgePlan = "none",
): SelectQueryBuilder<Database, "keys", object> {
  const tokenAge = age === "walk" ? sql.raw("+keys.token_created_at") : sql.ref("keys.token_created_at");
  let qb =
    search === "index"
      ? db.selectFrom("keys").where(sql<boolean>`+keys.account = ${query.account}`)
      : db.selectFrom("keys").where("keys.account", "=", query.account);
  if (query.status !== undefined) qb = qb.where("keys.active", "=", query.status === "active" ? 1 : 0);
  if (query.q !== undefined && hasNul(query.q)) {
    // No name or appKey holds NUL (and PostgreSQL would refuse the parameter).
    qb = qb.where(sql<boolean>`1 = 0`);
  } else if (query.q !== undefined && query.q !== "") {
    qb = qb.where(keySearchCondition(query.q, search));
  }
  if (query.tokenCreatedFrom !== undefined) {
    qb = qb.where(sql<boolean>`${tokenAge} >= ${query.tokenCreatedFrom}`);
  }
  if (query.expiresFrom !== undefined) qb = qb.where("keys.expires_at", ">=", query.expiresFrom);
  if (query.expiresBefore !== undefined) qb = qb.where("keys.expires_at", "<", query.expiresBefore);
  if (query.hasExpiry !== undefined) {
    qb = qb.where("keys.expires_at", query.hasExpiry ? "is not" : "is", null);
  }
  if (query.control === "ipAllowlist") qb = qb.where("keys.ip_allowlist", "is not", null);
  if (query.control === "metadata") qb = qb.where("keys.metadata", "is not", null);
  if (query.control === "allowBrowser") qb = qb.where("keys.allow_browser", "=", 1);
  // The limit and the window are written together, as are a quota's columns (controlColumns).
  if (query.control === "rateLimit") qb = qb.where("keys.rate_limit", "is not", null);
  if (query.control === "quota") qb = qb.where("keys.quota_remaining", "is not", null);
  if (query.tokenCreatedBefore !== undefined) {
    qb = qb.where(sql<boolean>`${tokenAge} < ${query.tokenCreatedBefore}`);
  }
  if (query.roleId !== undefined) {
    const roleId = query.roleId;
    qb = qb.where(({ exists, selectFrom }) =>
      exists(
        selectFrom("key_roles")
          .select("key_roles.role_id")
          .whereRef("key_roles.account", "=", "keys.account")
          .whereRef("key_roles.key_id", "=", "keys.id")
          .where("key_roles.role_id", "=", roleId),
      ),
    );
  }
  return qb;
}

/** The cursor may come back from a client as text; compare it as the column's own type. */
function cursorValue(sort: KeySort, value: string | number): string | number {
  if (sort === "name") return String(value).toLowerCase();
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`invalid ${sort} cursor value`);
  return n;
}

/**
 * One keyset page (and one row more, to tell whether more follow): rows strictly after (value, id)
 * in the requested direction, ordered by the sort column then id, so ties in the sort value never
 * repeat or skip a row across pages. No OFFSET: a page deep in the list costs what the first does.
 */
export function keyPageQuery(
  db: Kysely<Database>,
  query: KeyListQuery,
  search: KeySearchPlan = "scan",
  age: KeyAgePlan = "none",
) {
  const column = SORT_COLUMN[query.sort];
  const dir = query.order;
  let page = filteredKeys(db, query, search, age).selectAll("keys");
  if (query.after !== undefined) {
    const value = cursorValue(query.sort, query.after.value);
    const op = sql.raw(dir === "asc" ? ">" : "<");
    page = page.where(
      sql<boolean>`(${sql.ref(`keys.${column}`)}, keys.id) ${op} (${value}, ${query.after.id})`,
    );
  }
  const sortedBy =
    age === "range" ? sql`+${sql.ref(`keys.${column}`)} ${sql.raw(dir === "asc" ? "asc" : "desc")}` : null;
  return (sortedBy === null ? page.orderBy(`keys.${column}`, dir) : page.orderBy(sortedBy))
    .orderBy("keys.id", dir)
    .limit(query.limit + 1);
}

/**
 * The count of the matches, up to one more than `COUNTED_TOTAL_MAX`, for a total no stored count or
 * grant gives: it visits at most that many, however broad the filter. Exported for the plan tests.
 */
export function keyCountQuery(db: Kysely<Database>, query: KeyListQuery, search: KeySearchPlan = "scan") {
  const matches = filteredKeys(db, query, search)
    .select(sql<number>`1`.as("one"))
    .limit(COUNTED_TOTAL_MAX + 1);
  return db.selectFrom(matches.as("m")).select((eb) => eb.fn.countAll().as("n"));
}

async function listKeyPage(
  db: Kysely<Database>,
  dialect: Dialect,
  query: KeyListQuery,
): Promise<KeyListPage> {
  const search = await keySearchPlan(db, dialect, query);
  const age = await keyAgePlan(db, dialect, query);
  const pageItems = async () => {
    const rows = await keyPageQuery(db, query, search, age).execute();
    const hasMore = rows.length > query.limit;
    return { hasMore, items: await hydrateKeys(db, hasMore ? rows.slice(0, query.limit) : rows) };
  };
  // A counted total is the costly part (it visits up to 1,001 matches); on PostgreSQL outside a
  // transaction the two run on separate pooled connections, so the page costs about the count
  // alone. Both are read-committed snapshots, so a concurrent write may show in one and not the other.
  const count = async (): Promise<{ total: number; totalExact: boolean }> => {
    if (query.skipTotal === true) return { total: -1, totalExact: false };
    if (hasStoredTotal(query)) {
      return { total: await storedTotal(db, query.account, query.status), totalExact: true };
    }
    if (isRoleOnly(query)) {
      return { total: await roleTotal(db, query.account, query.roleId), totalExact: true };
    }
    const counted = Number((await keyCountQuery(db, query, search).executeTakeFirstOrThrow()).n);
    return counted > COUNTED_TOTAL_MAX
      ? { total: COUNTED_TOTAL_MAX, totalExact: false }
      : { total: counted, totalExact: true };
  };
  const [{ items, hasMore }, counted] = await Promise.all([pageItems(), count()]);
  return { items, ...counted, hasMore };
}

/**
 * Filtered by role alone: every other filter but `status` is what `hasStoredTotal` already rules
 * out, so a filter added there is ruled out here too.
 */
function isRoleOnly(query: KeyListQuery): query is KeyListQuery & { roleId: number } {
  const { roleId, ...rest } = query;
  return roleId !== undefined && query.status === undefined && hasStoredTotal(rest);
}

/**
 * The account's own keys holding `roleId`: the account's grants of the role (an index-only count
 * on `key_roles_role`) minus those held by keys it added as external. The exists() count visits
 * every key of the account instead (~80 ms at 200,000 keys). It relies on what every write keeps
 * true: a grant in an account belongs to a key of that account or to a key in its `external_keys`
 * (removing an addition or a key removes its grants; kysely-external-keys.ts, `delete` above).
 */
async function roleTotal(db: Kysely<Database>, account: string, roleId: number): Promise<number> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom("key_roles")
        .select((e) => e.fn.countAll().as("n"))
        .where("account", "=", account)
        .where("role_id", "=", roleId)
        .as("grants"),
      eb
        .selectFrom("external_keys")
        .innerJoin("key_roles", (join) =>
          join
            .onRef("key_roles.account", "=", "external_keys.account")
            .onRef("key_roles.key_id", "=", "external_keys.key_id"),
        )
        .select((e) => e.fn.countAll().as("n"))
        .where("external_keys.account", "=", account)
        .where("key_roles.role_id", "=", roleId)
        .as("external"),
    ])
    .executeTakeFirstOrThrow();
  return Number(row.grants) - Number(row.external);
}
