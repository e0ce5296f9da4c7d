/**
 * Settings of the verification benchmark (environment variables, see verify.mjs), how latchkey
 * servers are started for it, and the seeds made once and cached between runs: better-auth's
 * keys (by the peer harness's own seed script) and the 1M-key SQLite database.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";
import { pinned } from "./verify-procs.mjs";

export const SOURCE = process.env.BENCH_SOURCE ?? ROOT;
export const RESULTS = join(SOURCE, "bench", "results");
export const env = process.env;
export const num = (name, fallback) => (env[name] ? Number(env[name]) : fallback);
const list = (name, fallback) =>
  (env[name] || fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
export const CFG = {
  duration: num("DURATION", 5),
  rounds: num("ROUNDS", 3),
  warmup: num("WARMUP", 2),
  connections: num("CONNECTIONS", 50),
  tools: list("TOOLS", "wrk,autocannon"),
  keys: num("KEYS", 10_000),
  only: list("ONLY", "ceiling,better-auth,sqlite,postgres,micro,cold,rss"),
  endpoints: list("ENDPOINTS", "authorize,verify"),
  coldKeys: num("COLD_KEYS", 1_000_000),
  coldSamples: num("COLD_SAMPLES", 2000),
  rssKeys: num("RSS_KEYS", 100_000),
  cacheDir: env.CACHE_DIR || join(tmpdir(), "latchkey-verify-cache"),
  serverCpu: env.PIN === "0" ? null : 0,
  loadgenCpu: env.PIN === "0" ? null : 1,
  profile: env.PROFILE === "1",
  shared: env.SHARED_BENCH || join(SOURCE, "..", "shared", "bench"),
  refresh: env.REFRESH !== "0",
  quietPct: num("QUIET_PCT", 0),
  quietWaitS: num("QUIET_WAIT_S", 10),
};
export const URI = "/api/oms/pvt/orders/123";
const BIN = join(ROOT, "bin", "latchkey.mjs");
export const LUA = join(ROOT, "bench", "verify-wrk.lua");
export const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
export const has = (part) => CFG.only.includes(part);

/** The peer harness's packages (better-auth, autocannon), installed once with its lock file. */
export function ensureSharedInstalled() {
  if (existsSync(join(CFG.shared, "node_modules", "autocannon"))) return;
  log(`installing the peer harness's packages (npm ci in ${CFG.shared}; ~3 min the first time)`);
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: CFG.shared, stdio: ["ignore", 2, 2] });
}

/** better-auth's seed of KEYS keys, made once by the peer harness's own seed script and reused. */
export function betterAuthSeed() {
  const dir = join(CFG.cacheDir, `ba-${CFG.keys}`);
  if (!existsSync(join(dir, "ba-checks.json"))) {
    log(`seeding better-auth with ${CFG.keys} keys (once, cached in ${dir})`);
    rmSync(`${dir}.partial`, { recursive: true, force: true });
    execFileSync(process.execPath, ["lib/ba-seed.mjs", `${dir}.partial`, String(CFG.keys)], {
      cwd: CFG.shared,
      stdio: ["ignore", 2, 2],
    });
    renameSync(`${dir}.partial`, dir);
  }
  return dir;
}

/** The 1M-key SQLite database of the cold-cache run, seeded once (~20 min) and reused. */
export function coldSeed() {
  const dir = join(CFG.cacheDir, `sqlite-${CFG.coldKeys}`);
  if (!existsSync(join(dir, "creds.tsv.control"))) {
    log(`seeding ${CFG.coldKeys} keys into SQLite through the Store (once, cached in ${dir}; slow)`);
    rmSync(`${dir}.partial`, { recursive: true, force: true });
    mkdirSync(`${dir}.partial`, { recursive: true });
    execFileSync(
      process.execPath,
      [
        join(ROOT, "bench", "verify-seed.mjs"),
        "--sqlite",
        join(`${dir}.partial`, "latchkey.db"),
        "--count",
        String(CFG.coldKeys),
        "--out",
        join(`${dir}.partial`, "creds.tsv"),
      ],
      { stdio: ["ignore", 2, 2] },
    );
    renameSync(`${dir}.partial`, dir);
  }
  return dir;
}

export function latchkeyArgv(name, profileDir) {
  const nodeArgs = CFG.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`] : [];
  return pinned(CFG.serverCpu, [process.execPath, ...nodeArgs, BIN, "serve"]);
}
export const latchkeyEnv = (extra) => ({ MALLOC_ARENA_MAX: "2", LOG_LEVEL: "warn", ...extra });
