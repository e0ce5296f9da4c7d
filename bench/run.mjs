/**
 * Runs every latchkey benchmark and writes bench/results/latest.md (plus the raw summaries as
 * run-<time>.json). Needs a built dist/ (`npm run build`) and, for the PostgreSQL rows, a server at
 * BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test) allowed to create databases.
 *
 * dist/ is shared: `npm test` rebuilds it, so another engineer's build during a run would mix two
 * versions (a seed through the old store into a database migrated by the new CLI). Unless `--live`
 * is given, the run therefore works on a snapshot: dist/, bin/, catalog/, package.json and bench/
 * copied to a temporary directory (node_modules linked), removed afterwards.
 *
 * Usage: npm run bench
 *        node bench/run.mjs [--only management,cold-start] [--db sqlite,postgres] [--count 100000]
 *                           [--samples 300] [--warmup 30] [--rounds 2] [--runs 7] [--no-compare] [--live]
 */
import { execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchColdStart, coldStartOptions } from "./cold-start.mjs";
import { load, machine, onInterrupt, parseArgs, ROOT } from "./lib.mjs";
import { benchManagement, managementOptions } from "./management.mjs";

/** The checkout the run is about (the snapshot's origin when running in one). */
const SOURCE = process.env.BENCH_SOURCE ?? ROOT;
const RESULTS = join(SOURCE, "bench", "results");

function git(...args) {
  try {
    return execFileSync("git", args, { cwd: SOURCE, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Re-runs this script inside a private copy of the built service; resolves with its exit code. */
async function runInSnapshot() {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-bench-snapshot-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  for (const entry of ["dist", "bin", "catalog", "package.json"]) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true, preserveTimestamps: true });
  }
  cpSync(join(ROOT, "bench"), join(dir, "bench"), {
    recursive: true,
    filter: (src) => !src.startsWith(join(ROOT, "bench", "results")),
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  const child = spawn(process.execPath, [join(dir, "bench", "run.mjs"), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, BENCH_SOURCE: ROOT },
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
  const unregister = onInterrupt(async () => {
    child.kill("SIGTERM");
    await exited;
    remove();
  });
  try {
    return await exited;
  } finally {
    unregister();
    remove();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(ROOT, "dist", "cli", "index.js"))) {
    console.error("dist/ is missing: run `npm run build` first");
    process.exit(2);
  }
  if (!args.live && process.env.BENCH_SOURCE === undefined) process.exit(await runInSnapshot());
  const built = statSync(join(ROOT, "dist", "cli", "index.js")).mtime.toISOString();
  const only = String(args.only ?? "management,cold-start").split(",");
  mkdirSync(RESULTS, { recursive: true });
  const started = new Date();
  const loadStart = load();
  const sections = [];
  const raw = { started: started.toISOString(), machine: machine(), commit: git("rev-parse", "HEAD") };

  if (only.includes("management")) {
    const opts = managementOptions(args);
    const { results, markdown, plans } = await benchManagement(opts);
    raw.management = { opts, results: results.map(({ scenarios, ...rest }) => rest) };
    sections.push(`## Management API latency\n\n${markdown}`);
    if (plans) sections.push(`## Where a listing's time goes\n\n${plans}`);
  }
  if (only.includes("cold-start")) {
    // bin/ runs the bundle; the unbundled tsc output of the same build is started beside it.
    const unbundled = args["no-compare"]
      ? {}
      : { compare: join(ROOT, "dist"), compareLabel: "unbundled dist/" };
    const opts = { ...coldStartOptions(args), ...unbundled };
    const { starts, imports, markdown } = await benchColdStart(opts);
    raw.coldStart = { opts, rounds: starts.rounds, imports };
    sections.splice(1, 0, `## Cold start\n\n${markdown}`);
  }

  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
  const dirty = git("status", "--porcelain", "--", "src").length > 0 ? " (src/ modified)" : "";
  const header = [
    "# latchkey benchmarks: latest run",
    "",
    `- started ${started.toISOString()}, took ${minutes} min`,
    `- machine: ${raw.machine}; load average (1/5/15 min) at start ${loadStart.join(" ")}, at end ${load().join(" ")}`,
    `- commit ${raw.commit.slice(0, 12)}${dirty}, dist/ built ${built}`,
    `- command: \`${["node bench/run.mjs", ...process.argv.slice(2)].join(" ")}\``,
  ].join("\n");
  const markdown = `${header}\n\n${sections.join("\n\n")}\n`;
  writeFileSync(join(RESULTS, "latest.md"), markdown);
  writeFileSync(
    join(RESULTS, `run-${started.toISOString().replace(/[:.]/g, "-")}.json`),
    JSON.stringify(raw, null, 2),
  );
  console.log(markdown);
}

await main();
