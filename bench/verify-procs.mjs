/**
 * Processes of the verification benchmark: servers pinned to one CPU, load generators (wrk,
 * autocannon) and helper clients pinned to another, and the CPU accounting around each load run
 * (server, load generator, and everything else on the machine: the noise indicator).
 */
import { spawn, spawnSync } from "node:child_process";
import { openSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { cpus } from "node:os";
import { join } from "node:path";
import { freePort, onInterrupt, sleep } from "./lib.mjs";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;
const HAVE_TASKSET = spawnSync("bash", ["-c", "command -v taskset"]).status === 0;

export const haveWrk = () => spawnSync("bash", ["-c", "command -v wrk"]).status === 0;

/** `taskset -c CPU` when pinning is on and possible. */
export function pinned(cpu, argv) {
  return cpu === null || !HAVE_TASKSET ? argv : ["taskset", "-c", String(cpu), ...argv];
}

/** One GET; resolves with status, headers and body, or rejects on a socket error. */
export function request(port, path, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method, headers, agent: false, timeout: 5000 },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Starts a server (`argv` is run as is: pin it with `pinned()`), in its own process group, on a
 * free port passed as PORT, and resolves once `readyPath` answers 200 (without one: once "/"
 * answers anything). `stop()` sends SIGTERM to the
 * group and waits (a `--cpu-prof` profile is written on that clean exit), then SIGKILL.
 */
export async function startServer({ name, argv, cwd, env, readyPath, logDir, timeoutMs = 60_000 }) {
  const port = await freePort();
  const log = openSync(join(logDir, `${name}.log`), "w");
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", log, log],
    detached: true,
  });
  let exitCode = null;
  let exitedAt = null;
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exitCode = code ?? signal;
      exitedAt = Date.now();
      resolve(exitCode);
    }),
  );
  const kill = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  const unregister = onInterrupt(async () => {
    kill("SIGKILL");
    await exited;
  });
  const server = {
    name,
    port,
    pid: child.pid,
    exited: () => exitCode !== null,
    /** Wall-clock time of the exit (a --cpu-prof profile ends there). */
    exitedAt: () => exitedAt,
    async stop() {
      unregister();
      if (exitCode !== null) return exitCode;
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const started = Date.now();
  for (;;) {
    if (exitCode !== null)
      throw new Error(`${name} exited during start (${exitCode}); see ${logDir}/${name}.log`);
    const ok = await request(port, readyPath ?? "/").then(
      (r) => readyPath === undefined || r.status === 200,
      () => false,
    );
    if (ok) return server;
    if (Date.now() - started > timeoutMs) {
      await server.stop();
      throw new Error(`${name} not ready within ${timeoutMs} ms; see ${logDir}/${name}.log`);
    }
    await sleep(50);
  }
}

/** CPU time (ms) the process has used so far, or null once it is gone. */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * A process's memory from /proc, in MB: VmRSS, VmHWM (its peak), and the RSS's anonymous part
 * (heap, malloc) and file-backed part (the mapped Node binary and libraries).
 */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? Number.NaN);
  return {
    rssMb: kb("VmRSS") / 1024,
    hwmMb: kb("VmHWM") / 1024,
    anonMb: kb("RssAnon") / 1024,
    fileMb: kb("RssFile") / 1024,
  };
}

function machineTimes() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * Runs argv to completion, time-bounded, in its own process group; bash's `times` reports the CPU
 * its children used, so the load generator's own CPU is known whatever the tool.
 */
export function runTool(argv, { cwd, env = {}, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", '"$@"; rc=$?; times >&2; exit $rc', "bash", ...argv], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk) => {
      err += chunk;
    });
    const stopGroup = () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    };
    const unregister = onInterrupt(stopGroup);
    const timer = setTimeout(stopGroup, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      unregister();
      // The last line of `times`: children's user and system time, e.g. "0m1.234s 0m0.567s".
      const m = err
        .trimEnd()
        .split("\n")
        .pop()
        ?.match(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/);
      const cpuMs = m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : null;
      resolve({ code: code ?? signal, out, err: m ? err.slice(0, err.lastIndexOf(m[0])) : err, cpuMs });
    });
  });
}

/** Busy % of the whole machine over `ms` (taken while the benchmark's servers idle: others' load). */
export async function machineBusyPct(ms = 300) {
  const a = machineTimes();
  await sleep(ms);
  const b = machineTimes();
  const total = b.total - a.total;
  return total > 0 ? Math.round(100 * (1 - (b.idle - a.idle) / total)) : null;
}

/**
 * Waits until the machine is quieter than `pct` busy (0: does not wait), at most `maxS` seconds.
 * Returns the last busy % seen and the seconds waited.
 */
export async function waitQuiet(pct, maxS) {
  const started = Date.now();
  let busy = await machineBusyPct();
  while (pct > 0 && busy !== null && busy > pct && Date.now() - started < maxS * 1000)
    busy = await machineBusyPct(500);
  return { busy, waitedS: (Date.now() - started) / 1000 };
}

/** Runs `fn` (one load run) and adds the CPU use of the server, the load generator and the rest. */
export async function measured(server, fn) {
  const m0 = machineTimes();
  const s0 = cpuMsOf(server.pid);
  const started = Date.now();
  const result = await fn();
  const ended = Date.now();
  const wall = ended - started;
  const m1 = machineTimes();
  const s1 = cpuMsOf(server.pid);
  const busyMs = ((m1.total - m0.total - (m1.idle - m0.idle)) * 1000) / CLK_TCK;
  const serverMs = s0 !== null && s1 !== null ? s1 - s0 : null;
  // CPU per response: robust to other processes taking CPU (at saturation, req/s ≈ 1e6 / this).
  result.server_cpu_us_per_req =
    serverMs !== null && result.responses ? (1000 * serverMs) / result.responses : null;
  result.started_at = started;
  result.ended_at = ended;
  result.server_cpu_pct = serverMs === null ? null : Math.round((100 * serverMs) / wall);
  result.loadgen_cpu_pct =
    result.loadgen_cpu_ms == null ? null : Math.round((100 * result.loadgen_cpu_ms) / wall);
  result.other_cpu_pct =
    serverMs === null || result.loadgen_cpu_ms == null
      ? null
      : Math.max(0, Math.round((100 * (busyMs - serverMs - result.loadgen_cpu_ms)) / (wall * cpus().length)));
  return result;
}

const toMs = (value, unit) => Number(value) * ({ us: 1e-3, ms: 1, s: 1000, m: 60_000 }[unit] ?? Number.NaN);

/** One wrk run (one thread, keep-alive) with a Lua script; the figures parsed from its report. */
export async function wrk({ url, script, env, duration, connections, cpu, cwd }) {
  const argv = pinned(cpu, [
    "wrk",
    "-t1",
    `-c${connections}`,
    `-d${duration}s`,
    "--timeout",
    "10s",
    "--latency",
    "-s",
    script,
    url,
  ]);
  const r = await runTool(argv, { cwd, env, timeoutMs: (duration + 30) * 1000 });
  const o = r.out;
  const latency = (p) => {
    const m = o.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return m ? toMs(m[1], m[2]) : null;
  };
  const total = o.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  if (!total) return { tool: "wrk", error: `exit ${r.code}: ${(r.err || o).slice(-500)}` };
  const responses = Number(total[1]);
  const seconds = toMs(total[2], total[3]) / 1000;
  const non2xx = Number(o.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sock = o.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    tool: "wrk",
    duration_s: seconds,
    responses,
    rps: responses / seconds,
    non2xx,
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0,
    p50_ms: latency(50),
    p90_ms: latency(90),
    p99_ms: latency(99),
    loadgen_cpu_ms: r.cpuMs,
  };
}

/** Runs a Node script (a load generator or helper client) printing one JSON line at the end. */
export async function nodeJson(script, args, { cpu, cwd, timeoutMs, nodeArgs = [] }) {
  const r = await runTool(pinned(cpu, [process.execPath, ...nodeArgs, script, ...args]), { cwd, timeoutMs });
  const line = r.out.trim().split("\n").pop() ?? "";
  try {
    return { ...JSON.parse(line), loadgen_cpu_ms: r.cpuMs };
  } catch {
    return { error: `exit ${r.code}: ${r.err.slice(-800)}` };
  }
}

/** The .cpuprofile files under a directory (one sub-directory per server). */
export function profilesIn(dir) {
  try {
    return readdirSync(dir, { recursive: true })
      .filter((f) => String(f).endsWith(".cpuprofile"))
      .map((f) => join(dir, String(f)));
  } catch {
    return [];
  }
}
