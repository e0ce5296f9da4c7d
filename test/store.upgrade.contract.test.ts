/**
 * Upgrading a database that holds data from an earlier release, on SQLite and real PostgreSQL: before
 * the key-lifecycle migration its tokens become the keys' current tokens and renewal works on them;
 * before the key-counts migration the counts are filled from the keys already there; settings stored
 * before the settings-revision migration start at revision 1; external keys added before 0009 get ids;
 * memberships stored before 0010 are active (accepted), not invitations; keys deactivated before
 * 0016 have no inactive reason; quotas set before 0021 count as set at the start of their stored period;
 * 0024 moves the creation-time index to one holding the token's age (keys analyzed where statistics exist).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Insertable, type Kysely, Migrator, sql } from "kysely";
import { describe, expect, it } from "vitest";
import { decideInvitation } from "../src/services/invitations.js";
import { buildMigrations } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open.js";
import type { Database } from "../src/storage/schema.js";
import type { Dialect, Store } from "../src/storage/store.js";
import { hex, newKey, newToken, T0 } from "./support/store-fixtures.js";
import { dropTestSchema, openRawDb, TEST_PG_URL } from "./support/stores.js";

/** Applies only the named migrations, leaving the database as that release left it. */
async function migrateOnly(db: Kysely<Database>, dialect: Dialect, names: string[], schema?: string) {
  const all = buildMigrations(dialect);
  const chosen = Object.fromEntries(
    names.map((name) => {
      const migration = all[name];
      if (migration === undefined) throw new Error(`${name} missing`);
      return [name, migration];
    }),
  );
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => chosen },
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}

/**
 * Seeds an unmigrated database directly, then opens the store on it (not migrated yet) for `check`,
 * which may still look below the port through `db`.
 */
async function upgradeCase<S>(
  kind: Dialect,
  seed: (db: Kysely<Database>, schema?: string) => Promise<S>,
  check: (store: Store, seeded: S, db: Kysely<Database>) => Promise<void>,
): Promise<void> {
  if (kind === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-upgrade-"));
    const file = join(dir, "latchkey.db");
    const db = openRawDb({ file });
    try {
      const seeded = await seed(db);
      const store = await openStore({ kind: "sqlite", file });
      await check(store, seeded, db).finally(() => store.close());
    } finally {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  const schema = `test_${hex()}`;
  const store = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
  const db = openRawDb({ schema });
  try {
    await check(store, await seed(db, schema), db);
  } finally {
    await db.destroy();
    await store.close();
    await dropTestSchema(schema);
  }
}

/** Writes one account, key and token the way release 0001 did. */
async function seedAt0001(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  await migrateOnly(db, dialect, ["0001_initial"], schema);
  const [account, keyId, tokenId] = [`acct-${hex()}`, `k${hex()}`, `t${hex()}`];
  const appKey = `appkey-${account}-ABCDEF`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const times = { created_at: T0, updated_at: T0, token_created_at: T0, last_used_at: 0 };
  const key = { id: keyId, app_key: appKey, account, name: "Legacy", name_lower: "legacy", active: 1 };
  await db
    .insertInto("keys")
    .values({ ...key, ...times })
    .execute();
  // `slot` did not exist yet: the row is written as 0001 knew it.
  const token = { id: tokenId, key_id: keyId, hash: `h${hex(16)}`, created_at: T0 };
  await db
    .insertInto("tokens")
    .values(token as Insertable<Database["tokens"]>)
    .execute();
  return { appKey, keyId, tokenId };
}

/** Accounts with active and inactive keys, and one without keys, the way release 0002 wrote them. */
async function seedAt0002(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  await migrateOnly(db, dialect, ["0001_initial", "0002_key_lifecycle"], schema);
  const accounts = [`acct-${hex()}`, `acct-${hex()}`, `acct-${hex()}`] as const;
  await db
    .insertInto("accounts")
    .values(accounts.map((name) => ({ name, created_at: T0 })))
    .execute();
  const keyRow = (account: string, active: number) => {
    const id = `k${hex()}`;
    return { id, app_key: `appkey-${id}`, account, name: id, name_lower: id, active, created_at: T0 };
  };
  const times = { updated_at: T0, token_created_at: T0, last_used_at: 0 };
  const [many, few] = accounts;
  const first = keyRow(many, 1);
  const rows = [first, keyRow(many, 0), keyRow(many, 1), keyRow(few, 0)];
  await db
    .insertInto("keys")
    .values(rows.map((r) => ({ ...r, ...times })))
    .execute();
  return { accounts, appKey: first.app_key };
}

async function checkCountsBackfill(
  store: Store,
  seeded: Awaited<ReturnType<typeof seedAt0002>>,
  db: Kysely<Database>,
) {
  await store.migrate();
  const [many, few, none] = seeded.accounts;
  const counts = async (account: string) => {
    const row = await db
      .selectFrom("key_counts")
      .select(["total", "active"])
      .where("account", "=", account)
      .executeTakeFirst();
    return row ?? null;
  };
  expect(await counts(many)).toEqual({ total: 3, active: 2 });
  expect(await counts(few)).toEqual({ total: 1, active: 0 });
  expect(await counts(none)).toBeNull();
  const total = async (account: string, status?: "active" | "inactive") =>
    (await store.keys.list({ account, sort: "name", order: "asc", limit: 1, ...(status ? { status } : {}) }))
      .total;
  expect([await total(many), await total(many, "active"), await total(many, "inactive")]).toEqual([3, 2, 1]);
  // The upgraded counts go on moving with the keys.
  await store.keys.create(newKey(none, "First"));
  expect(await store.keys.delete(many, seeded.appKey)).toBe(true);
  expect(await counts(none)).toEqual({ total: 1, active: 1 });
  expect(await counts(many)).toEqual({ total: 2, active: 1 });
}

async function checkUpgrade(store: Store, seeded: { appKey: string; keyId: string; tokenId: string }) {
  await store.migrate();
  const key = await store.keys.getByAppKey(seeded.appKey);
  expect(key?.tokens.map((t) => t.id)).toEqual([seeded.tokenId]);
  const pending = newToken(T0 + 1000);
  await store.renewals.addPendingToken(seeded.keyId, pending, T0 + 1000);
  expect(await store.renewals.dropOldToken(seeded.keyId, T0 + 2000)).toBe(true);
  expect((await store.keys.getByAppKey(seeded.appKey))?.tokens).toEqual([pending]);
}

/** An account with settings, the way release 0007 wrote them (no revision yet). */
async function seedAt0007(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0008");
  await migrateOnly(db, dialect, names, schema);
  const account = `acct-${hex()}`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const row = { account, settings: JSON.stringify({ renewalPeriodMonths: 6 }), updated_at: T0 };
  await db
    .insertInto("account_settings")
    .values(row as Database["account_settings"])
    .execute();
  return account;
}

async function checkSettingsRevision(store: Store, account: string) {
  await store.migrate();
  expect(await store.settings.getStored(account)).toEqual({
    settings: { renewalPeriodMonths: 6 },
    revision: 1,
    updatedAt: T0,
  });
  const read = { revision: 1, updatedAt: T0 };
  expect(await store.settings.putIfUnchanged(account, { renewalPeriodMonths: 3 }, T0, read)).toBe(2);
  expect(await store.settings.putIfUnchanged(account, { renewalPeriodMonths: 6 }, T0, read)).toBeUndefined();
  expect(await store.settings.put(account, { renewalPeriodMonths: 6 }, T0)).toBe(3);
}

/** A key of one account added to two others, the way release 0008 wrote it (no id, no last use there). */
async function seedAt0008(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0009");
  await migrateOnly(db, dialect, names, schema);
  const accounts = [`acct-${hex()}`, `acct-${hex()}`, `acct-${hex()}`] as const;
  await db
    .insertInto("accounts")
    .values(accounts.map((name) => ({ name, created_at: T0 })))
    .execute();
  const [owner, b, c] = accounts;
  const keyId = `k${hex()}`;
  const row = { id: keyId, app_key: `appkey-${owner}-ABCDEF`, account: owner, name: "Shared" };
  const times = { created_at: T0, updated_at: T0, token_created_at: T0, last_used_at: T0 + 5 };
  await db
    .insertInto("keys")
    .values({ ...row, name_lower: "shared", active: 1, ...times })
    .execute();
  const additions = [b, c].map((account) => ({ account, key_id: keyId, added_at: T0 }));
  await db
    .insertInto("external_keys")
    .values(additions as Database["external_keys"][])
    .execute();
  return { keyId, b, c };
}

async function checkExternalKeyIds(store: Store, seeded: Awaited<ReturnType<typeof seedAt0008>>) {
  await store.migrate();
  const inB = await store.externalKeys.get(seeded.b, seeded.keyId);
  const inC = await store.externalKeys.get(seeded.c, seeded.keyId);
  // Each addition has an id of its own, not the key's, and no use in its account yet.
  expect(inB?.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(inC?.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(new Set([inB?.id, inC?.id, seeded.keyId]).size).toBe(3);
  expect([inB?.lastUsedAt, inC?.lastUsedAt, inB?.key.lastUsedAt]).toEqual([null, null, T0 + 5]);
  expect((await store.externalKeys.findById(seeded.b, inB?.id ?? ""))?.key.id).toBe(seeded.keyId);
  expect(await store.externalKeys.findById(seeded.c, inB?.id ?? "")).toBeUndefined();
}

/** A user who is a member of two accounts, with roles, the way release 0009 wrote it (no status). */
async function seedAt0009(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0010");
  await migrateOnly(db, dialect, names, schema);
  const accounts = [`acct-${hex()}`, `acct-${hex()}`] as const;
  await db
    .insertInto("accounts")
    .values(accounts.map((name) => ({ name, created_at: T0 })))
    .execute();
  const userId = `u${hex()}`;
  await db
    .insertInto("users")
    .values({ id: userId, email: `${userId}@x.io`, password_hash: "h", created_at: T0 })
    .execute();
  const members = accounts.map((account) => ({ account, user_id: userId, added_at: T0 }));
  await db
    .insertInto("account_members")
    .values(members as Database["account_members"][])
    .execute();
  const [owned, other] = accounts;
  await db
    .insertInto("user_roles")
    .values([
      { account: owned, user_id: userId, role_id: 1 },
      { account: other, user_id: userId, role_id: 2 },
    ])
    .execute();
  return { userId, accounts };
}

async function checkMembersActive(store: Store, seeded: Awaited<ReturnType<typeof seedAt0009>>) {
  await store.migrate();
  const [owned, other] = seeded.accounts;
  expect(await store.people.getMember(owned, seeded.userId)).toMatchObject({
    status: "active",
    invitedBy: null,
    roleIds: [1],
    invitationCode: null,
  });
  expect(await store.people.getMember(other, seeded.userId)).toMatchObject({
    status: "active",
    roleIds: [2],
  });
  expect(await store.people.listUserAccounts(seeded.userId)).toEqual([...seeded.accounts].sort());
  expect(await store.people.countUsersWithRole(owned, 1)).toBe(1);
  expect(await store.people.acceptInvitation(owned, seeded.userId)).toBe(false);
  expect(await store.people.declineInvitation(owned, seeded.userId)).toBe(false);
}

/** An invitation the way release 0010 wrote it: invited, with no code. */
async function seedAt0010(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0011");
  await migrateOnly(db, dialect, names, schema);
  const account = `acct-${hex()}`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const userId = `u${hex()}`;
  await db
    .insertInto("users")
    .values({ id: userId, email: `${userId}@x.io`, password_hash: "h", created_at: T0 })
    .execute();
  const invited = { account, user_id: userId, added_at: T0, status: "invited", invited_by: "a@b.test" };
  await db
    .insertInto("account_members")
    .values(invited as Database["account_members"])
    .execute();
  return { account, userId };
}

async function checkInvitationWithoutCode(store: Store, seeded: { account: string; userId: string }) {
  await store.migrate();
  const member = await store.people.getMember(seeded.account, seeded.userId);
  expect(member).toMatchObject({ status: "invited", invitedBy: "a@b.test", invitationCode: null });
  // With no code it cannot be answered (services/invitations.ts); the account withdraws and re-invites.
  expect(decideInvitation(member, "A".repeat(43), T0)).toEqual({ ok: false, code: "INVITATION_NOT_FOUND" });
}

/** An inactive key (with its token) the way release 0015 wrote it: no reason recorded. */
async function seedAt0015(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0016");
  await migrateOnly(db, dialect, names, schema);
  const account = `acct-${hex()}`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const keyId = `k${hex()}`;
  const appKey = `appkey-${account}-ABCDEF`;
  await db
    .insertInto("keys")
    .values({
      id: keyId,
      app_key: appKey,
      account,
      name: "Old",
      name_lower: "old",
      active: 0,
      created_at: T0,
      updated_at: T0,
      token_created_at: T0,
      last_used_at: 0,
    })
    .execute();
  await db
    .insertInto("tokens")
    .values({ id: `t${hex()}`, key_id: keyId, hash: hex(), created_at: T0, slot: 0 })
    .execute();
  return { account, appKey };
}

async function checkInactiveReason(store: Store, seeded: Awaited<ReturnType<typeof seedAt0015>>) {
  await store.migrate();
  const { account, appKey } = seeded;
  // Deactivated before reasons were kept: plain inactive, no guessed reason.
  expect(await store.keys.getByAppKey(appKey)).toMatchObject({ active: false, inactiveReason: null });
  expect(await store.keys.update(account, appKey, { active: true, updatedAt: T0 + 1 })).toMatchObject({
    active: true,
    inactiveReason: null,
  });
  const leaked = { active: false, inactiveReason: "leak_reported", updatedAt: T0 + 2 } as const;
  expect(await store.keys.update(account, appKey, leaked)).toMatchObject({ inactiveReason: "leak_reported" });
  expect(await store.keys.update(account, appKey, { active: true, updatedAt: T0 + 3 })).toMatchObject({
    inactiveReason: null,
  });
  expect(await store.keys.update(account, appKey, { active: false, updatedAt: T0 + 4 })).toMatchObject({
    inactiveReason: "deactivated",
  });
}

/** Keys with a quota (one refilled daily, spent from today) the way release 0020 wrote them. */
async function seedAt0020(db: Kysely<Database>, dialect: Dialect, schema?: string) {
  const names = Object.keys(buildMigrations(dialect)).filter((name) => name < "0021");
  await migrateOnly(db, dialect, names, schema);
  const account = `acct-${hex()}`;
  await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
  const today = T0 - (T0 % 86_400_000);
  const row = (name: string, quota: Record<string, unknown>) => ({
    id: `k${hex()}`,
    app_key: `appkey-${account}-${name.toUpperCase()}`,
    account,
    name,
    name_lower: name,
    active: 1,
    created_at: T0,
    updated_at: T0,
    token_created_at: T0,
    last_used_at: 0,
    ...quota,
  });
  const daily = row("daily", {
    quota_remaining: 7,
    quota_refill_amount: 50,
    quota_refill_every: "day",
    quota_period: today,
  });
  const once = row("once", { quota_remaining: 3 });
  const plain = row("plain", {});
  // One by one: SQLite has no DEFAULT in a multi-row VALUES, and the rows set different columns.
  for (const key of [daily, once, plain]) await db.insertInto("keys").values(key).execute();
  return { daily: daily.app_key, once: once.app_key, plain: plain.app_key, ids: [daily.id, once.id], today };
}

async function checkQuotaVersion(store: Store, seeded: Awaited<ReturnType<typeof seedAt0020>>) {
  await store.migrate();
  const { today } = seeded;
  // An existing quota counts as set, to what it has left, at the start of its stored period.
  expect(await store.keys.getByAppKey(seeded.daily)).toMatchObject({
    quota: { remaining: 7 },
    quotaPeriod: today,
    quotaSetAt: today,
    quotaBase: 7,
  });
  expect(await store.keys.getByAppKey(seeded.once)).toMatchObject({ quotaSetAt: 0, quotaBase: 3 });
  expect(await store.keys.getByAppKey(seeded.plain)).toMatchObject({
    quota: null,
    quotaSetAt: 0,
    quotaBase: null,
  });
  // Spends of that setting are written as before.
  const [daily, once] = seeded.ids as [string, string];
  await store.usage.record({
    counts: [],
    lastUsed: [],
    resources: [],
    quotas: [
      { keyId: daily, setAt: today, period: today, spent: 2 },
      { keyId: once, setAt: 0, period: 0, spent: 1 },
    ],
  });
  expect((await store.keys.getByAppKey(seeded.daily))?.quota?.remaining).toBe(5);
  expect((await store.keys.getByAppKey(seeded.once))?.quota?.remaining).toBe(2);
}

/**
 * A database at 0023 with keys, analyzed or not (`analyzed`): 0024_alert_listing replaces the
 * creation-time index by one holding the token's age, and on SQLite analyzes `keys` again only where
 * statistics already exist (without figures for the new index the planner took it for a few rows).
 */
async function checkAlertListing(kind: Dialect, analyzed: boolean) {
  await upgradeCase(
    kind,
    async (db, schema) => {
      const names = Object.keys(buildMigrations(kind)).filter((name) => name !== "0024_alert_listing");
      await migrateOnly(db, kind, names, schema);
      const account = `acct-${hex()}`;
      await db.insertInto("accounts").values({ name: account, created_at: T0 }).execute();
      for (let i = 0; i < 30; i++) {
        // Statistics taken at 15 keys: stale once the other 15 are in, as a live database's are.
        if (analyzed && i === 15) await sql`analyze`.execute(db);
        const id = `k${hex()}`;
        await db
          .insertInto("keys")
          .values({
            id,
            app_key: `appkey-${account}-${hex(3).toUpperCase()}${i}`,
            account,
            name: `Key ${i}`,
            name_lower: `key ${i}`,
            active: 1,
            created_at: T0 + i,
            updated_at: T0,
            token_created_at: T0 + i,
            last_used_at: 0,
          })
          .execute();
      }
      return account;
    },
    async (store, account, db) => {
      await store.migrate();
      const indexes =
        kind === "sqlite"
          ? await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'index' and tbl_name = 'keys'`.execute(db)
          : await sql<{
              name: string;
            }>`select indexname as name from pg_indexes where tablename = 'keys' and schemaname = current_schema()`.execute(
              db,
            );
      const names = indexes.rows.map((r) => r.name);
      expect(names).toContain("keys_account_created_at_id_token");
      expect(names).not.toContain("keys_account_created_at_id");
      if (kind === "sqlite") {
        const stats = await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where name = 'sqlite_stat1'`.execute(db);
        if (!analyzed) expect(Number(stats.rows[0]?.n)).toBe(0);
        else {
          // Every index of keys analyzed again, together: the new one has figures, and they agree
          // with the others' (30 keys in the account, where the stale ones said 15), so that the
          // planner weighs them alike.
          const rows = await sql<{ idx: string; stat: string }>`select idx, stat from sqlite_stat1
            where tbl = 'keys' and idx like 'keys_account_%'`.execute(db);
          const perAccount = new Map(rows.rows.map((r) => [r.idx, r.stat.split(" ")[1]]));
          expect(perAccount.get("keys_account_created_at_id_token")).toBe("30");
          expect(new Set(perAccount.values())).toEqual(new Set(["30"]));
        }
      }
      const page = await store.keys.list({
        account,
        sort: "createdAt",
        order: "desc",
        limit: 5,
        tokenCreatedBefore: T0 + 10,
      });
      expect(page.items.map((k) => k.name)).toEqual(["Key 9", "Key 8", "Key 7", "Key 6", "Key 5"]);
    },
  );
}

describe("Store upgrade on sqlite with statistics", () => {
  it("analyzes keys again where the database has statistics (0024_alert_listing)", async () => {
    await checkAlertListing("sqlite", true);
  });
});

describe.each(["sqlite", "postgres"] as const)("Store upgrade on %s", (kind) => {
  it("moves the creation-time index to one holding the token's age (0024_alert_listing)", async () => {
    await checkAlertListing(kind, false);
  });

  it("versions quotas already set from their stored period (0021_quota_version)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0020(db, kind, schema), checkQuotaVersion);
  });

  it("keeps existing tokens as the current ones (0002_key_lifecycle)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0001(db, kind, schema), checkUpgrade);
  });

  it("fills the key counts from the existing keys (0003_key_counts)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0002(db, kind, schema), checkCountsBackfill);
  });

  it("starts settings stored before revisions at revision 1 (0008_settings_revision)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0007(db, kind, schema), checkSettingsRevision);
  });

  it("gives external keys already added an id of their own and no last use (0009_external_key_ids)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0008(db, kind, schema), checkExternalKeyIds);
  });

  it("keeps memberships already stored active, not invitations (0010_member_status)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0009(db, kind, schema), checkMembersActive);
  });

  it("leaves invitations made before codes unanswerable (0011_invitation_codes)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0010(db, kind, schema), checkInvitationWithoutCode);
  });

  it("shows keys deactivated before reasons were kept as plain inactive (0016_key_inactive_reason)", async () => {
    await upgradeCase(kind, (db, schema) => seedAt0015(db, kind, schema), checkInactiveReason);
  });
});
