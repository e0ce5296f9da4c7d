/**
 * Revocation holds while the change bus (Redis pub/sub or PostgreSQL LISTEN) is down: two latchkeys over one store, A
 * with a working bus, B behind a loopback proxy that the test freezes, kills and brings back. B
 * must refuse a key deactivated on A within 1 s whatever its bus does, say 503 on /readyz (naming
 * the dependency) while it cannot hear every change, and cache again once it does.
 */
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { composeLatchkey, type Latchkey } from "../../src/main.js";
import { type Fanout, startFanout } from "../../src/verify/change-fanout.js";
import { freePort } from "../e2e/process.js";
import { createHarness, type Harness } from "../support/harness.js";
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
  let bLogger: ReturnType<typeof createLogger>;
  const closing: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    a = await createHarness("sqlite");
    bLog = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        bLog.push(String(chunk));
        done();
      },
    });
    const config = loadConfig({
      LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
      PUBLIC_URL: "http://localhost",
      RATE_LIMIT_FAILURES: "0",
    });
    bLogger = createLogger({ level: "debug", destination });
    b = composeLatchkey(config, {
      store: a.store,
      logger: bLogger,
      clock: a.deps.clock,
    });
    const fanoutA = await startFanout({ bus: a.deps.changes, logger: a.logger, ...bus.url(bus.port) });
    closing.push(() => fanoutA.close());
  });

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

  async function authorize(key: { appKey: string; appToken: string }) {
    const res = await b.app.request("/v1/authorize", {
      headers: {
        "x-api-appkey": key.appKey,
        "x-api-apptoken": key.appToken,
        "x-original-method": "GET",
        "x-original-uri": "/api/oms/pvt/orders/42",
      },
    });
    await res.arrayBuffer();
    return res.status;
  }

  async function readyz() {
    const res = await b.app.request("/readyz");
    return { status: res.status, body: (await res.json()) as { dependency?: string; detail?: string } };
  }

  /** Milliseconds until `check` holds, polling every 10 ms, or -1 after `withinMs`. */
  async function timeUntil(check: () => Promise<boolean>, withinMs = 3000) {
    const started = performance.now();
    while (performance.now() - started < withinMs) {
      if (await check()) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return -1;
  }

  const misses = async () => {
    const text = await (await b.app.request("/metrics")).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith('latchkey_key_cache_requests_total{result="miss"}'));
    return Number(line?.split(" ").at(-1) ?? 0);
  };

  it.each([
    ["freezes (a silent network)", (p: TcpProxy) => p.freeze()],
    ["dies (connections dropped)", (p: TcpProxy) => void p.close()],
  ])(
    "refuses a key deactivated on A within 1 s when B's bus %s, and caches again once it is back",
    async (_label, fault) => {
      const front = await proxy();
      await startB(front.port);
      expect(await timeUntil(async () => (await readyz()).status === 200)).toBeGreaterThanOrEqual(0);
      const key = await a.createKey("erp", [OMS_READ]);
      expect(await authorize(key)).toBe(200);

      fault(front);
      const path = `/v1/accounts/acme/keys/${key.appKey}`;
      expect((await a.request("PATCH", path, { body: { active: false } })).status).toBe(200);
      const refused = await timeUntil(async () => (await authorize(key)) === 401);
      expect(refused).toBeGreaterThanOrEqual(0);
      expect(refused).toBeLessThan(1000);
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body.dependency).toBe(kind);

      // Back: B is ready again, has dropped what it cached, and caches again.
      await front.close();
      expect((await a.request("PATCH", path, { body: { active: true } })).status).toBe(200);
      await proxy(front.port);
      expect(await timeUntil(async () => (await readyz()).status === 200, 10_000)).toBeGreaterThanOrEqual(0);
      expect(await authorize(key)).toBe(200);
      const before = await misses();
      expect(await authorize(key)).toBe(200);
      expect(await misses()).toBe(before);
      // And hears changes through the bus again.
      expect((await a.request("PATCH", path, { body: { active: false } })).status).toBe(200);
      const heard = await timeUntil(async () => (await authorize(key)) === 401);
      expect(heard).toBeGreaterThanOrEqual(0);
      expect(heard).toBeLessThan(1000);
    },
    30_000,
  );

  it("starts with the bus unreachable: not ready, retries logged, ready once it appears", async () => {
    const port = await freePort();
    await startB(port);
    const key = await a.createKey("erp", [OMS_READ]);
    expect(await authorize(key)).toBe(200);
    const before = await readyz();
    expect(before.status).toBe(503);
    expect(before.body.dependency).toBe(kind);
    expect(
      await timeUntil(async () => bLog.some((l) => l.includes("unreachable; retrying in"))),
    ).toBeGreaterThanOrEqual(0);
    // Not cached while down: every verification reads the store.
    const missed = await misses();
    expect(await authorize(key)).toBe(200);
    expect(await misses()).toBe(missed + 1);
    await proxy(port);
    expect(await timeUntil(async () => (await readyz()).status === 200, 10_000)).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
