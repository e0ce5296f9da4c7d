/**
 * The Store contract, run unchanged against SQLite and real PostgreSQL. Each test works in accounts
 * of its own, so tests share one migrated store per dialect without seeing each other's rows.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_CONTROLS } from "../src/core/key-controls.js";
import { openStore } from "../src/storage/open.js";
import type { KeyListQuery, KeyRecord, NewKey, Store } from "../src/storage/store.js";
import { StoreConflict } from "../src/storage/store.js";
import { accountName, auditEvent, conflictOf, hex, newKey, T0 } from "./support/store-fixtures.js";
import { dropTestSchema, openTestStore, TEST_PG_URL } from "./support/stores.js";

describe.each(["sqlite", "postgres"] as const)("Store contract on %s", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await openTestStore(kind));
  });
  afterAll(async () => {
    await cleanup();
  });

  async function account(): Promise<string> {
    const name = accountName();
    await store.accounts.create({ name, createdAt: T0 });
    return name;
  }

  it("reports its dialect, answers ping and migrates again without effect", async () => {
    expect(store.dialect).toBe(kind);
    const a = await account();
    await Promise.all([store.migrate(), store.migrate()]);
    await store.migrate();
    await store.ping();
    expect(await store.accounts.get(a)).toEqual({ name: a, createdAt: T0 });
  });

  it("migrates a fresh database (from three instances at once on PostgreSQL)", async () => {
    const schema = `test_${hex()}`;
    const stores =
      kind === "sqlite"
        ? [await openStore({ kind, file: ":memory:" })]
        : await Promise.all([1, 2, 3].map(() => openStore({ kind, url: TEST_PG_URL, schema })));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const [first, last] = [stores[0] as Store, stores.at(-1) as Store];
      const a = accountName();
      await first.accounts.create({ name: a, createdAt: T0 });
      const role = { account: a, resources: [], createdAt: T0, updatedAt: T0 };
      expect((await first.roles.create({ ...role, name: "r1" })).id).toBe(100000);
      expect((await last.roles.create({ ...role, name: "r2" })).id).toBe(100001);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      if (kind === "postgres") await dropTestSchema(schema);
    }
  });

  it("creates accounts and refuses a duplicate name", async () => {
    const a = await account();
    expect(await store.accounts.get(a)).toEqual({ name: a, createdAt: T0 });
    expect(await store.accounts.get(`${a}-missing`)).toBeUndefined();
    expect(await conflictOf(store.accounts.create({ name: a, createdAt: T0 + 1 }))).toBe("account");
  });

  it("stores emails lower-cased and unique whatever their case", async () => {
    const email = `Ann.${hex()}@Example.COM`;
    const user = { id: `u${hex()}`, email, passwordHash: "scrypt$x", createdAt: T0 };
    await store.people.createUser(user);
    const expected = {
      ...user,
      email: email.toLowerCase(),
      mustChangePassword: false,
      passwordPending: false,
    };
    expect(await store.people.getUserById(user.id)).toEqual(expected);
    expect(await store.people.getUserByEmail(email.toUpperCase())).toEqual(expected);
    expect(await store.people.getUserById("nobody")).toBeUndefined();
    const twin = { ...user, id: `u${hex()}`, email: email.toLowerCase() };
    expect(await conflictOf(store.people.createUser(twin))).toBe("user_email");
  });

  it("manages membership and user roles per account", async () => {
    const [a, b] = [await account(), await account()];
    const ids = [`u1${hex()}`, `u2${hex()}`];
    for (const [i, id] of ids.entries()) {
      await store.people.createUser({
        id,
        email: `${"zy"[i]}${hex()}@x.io`,
        passwordHash: "h",
        createdAt: T0 + i,
      });
    }
    const [zed, yan] = ids as [string, string];
    await store.people.addMember(a, zed, T0 + 10);
    await store.people.addMember(a, zed, T0 + 99);
    await store.people.addMember(a, yan, T0 + 11);
    await store.people.addMember(b, zed, T0 + 12);
    await store.people.setUserRoles(a, zed, [100001, 1, 1]);
    await store.people.setUserRoles(a, zed, [2, 1]);
    await store.people.setUserRoles(b, zed, [1]);
    expect(await store.people.getMember(a, zed)).toMatchObject({
      id: zed,
      addedAt: T0 + 10,
      roleIds: [1, 2],
    });
    expect((await store.people.listMembers(a)).map((m) => [m.id, m.roleIds])).toEqual([
      [yan, []],
      [zed, [1, 2]],
    ]);
    expect(await store.people.listUserAccounts(zed)).toEqual([a, b].sort());
    expect(await store.people.countUsersWithRole(a, 1)).toBe(1);
    expect(await store.people.removeMember(a, zed)).toBe(true);
    expect(await store.people.removeMember(a, zed)).toBe(false);
    expect(await store.people.getMember(a, zed)).toBeUndefined();
    expect(await store.people.countUsersWithRole(a, 1)).toBe(0);
    expect(await store.people.getMember(b, zed)).toMatchObject({ roleIds: [1] });
    await store.people.addMember(a, zed, T0 + 20);
    expect(await store.people.getMember(a, zed)).toMatchObject({ roleIds: [], addedAt: T0 + 20 });
  });

  it("keeps sessions until deleted or expired", async () => {
    const userId = `u${hex()}`;
    await store.people.createUser({ id: userId, email: `${userId}@x.io`, passwordHash: "h", createdAt: T0 });
    const far = 4_000_000_000_000;
    const session = (idHash: string, expiresAt: number) => ({ idHash, userId, createdAt: T0, expiresAt });
    const [live, old, edge] = [`s${hex()}`, `s${hex()}`, `s${hex()}`];
    await store.sessions.create(session(live, far));
    await store.sessions.create(session(old, 1000));
    await store.sessions.create(session(edge, 2000));
    expect(await store.sessions.get(live)).toEqual(session(live, far));
    expect(await store.sessions.deleteExpired(2000)).toBeGreaterThanOrEqual(2);
    expect(await store.sessions.get(old)).toBeUndefined();
    expect(await store.sessions.get(edge)).toBeUndefined();
    await store.sessions.delete(live);
    expect(await store.sessions.get(live)).toBeUndefined();
  });

  it("numbers custom roles from 100000, keeps names unique per account and counts holders", async () => {
    const [a, b] = [await account(), await account()];
    const base = { account: a, resources: ["ViewApiKeys"], createdAt: T0, updatedAt: T0 };
    const ops = await store.roles.create({ ...base, name: "Ops" });
    const audit = await store.roles.create({ ...base, name: "Audit", resources: [] });
    expect(ops.id).toBeGreaterThanOrEqual(100000);
    expect(audit.id).toBeGreaterThan(ops.id);
    expect(await store.roles.get(a, ops.id)).toEqual(ops);
    expect(await store.roles.get(b, ops.id)).toBeUndefined();
    expect(await conflictOf(store.roles.create({ ...base, name: "OPS" }))).toBe("role_name");
    await store.roles.create({ ...base, account: b, name: "ops" });
    const patch = { name: "Operators", resources: ["ViewApiKeys", "EditApiKeys"], updatedAt: T0 + 5 };
    expect(await store.roles.update(a, ops.id, patch)).toBe(true);
    expect(await store.roles.update(b, ops.id, patch)).toBe(false);
    expect(await conflictOf(store.roles.update(a, audit.id, { ...patch, name: "operators" }))).toBe(
      "role_name",
    );
    expect((await store.roles.list(a)).map((r) => [r.name, r.resources, r.updatedAt])).toEqual([
      ["Operators", ["ViewApiKeys", "EditApiKeys"], T0 + 5],
      ["Audit", [], T0],
    ]);
    const userId = `u${hex()}`;
    await store.people.createUser({ id: userId, email: `${userId}@x.io`, passwordHash: "h", createdAt: T0 });
    await store.people.addMember(a, userId, T0);
    await store.people.setUserRoles(a, userId, [ops.id]);
    await store.keys.create(newKey(a, "holder", { roleIds: [ops.id] }));
    expect(await store.roles.countHolders(a, ops.id)).toBe(2);
    expect(await store.roles.delete(a, ops.id)).toBe(true);
    expect(await store.roles.delete(a, ops.id)).toBe(false);
    expect(await store.roles.countHolders(a, ops.id)).toBe(0);
    expect(await store.people.getMember(a, userId)).toMatchObject({ roleIds: [] });
  });

  it("creates a key with its token and roles, and reads it back whole", async () => {
    const a = await account();
    const k = newKey(a, "ERP Sync", { roleIds: [3, 1], createdAt: T0 + 1 });
    await store.keys.create(k);
    const got = await store.keys.getByAppKey(k.appKey);
    expect(got).toEqual<KeyRecord>({
      id: k.id,
      appKey: k.appKey,
      account: a,
      name: "ERP Sync",
      active: true,
      inactiveReason: null,
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
      tokenCreatedAt: k.token.createdAt,
      lastUsedAt: null,
      roleIds: [1, 3],
      tokens: [k.token],
      ...NO_CONTROLS,
      quotaPeriod: 0,
      quotaSetAt: 0,
      quotaBase: null,
    });
    expect(await store.keys.getByAppKey("appkey-nope-AAAAAA")).toBeUndefined();
  });

  it("keeps a key's controls, changes only those patched and clears them with null", async () => {
    const a = await account();
    const controls = {
      expiresAt: T0 + 86_400_000 * 400,
      ipAllowlist: ["203.0.113.0/24", "2001:db8::/32"],
      metadata: { customerId: "c-1", tiers: [1, 2], nested: { ok: true } },
      allowBrowser: true,
    };
    const k = { ...newKey(a, "Controlled"), controls };
    await store.keys.create(k);
    expect(await store.keys.getByAppKey(k.appKey)).toMatchObject(controls);
    await store.keys.update(a, k.appKey, { updatedAt: T0 + 2, controls: { ipAllowlist: null } });
    expect(await store.keys.getByAppKey(k.appKey)).toMatchObject({ ...controls, ipAllowlist: null });
    const cleared = { expiresAt: null, metadata: null, allowBrowser: false };
    await store.keys.update(a, k.appKey, { updatedAt: T0 + 3, controls: cleared });
    expect(await store.keys.getByAppKey(k.appKey)).toMatchObject(NO_CONTROLS);
    const soon = { ...newKey(a, "Soon"), controls: { expiresAt: T0 + 5 } };
    await store.keys.create(soon);
    const page = await store.keys.list({
      account: a,
      sort: "createdAt",
      order: "asc",
      limit: 10,
      expiresFrom: T0,
      expiresBefore: T0 + 10,
    });
    expect(page.items.map((item) => item.appKey)).toEqual([soon.appKey]);
  });

  it("enforces key uniqueness rules and writes nothing when one fails", async () => {
    const [a, b] = [await account(), await account()];
    const k = newKey(a, "Marketing");
    await store.keys.create(k);
    expect(await conflictOf(store.keys.create(newKey(a, "mARKETING")))).toBe("key_name");
    await store.keys.create(newKey(b, "marketing"));
    expect(await conflictOf(store.keys.create(newKey(a, "Other", { appKey: k.appKey })))).toBe("app_key");
    const clash = newKey(a, "Clash", { roleIds: [1], token: { ...k.token, id: `t${hex()}` } });
    expect(await conflictOf(store.keys.create(clash))).toBe("token_hash");
    expect(await store.keys.getByAppKey(clash.appKey)).toBeUndefined();
    expect(await store.keys.getRoleIds(a, clash.id)).toEqual([]);
    await store.keys.create({ ...clash, token: { ...clash.token, hash: `h${hex(16)}` } });
  });

  it("renames, activates and deactivates a key only in its own account", async () => {
    const [a, b] = [await account(), await account()];
    const k = newKey(a, "One");
    await store.keys.create(k);
    await store.keys.create(newKey(a, "Two"));
    const off = await store.keys.update(a, k.appKey, { active: false, updatedAt: T0 + 7 });
    expect(off).toMatchObject({ name: "One", active: false, updatedAt: T0 + 7, tokens: [k.token] });
    const renamed = await store.keys.update(a, k.appKey, { name: "Uno", active: true, updatedAt: T0 + 8 });
    expect(renamed).toMatchObject({ name: "Uno", active: true, updatedAt: T0 + 8 });
    expect(await store.keys.update(b, k.appKey, { active: false, updatedAt: T0 + 9 })).toBeUndefined();
    expect(await store.keys.getByAppKey(k.appKey)).toMatchObject({ active: true });
    expect(await conflictOf(store.keys.update(a, k.appKey, { name: "TWO", updatedAt: T0 + 9 }))).toBe(
      "key_name",
    );
    await store.keys.create(newKey(a, "one"));
  });

  it("keeps grants per account and deletes a key with its tokens and every grant", async () => {
    const [a, b] = [await account(), await account()];
    const k = newKey(a, "Shared", { roleIds: [1] });
    await store.keys.create(k);
    await store.keys.setRoles(a, k.id, [5, 4, 4]);
    await store.keys.setRoles(b, k.id, [7]);
    expect(await store.keys.getRoleIds(a, k.id)).toEqual([4, 5]);
    expect(await store.keys.getRoleIds(b, k.id)).toEqual([7]);
    expect((await store.keys.getByAppKey(k.appKey))?.roleIds).toEqual([4, 5]);
    expect(await store.keys.delete(b, k.appKey)).toBe(false);
    expect(await store.keys.delete(a, k.appKey)).toBe(true);
    expect(await store.keys.delete(a, k.appKey)).toBe(false);
    expect(await store.keys.getByAppKey(k.appKey)).toBeUndefined();
    expect(await store.keys.getRoleIds(b, k.id)).toEqual([]);
    expect(await store.roles.countHolders(b, 7)).toBe(0);
    // The token hash is free again: the token row went with the key.
    await store.keys.create(newKey(a, "Reuse", { token: { ...k.token, id: `t${hex()}` } }));
  });

  it("lists the role ids an account's own generated keys hold there, not external grants", async () => {
    const [a, b] = [await account(), await account()];
    expect(await store.roles.ownKeysRoleIds(a)).toEqual([]);
    const first = newKey(a, "First", { roleIds: [10, 1] });
    const second = newKey(a, "Second", { roleIds: [10, 100001] });
    const partner = newKey(b, "Partner", { roleIds: [2] });
    await store.keys.create(first);
    await store.keys.create(second);
    await store.keys.create(partner);
    // B's key added to A with a role there: A's policies cannot deactivate it, so it is not counted.
    await store.externalKeys.add(a, partner.id, T0, `g${hex()}`);
    await store.keys.setRoles(a, partner.id, [30]);
    // A's key added to B: its grant in B is B's, not A's.
    await store.keys.setRoles(b, first.id, [40]);
    expect(await store.roles.ownKeysRoleIds(a)).toEqual([1, 10, 100001]);
    expect(await store.roles.ownKeysRoleIds(b)).toEqual([2]);
    await store.keys.delete(a, first.appKey);
    expect(await store.roles.ownKeysRoleIds(a)).toEqual([10, 100001]);
  });

  it("lists the roles held alongside a role by its holders, users and keys, in one account", async () => {
    const [a, b] = [await account(), await account()];
    expect(await store.roles.coHeldRoleIds(a, 100001)).toEqual([]);
    const key = newKey(a, "Holder", { roleIds: [100001, 10] });
    await store.keys.create(key);
    await store.keys.create(newKey(a, "Other", { roleIds: [11, 12] }));
    await store.keys.setRoles(b, key.id, [100001, 40]);
    const userId = `u${hex()}`;
    await store.people.createUser({ id: userId, email: `${userId}@x.io`, passwordHash: "h", createdAt: T0 });
    await store.people.addMember(a, userId, T0);
    await store.people.setUserRoles(a, userId, [1, 100001]);
    expect(await store.roles.coHeldRoleIds(a, 100001)).toEqual([1, 10, 100001]);
    expect(await store.roles.coHeldRoleIds(a, 11)).toEqual([11, 12]);
    expect(await store.roles.coHeldRoleIds(b, 100001)).toEqual([40, 100001]);
  });

  it("appends audit events and lists them newest first per account", async () => {
    const [a, b] = [await account(), await account()];
    const first = { ...auditEvent(a, "key.created", { name: "x", n: 1 }), ip: "10.0.0.1", requestId: "r1" };
    await store.audit.append(first);
    await store.audit.append(auditEvent(a, "key.deleted"));
    await store.audit.append(auditEvent(b, "user.signed_in"));
    const events = await store.audit.list(a, 10);
    expect(events.map((e) => e.action)).toEqual(["key.deleted", "key.created"]);
    expect(events[1]).toEqual({ ...first, seq: events[1]?.seq });
    expect(events[0]?.seq).toBeGreaterThan(events[1]?.seq ?? Number.POSITIVE_INFINITY);
    expect(await store.audit.list(a, 1)).toHaveLength(1);
  });

  it("commits a transaction's writes together and rolls all of them back on error", async () => {
    const a = await account();
    const kept = newKey(a, "Kept");
    await store.transaction(async (tx) => {
      await tx.keys.create(kept);
      await tx.audit.append(auditEvent(a, "key.created"));
    });
    const lost = newKey(a, "Lost", { roleIds: [1] });
    const boom = store.transaction(async (tx) => {
      await tx.keys.create(lost);
      await tx.keys.setRoles(a, kept.id, [9]);
      await tx.audit.append(auditEvent(a, "key.created"));
      throw new Error("boom");
    });
    await expect(boom).rejects.toThrow("boom");
    expect(await store.keys.getByAppKey(lost.appKey)).toBeUndefined();
    expect(await store.keys.getRoleIds(a, kept.id)).toEqual([]);
    expect(await store.audit.list(a, 10)).toHaveLength(1);
    expect(await conflictOf(store.transaction((tx) => tx.keys.create(newKey(a, "KEPT"))))).toBe("key_name");
  });

  it("lets exactly one of two simultaneous creations of a name win", async () => {
    const a = await account();
    const results = await Promise.allSettled([
      store.keys.create(newKey(a, "Race")),
      store.keys.create(newKey(a, "race")),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [lost] = results.filter((r) => r.status === "rejected");
    expect(lost?.reason).toEqual(new StoreConflict("key_name"));
  });

  it("lets exactly one of two simultaneous transactions win, with only its audit event", async () => {
    const a = await account();
    const attempt = (name: string) =>
      store.transaction(async (tx) => {
        await tx.keys.create(newKey(a, name));
        await tx.audit.append(auditEvent(a, "key.created", { name }));
      });
    const results = await Promise.allSettled([attempt("Dup"), attempt("DUP")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")?.reason).toEqual(new StoreConflict("key_name"));
    expect(await store.audit.list(a, 10)).toHaveLength(1);
  });

  describe("keys.list", () => {
    const NAMES = ["Delta", "alpha", "Charlie", "bravo"];
    let a: string;
    let keys: NewKey[];

    beforeAll(async () => {
      a = await account();
      // Created out of id order, with ties in every time column, so ordering must fall back on id.
      keys = Array.from({ length: 25 }, (_, i) =>
        newKey(a, `${NAMES[i % 4]}-${String(24 - i).padStart(2, "0")}`, {
          createdAt: T0 + Math.floor(i / 4) * 1000,
          token: { id: `t${hex(8)}`, hash: `h${hex(16)}`, createdAt: T0 + (i % 3) * 1000 },
          active: i % 5 !== 0,
          roleIds: i % 2 === 0 ? [100] : [],
        }),
      );
      for (const k of keys) await store.keys.create(k);
    });

    const sortValue: Record<KeyListQuery["sort"], (k: KeyRecord | NewKey) => string | number> = {
      name: (k) => k.name.toLowerCase(),
      createdAt: (k) => k.createdAt,
      tokenCreatedAt: (k) => ("tokenCreatedAt" in k ? k.tokenCreatedAt : k.token.createdAt),
      lastUsedAt: (k) => ("lastUsedAt" in k ? (k.lastUsedAt ?? 0) : 0),
    };

    async function walk(query: Omit<KeyListQuery, "account" | "limit">, limit: number): Promise<string[]> {
      const ids: string[] = [];
      let after: KeyListQuery["after"];
      for (let page = 0; page < 50; page++) {
        const res = await store.keys.list({ account: a, limit, ...query, ...(after ? { after } : {}) });
        ids.push(...res.items.map((k) => k.id));
        const last = res.items.at(-1);
        if (!res.hasMore || last === undefined) return ids;
        expect(res.items).toHaveLength(limit);
        after = { value: sortValue[query.sort](last), id: last.id };
      }
      throw new Error("pagination did not end");
    }

    for (const sort of ["name", "createdAt", "tokenCreatedAt", "lastUsedAt"] as const) {
      for (const order of ["asc", "desc"] as const) {
        it(`walks every key once by ${sort} ${order}`, async () => {
          const cmp = (x: NewKey, y: NewKey) => {
            const [vx, vy] = [sortValue[sort](x), sortValue[sort](y)];
            const c = vx < vy ? -1 : vx > vy ? 1 : x.id < y.id ? -1 : 1;
            return order === "asc" ? c : -c;
          };
          const expected = [...keys].sort(cmp).map((k) => k.id);
          expect(await walk({ sort, order }, 7)).toEqual(expected);
          expect(await walk({ sort, order }, 25)).toEqual(expected);
        });
      }
    }

    it("filters by status, role and search text, with a total of all matches", async () => {
      // A grant of role 100 in another account must not make the key match in its own account.
      await store.keys.setRoles(await account(), (keys[1] as NewKey).id, [100]);
      const filters = { status: "active", roleId: 100, sort: "name", order: "asc" } as const;
      const expected = keys.filter((_, i) => i % 5 !== 0 && i % 2 === 0);
      const byName = [...expected].sort((x, y) => (x.name.toLowerCase() < y.name.toLowerCase() ? -1 : 1));
      expect(await walk(filters, 3)).toEqual(byName.map((k) => k.id));
      const first = await store.keys.list({ account: a, limit: 3, ...filters });
      expect([first.total, first.hasMore]).toEqual([expected.length, true]);
      expect(first.items.every((k) => k.active && k.roleIds.includes(100))).toBe(true);
      const list = (over: Partial<KeyListQuery>) =>
        store.keys.list({ account: a, sort: "createdAt", order: "desc", limit: 50, ...over });
      expect((await list({ q: "ALPHA" })).total).toBe(keys.filter((k) => k.name.startsWith("alpha")).length);
      const target = keys[3] as NewKey;
      const bySuffix = await list({ q: target.appKey.slice(-6).toLowerCase() });
      expect(bySuffix.items.map((k) => k.id)).toEqual([target.id]);
      expect((await list({ status: "inactive" })).total).toBe(5);
      expect((await list({ q: `${a}-` })).total).toBe(25);
      expect(await list({ q: "no such key" })).toEqual({
        items: [],
        total: 0,
        totalExact: true,
        hasMore: false,
      });
    });

    it("matches % and _ in the search text literally", async () => {
      const b = await account();
      for (const name of ["50% off", "500 off", "a_b", "axb"]) await store.keys.create(newKey(b, name));
      const names = async (q: string) =>
        (await store.keys.list({ account: b, q, sort: "name", order: "asc", limit: 10 })).items.map(
          (k) => k.name,
        );
      expect(await names("%")).toEqual(["50% off"]);
      expect(await names("_")).toEqual(["a_b"]);
      expect(await names("0 OFF")).toEqual(["500 off"]);
      expect((await store.keys.list({ account: b, sort: "name", order: "asc", limit: 2 })).total).toBe(4);
    });
  });
});
