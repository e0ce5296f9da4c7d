/**
 * Cold start: time from spawning `node bin/latchkey.mjs serve` until GET /readyz answers 200
 * (polled every 2 ms), on SQLite with 100,000 keys, on an empty migrated SQLite database, on a
 * brand-new DATA_DIR (creates the file, migrates, writes the secret) and on an empty PostgreSQL.
 * The server logs `startupMs` (config → listening, inside the process); the rest is Node's own start
 * plus loading the modules.
 *
 * Then module loading on its own: `node -e "import('./dist/cli/index.js')"` against `node -e 0`, each
 * package imported alone in a fresh process, and all of them imported one after the other in one
 * process (the increments add up to the real cost, shared dependencies counted once).
 *
 * `node bin/latchkey.mjs` runs the bundle (dist/bundle/, scripts/bundle.mjs) with source maps on.
 * With `--compare DIST` (the `dist/` of a tsc build: its unbundled dist/cli/index.js, what bin/ ran
 * before the bundle, or another build before a change) and `--bundle FILE[,FILE…]` (other bundles,
 * e.g. `node scripts/bundle.mjs --no-minify --out bench/results/bundle-plain`), those builds are started
 * too, on both SQLite databases in the same interleaved rounds, so that they are measured under
 * the same load: bundles with source maps on, as bin/ starts them, the unbundled build without, as
 * bin/ ran it. Then idle memory: VmRSS and V8 heap of each SQLite server after
 * `--idle-ms` idle, `--idle-runs` starts per target (0: skipped).
 *
 * Usage: node bench/cold-start.mjs [--runs 7] [--rounds 2] [--count 100000] [--no-postgres]
 *        [--compare dist --compare-label "unbundled"] [--bundle bench/results/bundle-plain/latchkey.mjs]
 *        [--idle-ms 5000] [--idle-runs 3]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fmt, load, median, parseArgs, ROOT, range, sleep, startServe, table } from "./lib.mjs";
import { prepareDatabase } from "./seed-store.mjs";
import { memoryOf } from "./verify-procs.mjs";

export const COLD_START_TARGET_MS = 1500;

/**
 * Packages in roughly the order the CLI's import graph reaches them, then latchkey's own modules.
 * Packages that are not installed (the dependency list changes) are left out.
 */
const PACKAGES = [
  "commander",
  "zod",
  "pino",
  "@hono/node-server",
  "yaml",
  "hono",
  "@hono/zod-openapi",
  "kysely",
  "better-sqlite3",
  "pg",
  "nodemailer",
  "exceljs",
].filter((spec) => {
  try {
    import.meta.resolve(spec);
    return true;
  } catch {
    return false;
  }
});
const OWN = [
  "./dist/config.js",
  "./dist/storage/open.js",
  "./dist/http/app.js",
  "./dist/main.js",
  "./dist/cli/index.js",
];

function runNode(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stdout })
        : reject(new Error(`node ${args} → ${code}`)),
    );
  });
}

/** One start of `serve` on `env`: spawn → /readyz 200, and the server's own `startupMs`. */
async function startOnce(env, args) {
  const server = await startServe({ ...env, LOG_LEVEL: "info" }, args ? { args } : {});
  // The server may answer /readyz a moment before it writes its "listening" line.
  const listening = () =>
    server
      .log()
      .split("\n")
      .find((l) => l.includes("latchkey listening"));
  for (let waited = 0; !listening() && waited < 2000; waited += 10) await sleep(10);
  await server.stop();
  const line = listening();
  const startupMs = line ? JSON.parse(line).startupMs : Number.NaN;
  return { readyMs: server.readyMs, startupMs };
}

/**
 * VmRSS of a started server left idle for `idleMs` (the notifier's first pass and the timers of a
 * quiet server have run), then its V8 heap from /metrics (read after RSS: the scrape allocates).
 */
async function idleOnce(env, args, idleMs) {
  const server = await startServe(env, args ? { args } : {});
  try {
    await sleep(idleMs);
    const { rssMb } = memoryOf(server.pid);
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const bytes = (name) => Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "m"))?.[1]);
    return {
      rssMb,
      heapUsedMb: bytes("nodejs_heap_size_used_bytes") / 2 ** 20,
      heapTotalMb: bytes("nodejs_heap_size_total_bytes") / 2 ** 20,
    };
  } finally {
    await server.stop();
  }
}

async function coldStarts(opts, log) {
  log(
    `preparing databases (sqlite with ${opts.count} keys, empty sqlite${opts.postgres ? ", empty postgres" : ""})…`,
  );
  const big = await prepareDatabase("sqlite", { count: opts.count });
  const empty = await prepareDatabase("sqlite", { count: 0 });
  const pgEmpty = opts.postgres ? await prepareDatabase("postgres", { count: 0 }) : undefined;
  const targets = [
    { id: "sqlite-100k", label: `SQLite, ${opts.count.toLocaleString("en-US")} keys`, env: () => big.env },
    { id: "sqlite-empty", label: "SQLite, empty (migrated)", env: () => empty.env },
    {
      id: "sqlite-new",
      label: "SQLite, new DATA_DIR (creates, migrates, writes secret)",
      fresh: true,
      env: () => ({ DATA_DIR: mkdtempSync(join(tmpdir(), "latchkey-cold-")) }),
    },
  ];
  // Other builds, started as bin/latchkey.mjs starts them (source maps on for bundles),
  // on both SQLite databases in the same interleaved rounds: the unbundled dist/ of --compare (what
  // bin/ ran before the bundle) and the bundles of --bundle (e.g. a minified one).
  const variants = [
    ...(opts.compare
      ? [{ id: "compare", label: opts.compareLabel, file: resolve(opts.compare, "cli", "index.js") }]
      : []),
    ...(opts.bundle ?? []).map((file, i) => ({
      id: `bundle${i}`,
      label: `bundle ${file}`,
      file: resolve(file),
      maps: true,
    })),
  ];
  for (const variant of variants) {
    const args = [
      "--input-type=module",
      "-e",
      `${variant.maps ? "process.setSourceMapsEnabled(true); " : ""}const { run } = await import(${JSON.stringify(variant.file)}); await run(["serve"]);`,
    ];
    targets.push(
      {
        id: `sqlite-100k-${variant.id}`,
        label: `${targets[0].label}, ${variant.label}`,
        args,
        env: () => big.env,
      },
      {
        id: `sqlite-empty-${variant.id}`,
        label: `${targets[1].label}, ${variant.label}`,
        args,
        env: () => empty.env,
      },
    );
  }
  if (pgEmpty)
    targets.push({ id: "postgres-empty", label: "PostgreSQL, empty (migrated)", env: () => pgEmpty.env });
  try {
    const rounds = [];
    for (let r = 0; r < opts.rounds; r++) {
      const round = { loadBefore: load(), runs: Object.fromEntries(targets.map((t) => [t.id, []])) };
      // Interleaved, so that a burst of load elsewhere hits every target alike.
      for (let i = 0; i < opts.runs; i++) {
        for (const target of targets) {
          const env = target.env();
          try {
            round.runs[target.id].push(await startOnce(env, target.args));
          } finally {
            if (target.fresh) rmSync(env.DATA_DIR, { recursive: true, force: true });
          }
        }
      }
      round.loadAfter = load();
      rounds.push(round);
      log(`round ${r + 1} done`);
    }
    const measured = targets.filter((t) => !t.fresh && t.id !== "postgres-empty");
    const idle = {
      idleMs: opts.idleMs,
      loadBefore: load(),
      runs: Object.fromEntries(measured.map((t) => [t.id, []])),
    };
    if (opts.idleRuns > 0) log(`idle memory: ${opts.idleRuns} starts per target, ${opts.idleMs} ms idle…`);
    for (let i = 0; i < opts.idleRuns; i++) {
      for (const target of measured) {
        idle.runs[target.id].push(await idleOnce(target.env(), target.args, opts.idleMs));
      }
    }
    idle.loadAfter = load();
    return { targets, rounds, idle };
  } finally {
    await big.drop();
    await empty.drop();
    await pgEmpty?.drop();
  }
}

async function timesOf(runs, args, pick = (r) => r.ms) {
  const values = [];
  for (let i = 0; i < runs; i++) values.push(pick(await runNode(args)));
  return values;
}

const TIME_IMPORT = (spec) =>
  `const t = performance.now(); await import(${JSON.stringify(spec)}); console.log(performance.now() - t);`;

const TIME_SEQUENCE = (specs) =>
  `const out = []; for (const s of ${JSON.stringify(specs)}) { const t = performance.now(); await import(s); ` +
  "out.push(performance.now() - t); } console.log(JSON.stringify(out));";

async function importTimes(opts, log) {
  log("timing module loading…");
  const runs = opts.runs;
  const processes = {
    "node -e 0 (process start and exit)": await timesOf(runs, ["-e", "0"]),
  };
  for (const [what, spec] of [
    ["the bundle bin/latchkey.mjs runs", "./dist/bundle/latchkey.mjs"],
    ["unbundled (tsc's dist/)", "./dist/cli/index.js"],
    ...(opts.bundle ?? []).map((file) => [`bundle ${file}`, resolve(file)]),
  ]) {
    processes[`node -e "import('${spec}')" (${what})`] = await timesOf(runs, [
      "-e",
      `import(${JSON.stringify(spec)})`,
    ]);
    processes[`in-process \`await import('${spec}')\``] = await timesOf(
      runs,
      ["--input-type=module", "-e", TIME_IMPORT(spec)],
      (r) => Number(r.stdout),
    );
  }
  const alone = {};
  for (const spec of PACKAGES) {
    alone[spec] = await timesOf(runs, ["--input-type=module", "-e", TIME_IMPORT(spec)], (r) =>
      Number(r.stdout),
    );
  }
  const sequence = [...PACKAGES, ...OWN];
  const steps = sequence.map(() => []);
  for (let i = 0; i < runs; i++) {
    const { stdout } = await runNode(["--input-type=module", "-e", TIME_SEQUENCE(sequence)]);
    for (const [j, ms] of JSON.parse(stdout).entries()) steps[j]?.push(ms);
  }
  return { processes, alone, sequence: sequence.map((spec, j) => ({ spec, times: steps[j] })) };
}

export async function benchColdStart(opts) {
  const log = (msg) => console.error(`[cold-start] ${msg}`);
  const starts = await coldStarts(opts, log);
  const imports = await importTimes(opts, log);
  return { starts, imports, markdown: coldStartMarkdown(starts, imports, opts) };
}

function idleMarkdown(starts) {
  const ids = Object.keys(starts.idle?.runs ?? {}).filter((id) => starts.idle.runs[id].length > 0);
  if (ids.length === 0) return [];
  const label = (id) => starts.targets.find((t) => t.id === id)?.label ?? id;
  const span = (values) => `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
  const rows = ids.map((id) => {
    const runs = starts.idle.runs[id];
    return [
      label(id),
      span(runs.map((r) => r.rssMb)),
      span(runs.map((r) => r.heapUsedMb)),
      span(runs.map((r) => r.heapTotalMb)),
    ];
  });
  return [
    `Idle memory: a started server left idle ${fmt(starts.idle.idleMs / 1000)} s, ${starts.idle.runs[ids[0]].length} starts per row ` +
      `(interleaved); MB, median (min–max); load average ${starts.idle.loadBefore.join(" ")} → ${starts.idle.loadAfter.join(" ")}.`,
    "",
    table(["server", "VmRSS", "V8 heap used", "V8 heap total"], rows, ["l", "r", "r", "r"]),
    "",
  ];
}

export function coldStartMarkdown(starts, imports, opts) {
  const rows = starts.targets.map((target) => {
    const per = starts.rounds.map((round) => round.runs[target.id]);
    const ready = per.map((runs) => runs.map((r) => r.readyMs));
    const inside = per.map((runs) => runs.map((r) => r.startupMs));
    return [
      target.label,
      range(ready.map(median)),
      range(ready.map((v) => Math.max(...v))),
      range(inside.map(median)),
    ];
  });
  const worst = Math.max(
    ...starts.rounds.flatMap((round) => round.runs["sqlite-100k"].map((r) => r.readyMs)),
    ...starts.rounds.flatMap((round) => round.runs["sqlite-empty"].map((r) => r.readyMs)),
  );
  const loads = starts.rounds.map((round) => `${round.loadBefore.join(" ")} → ${round.loadAfter.join(" ")}`);
  const lines = [
    `Spawn → first 200 from /readyz; ${opts.runs} runs per round, ${opts.rounds} rounds, targets interleaved; ` +
      "ms, range over rounds. `startupMs` is logged by the server: config read → listening (store open, " +
      "migrations check, services, routes).",
    "",
    table(["database", "median", "max", "of which startupMs (median)"], rows, ["l", "r", "r", "r"]),
    "",
    `- SQLite target ≤ ${fmt(COLD_START_TARGET_MS)} ms: worst single start ${fmt(worst)} ms, ` +
      `**${worst <= COLD_START_TARGET_MS ? "met" : "missed"}**; load average per round: ${loads.join("; ")}`,
    "",
    ...idleMarkdown(starts),
    `Module loading (median of ${opts.runs}, ms):`,
    "",
    table(
      ["what", "ms"],
      Object.entries(imports.processes).map(([what, v]) => [what, fmt(median(v))]),
      ["l", "r"],
    ),
    "",
    table(
      ["module", "alone, fresh process", "increment, loaded in this order"],
      imports.sequence.map(({ spec, times }) => [
        `\`${spec}\``,
        imports.alone[spec] ? fmt(median(imports.alone[spec])) : "",
        fmt(median(times)),
      ]),
      ["l", "r", "r"],
    ),
  ];
  return lines.join("\n");
}

export function coldStartOptions(args) {
  return {
    runs: Number(args.runs ?? 7),
    rounds: Number(args.rounds ?? 2),
    count: Number(args.count ?? 100_000),
    postgres: !args["no-postgres"],
    ...(typeof args.bundle === "string" ? { bundle: args.bundle.split(",") } : {}),
    idleMs: Number(args["idle-ms"] ?? 5000),
    idleRuns: Number(args["idle-runs"] ?? 3),
    ...(typeof args.compare === "string"
      ? { compare: args.compare, compareLabel: String(args["compare-label"] ?? `build in ${args.compare}`) }
      : {}),
  };
}

if (import.meta.filename === process.argv[1]) {
  const { markdown } = await benchColdStart(coldStartOptions(parseArgs(process.argv.slice(2))));
  console.log(markdown);
}
