/**
 * Export of many keys (SPEC §2.4): wall time and the server's peak RSS for each format, on SQLite
 * and PostgreSQL, at two key counts (so a flat memory profile shows as equal peaks). Each export
 * runs in a fresh `latchkey serve` process, whose VmHWM (peak resident set, from /proc) is read
 * after the download; the idle RSS before the export is reported beside it. Peaks vary from run to
 * run with the machine's load (garbage collection timing), so each export is repeated `--runs`
 * times, formats interleaved: the table gives the median time and the range of peaks.
 *
 * Usage: node bench/export.mjs [--counts 10000,100000] [--db sqlite,postgres] [--formats csv,xlsx,json]
 *        [--runs 3]
 *        BENCH_SERVER_NODE_OPTIONS=--max-old-space-size=64 node bench/export.mjs …  (heap-capped server)
 */
import { spawn } from "node:child_process";
import http from "node:http";
import { fmt, freePort, load, machine, median, parseArgs, ROOT, SERVE_ARGS, sleep, table } from "./lib.mjs";
import { prepareDatabase } from "./seed-store.mjs";
import { memoryOf } from "./verify-procs.mjs";

export const TARGETS = { csv: 5_000, xlsx: 20_000, json: 5_000, rssMb: 200 };

async function serve(env) {
  const port = await freePort();
  const child = spawn(process.execPath, SERVE_ARGS, {
    cwd: ROOT,
    env: {
      ...process.env,
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      ALERTS_INTERVAL: "86400",
      // As `npm start` runs the server (see README, Operations); BENCH_MALLOC_ARENA_MAX="" measures glibc's default.
      MALLOC_ARENA_MAX: process.env.BENCH_MALLOC_ARENA_MAX ?? "2",
      ...(process.env.BENCH_SERVER_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS }
        : {}),
      ...env,
      PORT: String(port),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let i = 0; i < 3000; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(10);
  }
  return {
    port,
    pid: child.pid,
    stop: () => new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM")),
  };
}

/** Downloads the export, counting bytes, without keeping them. */
function download(port, path, headers) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get({ host: "127.0.0.1", port, path, headers }, (res) => {
      let bytes = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
      });
      res.on("end", () => resolve({ status: res.statusCode, bytes, ms: performance.now() - started }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/**
 * The server's notifier makes its first pass 1 s after start (a scan of every key of the account);
 * the export starts after it, so that the peak is the export's. `BENCH_EXPORT_DELAY_MS=0` starts
 * it at once, overlapping that pass.
 */
const EXPORT_DELAY_MS = Number(process.env.BENCH_EXPORT_DELAY_MS ?? 3000);

async function benchOne(db, format) {
  const server = await serve(db.env);
  try {
    await sleep(EXPORT_DELAY_MS);
    const idleMb = memoryOf(server.pid).rssMb;
    const headers = { "x-api-appkey": db.creds.appKey, "x-api-apptoken": db.creds.appToken };
    const res = await download(
      server.port,
      `/v1/accounts/${db.account}/keys/export?format=${format}`,
      headers,
    );
    if (res.status !== 200) throw new Error(`export ${format} answered ${res.status}`);
    return { ...res, idleMb, peakMb: memoryOf(server.pid).hwmMb };
  } finally {
    await server.stop();
  }
}

export async function benchExport(opts) {
  const rows = [];
  for (const kind of opts.dbs) {
    for (const count of opts.counts) {
      const db = await prepareDatabase(kind, { count });
      try {
        const runs = Object.fromEntries(opts.formats.map((format) => [format, []]));
        for (let i = 0; i < opts.runs; i++) {
          for (const format of opts.formats)
            runs[format].push({ ...(await benchOne(db, format)), load: load()[0] });
        }
        for (const format of opts.formats) rows.push({ kind, count, format, runs: runs[format] });
      } finally {
        await db.drop();
      }
    }
  }
  return rows;
}

export function exportMarkdown(rows) {
  const range = (values) => {
    const [min, max] = [Math.min(...values), Math.max(...values)];
    return fmt(min) === fmt(max) ? fmt(min) : `${fmt(min)}–${fmt(max)}`;
  };
  const body = rows.map((r) => {
    const ms = median(r.runs.map((run) => run.ms));
    const peak = Math.max(...r.runs.map((run) => run.peakMb));
    return [
      r.kind,
      r.count.toLocaleString("en"),
      r.format,
      `${(ms / 1000).toFixed(2)} s`,
      `${(r.runs[0].bytes / 1e6).toFixed(1)} MB`,
      range(r.runs.map((run) => run.idleMb)),
      range(r.runs.map((run) => run.peakMb)),
      range(r.runs.map((run) => Number(run.load))),
      ms <= TARGETS[r.format] && peak <= TARGETS.rssMb ? "met" : "**missed**",
    ];
  });
  const header = [
    "database",
    "keys",
    "format",
    "wall time (median)",
    "file",
    "idle RSS MB",
    "peak RSS MB",
    "load (1 min)",
    "target",
  ];
  return [
    "## Export",
    "",
    `Targets: csv ≤ ${TARGETS.csv / 1000} s, xlsx ≤ ${TARGETS.xlsx / 1000} s, peak RSS ≤ ${TARGETS.rssMb} MB whatever the key count. One fresh server per export, ${rows[0]?.runs.length ?? 0} runs per row, formats interleaved; peak = the process's VmHWM after the download, range over the runs; the target needs every run's peak.`,
    "",
    table(header, body, ["l", "r", "l", "r", "r", "r", "r", "r", "l"]),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  const opts = {
    counts: String(args.counts ?? "10000,100000")
      .split(",")
      .map(Number),
    dbs: String(args.db ?? "sqlite,postgres").split(","),
    formats: String(args.formats ?? "csv,xlsx,json").split(","),
    runs: Number(args.runs ?? 3),
  };
  console.log(`machine: ${machine()}; load at start ${load().join(" ")}`);
  const rows = await benchExport(opts);
  console.log(exportMarkdown(rows));
  console.log(`load at end ${load().join(" ")}`);
}
