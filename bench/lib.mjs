/**
 * Shared helpers for the benchmarks: spawning the real `latchkey` binary, a keep-alive HTTP client
 * with one socket, fresh PostgreSQL databases, percentiles and markdown tables.
 *
 * Secrets: the bootstrap appToken from `latchkey init` stays in memory and goes only into request
 * headers; it is never printed or written to the results.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";

export const ROOT = join(import.meta.dirname, "..");
export const BIN = join(ROOT, "bin", "latchkey.mjs");

/**
 * The Node flags `npm start` gives the server (package.json's `start` script), read from there, so
 * that every server a benchmark starts runs as `npm start` runs it. BENCH_NODE_FLAGS
 * (space-separated) replaces them; empty measures Node's defaults.
 */
export const SERVE_FLAGS =
  process.env.BENCH_NODE_FLAGS === undefined
    ? startFlags()
    : process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);

function startFlags() {
  const start = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start;
  const found = /\bnode((?:\s+--\S+)*)\s+bin\/latchkey\.mjs serve\b/.exec(start);
  if (!found)
    throw new Error(`package.json's start script does not run node … bin/latchkey.mjs serve: ${start}`);
  return found[1].split(/\s+/).filter(Boolean);
}

/** A latchkey server's arguments to node, as `npm start` runs it. */
export const SERVE_ARGS = [...SERVE_FLAGS, BIN, "serve"];
/** Where bench databases go when no DATABASE_URL is given for the PostgreSQL runs. */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Fixed, so that a run can be repeated on the same data; only ever used for bench databases. */
export const BENCH_SECRET = "bench-secret-not-for-production-0123456789";

const cleanups = new Set();
let interrupted = false;

/**
 * Registers `fn` to run if the bench is interrupted (SIGINT, SIGTERM, SIGHUP), newest first, so that
 * an interrupted run stops its servers and drops its databases instead of leaving them behind on a
 * shared machine. Returns the function that unregisters it.
 */
export function onInterrupt(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

for (const [signal, number] of [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
]) {
  process.on(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    for (const fn of [...cleanups].reverse()) {
      try {
        await fn();
      } catch (error) {
        console.error(`cleanup after ${signal} failed:`, error);
      }
    }
    process.exit(128 + number);
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a CLI command of latchkey to completion. */
export function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`latchkey ${args[0]} exited ${code}: ${stderr}`)),
    );
  });
}

/** `latchkey init --json`: the account, its Owner user and a bootstrap key holding Owner. */
export async function initAccount(env, account) {
  const out = await runCli(
    ["init", "--account", account, "--email", `owner@${account}.example`, "--json"],
    env,
  );
  return JSON.parse(out);
}

/**
 * One GET /readyz; resolves with the status, or 0 when nothing listens yet. Not /healthz: on
 * PostgreSQL the port answers (alive, 503 elsewhere) before the database is connected.
 */
function probe(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
  });
}

/**
 * Spawns `node bin/latchkey.mjs serve` (or `node ...args`) and resolves once /readyz answers 200,
 * with the time from spawn to that answer. Polls every `pollMs` (the poll interval bounds the error
 * of `readyMs`).
 */
export async function startServe(env, { pollMs = 2, timeoutMs = 30_000, args = SERVE_ARGS } = {}) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", HOST: "127.0.0.1", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr.on("data", (chunk) => {
    log += chunk;
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const unregister = onInterrupt(async () => {
    child.kill("SIGKILL");
    await exited;
  });
  for (;;) {
    if ((await probe(port)) === 200) break;
    if (child.exitCode !== null || performance.now() - started > timeoutMs) {
      unregister();
      child.kill("SIGKILL");
      throw new Error(`latchkey serve did not become healthy:\n${log}`);
    }
    await sleep(pollMs);
  }
  const readyMs = performance.now() - started;
  return {
    port,
    pid: child.pid,
    readyMs,
    log: () => log,
    async stop() {
      unregister();
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * A sequential client over one keep-alive socket: the figures are per-request latency as a single
 * admin UI or script would see it, not throughput.
 */
export function createClient(port, headers) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  function request(method, path, body) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const allHeaders = payload === undefined ? headers : { ...headers, "content-type": "application/json" };
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        { host: "127.0.0.1", port, method, path, agent, headers: allHeaders },
        (res) => {
          const chunks = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => {
            const ms = performance.now() - started;
            resolve({ status: res.statusCode ?? 0, ms, text: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
  return { request, close: () => agent.destroy() };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export const median = (values) => summarize(values).p50;

/** "1.23" below 10, "12.3" below 100, else a whole number. */
export function fmt(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString("en-US");
}

/** "a" when every value formats alike, else "min–max". */
export function range(values) {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return fmt(min) === fmt(max) ? fmt(min) : `${fmt(min)}–${fmt(max)}`;
}

export function table(header, rows, align) {
  const sep = header.map((_, i) => (align?.[i] === "r" ? "---:" : "---"));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function load() {
  return loadavg().map((v) => v.toFixed(2));
}

export function machine() {
  const cpu = cpus();
  return `${cpu.length} vCPU (${cpu[0]?.model.trim() ?? "unknown"}), Node ${process.versions.node}, ${process.platform}`;
}

/** A fresh PostgreSQL database for one run; `drop()` removes it even while connections linger. */
export async function createPgDatabase(prefix) {
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Runs `fn` on one pg connection to `url` and closes it. */
export async function withPg(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Parses `--name value` pairs and `--flag` switches. */
export function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg?.startsWith("--")) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) args[arg.slice(2)] = true;
    else {
      args[arg.slice(2)] = next;
      i++;
    }
  }
  return args;
}

/** mulberry32: a small seeded PRNG, so that two seeds of one count give the same names and appKeys. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
