/**
 * The audit hash chain: the known-answer vectors of its format, tampering with stored rows found
 * and named (SQLite and PostgreSQL, through a second connection below the Store port), many
 * concurrent changes in one account leaving one unbroken chain on PostgreSQL, and migration 0006
 * chaining the events an earlier release left.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/services/audit-log.js";
import { auditHash, canonicalJson } from "../src/storage/audit-chain.js";
import { buildMigrations } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open.js";
import type { Database } from "../src/storage/schema.js";
import type { Dialect, Store } from "../src/storage/store.js";
import { type Credentials, createHarness, type Harness } from "./support/harness.js";
import { hex, T0 } from "./support/store-fixtures.js";
import { dropTestSchema, openRawDb, openTestStore, TEST_PG_URL } from "./support/stores.js";

describe("the chain format", () => {
  const first = {
    id: "e1",
    at: "2026-11-26T10:00:00.000Z",
    account: "acme",
    actor: { type: "system", id: "system", label: "system" },
    action: "key.created",
    target: { type: "key", id: "appkey-acme-ABCDEF" },
    ip: null,
    userAgent: null,
    requestId: null,
    data: { after: { roles: [10], name: "Ünïcode ✓" } },
  };

  it("serializes as RFC 8785 canonical JSON: sorted keys, no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: "x" }], é: true, z: undefined })).toBe(
      '{"a":[{"c":"x","d":null}],"b":1,"é":true}',
    );
  });

  it("hashes known events to known values (sha256sum of the canonical text)", () => {
    const h1 = auditHash(first, null);
    expect(h1).toBe("7b143a0cd98d5ffa97be130d72ac9fa34857c8b966ac6f4191521bc0198a34af");
    const second = {
      ...first,
      id: "e2",
      at: "2026-11-26T10:00:01.000Z",
      actor: { type: "user", id: "u1", label: "a@acme.test" },
      action: "key.deleted",
      target: null,
      ip: "203.0.113.7",
      userAgent: "ua",
      requestId: "r2",
      data: null,
    };
    expect(auditHash(second, h1)).toBe("0e0e30e35e7be31932ff0910b99493b5c25b6e2d1042fbdf9c6078fffaf621ca");
  });
});

describe.each(["sqlite", "postgres"] as const)("tampering is found and named (%s)", (kind) => {
  let h: Harness;
  let round = 0;

  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  /** A fresh account with six events: set-up (3) and three key creations; returns them oldest first. */
  async function seeded() {
    round += 1;
    const account = `tamper-${round}`;
    const init = await h.services.accounts.init({ account, email: `owner@${account}.test` });
    const as: Credentials = { appKey: init.appKey, appToken: init.appToken };
    for (const name of ["one", "two", "three"]) await h.createKey(name, [], account, as);
    const events = await h.store.audit.listEvents({ account, order: "asc", limit: 100 });
    expect(events).toHaveLength(6);
    return {
      account,
      as,
      events,
      verify: () => h.request("GET", `/v1/accounts/${account}/audit/verify`, { as }),
    };
  }

  it("an intact chain checks", async () => {
    const { verify, events } = await seeded();
    expect((await verify()).body).toMatchObject({ ok: true, checked: 6, firstBroken: null });
    expect((await verify()).body.head).toEqual({ seq: events[5]?.seq, hash: events[5]?.hash });
  });

  for (const [column, value] of [
    ["data", '{"after":{"name":"someone else"}}'],
    ["action", "key.deleted"],
    ["actor_label", "nobody@example.com"],
    ["data", "{not json"],
  ] as const) {
    it(`a middle event whose ${column} was set to ${value} is named (hash_mismatch)`, async () => {
      const { account, as, events, verify } = await seeded();
      const middle = events[3];
      await sql`update audit_events set ${sql.ref(column)} = ${value} where id = ${middle?.id}`.execute(
        h.raw(),
      );
      const res = await verify();
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        ok: false,
        checked: 3,
        firstBroken: { account, id: middle?.id, seq: middle?.seq, reason: "hash_mismatch" },
      });
      expect(res.body.firstBroken.detail).toContain(middle?.id);
      // The damaged row is still listed, as stored, and nothing answers 500.
      const list = await h.request("GET", `/v1/accounts/${account}/audit`, { as });
      expect(list.status).toBe(200);
      expect(list.body.items.find((item: { id: string }) => item.id === middle?.id)).toBeDefined();
    });
  }

  it("a removed middle event breaks the link of the event after it (prev_hash_mismatch)", async () => {
    const { account, events, verify } = await seeded();
    await sql`delete from audit_events where id = ${events[2]?.id}`.execute(h.raw());
    expect((await verify()).body).toMatchObject({
      ok: false,
      checked: 2,
      firstBroken: { account, id: events[3]?.id, seq: events[3]?.seq, reason: "prev_hash_mismatch" },
    });
  });

  it("removed newest events no longer match the head (head_mismatch)", async () => {
    const { events, verify } = await seeded();
    await sql`delete from audit_events where seq >= ${events[4]?.seq} and account = ${events[4]?.account}`.execute(
      h.raw(),
    );
    expect((await verify()).body).toMatchObject({
      ok: false,
      checked: 4,
      firstBroken: { id: events[3]?.id, reason: "head_mismatch" },
    });
  });

  it("a dropped chain head is found (head_missing)", async () => {
    const { account, events, verify } = await seeded();
    await sql`delete from audit_heads where account = ${account}`.execute(h.raw());
    expect((await verify()).body).toMatchObject({
      ok: false,
      checked: 6,
      firstBroken: { id: events[5]?.id, reason: "head_missing" },
    });
  });

  it("verifyAuditChain reports each account and the first broken one", async () => {
    const intact = await seeded();
    const broken = await seeded();
    await sql`update audit_events set data = null where id = ${broken.events[1]?.id}`.execute(h.raw());
    const report = await verifyAuditChain(h.store);
    expect(report.ok).toBe(false);
    expect(report.accounts.find((a) => a.account === intact.account)).toMatchObject({ ok: true, checked: 6 });
    expect(report.accounts.find((a) => a.account === broken.account)).toMatchObject({
      ok: false,
      checked: 1,
    });
    expect((await verifyAuditChain(h.store, intact.account)).ok).toBe(true);
  });
});

describe("concurrent changes in one account (postgres)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("postgres");
  });
  afterAll(() => h.close());

  it("chain one after the other: no fork, no gap", async () => {
    const creations = Array.from({ length: 40 }, (_, i) => h.createKey(`parallel ${i}`));
    const roles = Array.from({ length: 10 }, (_, i) =>
      h.request("POST", "/v1/accounts/acme/roles", { body: { name: `parallel role ${i}`, resources: [] } }),
    );
    const outcomes = await Promise.all([...creations, ...roles]);
    expect(outcomes).toHaveLength(50);
    const events = await h.store.audit.listEvents({ account: "acme", order: "asc", limit: 1000 });
    expect(events).toHaveLength(3 + 50);
    expect(new Set(events.map((e) => e.prevHash)).size).toBe(events.length);
    expect(await verifyAuditChain(h.store, "acme")).toMatchObject({
      ok: true,
      checked: 53,
      firstBroken: null,
    });
  });

  it("also through bare store transactions racing on the head", async () => {
    const { store, cleanup } = await openTestStore("postgres");
    try {
      const append = (i: number) =>
        store.transaction(async (tx) => {
          await tx.audit.append(event("race", i));
          await tx.audit.append(event("race", i + 1000));
        });
      await Promise.all(Array.from({ length: 30 }, (_, i) => append(i)));
      expect(await verifyAuditChain(store, "race")).toMatchObject({ ok: true, checked: 60 });
    } finally {
      await cleanup();
    }
  });
});

function event(account: string, i: number) {
  return {
    id: `e-${hex()}-${i}`,
    account,
    at: T0 + i,
    actorType: "system" as const,
    actorId: "system",
    actorLabel: "system",
    action: "key.renamed",
    targetType: "key",
    targetId: `k${i}`,
    ip: null,
    userAgent: null,
    requestId: null,
    data: { after: { name: `n${i}` } },
  };
}

describe.each(["sqlite", "postgres"] as const)(
  "migration 0006 chains an earlier release's events (%s)",
  (kind) => {
    it("gives every stored event its link and each account its head", async () => {
      const { store, db, done } = await at0005(kind);
      try {
        for (const [account, count] of [
          ["old-a", 700],
          ["old-b", 3],
        ] as const) {
          const rows = Array.from({ length: count }, (_, i) => event(account, i)).map((e) => ({
            id: e.id,
            account: e.account,
            at: e.at,
            actor_type: e.actorType,
            actor_id: e.actorId,
            actor_label: e.actorLabel,
            action: e.action,
            target_type: e.targetType,
            target_id: e.targetId,
            data: JSON.stringify(e.data),
          }));
          for (let i = 0; i < rows.length; i += 100) {
            await db
              .insertInto("audit_events")
              .values(rows.slice(i, i + 100))
              .execute();
          }
        }
        await store.migrate();
        const report = await verifyAuditChain(store);
        expect(report).toMatchObject({ ok: true, checked: 703, firstBroken: null });
        expect(report.accounts.map((a) => a.account)).toEqual(["old-a", "old-b"]);
        await store.audit.append(event("old-b", 3));
        expect(await verifyAuditChain(store, "old-b")).toMatchObject({ ok: true, checked: 4 });
      } finally {
        await done();
      }
    });
  },
);

/** A database as release 0005 left it, and a store (not migrated yet) on it. */
async function at0005(
  kind: Dialect,
): Promise<{ store: Store; db: Kysely<Database>; done: () => Promise<void> }> {
  const names = ["0001_initial", "0002_key_lifecycle", "0003_key_counts", "0004_usage", "0005_signing_keys"];
  const all = buildMigrations(kind);
  const migrations = Object.fromEntries(
    names.map((name) => [name, all[name] as NonNullable<(typeof all)[string]>]),
  );
  if (kind === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-audit-upgrade-"));
    const file = join(dir, "latchkey.db");
    const db = openRawDb({ file });
    await migrateOnly(db, migrations);
    const store = await openStore({ kind: "sqlite", file });
    return {
      store,
      db,
      done: async () => {
        await store.close();
        await db.destroy();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `test_${hex()}`;
  const store = await openStore({ kind: "postgres", url: TEST_PG_URL, schema });
  const db = openRawDb({ schema });
  await migrateOnly(db, migrations, schema);
  return {
    store,
    db,
    done: async () => {
      await db.destroy();
      await store.close();
      await dropTestSchema(schema);
    },
  };
}

async function migrateOnly(
  db: Kysely<Database>,
  migrations: ReturnType<typeof buildMigrations>,
  schema?: string,
) {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}
