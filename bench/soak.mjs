/**
 * Soak: two latchkey instances on one PostgreSQL database, changes carried by Redis, under a
 * steady `/v1/authorize` load for DURATION seconds while keys change every second. It answers:
 * does memory stay flat and bounded, does every revocation reach the other instance within a
 * second, and does the load see any error while keys are created, renewed, edited and deactivated?
 *
 * 1. A fresh PostgreSQL database next to BENCH_PG_URL's; `latchkey init` makes the account `bench`
 *    and its Owner key (used by the churn), then KEYS keys holding "OMS - Read only" are seeded
 *    through the Store (`verify-seed.mjs`). With KEYS above 10,000 (or SEED=direct) the database is
 *    seeded as `size.mjs` seeds it instead (rows written directly: 1,000,000 keys in about two
 *    minutes): KEYS keys over ACCOUNTS accounts, a fifth of them in the account `big` (whose Owner
 *    key the churn uses), and the load uses HOT of them, drawn from every account (`sampleKeys`).
 * 2. Two servers, `node bin/latchkey.mjs serve` from dist/ as `npm start` runs it
 *    (MALLOC_ARENA_MAX=2 unless BENCH_MALLOC_ARENA_MAX is set, empty to leave it unset), with
 *    DATABASE_URL and REDIS_URL; each cache is filled with every key (one request per key).
 * 3. Maximum: soak-load.mjs in closed loop (no pacing) on both instances at once for MAX_S
 *    seconds (CONNECTIONS each), the same driver as the soak sharing the same cores; the pair's
 *    req/s is the sum. 30 s by default, so that the maximum includes several usage writes (every
 *    5 s): a shorter burst measures a rate the servers cannot hold once their writes begin.
 * 4. Soak: RATE_PCT % of that maximum for DURATION seconds from `soak-load.mjs` (paced, open-loop,
 *    raw keep-alive sockets, round robin over both instances; latency counted from when each
 *    request was due). Meanwhile, once a second, alternating the instance it acts on:
 *    create a key; renew its token (start, then complete); edit the roles of one of the loaded keys
 *    (it keeps role 10, so the load's answers stay 200); check the new key's token on the other
 *    instance (200, which caches it there); deactivate it, and poll `/v1/authorize` on the other
 *    instance with it, back to back, until refused: the propagation time, from the deactivation's
 *    answer to the first refusal. Every 10 s: VmRSS of both servers (/proc) and their V8 heap
 *    (`/metrics`), and the machine's load average.
 * 5. At the end, each server's `/metrics` (usage flushes by result, cache misses, verification
 *    outcomes), then the servers stop and the database is dropped.
 *
 * The load's keys are never deactivated or renewed, so every answer to it but 200 is an error;
 * the only refusals expected are the polls of deactivated keys. The rate limit is raised
 * (RATE_LIMIT_FAILURES=1000000) so that those refusals, all from 127.0.0.1, do not block the
 * address: failures are still counted in Redis. REDIS_URL defaults to database 9 of a local Redis,
 * so that the counters stay apart from other users of the same server (pub/sub channels are shared
 * by every database: instances elsewhere hear these changes and ignore keys they do not hold).
 *
 * Options (environment): DURATION (600 s), KEYS (10000), SEED (`store` up to 10,000 keys, `direct`
 * above), ACCOUNTS (1000, direct seeding), HOT (keys in the load: every key when seeded through
 * the Store, 10,000 when seeded directly), RATE_PCT (80), MAX_S (30), CONNECTIONS
 * (48 per instance), WINDOW_S (10), BENCH_PG_URL, REDIS_URL, BENCH_MALLOC_ARENA_MAX (2),
 * BENCH_SERVER_NODE_OPTIONS (NODE_OPTIONS of the servers), RATE (req/s: skips the maximum).
 * Output: bench/results/soak-<time>.json and soak-latest.md (git-ignored), server logs in
 * bench/results/soak-logs-<time>/; a summary on stdout.
 *
 * Secrets: the seeded credentials and the Owner key belong to the throwaway database; the
 * credentials file lives in a temporary directory removed at the end, never in the results.
 *
 * Usage: npm run build && node bench/soak.mjs
 *        KEYS=1000000 node bench/soak.mjs   (two instances on a database of a million keys)
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  BENCH_SECRET,
  createPgDatabase,
  fmt,
  initAccount,
  load,
  machine,
  onInterrupt,
  percentile,
  ROOT,
  SERVE_ARGS,
  sleep,
  table,
  withPg,
} from "./lib.mjs";
import { prepare, sampleKeys } from "./size.mjs";
import { memoryOf, nodeJson, startServer } from "./verify-procs.mjs";
import { ACCOUNT, seedInto } from "./verify-seed.mjs";

const env = process.env;
const CFG = {
  duration: Number(env.DURATION ?? 600),
  keys: Number(env.KEYS ?? 10_000),
  seed: env.SEED ?? (Number(env.KEYS ?? 10_000) > 10_000 ? "direct" : "store"),
  accounts: Number(env.ACCOUNTS ?? 1000),
  hot: env.HOT ? Number(env.HOT) : null,
  ratePct: Number(env.RATE_PCT ?? 80),
  maxS: Number(env.MAX_S ?? 30),
  connections: Number(env.CONNECTIONS ?? 48),
  windowS: Number(env.WINDOW_S ?? 10),
  rate: env.RATE ? Number(env.RATE) : null,
  redisUrl: env.REDIS_URL ?? "redis://127.0.0.1:6379/9",
  arenaMax: env.BENCH_MALLOC_ARENA_MAX ?? "2",
  nodeOptions: env.BENCH_SERVER_NODE_OPTIONS ?? "",
};
const RESULTS = join(ROOT, "bench", "results");
const URI = "/api/oms/pvt/orders/123";
const RSS_LIMIT_MB = 256;
const COMMIT =
  spawnSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).stdout?.toString().trim() || "unknown";
const PROPAGATION_LIMIT_MS = 1000;

/** Keep-alive requests to one server: `call(method, path, {headers, body})` → {status, headers, json}. */
function clientFor(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  function call(method, path, { headers = {}, body } = {}) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const all = payload === undefined ? headers : { ...headers, "content-type": "application/json" };
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path, agent, headers: all }, (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(payload);
    });
  }
  return { call, close: () => agent.destroy() };
}

function authorizeHeaders(appKey, appToken) {
  return {
    "x-api-appkey": appKey,
    "x-api-apptoken": appToken,
    "x-original-method": "GET",
    "x-original-uri": URI,
  };
}

/** Selected samples of a server's /metrics (Prometheus text). */
async function metricsOf(client) {
  const { text } = await client.call("GET", "/metrics");
  const pick = (pattern) => {
    const out = {};
    for (const line of text.split("\n")) {
      const m = line.match(pattern);
      if (m) out[m[1] || "value"] = Number(m[2]);
    }
    return out;
  };
  return {
    heapUsedMb: (pick(/^nodejs_heap_size_used_bytes()\s+([\d.e+]+)$/).value ?? Number.NaN) / 2 ** 20,
    heapTotalMb: (pick(/^nodejs_heap_size_total_bytes()\s+([\d.e+]+)$/).value ?? Number.NaN) / 2 ** 20,
    flushes: pick(/^latchkey_usage_flush_total\{result="(\w+)"\}\s+([\d.e+]+)$/),
    cache: pick(/^latchkey_key_cache_requests_total\{result="(\w+)"\}\s+([\d.e+]+)$/),
    verifications: pick(/^latchkey_verifications_total\{outcome="(\w+)"\}\s+([\d.e+]+)$/),
  };
}

/**
 * The churn, once a second until `until`: see the header. Steps alternate the instance they act on;
 * every unexpected answer is recorded as a churn error.
 */
async function churn({ clients, admin, account, editable, until, record }) {
  const auth = { "x-api-appkey": admin.appKey, "x-api-apptoken": admin.appToken };
  const base = `/v1/accounts/${account}/keys`;
  let i = 0;
  const started = performance.now();
  while (performance.now() < until) {
    const here = clients[i % 2];
    const there = clients[(i + 1) % 2];
    const step = async (name, run) => {
      try {
        return await run();
      } catch (error) {
        record.errors.push({ at: i, step: name, error: String(error?.message ?? error) });
        return null;
      }
    };
    const expect = (name, res, status) => {
      if (res.status !== status) throw new Error(`${name}: ${res.status} ${res.text.slice(0, 200)}`);
      return res;
    };
    const iterationStarted = performance.now();
    const created = await step("create", async () =>
      expect(
        "create",
        await here.call("POST", base, { headers: auth, body: { name: `soak churn ${i}`, roles: [10] } }),
        201,
      ),
    );
    const appKey = created?.json?.key?.appKey;
    let appToken = created?.json?.appToken;
    if (appKey && appToken) {
      const renewed = await step("renew", async () => {
        const path = `${base}/${appKey}/renewal`;
        const start = expect("renew start", await here.call("POST", path, { headers: auth, body: {} }), 201);
        expect(
          "renew complete",
          await here.call("POST", `${path}/complete`, { headers: auth, body: {} }),
          200,
        );
        return start.json.appToken;
      });
      if (renewed) appToken = renewed;
    }
    const edited = editable[(i * 7919) % editable.length];
    await step("roles", async () =>
      expect(
        "roles",
        await here.call("PUT", `${base}/${edited}/roles`, {
          headers: auth,
          body: { roles: i % 4 < 2 ? [10, 20] : [10] },
        }),
        200,
      ),
    );
    if (appKey && appToken) {
      const headers = authorizeHeaders(appKey, appToken);
      const warm = await step("warm", async () =>
        expect("warm on the other instance", await there.call("GET", "/v1/authorize", { headers }), 200),
      );
      const deactivated = await step("deactivate", async () =>
        expect(
          "deactivate",
          await here.call("PATCH", `${base}/${appKey}`, { headers: auth, body: { active: false } }),
          200,
        ),
      );
      if (warm && deactivated) {
        const from = performance.now();
        let polls = 0;
        let refused = null;
        while (performance.now() - from < 5000) {
          const res = await there.call("GET", "/v1/authorize", { headers });
          polls++;
          if (res.status !== 200) {
            refused = { status: res.status, code: res.headers["x-auth-code"] };
            break;
          }
        }
        const ms = performance.now() - from;
        record.revocations.push({
          i,
          at: Math.round((from - started) / 1000),
          deactivatedOn: i % 2 === 0 ? "a" : "b",
          ms: refused ? ms : null,
          polls,
          refused,
        });
        if (!refused) record.errors.push({ at: i, step: "propagation", error: "still allowed after 5 s" });
        else if (refused.status !== 401)
          record.errors.push({ at: i, step: "propagation", error: `refused with ${refused.status}` });
      }
    }
    record.iterations.push(performance.now() - iterationStarted);
    i++;
    const next = started + i * 1000;
    await sleep(Math.max(0, next - performance.now()));
  }
}

/**
 * A fresh PostgreSQL database with its seeded keys, and the load's credentials written to
 * `credsFile` (appKey TAB appToken a line): through the Store (`verify-seed.mjs`) or directly
 * (`size.mjs`), by CFG.seed.
 */
async function seedDatabase(credsFile) {
  if (CFG.seed === "direct") {
    const shape = { keys: CFG.keys, accounts: CFG.accounts, big: Math.floor(CFG.keys / 5) };
    const prepared = await prepare("postgres", shape);
    // About a third of the seeded keys hold role 10 and are active: at most a quarter of them.
    const hot = sampleKeys(CFG.hot ?? Math.min(10_000, Math.floor(CFG.keys / 4)), 13, shape);
    writeFileSync(credsFile, `${hot.map(([k, t]) => `${k}\t${t}`).join("\n")}\n`);
    return {
      db: { url: prepared.env.DATABASE_URL, drop: prepared.drop },
      admin: prepared.creds,
      account: "big",
      inAccount: (appKey) => appKey.startsWith("appkey-big-"),
      seeded: { seedSeconds: prepared.seedSeconds },
    };
  }
  const db = await createPgDatabase("latchkey_soak");
  try {
    const admin = await initAccount({ DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET }, ACCOUNT);
    const seeded = await seedInto({ kind: "postgres", url: db.url }, { count: CFG.keys, credsFile });
    if (CFG.hot !== null && CFG.hot < CFG.keys) {
      const lines = readFileSync(credsFile, "utf8").split("\n").filter(Boolean).slice(0, CFG.hot);
      writeFileSync(credsFile, `${lines.join("\n")}\n`);
    }
    return { db, admin, account: ACCOUNT, inAccount: () => true, seeded };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

/**
 * Max RSS, and over the last half of the run: the rise of the floor (the lowest RSS of each minute,
 * fitted), which a leak lifts but V8's heap cycles (old space filling up for a minute or two, then
 * collected) do not, and the fitted rise of every sample, per server.
 */
function rssVerdict(samples, name, duration) {
  const all = samples.map((s) => [s.t, s[name].rssMb]).filter(([, y]) => Number.isFinite(y));
  const lastHalf = all.filter(([t]) => t >= duration / 2);
  const floors = new Map();
  for (const [t, y] of lastHalf) {
    const minute = Math.floor(t / 60) * 60;
    floors.set(minute, Math.min(floors.get(minute) ?? y, y));
  }
  // The V8 heap's floor (what survives collections) tells a leak in the heap from RSS noise.
  const heapFloors = new Map();
  for (const s of samples) {
    const minute = Math.floor(s.t / 60);
    const y = s[name].heapUsedMb;
    if (Number.isFinite(y)) heapFloors.set(minute, Math.min(heapFloors.get(minute) ?? y, y));
  }
  return {
    maxMb: Math.max(...all.map(([, y]) => y)),
    lastHalfMinMb: Math.min(...lastHalf.map(([, y]) => y)),
    lastHalfMaxMb: Math.max(...lastHalf.map(([, y]) => y)),
    lastHalfFloorsMb: [...floors.values()],
    lastHalfFloorRiseMb: slope([...floors]) * (duration / 2),
    lastHalfRiseMb: slope(lastHalf) * (duration / 2),
    heapUsedFloorsMb: [...heapFloors.values()],
  };
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const logDir = join(RESULTS, `soak-logs-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "latchkey-soak-"));
  const unregisterWork = onInterrupt(() => rmSync(work, { recursive: true, force: true }));
  const credsFile = join(work, "creds.tsv");
  const startedAt = new Date();
  const loadBefore = load();
  console.log(`soak: ${machine()}, load ${loadBefore.join(" ")}; ${JSON.stringify(CFG)}`);

  const database = await seedDatabase(credsFile);
  const { db, admin, account, seeded } = database;
  const unregisterDb = onInterrupt(() => db.drop());
  const servers = [];
  const clients = [];
  let autovacuum = "unknown";
  try {
    // Every key in use has its last use written once a minute and its counts every 5 s: without
    // autovacuum the dead rows pile up and every write and lookup slows down over the run. A
    // production server runs autovacuum (PostgreSQL's default); say so when this one does not.
    autovacuum = await withPg(db.url, async (c) => (await c.query("show autovacuum")).rows[0].autovacuum);
    if (autovacuum !== "on")
      console.log(
        `warning: this PostgreSQL runs with autovacuum=${autovacuum}: the figures are not those of a production server`,
      );
    const dbEnv = { DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET };
    const loadKeys = readFileSync(credsFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split("\t")[0]);
    // The churn edits the roles of loaded keys of the account its Owner key manages.
    const editable = loadKeys.filter((appKey) => database.inAccount(appKey));
    if (editable.length === 0) throw new Error(`none of the load's keys is in the account ${account}`);
    console.log(
      `${CFG.keys} keys seeded (${CFG.seed}) in ${seeded.seedSeconds.toFixed(1)} s; the load uses ${loadKeys.length}, ${editable.length} of them in ${account}`,
    );

    const serverEnv = {
      ...dbEnv,
      REDIS_URL: CFG.redisUrl,
      LOG_LEVEL: "warn",
      RATE_LIMIT_FAILURES: "1000000",
      ...(CFG.arenaMax ? { MALLOC_ARENA_MAX: CFG.arenaMax } : {}),
      ...(CFG.nodeOptions ? { NODE_OPTIONS: CFG.nodeOptions } : {}),
    };
    for (const name of ["a", "b"]) {
      const server = await startServer({
        name: `soak-${name}`,
        argv: [process.execPath, ...SERVE_ARGS],
        cwd: ROOT,
        env: serverEnv,
        readyPath: "/readyz",
        logDir,
      });
      servers.push(server);
      clients.push(clientFor(server.port));
    }
    const idle = servers.map((s) => memoryOf(s.pid).rssMb);
    console.log(
      `servers ready on ${servers.map((s) => s.port).join(", ")}; idle RSS ${idle.map(fmt).join(" / ")} MB`,
    );

    for (const server of servers) {
      const fill = await nodeJson(
        join(ROOT, "bench", "verify-client.mjs"),
        [
          "--port",
          String(server.port),
          "--keys",
          credsFile,
          "--cold",
          "0",
          "--fill",
          String(loadKeys.length),
        ],
        { cpu: null, cwd: ROOT, timeoutMs: 600_000 },
      );
      if (fill.error || Object.keys(fill.fill?.statuses ?? {}).some((s) => s !== "200"))
        throw new Error(`cache fill failed: ${JSON.stringify(fill)}`);
    }

    let rate = CFG.rate;
    let maximum = null;
    if (rate === null) {
      // The maximum is measured with the soak's own load generator in closed loop: on a machine
      // where it shares the cores with the servers, a lighter driver (wrk) would measure a rate
      // that the soak's driver leaves the servers no CPU to reach.
      const closedRun = await nodeJson(
        join(ROOT, "bench", "soak-load.mjs"),
        [
          "--ports",
          servers.map((s) => s.port).join(","),
          "--keys",
          credsFile,
          "--closed",
          "--duration",
          String(CFG.maxS),
          "--connections",
          String(CFG.connections),
          "--window",
          String(CFG.maxS),
        ],
        { cpu: null, cwd: ROOT, timeoutMs: (CFG.maxS + 60) * 1000 },
      );
      if (closedRun.error) throw new Error(`maximum run: ${closedRun.error}`);
      const perInstance = closedRun.perPort ?? [];
      maximum = {
        rps: closedRun.answered / closedRun.seconds,
        perInstance: perInstance.map((n) => Math.round(n / closedRun.seconds)),
        p99: [closedRun.p99],
        non2xx:
          closedRun.errors +
          Object.entries(closedRun.statuses)
            .filter(([s]) => s !== "200")
            .reduce((n, [, c]) => n + c, 0),
        load: load(),
      };
      if (maximum.non2xx > 0) throw new Error(`the maximum run had ${maximum.non2xx} errors`);
      rate = Math.round((maximum.rps * CFG.ratePct) / 100);
      console.log(
        `maximum ${Math.round(maximum.rps)} req/s (${maximum.perInstance.join(" + ")}); soak at ${rate} req/s`,
      );
    }

    const samples = [];
    const windows = [];
    const record = { revocations: [], errors: [], iterations: [] };
    const loadgen = spawn(
      process.execPath,
      [
        join(ROOT, "bench", "soak-load.mjs"),
        "--ports",
        servers.map((s) => s.port).join(","),
        "--keys",
        credsFile,
        "--rate",
        String(rate),
        "--duration",
        String(CFG.duration),
        "--connections",
        String(CFG.connections),
        "--window",
        String(CFG.windowS),
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    const unregisterLoad = onInterrupt(() => loadgen.kill("SIGKILL"));
    let totals = null;
    const loadDone = new Promise((resolve) => {
      createInterface({ input: loadgen.stdout }).on("line", (line) => {
        const value = JSON.parse(line);
        if (value.done) totals = value;
        else {
          windows.push(value);
          const rss = samples.at(-1);
          console.log(
            `  ${String(value.t).padStart(4)} s  ${value.rps} req/s  p99 ${fmt(value.p99)} ms  late ${value.late}  errors ${value.errors}` +
              `  non-200 ${Object.entries(value.statuses)
                .filter(([s]) => s !== "200")
                .reduce((n, [, c]) => n + c, 0)}` +
              (rss ? `  RSS ${fmt(rss.a.rssMb)} / ${fmt(rss.b.rssMb)} MB` : "") +
              `  revocations ${record.revocations.length}`,
          );
        }
      });
      loadgen.on("exit", resolve);
    });
    const soakStarted = performance.now();
    const until = soakStarted + CFG.duration * 1000;
    const sampler = (async () => {
      for (let n = 0; ; n++) {
        const at = soakStarted + n * CFG.windowS * 1000;
        await sleep(Math.max(0, at - performance.now()));
        if (performance.now() > until + 1000) return;
        const sample = { t: Math.round((performance.now() - soakStarted) / 1000), load: load() };
        for (const [k, server] of servers.entries()) {
          const name = k === 0 ? "a" : "b";
          const metrics = await metricsOf(clients[k]).catch(() => ({}));
          sample[name] = {
            rssMb: memoryOf(server.pid).rssMb,
            heapUsedMb: metrics.heapUsedMb,
            heapTotalMb: metrics.heapTotalMb,
          };
        }
        samples.push(sample);
      }
    })();
    await churn({ clients, admin, account, editable, until, record });
    await loadDone;
    unregisterLoad();
    await sampler;
    const endMetrics = {};
    for (const [k, client] of clients.entries()) endMetrics[k === 0 ? "a" : "b"] = await metricsOf(client);
    const exits = servers.map((s) => (s.exited() ? "exited during the run" : "running"));

    const report = summarizeRun({
      CFG,
      startedAt,
      loadBefore,
      autovacuum,
      idle,
      maximum,
      rate,
      totals,
      windows,
      samples,
      record,
      endMetrics,
      exits,
      seeded,
      hot: loadKeys.length,
    });
    writeFileSync(join(RESULTS, `soak-${stamp}.json`), JSON.stringify(report.data, null, 1));
    writeFileSync(join(RESULTS, "soak-latest.md"), report.markdown);
    console.log(`\n${report.markdown}`);
    console.log(`results: bench/results/soak-${stamp}.json, bench/results/soak-latest.md`);
    process.exitCode = report.data.targets.every((t) => t.met) ? 0 : 1;
  } finally {
    for (const client of clients) client.close();
    for (const server of servers) await server.stop();
    unregisterDb();
    await db.drop();
    unregisterWork();
    rmSync(work, { recursive: true, force: true });
  }
}

function summarizeRun(r) {
  const { CFG: cfg, totals, windows, samples, record, endMetrics } = r;
  const propagation = record.revocations.filter((x) => x.ms !== null).map((x) => x.ms);
  const sorted = [...propagation].sort((a, b) => a - b);
  const prop = {
    n: record.revocations.length,
    refused: propagation.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    /** Refused by the first request after the deactivation answered: its time is that request's latency. */
    firstPoll: record.revocations.filter((x) => x.refused && x.polls === 1).length,
    maxPolls: Math.max(0, ...record.revocations.map((x) => x.polls)),
  };
  const non200 = Object.entries(totals?.statuses ?? {})
    .filter(([s]) => s !== "200")
    .reduce((n, [, c]) => n + c, 0);
  const loadErrors = (totals?.errors ?? Number.NaN) + (totals?.unanswered ?? 0) + non200;
  const rss = { a: rssVerdict(samples, "a", cfg.duration), b: rssVerdict(samples, "b", cfg.duration) };
  const achieved = totals ? totals.answered / cfg.duration : Number.NaN;
  const targets = [
    {
      target: `rate kept: ≥ 99.9 % of the due requests sent within 1 s of their time (${r.rate} req/s)`,
      result: totals
        ? `${fmt((100 * totals.sent) / totals.due)} % sent; ${totals.late + totals.neverSent} dropped`
        : "–",
      met: totals !== null && totals.sent >= 0.999 * totals.due,
    },
    {
      target: "errors of the load (non-200, socket, timeout) = 0",
      result: String(loadErrors),
      met: loadErrors === 0,
    },
    {
      target: "churn steps all answered as expected",
      result: `${record.errors.length} failed`,
      met: record.errors.length === 0,
    },
    {
      target: `every revocation refused on the other instance within ${PROPAGATION_LIMIT_MS} ms`,
      result: `${prop.refused}/${prop.n} refused, max ${fmt(prop.max)} ms, p99 ${fmt(prop.p99)} ms`,
      met: prop.n > 0 && prop.refused === prop.n && prop.max <= PROPAGATION_LIMIT_MS,
    },
    {
      target: `RSS ≤ ${RSS_LIMIT_MB} MB`,
      result: `max ${fmt(rss.a.maxMb)} / ${fmt(rss.b.maxMb)} MB`,
      met: Math.max(rss.a.maxMb, rss.b.maxMb) <= RSS_LIMIT_MB,
    },
    {
      target: "RSS flat over the last half: the floor (lowest RSS of each minute, fitted) rises ≤ 10 MB",
      result:
        `floor rise ${fmt(rss.a.lastHalfFloorRiseMb)} / ${fmt(rss.b.lastHalfFloorRiseMb)} MB ` +
        `(floors ${rss.a.lastHalfFloorsMb.map(fmt).join(", ")} / ${rss.b.lastHalfFloorsMb.map(fmt).join(", ")} MB); ` +
        `every sample: range ${fmt(rss.a.lastHalfMinMb)}–${fmt(rss.a.lastHalfMaxMb)} / ${fmt(rss.b.lastHalfMinMb)}–${fmt(rss.b.lastHalfMaxMb)} MB, ` +
        `fitted rise ${fmt(rss.a.lastHalfRiseMb)} / ${fmt(rss.b.lastHalfRiseMb)} MB`,
      met: Math.max(rss.a.lastHalfFloorRiseMb, rss.b.lastHalfFloorRiseMb) <= 10,
    },
  ];
  const timeline = [];
  for (const w of windows) {
    const s = samples.find((x) => x.t >= w.t - cfg.windowS / 2) ?? samples.at(-1);
    timeline.push([
      w.t,
      w.rps,
      fmt(w.p50),
      fmt(w.p99),
      fmt(w.max),
      w.errors +
        Object.entries(w.statuses)
          .filter(([st]) => st !== "200")
          .reduce((n, [, c]) => n + c, 0),
      s ? `${fmt(s.a.rssMb)} / ${fmt(s.b.rssMb)}` : "–",
      s ? `${fmt(s.a.heapUsedMb)} / ${fmt(s.b.heapUsedMb)}` : "–",
      s ? s.load[0] : "–",
    ]);
  }
  const lines = [
    `# Soak, ${r.startedAt.toISOString()}, commit ${COMMIT}`,
    "",
    `${machine()}; load average before ${r.loadBefore.join(" ")}. Two instances on PostgreSQL (autovacuum ${r.autovacuum}; ${r.CFG.keys} keys seeded ${cfg.seed === "direct" ? `directly over ${cfg.accounts} accounts` : "through the Store"} in ${r.seeded.seedSeconds.toFixed(1)} s, ${r.hot} of them in the load, every one cached by both before the load), Redis ${cfg.redisUrl}; MALLOC_ARENA_MAX=${cfg.arenaMax || "(unset)"}${cfg.nodeOptions ? `, NODE_OPTIONS=${cfg.nodeOptions}` : ""}. Idle RSS ${r.idle.map(fmt).join(" / ")} MB.`,
    "",
    r.maximum
      ? `Maximum (soak-load.mjs closed loop, ${cfg.maxS} s, ${cfg.connections} connections per instance, both at once): ${Math.round(r.maximum.rps)} req/s (${r.maximum.perInstance.join(" + ")}), p99 ${r.maximum.p99.map(fmt).join(" / ")} ms, load ${r.maximum.load.join(" ")}.`
      : `Rate given: ${r.rate} req/s.`,
    `Soak: ${r.rate} req/s asked (${cfg.ratePct} %), ${fmt(achieved)} answered per second over ${cfg.duration} s; ${totals?.answered ?? "–"} answers, statuses ${JSON.stringify(totals?.statuses ?? {})}, socket errors/timeouts ${totals?.errors ?? "–"}, unanswered ${totals?.unanswered ?? "–"}, dropped as late ${totals ? totals.late + totals.neverSent : "–"}; load generator CPU ${totals ? fmt((totals.cpuMs / 1000 / cfg.duration) * 100) : "–"} % of a core; latency from due time p50 ${fmt(totals?.p50)} ms, p99 ${fmt(totals?.p99)} ms, p99.9 ${fmt(totals?.p999)} ms, max ${fmt(totals?.max)} ms.`,
    `Churn: ${record.iterations.length} iterations (create, renew, edit roles, deactivate), ${fmt(
      percentile(
        [...record.iterations].sort((a, b) => a - b),
        50,
      ),
    )} ms median each.`,
    `Servers: ${r.exits.join(", ")}. Usage flushes ok/failed (a failed one is retried at the next, its counts kept): a ${endMetrics.a.flushes.ok ?? 0}/${endMetrics.a.flushes.error ?? 0}, b ${endMetrics.b.flushes.ok ?? 0}/${endMetrics.b.flushes.error ?? 0}; cache hit/miss: a ${endMetrics.a.cache.hit ?? 0}/${endMetrics.a.cache.miss ?? 0}, b ${endMetrics.b.cache.hit ?? 0}/${endMetrics.b.cache.miss ?? 0}.`,
    "",
    table(
      ["target", "result", "met"],
      targets.map((t) => [t.target, t.result, t.met ? "yes" : "**no**"]),
    ),
    "",
    `V8 heap used, lowest of each minute (MB): a ${rss.a.heapUsedFloorsMb.map(fmt).join(", ")}; b ${rss.b.heapUsedFloorsMb.map(fmt).join(", ")}.`,
    "",
    `Revocation propagation (ms, deactivated on one instance, first refusal on the other; ${prop.n} revocations): p50 ${fmt(prop.p50)}, p99 ${fmt(prop.p99)}, max ${fmt(prop.max)}; ${prop.firstPoll} refused at the first poll (the time is then that request's own latency), at most ${prop.maxPolls} polls.`,
    "",
    record.revocations.map((x) => (x.ms === null ? "–" : x.ms.toFixed(1))).join(" "),
    "",
    table(
      [
        "t (s)",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "RSS a / b MB",
        "heap used a / b MB",
        "load 1 min",
      ],
      timeline,
      ["r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ),
    "",
    record.errors.length > 0
      ? `Churn errors:\n\n${record.errors.map((e) => `- ${JSON.stringify(e)}`).join("\n")}\n`
      : "",
  ];
  return {
    markdown: lines.join("\n"),
    data: {
      config: cfg,
      commit: COMMIT,
      startedAt: r.startedAt,
      machine: machine(),
      loadBefore: r.loadBefore,
      autovacuum: r.autovacuum,
      idleRssMb: r.idle,
      maximum: r.maximum,
      rate: r.rate,
      totals,
      windows,
      samples,
      revocations: record.revocations,
      propagation: prop,
      churnErrors: record.errors,
      churnIterationsMs: record.iterations,
      endMetrics,
      rss,
      targets,
    },
  };
}

await main();
