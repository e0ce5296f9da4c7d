/**
 * Throughput against size and against workers (`npm run bench:curves`): `/v1/authorize` under wrk
 * on databases holding 10,000, 100,000 and 1,000,000 keys, and with WORKERS=1 and 2 on the largest,
 * beside the bare `node:http` ceiling measured in the same rounds. Writes the figures and a chart.
 *
 * - Each database is seeded as `size.mjs` seeds (direct multi-row inserts, keys over
 *   max(10, keys/1000) accounts, one holding a fifth), once per size, and kept for the whole run.
 * - Every request carries a random one of HOT credentials sampled over every account of the
 *   database (the same count at every size, so that only the database's size changes). Each server
 *   starts fresh, fills its cache with the HOT keys (one request each), then WARMUP s of wrk, then
 *   the measured run: the warm-cache cost per verification at that size. The warm-up (7 s) outlasts
 *   the first usage write (5 s after start), which writes every key's first use to its own row at
 *   once; that write after a start is a transient of its own (bench/README.md), not the steady state
 *   measured here.
 * - Sizes: server pinned to CPU 0, wrk to CPU 1 (as `bench:verify`). Workers: nothing pinned (two
 *   workers need both cores; wrk shares them), every worker's cache filled (`workers.mjs`), and the
 *   ceiling unpinned in the same rounds.
 * - Rounds interleave every target (ceiling, each size; ceiling, each worker count), so that a
 *   change in the machine's load touches all alike; each figure is the median of the rounds.
 *
 * Options (environment): SIZES (10000,100000,1000000), DATABASES (sqlite,postgres), HOT (2000),
 * ROUNDS (3), DURATION (s, 8), WARMUP (s, 7), CONNECTIONS (50), WORKER_COUNTS (1,2; empty: no
 * workers phase), SVG (bench/scale.svg), BENCH_PG_URL. Output: the chart, a markdown table on
 * stdout and in bench/results/curves-latest.md, the raw runs in bench/results/curves-<time>.json.
 * `--chart FILE.json` draws the chart of a saved run again, without running anything.
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chart, summarise } from "./curves-chart.mjs";
import { load, machine, onInterrupt, ROOT, table } from "./lib.mjs";
import { prepare, sampleKeys } from "./size.mjs";
import { PEERS } from "./verify-config.mjs";
import { haveWrk, pinned, startServer } from "./verify-procs.mjs";
import { measuredRun, startLatchkey } from "./workers.mjs";

const env = process.env;
const num = (name, fallback) => (env[name] ? Number(env[name]) : fallback);
const list = (name, fallback) => (env[name] ?? fallback).split(",").filter(Boolean);
const CFG = {
  sizes: list("SIZES", "10000,100000,1000000").map(Number),
  databases: list("DATABASES", "sqlite,postgres"),
  hot: num("HOT", 2000),
  rounds: num("ROUNDS", 3),
  duration: num("DURATION", 8),
  warmup: num("WARMUP", 7),
  connections: num("CONNECTIONS", 50),
  workerCounts: list("WORKER_COUNTS", "1,2").map(Number),
  svg: env.SVG ?? join(ROOT, "bench", "scale.svg"),
};
const RESULTS = join(ROOT, "bench", "results");
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

/** The shape size.mjs seeds for `keys`: max(10, keys/1000) accounts, the first holding a fifth. */
const shapeOf = (keys) => ({
  keys,
  accounts: Math.max(10, Math.round(keys / 1000)),
  big: Math.round(keys / 5),
});

function startCeiling(cpu, logDir) {
  return startServer({
    name: "ceiling",
    argv: pinned(cpu, [process.execPath, "ceiling-server.mjs"]),
    cwd: PEERS,
    env: {},
    logDir,
  });
}

async function measure(target, start, opts) {
  const server = await start();
  try {
    const run = await measuredRun(server, { ...opts, ...CFG });
    return {
      ...target,
      rps: run.rps,
      p50_ms: run.p50_ms,
      p99_ms: run.p99_ms,
      non2xx: run.non2xx,
      errors: run.errors,
      server_cpu_us_per_req: run.server_cpu_us_per_req,
      busy_before_pct: run.busy_before_pct,
      load: run.load[0],
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install wrk)");
  const dir = mkdtempSync(join(tmpdir(), "latchkey-curves-"));
  onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const logDir = join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  log(`machine: ${machine()}; load ${load().join(" ")}; config ${JSON.stringify(CFG)}`);
  const runs = [];
  const seeded = [];
  const record = (r) => {
    runs.push(r);
    log(
      `${r.phase} ${r.database} ${r.target} round ${r.round}: ${Math.round(r.rps)} req/s, p99 ${r.p99_ms} ms, ${r.server_cpu_us_per_req.toFixed(0)} µs/req, busy before ${r.busy_before_pct}%`,
    );
  };
  try {
    for (const database of CFG.databases) {
      const dbs = [];
      try {
        for (const keys of CFG.sizes) {
          log(`${database}: seeding ${keys} keys (load ${load().join(" ")})`);
          const db = await prepare(database, shapeOf(keys));
          dbs.push({ keys, db });
          seeded.push({ database, keys, seconds: db.seedSeconds });
          const credsFile = join(dir, `${database}-${keys}.tsv`);
          const hot = sampleKeys(CFG.hot, 5, shapeOf(keys));
          writeFileSync(credsFile, `${hot.map(([k, t]) => `${k}\t${t}`).join("\n")}\n`);
          dbs.at(-1).credsFile = credsFile;
          log(`${database}: seeded ${keys} keys in ${db.seedSeconds.toFixed(1)} s`);
        }
        for (let round = 1; round <= CFG.rounds; round++) {
          const base = { phase: "size", database, round };
          const anyCreds = dbs[0].credsFile;
          record(
            await measure({ ...base, target: "ceiling" }, () => startCeiling(0, logDir), {
              credsFile: anyCreds,
              wrkCpu: 1,
            }),
          );
          for (const { keys, db, credsFile } of dbs)
            record(
              await measure(
                { ...base, target: String(keys), keys },
                () => startLatchkey({ name: `${database}-${keys}`, env: db.env, workers: 1, cpu: 0, logDir }),
                { credsFile, workers: 1, wrkCpu: 1 },
              ),
            );
        }
        const largest = dbs.at(-1);
        for (let round = 1; round <= CFG.rounds && CFG.workerCounts.length; round++) {
          const base = { phase: "workers", database, round, keys: largest.keys };
          record(
            await measure({ ...base, target: "ceiling" }, () => startCeiling(null, logDir), {
              credsFile: largest.credsFile,
              wrkCpu: null,
            }),
          );
          for (const workers of CFG.workerCounts)
            record(
              await measure(
                { ...base, target: `${workers}`, workers },
                () =>
                  startLatchkey({ name: `${database}-w${workers}`, env: largest.db.env, workers, logDir }),
                { credsFile: largest.credsFile, workers, wrkCpu: null },
              ),
            );
        }
      } finally {
        for (const { db } of dbs) await db.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const report = summarise(runs);
  mkdirSync(RESULTS, { recursive: true });
  const at = new Date().toISOString();
  writeFileSync(
    join(RESULTS, `curves-${at.replace(/[:.]/g, "-")}.json`),
    JSON.stringify({ at, machine: machine(), cfg: CFG, seeded, runs }, null, 2),
  );
  const md = markdown(report, seeded, at);
  writeFileSync(join(RESULTS, "curves-latest.md"), `${md}\n`);
  writeFileSync(CFG.svg, chart(report, at));
  console.log(md);
  log(`chart written to ${CFG.svg}`);
}

function markdown(report, seeded, at) {
  const rows = report.map((r) => [
    r.phase,
    r.database,
    r.target === "ceiling"
      ? "ceiling"
      : r.phase === "size"
        ? `${r.keys.toLocaleString("en")} keys`
        : `WORKERS=${r.workers}`,
    String(Math.round(r.rps)),
    r.target === "ceiling" ? "—" : `${(100 * r.ofCeiling).toFixed(1)} %`,
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.target === "ceiling" ? "—" : `${r.p99VsCeiling.toFixed(2)}×`,
    r.cpuUs.toFixed(0),
    r.each.join(", "),
    r.busy.map((b) => `${b}%`).join(", "),
    String(r.failures),
  ]);
  return [
    `# Throughput against size and workers, ${at}`,
    "",
    `${machine()}; load at end ${load().join(" ")}; ${CFG.rounds} rounds × ${CFG.duration} s, ${CFG.connections} connections, ${CFG.hot} hot keys.`,
    `Seeding: ${seeded.map((s) => `${s.database} ${s.keys.toLocaleString("en")} in ${s.seconds.toFixed(1)} s`).join("; ")}.`,
    "",
    table(
      [
        "phase",
        "database",
        "target",
        "req/s",
        "of ceiling",
        "p50 ms",
        "p99 ms",
        "p99 vs ceiling",
        "server CPU µs/req",
        "req/s of each round",
        "machine busy before",
        "non-2xx + errors",
      ],
      rows,
      ["l", "l", "l", "r", "r", "r", "r", "r", "r", "l", "l", "r"],
    ),
  ].join("\n");
}

/** `node bench/curves.mjs --chart results/curves-<time>.json`: draws the chart of a saved run again. */
function redraw(file) {
  const saved = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(CFG.svg, chart(summarise(saved.runs), saved.at));
  log(`chart of ${file} written to ${CFG.svg}`);
}

if (import.meta.filename === process.argv[1]) {
  if (process.argv[2] === "--chart") redraw(process.argv[3]);
  else await main();
}
