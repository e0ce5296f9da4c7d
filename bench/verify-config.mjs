/**
 * Settings of the verification benchmark (environment variables, see verify.mjs), how latchkey
 * servers are started for it, the packages of bench/peers/ (better-auth, autocannon; installed on
 * first use), and the seeds made once and cached between runs: better-auth's keys and the 1M-key
 * SQLite database.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, SERVE_ARGS } from "./lib.mjs";
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
  only: list("ONLY", "ceiling,better-auth,sqlite,controls,postgres,micro,cold,rss"),
  endpoints: list("ENDPOINTS", "authorize,verify"),
  coldKeys: num("COLD_KEYS", 1_000_000),
  coldSamples: num("COLD_SAMPLES", 2000),
  rssKeys: num("RSS_KEYS", 100_000),
  cacheDir: env.CACHE_DIR || join(tmpdir(), "latchkey-verify-cache"),
  serverCpu: env.PIN === "0" ? null : 0,
  loadgenCpu: env.PIN === "0" ? null : 1,
  profile: env.PROFILE === "1",
  refresh: env.REFRESH !== "0",
  quietPct: num("QUIET_PCT", 0),
  settle: env.SETTLE !== "0",
  quietWaitS: num("QUIET_WAIT_S", 10),
};
export const URI = "/api/oms/pvt/orders/123";
export const LUA = join(ROOT, "bench", "verify-wrk.lua");
export const AUTOCANNON = join(ROOT, "bench", "verify-autocannon.mjs");
/** The targets latchkey is compared with and the load generator, with their own lock file. */
export const PEERS = join(ROOT, "bench", "peers");
export const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
export const has = (part) => CFG.only.includes(part);

/**
 * True when bench/peers/node_modules holds every package of bench/peers/package.json at its pinned
 * version, better-sqlite3 compiled included.
 */
function peersInstalled() {
  const { dependencies } = JSON.parse(readFileSync(join(PEERS, "package.json"), "utf8"));
  const modules = join(PEERS, "node_modules");
  if (!existsSync(join(modules, "better-sqlite3", "build", "Release", "better_sqlite3.node"))) return false;
  return Object.entries(dependencies).every(([name, version]) => {
    const manifest = join(modules, name, "package.json");
    return existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).version === version;
  });
}

/**
 * Installs bench/peers/ from its lock file when it is not yet (or no longer) installed: better-auth
 * and autocannon are what latchkey is measured against and with, never latchkey's dependencies.
 */
export function ensurePeersInstalled() {
  if (peersInstalled()) return;
  log("installing bench/peers/ (npm ci; ~3 min the first time: better-sqlite3 compiles)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: PEERS, stdio: ["ignore", 2, 2] });
}

/** better-auth's seed of KEYS keys (bench/peers/better-auth-seed.mjs), made once and reused. */
export function betterAuthSeed() {
  const dir = join(CFG.cacheDir, `ba-${CFG.keys}`);
  if (!existsSync(join(dir, "ba-checks.json"))) {
    log(`seeding better-auth with ${CFG.keys} keys (once, cached in ${dir})`);
    rmSync(`${dir}.partial`, { recursive: true, force: true });
    execFileSync(process.execPath, ["better-auth-seed.mjs", `${dir}.partial`, String(CFG.keys)], {
      cwd: PEERS,
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
  return pinned(CFG.serverCpu, [process.execPath, ...nodeArgs, ...SERVE_ARGS]);
}
export const latchkeyEnv = (extra) => ({ MALLOC_ARENA_MAX: "2", LOG_LEVEL: "warn", ...extra });
