/**
 * The headline benchmark of the verification path (`npm run bench:verify`). In one session:
 *
 * 1. HTTP throughput, interleaved: rounds over every target and tool, so ratios hold on a noisy
 *    machine. Targets: the bare node:http ceiling and better-auth's API-key plugin (bench/peers/,
 *    whose packages are installed there with `npm ci` on first use), and latchkey's `/v1/authorize` and
 *    `/v1/verify` on SQLite and on PostgreSQL (fresh databases, 10,000 keys seeded through the
 *    Store). Every request carries a random one of 10,000 keys; 50 keep-alive connections; servers
 *    pinned to one CPU, load generators (wrk, autocannon) to the other.
 * 2. In-process: the verification decision against a bare SHA-256 + Map.get bound.
 * 3. Cold cache on SQLite with 1,000,000 keys (seeded once into a cached file, reused): per-request
 *    latency of keys the server process has not seen, then the same keys warm.
 * 4. RSS of that server once 100,000 keys are cached (one request per key).
 *
 * Options (environment): DURATION (s per measured run, 5), ROUNDS (3), WARMUP (s, 2), CONNECTIONS
 * (50), TOOLS (wrk,autocannon), KEYS (10000), ONLY (any of ceiling, better-auth, sqlite, postgres,
 * micro, cold, rss; default all), ENDPOINTS (authorize,verify), COLD_KEYS (1000000), COLD_SAMPLES
 * (2000), RSS_KEYS (100000), CACHE_DIR (/tmp/latchkey-verify-cache), PIN (1), PROFILE (0; 1 starts
 * latchkey servers with --cpu-prof and summarises the profiles), LIVE (0; 1 runs on the checkout's
 * dist/ instead of a snapshot), REFRESH (1: one request per key before each server's runs of a
 * round, so that cache entries, which expire together 60 s after their load, do not expire inside
 * a measured run; 0: runs meet the expiries where they fall), SETTLE (1: before each measured run,
 * wait until the previous run's server has written that run's usage counters and every server is
 * idle, so that no run pays for another's left-over work on the shared core; 0: no wait), QUIET_PCT + QUIET_WAIT_S (before each measured run, wait up to
 * QUIET_WAIT_S s until the machine is less than QUIET_PCT % busy), BENCH_PG_URL.
 *
 * Output: bench/results/verify-latest.md and verify-<time>.json (git-ignored). Credentials of the
 * bench databases live in temporary files (and, for the 1M-key cache, next to the cached database).
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
import { BENCH_SECRET, load, machine, onInterrupt, ROOT } from "./lib.mjs";
import {
  CFG,
  coldSeed,
  ensurePeersInstalled,
  env,
  has,
  LUA,
  latchkeyArgv,
  latchkeyEnv,
  log,
  num,
  PEERS,
  RESULTS,
  SOURCE,
} from "./verify-config.mjs";
import { httpPhase } from "./verify-http.mjs";
import {
  cpuMsOf,
  haveWrk,
  measured,
  memoryOf,
  nodeJson,
  profilesIn,
  startServer,
  wrk,
} from "./verify-procs.mjs";
import { report } from "./verify-report.mjs";

/**
 * Re-runs this script on a private copy of dist/ (other engineers rebuild it while tests run).
 * Installed packages are linked, not copied: latchkey's and those of bench/peers/.
 */
async function runInSnapshot() {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-vbench-snapshot-"));
  const peerModules = join(PEERS, "node_modules");
  for (const entry of ["dist", "bin", "catalog", "package.json"])
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  cpSync(join(ROOT, "bench"), join(dir, "bench"), {
    recursive: true,
    filter: (src) => !src.startsWith(RESULTS) && !src.startsWith(peerModules),
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  symlinkSync(peerModules, join(dir, "bench", "peers", "node_modules"), "dir");
  const child = spawn(process.execPath, [join(dir, "bench", "verify.mjs")], {
    stdio: "inherit",
    env: { ...env, BENCH_SOURCE: ROOT },
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
  onInterrupt(async () => {
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const code = await exited;
  rmSync(dir, { recursive: true, force: true });
  return code;
}

async function microPhase(out, files, work) {
  log("in-process micro-benchmark");
  const r = await nodeJson(
    join(ROOT, "bench", "verify-micro.mjs"),
    [
      "--sqlite",
      join(work, "sqlite", "latchkey.db"),
      "--keys",
      files.creds,
      "--ms",
      String(num("MICRO_MS", CFG.rounds >= 3 ? 500 : 300)),
      "--runs",
      String(num("MICRO_RUNS", CFG.rounds >= 3 ? 5 : 3)),
    ],
    { cpu: CFG.serverCpu, cwd: ROOT, timeoutMs: 300_000 },
  );
  out.micro = r;
  if (r.error) log(`micro: ERROR ${r.error}`);
}

async function coldPhase(out, work, profileDir, logDir) {
  const dir = coldSeed();
  const name = "latchkey-sqlite-1m";
  const server = await startServer({
    name,
    argv: latchkeyArgv(name, profileDir),
    cwd: ROOT,
    env: latchkeyEnv({ DATA_DIR: dir, LATCHKEY_SECRET: BENCH_SECRET }),
    readyPath: "/healthz",
    logDir,
    timeoutMs: 300_000,
  });
  const cold = { keys: CFG.coldKeys, samples: CFG.coldSamples };
  out.cold = cold;
  try {
    cold.idle = memoryOf(server.pid);
    const fill = has("rss") ? CFG.rssKeys : 0;
    const restFile = join(work, "cold-rest.tsv");
    const rest =
      has("cold") && CFG.tools.includes("wrk") && haveWrk()
        ? Math.min(CFG.duration * 40_000, CFG.coldKeys - Math.max(fill, CFG.coldSamples))
        : 0;
    const cpu0 = cpuMsOf(server.pid);
    const clientStarted = Date.now();
    const client = await nodeJson(
      join(ROOT, "bench", "verify-client.mjs"),
      [
        "--port",
        String(server.port),
        "--keys",
        join(dir, "creds.tsv"),
        "--cold",
        String(has("cold") ? CFG.coldSamples : 0),
        "--fill",
        String(fill),
        "--seed",
        String(Date.now() % 1e9),
        "--rest",
        String(rest),
        "--rest-file",
        restFile,
      ],
      { cpu: CFG.loadgenCpu, cwd: ROOT, timeoutMs: 900_000, nodeArgs: ["--max-old-space-size=2048"] },
    );
    Object.assign(cold, client);
    // Server CPU per request over the client's phases (mostly first sightings of a key).
    const requests = (client.cold?.n ?? 0) * 2 + (client.fill?.requests ?? 0);
    cold.client_window = { started_at: clientStarted, ended_at: Date.now() };
    cold.server_cpu_us_per_request = requests ? ((cpuMsOf(server.pid) - cpu0) * 1000) / requests : null;
    if (fill) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      cold.rss = { keys: fill, ...memoryOf(server.pid) };
      log(
        `RSS with ${fill} keys cached: ${cold.rss.rssMb.toFixed(1)} MB (peak ${cold.rss.hwmMb.toFixed(1)} MB)`,
      );
    }
    if (rest > 0) {
      const res = await measured(server, () =>
        wrk({
          url: `http://127.0.0.1:${server.port}/v1/authorize`,
          script: LUA,
          env: { WRK_MODE: "authorize", WRK_PICK: "unique", WRK_KEYS: restFile },
          duration: CFG.duration,
          connections: CFG.connections,
          cpu: CFG.loadgenCpu,
          cwd: ROOT,
        }),
      );
      cold.underLoad = res;
      cold.afterLoad = memoryOf(server.pid);
    }
    if (client.cold)
      log(
        `cold p50 ${client.cold.p50.toFixed(2)} p99 ${client.cold.p99.toFixed(2)} ms; warm p99 ${client.warm.p99.toFixed(2)} ms`,
      );
  } finally {
    await server.stop();
    cold.exited_at = server.exitedAt();
  }
}

async function main() {
  if (!existsSync(join(ROOT, "dist", "verify", "verifier.js"))) {
    console.error("dist/ has no verifier: run `npm run build` first");
    process.exit(2);
  }
  ensurePeersInstalled();
  if (env.LIVE !== "1" && env.BENCH_SOURCE === undefined) process.exit(await runInSnapshot());
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(CFG.cacheDir, { recursive: true });
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const logDir = join(RESULTS, "verify-logs");
  const profileDir = join(RESULTS, `verify-profiles-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "latchkey-vbench-"));
  mkdirSync(join(work, "sqlite"));
  const out = {
    started: started.toISOString(),
    machine: machine(),
    load_start: load(),
    dist_built: statSync(join(ROOT, "dist", "verify", "verifier.js")).mtime.toISOString(),
    commit: gitHead(),
    config: CFG,
    seeds: {},
    checks: {},
    runs: [],
    refreshes: [],
    servers: {},
    cleanups: [],
  };
  const cleanup = async () => {
    for (const drop of out.cleanups.splice(0)) await drop().catch((e) => log(`cleanup: ${e.message}`));
    rmSync(work, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    const { files } = await httpPhase(out, work, profileDir, logDir);
    if (has("micro")) await microPhase(out, files, work);
    if (has("cold") || has("rss")) await coldPhase(out, work, profileDir, logDir);
  } finally {
    unregister();
    await cleanup();
  }
  out.load_end = load();
  out.wall_s = (Date.now() - started.getTime()) / 1000;
  out.profiles = CFG.profile ? profilesIn(profileDir) : [];
  delete out.cleanups;
  const { markdown, failed } = await report(out);
  writeFileSync(join(RESULTS, `verify-${stamp}.json`), JSON.stringify(out, null, 2));
  writeFileSync(join(RESULTS, "verify-latest.json"), JSON.stringify(out, null, 2));
  writeFileSync(join(RESULTS, "verify-latest.md"), markdown);
  console.log(markdown);
  process.exit(failed ? 1 : 0);
}

function gitHead() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: SOURCE, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

await main();
