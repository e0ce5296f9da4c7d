/**
 * `WORKERS=2`: two real worker processes behind one port, under a primary (cluster.ts), on SQLite
 * and on PostgreSQL without Redis. Every call here opens a connection of its own, so the primary's
 * round-robin spreads the calls over both workers. Both serve; a key deactivated through one is
 * refused by both within a second; failures spread over the workers add up to one limit; usage and
 * /metrics add up; a killed worker is restarted; SIGTERM ends them all within SHUTDOWN_TIMEOUT.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timeUntil } from "../support/instances.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { callAs, requestInFlight, runCli, type Served, serve } from "./process.js";

const OMS_READ = 10;
const FAILURES_ALLOWED = 4;
const WORKERS = 2;

/** One call on a connection of its own (closed after), so that consecutive calls reach both workers. */
function fresh(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { agent: false, headers: { ...headers, connection: "close" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A forward-auth check of `key` reading an order; from `from` (X-Forwarded-For, TRUST_PROXY is on) if given. */
function authorize(url: string, key: { appKey: string; appToken: string }, from?: string) {
  return fresh(url, "/v1/authorize", {
    ...(from === undefined ? {} : { "x-forwarded-for": from }),
    "x-api-appkey": key.appKey,
    "x-api-apptoken": key.appToken,
    "x-original-method": "GET",
    "x-original-uri": "/api/oms/pvt/orders/42",
  }).then((res) => res.status);
}

interface WorkerLine {
  worker: number;
  pid: number;
}

/** The workers that said they serve, from the JSON log lines (latest first for each number). */
function servingWorkers(log: string): WorkerLine[] {
  return log
    .split("\n")
    .filter((line) => line.includes('"worker serving"'))
    .map((line) => JSON.parse(line) as WorkerLine);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of one series in Prometheus text. */
function series(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

describe.each([
  ["SQLite", false],
  ["PostgreSQL", true],
] as const)("WORKERS=2 on %s", (_label, postgres) => {
  let env: Record<string, string>;
  let server: Served;
  let owner: { appKey: string; appToken: string };
  let database: TestDatabase | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "latchkey-workers-"));
    database = postgres ? await createTestDatabase("latchkey_workers") : undefined;
    env = {
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      RATE_LIMIT_FAILURES: String(FAILURES_ALLOWED),
      RATE_LIMIT_WINDOW: "600",
      SHUTDOWN_TIMEOUT: "5",
      // The limiter test counts failures from an address of its own (X-Forwarded-For).
      TRUST_PROXY: "true",
      ...(database ? { DATABASE_URL: database.url, LATCHKEY_SECRET: randomBytes(32).toString("hex") } : {}),
    };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout);
    server = await serve({ ...env, WORKERS: String(WORKERS) });
    const both = await timeUntil(async () => servingWorkers(server.log()).length >= WORKERS, 30_000);
    expect(both, server.log()).toBeGreaterThanOrEqual(0);
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null) await server.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("says at start how many workers it runs, and both serve", async () => {
    expect(server.log()).toContain(`"latchkey primary: starting ${WORKERS} workers"`);
    const pids = new Set(servingWorkers(server.log()).map((line) => line.pid));
    expect(pids.size).toBe(WORKERS);
    expect(pids.has(server.child.pid as number)).toBe(false);
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const res = await fresh(server.url, "/healthz");
      expect(res.status).toBe(200);
      seen.add((JSON.parse(res.body) as { worker: number }).worker);
    }
    expect([...seen].sort()).toEqual([1, 2]);
  });

  it("refuses a key on every worker within 1 s of its deactivation, and /metrics counts both", async () => {
    const created = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", {
      name: "erp",
      roles: [OMS_READ],
    });
    expect(created.status).toBe(201);
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    const before = series(
      (await fresh(server.url, "/metrics")).body,
      'latchkey_verifications_total{outcome="allowed"}',
    );
    // Both workers have the key cached as allowed.
    for (let i = 0; i < 8; i++) expect(await authorize(server.url, key)).toBe(200);
    const after = series(
      (await fresh(server.url, "/metrics")).body,
      'latchkey_verifications_total{outcome="allowed"}',
    );
    // The scraped worker answers for both: its own count alone would be about half.
    expect(after - before).toBe(8);

    const deactivated = await callAs(server.url, owner, "PATCH", `/v1/accounts/acme/keys/${key.appKey}`, {
      active: false,
    });
    expect(deactivated.status).toBe(200);
    // Each call from an address of its own: the refusals must not reach the failure limit (429).
    let caller = 0;
    const refusedEverywhere = await timeUntil(async () => {
      const statuses = await Promise.all(
        Array.from({ length: 6 }, () => authorize(server.url, key, `198.51.100.${++caller % 250}`)),
      );
      return statuses.every((status) => status === 401);
    });
    expect(refusedEverywhere).toBeGreaterThanOrEqual(0);
    expect(refusedEverywhere).toBeLessThan(1000);
  });

  it("adds up the usage counted on both workers", async () => {
    const created = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", {
      name: "counted",
      roles: [OMS_READ],
    });
    const key = { appKey: created.json.key.appKey, appToken: created.json.appToken };
    for (let i = 0; i < 10; i++) expect(await authorize(server.url, key)).toBe(200);
    // Each worker writes its counts every 5 s.
    let total = -1;
    const counted = await timeUntil(async () => {
      const usage = await callAs(
        server.url,
        owner,
        "GET",
        `/v1/accounts/acme/keys/${key.appKey}/usage?days=1`,
      );
      total = usage.json.total.ok;
      return total === 10;
    }, 15_000);
    expect(counted, `usage total ${total}`).toBeGreaterThanOrEqual(0);
  });

  it("adds up failures spread over the workers: the address is blocked on both at the limit", async () => {
    const wrong = { appKey: owner.appKey, appToken: `lkt_${randomBytes(24).toString("hex")}` };
    // An address of its own: the refused calls of the other tests counted under 127.0.0.1.
    const address = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push(await authorize(server.url, wrong, address));
    const answered = statuses.filter((status) => status === 401).length;
    // Each worker blocks on its own first failure past the shared count: at most one per worker
    // beyond the limit. Counted per worker, each would let FAILURES_ALLOWED + 1 through (10 here).
    expect(answered).toBeGreaterThan(FAILURES_ALLOWED);
    expect(answered).toBeLessThanOrEqual(FAILURES_ALLOWED + WORKERS);
    expect(statuses.slice(-4)).toEqual([429, 429, 429, 429]);
    // A valid key from the blocked address is still served, on either worker.
    for (let i = 0; i < 4; i++) expect(await authorize(server.url, owner, address)).toBe(200);
  });

  it("restarts a killed worker", async () => {
    const [first] = servingWorkers(server.log());
    expect(first).toBeDefined();
    const victim = first as WorkerLine;
    process.kill(victim.pid, "SIGKILL");
    const restarted = await timeUntil(
      async () =>
        servingWorkers(server.log()).some((line) => line.worker === victim.worker && line.pid !== victim.pid),
      15_000,
    );
    expect(restarted, server.log()).toBeGreaterThanOrEqual(0);
    expect(server.log()).toContain(`worker ${victim.worker} ended unexpectedly (SIGKILL); restarting in`);
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++)
      seen.add((JSON.parse((await fresh(server.url, "/healthz")).body) as { worker: number }).worker);
    expect([...seen].sort()).toEqual([1, 2]);
  });

  it("ends every worker and the primary after SIGTERM, within SHUTDOWN_TIMEOUT", async () => {
    const latest = new Map(servingWorkers(server.log()).map((line) => [line.worker, line.pid]));
    expect(latest.size).toBe(WORKERS);
    const started = performance.now();
    const code = await server.stop();
    const tookMs = performance.now() - started;
    expect(code, server.log()).toBe(0);
    expect(tookMs).toBeLessThan(5_000);
    for (const pid of latest.values()) expect(alive(pid)).toBe(false);
    expect(server.log().match(/"worker stopped"/g)?.length).toBe(WORKERS);
  });
});

describe("WORKERS=2 when a stop or a start goes wrong", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "latchkey-workers-"));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("exits 1 at SHUTDOWN_TIMEOUT when a request does not finish, with every worker gone", async () => {
    const server = await serve({ DATA_DIR: dataDir, LOG_LEVEL: "info", WORKERS: "2", SHUTDOWN_TIMEOUT: "2" });
    await timeUntil(async () => servingWorkers(server.log()).length >= 2, 30_000);
    const pids = servingWorkers(server.log()).map((line) => line.pid);
    // A client that announces a body and never sends it keeps its request in flight on one worker.
    const hanging = await requestInFlight(server.url);
    const signalled = performance.now();
    const code = await server.stop();
    const took = performance.now() - signalled;
    hanging.destroy();
    expect(code, server.log()).toBe(1);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(6000);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 60_000);

  it("exits 1 when the workers cannot start (the port is in use), without restarting them", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const result = await runCli(
        ["serve"],
        { DATA_DIR: dataDir, HOST: "127.0.0.1", PORT: String(port), WORKERS: "2" },
        { killAfterMs: 30_000 },
      );
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stdout).toContain("worker ended before it served: the start failed");
      expect(result.stdout).not.toContain("restarting in");
    } finally {
      taken.close();
    }
  }, 60_000);
});
