/**
 * Revocation holds while the fan-out (Redis pub/sub or PostgreSQL LISTEN) is down: two latchkeys
 * over one store, each following the change journal, A with a working fan-out, B's (or A's) behind
 * a loopback proxy that the test freezes, kills and brings back. B must refuse a key deactivated on
 * A within 1 s whatever the fan-out does (the journal carries it), keep answering from its cache,
 * stay ready while saying on /readyz that the fan-out is degraded (naming it), and hear changes
 * within milliseconds again once it is back.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { composeLatchkey, type Latchkey } from "../../src/main.js";
import { type Fanout, startFanout } from "../../src/verify/change-fanout.js";
import { startChangeJournal } from "../../src/verify/change-journal.js";
import { freePort } from "../e2e/process.js";
import { createHarness, type Harness } from "../support/harness.js";
import {
  type Ask,
  authorizeStatus,
  cacheMisses,
  capturingLogger,
  inProcess,
  timeUntil,
} from "../support/instances.js";
import { TEST_PG_URL } from "../support/stores.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const BUSES = {
  redis: { port: 6379, url: (port: number) => ({ redisUrl: `redis://127.0.0.1:${port}` }) },
  postgres: {
    port: Number(new URL(TEST_PG_URL).port || 5432),
    url: (port: number) => {
      const url = new URL(TEST_PG_URL);
      url.port = String(port);
      return { databaseUrl: url.toString() };
    },
  },
};
const OMS_READ = 10;

describe.each(["redis", "postgres"] as const)("the change bus (%s) of instance B is down", (kind) => {
  const bus = BUSES[kind];
  let a: Harness;
  let b: Latchkey;
  let bLog: string[];
  let bLogger: ReturnType<typeof capturingLogger>["logger"];
  let askB: Ask;
  const closing: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    a = await createHarness("sqlite");
    ({ logger: bLogger, lines: bLog } = capturingLogger());
    const config = loadConfig({
      LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
      PUBLIC_URL: "http://localhost",
      RATE_LIMIT_FAILURES: "0",
    });
    b = composeLatchkey(config, {
      store: a.store,
      logger: bLogger,
      clock: a.deps.clock,
    });
    askB = inProcess(b.app);
    for (const [changes, logger] of [
      [a.deps.changes, a.logger],
      [b.deps.changes, bLogger],
    ] as const) {
      const journal = await startChangeJournal({
        bus: changes,
        journal: a.store.changeLog,
        logger,
        dependency: "database",
      });
      closing.push(() => journal.close());
    }
  });

  async function startA(port = bus.port): Promise<Fanout> {
    const fanout = await startFanout({ bus: a.deps.changes, logger: a.logger, ...bus.url(port) });
    closing.push(() => fanout.close());
    return fanout;
  }

  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
    await a.close();
  });

  async function startB(port: number): Promise<Fanout> {
    const fanout = await startFanout({
      bus: b.deps.changes,
      logger: bLogger,
      ...bus.url(port),
    });
    closing.push(() => fanout.close());
    return fanout;
  }

  async function proxy(port = 0): Promise<TcpProxy> {
    const started = await startTcpProxy(bus.port, port);
    closing.push(() => started.close());
    return started;
  }

  const authorize = (key: { appKey: string; appToken: string }) => authorizeStatus(askB, key);

  async function readyz() {
    const res = await b.app.request("/readyz");
    return {
      status: res.status,
      body: (await res.json()) as {
        dependency?: string;
        degraded?: Array<{ dependency: string; detail: string }>;
      },
    };
  }

  /** Ready, with the fan-out named as degraded (or not). */
  const degraded = async () => (await readyz()).body.degraded?.[0]?.dependency;

  const misses = () => cacheMisses(askB);

  it.each([
    ["freezes (a silent network)", (p: TcpProxy) => p.freeze()],
    ["dies (connections dropped)", (p: TcpProxy) => void p.close()],
  ])(
    "refuses a key deactivated on A within 1 s when B's fan-out %s, from its cache, and hears changes at once when it is back",
    async (_label, fault) => {
      await startA();
      const front = await proxy();
      await startB(front.port);
      expect(await timeUntil(async () => (await degraded()) === undefined)).toBeGreaterThanOrEqual(0);
      const key = await a.createKey("erp", [OMS_READ]);
      const other = await a.createKey("crm", [OMS_READ]);
      expect(await authorize(key)).toBe(200);
      expect(await authorize(other)).toBe(200);

      fault(front);
      expect(await timeUntil(async () => (await degraded()) === kind)).toBeGreaterThanOrEqual(0);
      expect((await readyz()).status).toBe(200);
      expect(bLog.some((l) => l.includes("changes arrive through the journal meanwhile"))).toBe(true);
      const path = `/v1/accounts/acme/keys/${key.appKey}`;
      expect((await a.request("PATCH", path, { body: { active: false } })).status).toBe(200);
      const refused = await timeUntil(async () => (await authorize(key)) === 401);
      expect(refused).toBeGreaterThanOrEqual(0);
      expect(refused).toBeLessThan(1000);
      // A key nobody changed is still answered from the cache: the outage costs no database reads.
      const before = await misses();
      expect(await authorize(other)).toBe(200);
      expect(await authorize(other)).toBe(200);
      expect(await misses()).toBe(before);

      // Back: no longer degraded, and changes arrive through the fan-out again, well before the
      // journal's next read.
      await front.close();
      await proxy(front.port);
      expect(await timeUntil(async () => (await degraded()) === undefined, 10_000)).toBeGreaterThanOrEqual(0);
      expect((await a.request("PATCH", path, { body: { active: true } })).status).toBe(200);
      const heard = await timeUntil(async () => (await authorize(key)) === 200);
      expect(heard).toBeGreaterThanOrEqual(0);
      expect(heard).toBeLessThan(1000);
    },
    30_000,
  );

  it("refuses a key deactivated on A within 1 s when A's own fan-out is dead (its message never leaves)", async () => {
    const front = await proxy();
    await startA(front.port);
    await startB(bus.port);
    expect(await timeUntil(async () => (await degraded()) === undefined)).toBeGreaterThanOrEqual(0);
    const key = await a.createKey("erp", [OMS_READ]);
    expect(await authorize(key)).toBe(200);
    await front.close();
    const path = `/v1/accounts/acme/keys/${key.appKey}`;
    expect((await a.request("PATCH", path, { body: { active: false } })).status).toBe(200);
    const refused = await timeUntil(async () => (await authorize(key)) === 401);
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(refused).toBeLessThan(1000);
    // B's own fan-out works: it is not degraded, and never stopped trusting its cache.
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready" } });
  }, 30_000);

  it("starts with the fan-out unreachable: ready but degraded, retries logged, not degraded once it appears", async () => {
    await startA();
    const port = await freePort();
    await startB(port);
    const key = await a.createKey("erp", [OMS_READ]);
    expect(await authorize(key)).toBe(200);
    const before = await readyz();
    expect(before.status).toBe(200);
    expect(before.body.degraded?.[0]?.dependency).toBe(kind);
    expect(
      await timeUntil(async () => bLog.some((l) => l.includes("unreachable; retrying in"))),
    ).toBeGreaterThanOrEqual(0);
    // Cached meanwhile: the journal keeps the cache honest.
    const missed = await misses();
    expect(await authorize(key)).toBe(200);
    expect(await misses()).toBe(missed);
    await proxy(port);
    expect(await timeUntil(async () => (await degraded()) === undefined, 10_000)).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
