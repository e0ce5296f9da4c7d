/**
 * `WORKERS=1` against `WORKERS=2` (`npm run bench:workers`): `/v1/authorize` throughput and p99
 * under wrk (one thread, keep-alive connections, a random one of KEYS seeded keys per request), on
 * SQLite and on PostgreSQL, with every worker's key cache warm: before the runs, every key is sent
 * once over each of 2 × WORKERS keep-alive connections (the primary hands connections to the
 * workers in turn, so each worker sees every key). Rounds interleave the worker counts, so a change in the machine's load
 * touches both alike; each figure is the median over the rounds.
 *
 * Nothing is pinned: two workers need both cores, and wrk runs on the same machine, so on a 2-core
 * machine wrk takes part of the CPU the second worker would use. Busy % of the machine is taken
 * before each run while the server idles (what other processes use) and printed beside it.
 *
 * Options (environment): DURATION (s per run, 10), WARMUP (s, 3), ROUNDS (3), CONNECTIONS (50),
 * KEYS (1000, as the peer harness), DATABASES (sqlite,postgres), WORKER_COUNTS (1,2), BENCH_PG_URL.
 * Output: a markdown table on stdout; bench/results/workers-<time>.json (git-ignored).
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_SECRET, load, machine, median, onInterrupt, ROOT, SERVE_ARGS, table } from "./lib.mjs";
import { cpuMsOf, haveWrk, machineBusyPct, pinned, startServer, wrk } from "./verify-procs.mjs";
import { preparePostgres, seedInto } from "./verify-seed.mjs";

const env = process.env;
const num = (name, fallback) => (env[name] ? Number(env[name]) : fallback);
const CFG = {
  duration: num("DURATION", 10),
  warmup: num("WARMUP", 3),
  rounds: num("ROUNDS", 3),
  connections: num("CONNECTIONS", 50),
  keys: num("KEYS", 1_000),
  databases: (env.DATABASES ?? "sqlite,postgres").split(","),
  workerCounts: (env.WORKER_COUNTS ?? "1,2").split(",").map(Number),
};
const LUA = join(ROOT, "bench", "verify-wrk.lua");
const RESULTS = join(ROOT, "bench", "results");
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

async function prepare(database, dir) {
  const credsFile = join(dir, `${database}-creds.tsv`);
  if (database === "postgres") {
    const seeded = await preparePostgres({ count: CFG.keys, credsFile });
    return { credsFile, env: seeded.env, drop: seeded.drop };
  }
  const dataDir = join(dir, "sqlite");
  mkdirSync(dataDir, { recursive: true });
  await seedInto({ kind: "sqlite", file: join(dataDir, "latchkey.db") }, { count: CFG.keys, credsFile });
  return { credsFile, env: { DATA_DIR: dataDir, LATCHKEY_SECRET: BENCH_SECRET }, drop: async () => {} };
}

/** CPU ms used so far by the server: the primary and its workers (a single process alone). */
export function serverCpuMs(pid) {
  const children = spawnSync("pgrep", ["-P", String(pid)])
    .stdout.toString()
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return [pid, ...children.map(Number)].reduce((sum, p) => sum + (cpuMsOf(p) ?? 0), 0);
}

/** Every key over each of `connections` keep-alive connections of their own, in parallel. */
export async function warmEveryWorker(port, credsFile, connections) {
  const creds = readFileSync(credsFile, "utf8")
    .split("\n")
    .filter((line) => line.includes("\t"))
    .map((line) => line.split("\t"));
  const one = (agent, [appKey, appToken]) =>
    new Promise((resolve, reject) => {
      const headers = {
        "x-api-appkey": appKey,
        "x-api-apptoken": appToken,
        "x-original-method": "GET",
        "x-original-uri": "/api/oms/pvt/orders/123",
      };
      http
        .get({ host: "127.0.0.1", port, path: "/v1/authorize", agent, headers }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (const cred of creds) await one(agent, cred);
      agent.destroy();
    }),
  );
}

/**
 * `latchkey serve` from dist/ with WORKERS=`workers`, pinned to `cpu` (null: not pinned), as every
 * throughput benchmark starts it: MALLOC_ARENA_MAX=2, warnings only, no alerts pass during the
 * runs, and no failure limit (failures are not what is measured; every credential is valid).
 */
export function startLatchkey({ name, env: dbEnv, workers, cpu = null, logDir }) {
  return startServer({
    name,
    argv: pinned(cpu, [process.execPath, ...SERVE_ARGS]),
    env: {
      ...dbEnv,
      MALLOC_ARENA_MAX: "2",
      LOG_LEVEL: "warn",
      ALERTS_INTERVAL: "86400",
      WORKERS: String(workers),
      RATE_LIMIT_FAILURES: "0",
    },
    readyPath: "/readyz",
    logDir,
  });
}

/**
 * One measured run of `/v1/authorize` against a started server: when it is latchkey (`workers`
 * given), every worker's cache filled first (each key once over 2 × workers connections); `warmup`
 * s of wrk, then `duration` s. Reports CPU per request of the server's processes (the primary and
 * its workers; robust to other processes taking CPU) and how busy the machine was just before
 * (others' work).
 */
export async function measuredRun(
  server,
  { credsFile, workers = null, wrkCpu = null, connections, warmup, duration },
) {
  if (workers) await warmEveryWorker(server.port, credsFile, 2 * workers);
  const common = {
    url: `http://127.0.0.1:${server.port}/v1/authorize`,
    script: LUA,
    env: { WRK_KEYS: credsFile, WRK_MODE: "authorize" },
    connections,
    cpu: wrkCpu,
  };
  await wrk({ ...common, duration: warmup });
  const busyBefore = await machineBusyPct(500);
  const cpuBefore = serverCpuMs(server.pid);
  const result = await wrk({ ...common, duration });
  if (result.error) throw new Error(`wrk: ${result.error}`);
  const cpuUs = ((serverCpuMs(server.pid) - cpuBefore) * 1000) / result.responses;
  return { ...result, server_cpu_us_per_req: cpuUs, busy_before_pct: busyBefore, load: load() };
}

async function runOnce(database, prepared, workers, logDir) {
  const server = await startLatchkey({ name: `${database}-w${workers}`, env: prepared.env, workers, logDir });
  try {
    return await measuredRun(server, { credsFile: prepared.credsFile, workers, ...CFG });
  } finally {
    await server.stop();
  }
}

async function main() {
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install wrk)");
  const dir = mkdtempSync(join(tmpdir(), "latchkey-workers-bench-"));
  onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const logDir = join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  log(`machine: ${machine()}; load ${load().join(" ")}; config ${JSON.stringify(CFG)}`);
  const runs = [];
  try {
    for (const database of CFG.databases) {
      log(`${database}: seeding ${CFG.keys} keys`);
      const prepared = await prepare(database, dir);
      try {
        for (let round = 1; round <= CFG.rounds; round++)
          for (const workers of CFG.workerCounts) {
            const result = await runOnce(database, prepared, workers, logDir);
            log(
              `${database} WORKERS=${workers} round ${round}: ${Math.round(result.rps)} req/s, p99 ${result.p99_ms} ms, non-2xx ${result.non2xx}, busy before ${result.busy_before_pct}%`,
            );
            runs.push({ database, workers, round, ...result });
          }
      } finally {
        await prepared.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [];
  for (const database of CFG.databases) {
    const base = median(runs.filter((r) => r.database === database && r.workers === 1).map((r) => r.rps));
    for (const workers of CFG.workerCounts) {
      const mine = runs.filter((r) => r.database === database && r.workers === workers);
      const rps = median(mine.map((r) => r.rps));
      rows.push([
        database,
        String(workers),
        String(Math.round(rps)),
        Number.isFinite(base) && base > 0 ? `${(rps / base).toFixed(2)}×` : "—",
        median(mine.map((r) => r.p50_ms)).toFixed(2),
        median(mine.map((r) => r.p99_ms)).toFixed(2),
        median(mine.map((r) => r.server_cpu_us_per_req)).toFixed(0),
        mine.map((r) => String(Math.round(r.rps))).join(", "),
        mine.map((r) => `${r.busy_before_pct}%`).join(", "),
        String(mine.reduce((sum, r) => sum + r.non2xx + r.errors, 0)),
      ]);
    }
  }
  const text = table(
    [
      "database",
      "WORKERS",
      "req/s",
      "vs 1",
      "p50 ms",
      "p99 ms",
      "server CPU µs/req",
      "req/s of each round",
      "machine busy before each run",
      "non-2xx + errors",
    ],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "l", "l", "r"],
  );
  console.log(text);
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(
    join(RESULTS, `workers-${stamp}.json`),
    JSON.stringify({ machine: machine(), cfg: CFG, runs }, null, 2),
  );
}

if (import.meta.filename === process.argv[1]) await main();
