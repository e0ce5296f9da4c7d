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
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, load, machine, median, onInterrupt, ROOT, table } from "./lib.mjs";
import { prepare, sampleKeys } from "./size.mjs";
import { PEERS } from "./verify-config.mjs";
import { cpuMsOf, haveWrk, machineBusyPct, pinned, startServer, wrk } from "./verify-procs.mjs";
import { serverCpuMs, warmEveryWorker } from "./workers.mjs";

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
const LUA = join(ROOT, "bench", "verify-wrk.lua");
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

function startLatchkey(name, dbEnv, workers, cpu, logDir) {
  return startServer({
    name,
    argv: pinned(cpu, [process.execPath, BIN, "serve"]),
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
 * One measured run against a started server: caches filled (each key once over 2 × workers
 * connections; none for the ceiling), WARMUP s of wrk, then DURATION s; CPU per request of the
 * server's processes, and how busy the machine was just before (others' work).
 */
async function runAgainst(server, { credsFile, workers, wrkCpu, path }) {
  if (workers) await warmEveryWorker(server.port, credsFile, 2 * workers);
  const common = {
    url: `http://127.0.0.1:${server.port}${path}`,
    script: LUA,
    env: { WRK_KEYS: credsFile, WRK_MODE: "authorize" },
    connections: CFG.connections,
    cpu: wrkCpu,
  };
  await wrk({ ...common, duration: CFG.warmup });
  const busyBefore = await machineBusyPct(500);
  const cpuBefore = workers ? serverCpuMs(server.pid) : cpuMsOf(server.pid);
  const result = await wrk({ ...common, duration: CFG.duration });
  if (result.error) throw new Error(`wrk: ${result.error}`);
  const cpuAfter = workers ? serverCpuMs(server.pid) : cpuMsOf(server.pid);
  return {
    rps: result.rps,
    p50_ms: result.p50_ms,
    p99_ms: result.p99_ms,
    non2xx: result.non2xx,
    errors: result.errors,
    server_cpu_us_per_req: ((cpuAfter - cpuBefore) * 1000) / result.responses,
    busy_before_pct: busyBefore,
  };
}

async function measure(target, start, opts) {
  const server = await start();
  try {
    return { ...target, ...(await runAgainst(server, opts)), load: load()[0] };
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
        const path = "/v1/authorize";
        for (let round = 1; round <= CFG.rounds; round++) {
          const base = { phase: "size", database, round };
          const anyCreds = dbs[0].credsFile;
          record(
            await measure({ ...base, target: "ceiling" }, () => startCeiling(0, logDir), {
              credsFile: anyCreds,
              wrkCpu: 1,
              path,
            }),
          );
          for (const { keys, db, credsFile } of dbs)
            record(
              await measure(
                { ...base, target: String(keys), keys },
                () => startLatchkey(`${database}-${keys}`, db.env, 1, 0, logDir),
                { credsFile, workers: 1, wrkCpu: 1, path },
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
              path,
            }),
          );
          for (const workers of CFG.workerCounts)
            record(
              await measure(
                { ...base, target: `${workers}`, workers },
                () => startLatchkey(`${database}-w${workers}`, largest.db.env, workers, null, logDir),
                { credsFile: largest.credsFile, workers, wrkCpu: null, path },
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

/** Medians of the rounds per phase, database and target, with the ceiling's of the same rounds. */
export function summarise(runs) {
  const out = [];
  const key = (r) => `${r.phase}|${r.database}|${r.target}`;
  const groups = new Map();
  for (const r of runs) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  for (const [, rs] of groups) {
    const [{ phase, database, target, keys, workers }] = rs;
    const ceiling = groups.get(`${phase}|${database}|ceiling`) ?? [];
    const rps = median(rs.map((r) => r.rps));
    const p99 = median(rs.map((r) => r.p99_ms));
    const ceilingRps = median(ceiling.map((r) => r.rps));
    const ceilingP99 = median(ceiling.map((r) => r.p99_ms));
    out.push({
      phase,
      database,
      target,
      keys,
      workers,
      rps,
      p50: median(rs.map((r) => r.p50_ms)),
      p99,
      cpuUs: median(rs.map((r) => r.server_cpu_us_per_req)),
      ofCeiling: rps / ceilingRps,
      p99VsCeiling: p99 / ceilingP99,
      each: rs.map((r) => Math.round(r.rps)),
      busy: rs.map((r) => r.busy_before_pct),
      failures: rs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    });
  }
  return out;
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

// --- the chart: four panels (req/s and p99 against keys, and against workers), plain SVG ---

const COLOURS = { sqlite: "#1f77b4", postgres: "#d62728", ceiling: "#555" };
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v || 1));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * One panel at (x0, y0): `xs` are the category labels placed evenly (sizes on a log scale are
 * evenly spaced decades), `series` are {name, colour, dashed, values[]} aligned with `xs`.
 */
function panel({ x0, y0, w, h, title, xs, xLabel, yLabel, series }) {
  const top = y0 + 28;
  const left = x0 + 56;
  const pw = w - 72;
  const ph = h - 72;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const yMax = niceMax(Math.max(...all, 0) * 1.1);
  const px = (i) => left + (xs.length === 1 ? pw / 2 : (i * pw) / (xs.length - 1));
  const py = (v) => top + ph - (v / yMax) * ph;
  const out = [
    `<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (yMax * t) / 4;
    const y = py(v);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : +v.toFixed(2))}</text>`,
    );
  }
  for (const [i, label] of xs.entries())
    out.push(`<text x="${px(i)}" y="${top + ph + 16}" text-anchor="middle">${esc(label)}</text>`);
  out.push(
    `<line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="#333"/>`,
    `<text x="${left + pw / 2}" y="${top + ph + 34}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(${x0 + 12} ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  for (const s of series) {
    const points = s.values.map((v, i) => (Number.isFinite(v) ? [px(i), py(v)] : null)).filter(Boolean);
    if (!points.length) continue;
    out.push(
      `<polyline fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} points="${points.map((p) => p.join(",")).join(" ")}"/>`,
      ...points.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="3.5" fill="${s.colour}"/>`),
    );
  }
  return out.join("\n");
}

export function chart(report, at) {
  const sizes = [...new Set(report.filter((r) => r.phase === "size" && r.keys).map((r) => r.keys))].sort(
    (a, b) => a - b,
  );
  const workerCounts = [
    ...new Set(report.filter((r) => r.phase === "workers" && r.workers).map((r) => r.workers)),
  ].sort((a, b) => a - b);
  const databases = [...new Set(report.map((r) => r.database))];
  const pick = (phase, database, target, field) =>
    report.find((r) => r.phase === phase && r.database === database && r.target === target)?.[field];
  const seriesFor = (phase, field, xs, targetOf) => [
    ...databases.map((database) => ({
      name: database,
      colour: COLOURS[database] ?? "#2ca02c",
      values: xs.map((x) => pick(phase, database, targetOf(x), field)),
    })),
    {
      // One line: the ceiling's median over every database's rounds of this phase.
      name: "ceiling",
      colour: COLOURS.ceiling,
      dashed: true,
      values: xs.map(() => median(databases.map((database) => pick(phase, database, "ceiling", field)))),
    },
  ];
  const sizeLabels = sizes.map((k) => (k >= 1e6 ? `${k / 1e6}M` : `${k / 1e3}k`));
  const W = 440;
  const H = 260;
  const largest = sizes.at(-1) ?? 0;
  const panels = [
    { title: "/v1/authorize req/s, warm cache", field: "rps", yLabel: "req/s" },
    { title: "/v1/authorize p99 (ms)", field: "p99", yLabel: "p99 ms" },
  ];
  const body = [];
  for (const [row, p] of panels.entries()) {
    body.push(
      panel({
        x0: 0,
        y0: 40 + row * H,
        w: W,
        h: H,
        title: `${p.title} against keys stored`,
        xs: sizeLabels,
        xLabel: "keys in the database (1 worker, pinned to one core)",
        yLabel: p.yLabel,
        series: seriesFor("size", p.field, sizes, (k) => String(k)),
      }),
    );
    if (workerCounts.length)
      body.push(
        panel({
          x0: W,
          y0: 40 + row * H,
          w: W,
          h: H,
          title: `${p.title} against WORKERS`,
          xs: workerCounts.map(String),
          xLabel: `WORKERS (${largest.toLocaleString("en")} keys, unpinned, wrk on the same cores)`,
          yLabel: p.yLabel,
          series: seriesFor("workers", p.field, workerCounts, String),
        }),
      );
  }
  const legend = [
    ...databases.map((d) => ({ name: d, colour: COLOURS[d] ?? "#2ca02c" })),
    { name: "bare node:http ceiling, same rounds", colour: COLOURS.ceiling, dashed: true },
  ];
  const legendSvg = legend
    .map(
      (l, i) =>
        `<line x1="${20 + i * 200}" y1="${40 + 2 * H + 14}" x2="${48 + i * 200}" y2="${40 + 2 * H + 14}" stroke="${l.colour}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ""}/><text x="${54 + i * 200}" y="${40 + 2 * H + 18}">${esc(l.name)}</text>`,
    )
    .join("\n");
  const width = workerCounts.length ? 2 * W : W;
  const height = 40 + 2 * H + 36;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">latchkey /v1/authorize: medians of interleaved rounds, ${esc(at.slice(0, 16).replace("T", " "))} UTC (bench/curves.mjs)</text>
${body.join("\n")}
${legendSvg}
</svg>
`;
}

if (import.meta.filename === process.argv[1]) await main();
