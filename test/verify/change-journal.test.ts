/**
 * The change journal: what the 1 s revocation promise rests on. Reading it delivers other
 * instances' changes once each, in order, even when numbers commit out of order or arrive through
 * the fan-out first; an instance that cannot read it (its PostgreSQL connection behind a loopback
 * proxy that the test kills) stops trusting its cache, says 503 on /readyz naming the database, fails
 * closed, and once back replays what it missed without dropping the rest of its cache.
 */
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { composeLatchkey } from "../../src/main.js";
import { openStore } from "../../src/storage/open.js";
import type { Store } from "../../src/storage/store.js";
import { startChangeJournal } from "../../src/verify/change-journal.js";
import { type Change, createChangeBus, encodeChange } from "../../src/verify/changes.js";
import { createHarness, type Harness } from "../support/harness.js";
import { authorizeStatus, cacheMisses, capturingLogger, inProcess, timeUntil } from "../support/instances.js";
import { TEST_PG_URL } from "../support/stores.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const OMS_READ = 10;
const quiet = createLogger({ level: "silent" });

const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

async function harness(kind: "sqlite" | "postgres"): Promise<Harness> {
  const h = await createHarness(kind);
  closing.push(() => h.close());
  return h;
}

/** A reader of `h`'s journal on a bus of its own, recording what it delivers. */
async function follower(h: Harness, pollMs = 10_000) {
  const bus = createChangeBus();
  const heard: Change[] = [];
  bus.subscribe((change) => heard.push(change));
  const journal = await startChangeJournal({
    bus,
    journal: h.store.changeLog,
    logger: quiet,
    dependency: "database",
    pollMs,
  });
  closing.push(() => journal.close());
  return { bus, heard, journal };
}

describe.each(["sqlite", "postgres"] as const)("the change journal (%s)", (kind) => {
  it("delivers other instances' changes once each, in order, and skips its own", async () => {
    const h = await harness(kind);
    const { bus, heard, journal } = await follower(h);
    const change = (appKey: string): Change => ({ kind: "key", appKey });
    await h.store.changeLog.append({
      origin: "elsewhere",
      change: encodeChange(change("one")),
      at: Date.now(),
    });
    await h.store.changeLog.append({
      origin: bus.instance,
      change: encodeChange(change("mine")),
      at: Date.now(),
    });
    const third = await h.store.changeLog.append({
      origin: "elsewhere",
      change: encodeChange(change("three")),
      at: Date.now(),
    });
    // The third arrived through the fan-out first.
    bus.deliver(change("three"), third);
    expect(heard).toEqual([change("three")]);
    await journal.readNow();
    expect(heard).toEqual([change("three"), change("one")]);
    await journal.readNow();
    expect(heard).toHaveLength(2);
  });

  it("records every change a request makes before the request answers", async () => {
    const h = await harness(kind);
    const before = (await h.store.changeLog.bounds()).max;
    const key = await h.createKey("erp", [OMS_READ]);
    const res = await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: false } });
    expect(res.status).toBe(200);
    const entries = await h.store.changeLog.since(before, 100);
    expect(entries.map((e) => e.change)).toContain(encodeChange({ kind: "key", appKey: key.appKey }));
    expect(entries.every((e) => e.origin === h.deps.changes.instance)).toBe(true);
    // Names what changed, never a secret.
    expect(JSON.stringify(entries)).not.toContain(key.appToken);
  });

  it("drops every cached state when entries it never read were pruned", async () => {
    const h = await harness(kind);
    const { bus, heard, journal } = await follower(h);
    // Half an hour old: the harness's own instance prunes what is over an hour old, whenever its
    // journal first reads, and must not take these before the prune below does.
    const old = Date.now() - 30 * 60_000;
    await h.store.changeLog.append({
      origin: "elsewhere",
      change: encodeChange({ kind: "signing-keys" }),
      at: old,
    });
    await h.store.changeLog.append({
      origin: "elsewhere",
      change: encodeChange({ kind: "signing-keys" }),
      at: old + 1,
    });
    await h.store.changeLog.append({
      origin: "elsewhere",
      change: encodeChange({ kind: "account", account: "acme" }),
      at: Date.now(),
    });
    expect(await h.store.changeLog.prune(old + 2)).toBe(2);
    bus.setDown({ dependency: "database", reason: "test: cut off" });
    await journal.readNow();
    expect(heard).toEqual([{ kind: "all" }, { kind: "account", account: "acme" }]);
    expect(bus.down()).toBeNull();
  });
});

describe("numbers that commit out of order (postgres)", () => {
  it("asks again for a skipped number until its row appears", async () => {
    const h = await harness("postgres");
    const { heard, journal } = await follower(h);
    const { max } = await h.store.changeLog.bounds();
    const insert = (seq: number, appKey: string) =>
      sql`insert into change_log (seq, origin, change, at) overriding system value
          values (${seq}, 'elsewhere', ${encodeChange({ kind: "key", appKey })}, ${Date.now()})`.execute(
        h.raw(),
      );
    await insert(max + 2, "later");
    await journal.readNow();
    expect(heard).toEqual([{ kind: "key", appKey: "later" }]);
    // The lower number commits after the higher one was read.
    await insert(max + 1, "earlier");
    await journal.readNow();
    expect(heard).toEqual([
      { kind: "key", appKey: "later" },
      { kind: "key", appKey: "earlier" },
    ]);
  });
});

describe("an instance that cannot read the journal (PostgreSQL behind a proxy)", () => {
  it("stops trusting its cache, says 503 naming the database, fails closed, then replays what it missed", async () => {
    const a = await harness("postgres");
    const schema = (await sql<{ schema: string }>`select current_schema() as schema`.execute(a.raw())).rows[0]
      ?.schema as string;
    const pgPort = Number(new URL(TEST_PG_URL).port || 5432);
    let front: TcpProxy = await startTcpProxy(pgPort);
    const port = front.port;
    closing.push(() => front.close());
    const url = new URL(TEST_PG_URL);
    url.port = String(port);
    const bStore: Store = await openStore({ kind: "postgres", url: url.toString(), schema });
    closing.push(() => bStore.close());
    const { logger, lines: bLog } = capturingLogger();
    const config = loadConfig({
      LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
      PUBLIC_URL: "http://localhost",
      RATE_LIMIT_FAILURES: "0",
    });
    const b = composeLatchkey(config, { store: bStore, logger, clock: a.deps.clock });
    const aJournal = await startChangeJournal({
      bus: a.deps.changes,
      journal: a.store.changeLog,
      logger: quiet,
      dependency: "database",
    });
    closing.push(() => aJournal.close());
    const bJournal = await startChangeJournal({
      bus: b.deps.changes,
      journal: bStore.changeLog,
      logger,
      dependency: "database",
    });
    closing.push(() => bJournal.close());

    const askB = inProcess(b.app);
    const authorize = (key: { appKey: string; appToken: string }) => authorizeStatus(askB, key);
    const readyz = async () => {
      const res = await b.app.request("/readyz");
      return { status: res.status, body: (await res.json()) as { dependency?: string; code?: string } };
    };
    const misses = () => cacheMisses(askB);

    const changed = await a.createKey("erp", [OMS_READ]);
    const untouched = await a.createKey("crm", [OMS_READ]);
    expect(await authorize(changed)).toBe(200);
    expect(await authorize(untouched)).toBe(200);
    expect((await readyz()).status).toBe(200);

    await front.close();
    const down = await timeUntil(async () => (await readyz()).status === 503);
    expect(down).toBeGreaterThanOrEqual(0);
    expect(down).toBeLessThan(1000);
    const ready = await readyz();
    expect(ready.body.dependency).toBe("database");
    expect(
      await timeUntil(async () => bLog.some((l) => l.includes("verifying every key against the database"))),
    ).toBeGreaterThanOrEqual(0);
    // Its cache is not trusted and its database does not answer: it fails closed.
    expect(await authorize(untouched)).toBe(503);
    const path = `/v1/accounts/acme/keys/${changed.appKey}`;
    expect((await a.request("PATCH", path, { body: { active: false } })).status).toBe(200);

    front = await startTcpProxy(pgPort, port);
    expect(await timeUntil(async () => (await readyz()).status === 200, 10_000)).toBeGreaterThanOrEqual(0);
    expect(bLog.some((l) => l.includes("every change missed was applied"))).toBe(true);
    expect(await authorize(changed)).toBe(401);
    // Replayed, not dropped: the key nobody changed is answered from the cache again.
    expect(await authorize(untouched)).toBe(200);
    const before = await misses();
    expect(await authorize(untouched)).toBe(200);
    expect(await misses()).toBe(before);
  }, 30_000);
});
