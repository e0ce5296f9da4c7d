/**
 * The throughput part of the verification benchmark: seeds the same credentials into SQLite and
 * PostgreSQL, starts every target (the ceiling and better-auth from bench/peers/, latchkey from
 * this checkout's dist/), checks each with valid, wrong and under-privileged credentials, warms the
 * caches, then runs rounds over every tool and target, recording each run in `out.runs`.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_SECRET, ROOT } from "./lib.mjs";
import {
  AUTOCANNON,
  betterAuthSeed,
  CFG,
  has,
  LUA,
  latchkeyArgv,
  latchkeyEnv,
  log,
  PEERS,
  URI,
} from "./verify-config.mjs";
import {
  cpuMsOf,
  haveWrk,
  measured,
  memoryOf,
  nodeJson,
  pinned,
  request,
  startServer,
  waitQuiet,
  wrk,
} from "./verify-procs.mjs";
import { ACCOUNT, benchControls, preparePostgres, seedInto } from "./verify-seed.mjs";

const authorizeHeaders = ([appKey, appToken]) => ({
  "x-api-appkey": appKey,
  "x-api-apptoken": appToken,
  "x-original-method": "GET",
  "x-original-uri": URI,
});
const verifyBody = ([appKey, appToken], resource = "ViewOrders") => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ appKey, appToken, resource }),
});

/** Sanity checks of one row before any load: a run that measures errors measures nothing. */
async function checkRow(row, creds) {
  const control = row.control;
  const port = row.server.port;
  const valid = creds[Math.floor(Math.random() * creds.length)];
  const wrong = [valid[0], creds.find((c) => c[0] !== valid[0])[1]];
  const checks = [];
  const check = (name, pass, got) => checks.push({ name, pass, got });
  if (row.kind === "ceiling") {
    const r = await request(port, "/", { headers: authorizeHeaders(valid) });
    check("any request: 200", r.status === 200, r.status);
  } else if (row.kind === "better-auth") {
    const r = await request(port, "/", { headers: { "x-api-key": row.baKeys[0] } });
    check("valid key: 200", r.status === 200, r.status);
    for (const c of JSON.parse(readFileSync(join(row.baDir, "ba-checks.json"), "utf8"))) {
      const x = await request(port, "/", { headers: c.headers });
      check(c.name, x.status === c.expect, x.status);
    }
  } else if (row.kind === "authorize") {
    const ok = await request(port, "/v1/authorize", { headers: authorizeHeaders(valid) });
    const h = ok.headers;
    check(
      "valid: 200 with x-auth-account/appkey/key-type",
      ok.status === 200 &&
        h["x-auth-account"] === ACCOUNT &&
        h["x-auth-appkey"] === valid[0] &&
        h["x-auth-key-type"] === "generated",
      `${ok.status} ${h["x-auth-account"]} ${h["x-auth-appkey"]} ${h["x-auth-key-type"]}`,
    );
    const bad = await request(port, "/v1/authorize", { headers: authorizeHeaders(wrong) });
    check("wrong token: 401", bad.status === 401, bad.status);
    const denied = await request(port, "/v1/authorize", { headers: authorizeHeaders(control) });
    check("key without ViewOrders: 403", denied.status === 403, denied.status);
  } else {
    const ok = await request(port, "/v1/verify", verifyBody(valid));
    const okBody = safeJson(ok.text);
    check(
      "valid: 200 {valid:true, allowed:true}",
      ok.status === 200 && okBody?.valid === true && okBody?.allowed === true,
      `${ok.status} ${ok.text.slice(0, 120)}`,
    );
    const bad = await request(port, "/v1/verify", verifyBody(wrong));
    const badBody = safeJson(bad.text);
    check(
      "wrong token: 200 {valid:false, code}",
      bad.status === 200 && badBody?.valid === false && typeof badBody?.code === "string",
      `${bad.status} ${bad.text.slice(0, 120)}`,
    );
    const denied = await request(port, "/v1/verify", verifyBody(control));
    const deniedBody = safeJson(denied.text);
    check(
      "key without ViewOrders: allowed:false",
      denied.status === 200 && deniedBody?.allowed === false,
      `${denied.status} ${denied.text.slice(0, 120)}`,
    );
  }
  return checks;
}
function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One measured run of `row` with `tool`, plus the CPU of server, load generator and the rest. */
function loadRun(row, tool, duration, files) {
  const url = `http://127.0.0.1:${row.server.port}${row.path}`;
  const base = { cpu: CFG.loadgenCpu, cwd: ROOT };
  const betterAuth = row.kind === "better-auth";
  const keys = betterAuth ? join(row.baDir, "ba-keys.tsv") : files.creds;
  if (tool === "wrk") {
    const wrkEnv = betterAuth
      ? { WRK_MODE: "headers", WRK_HEADERS: "x-api-key", WRK_KEYS: keys }
      : { WRK_MODE: row.kind === "verify" ? "verify" : "authorize", WRK_KEYS: keys };
    return wrk({ ...base, url, script: LUA, env: wrkEnv, duration, connections: CFG.connections });
  }
  const args = ["--url", url, "--duration", String(duration), "--connections", String(CFG.connections)];
  if (row.kind === "verify") args.push("--keys", keys);
  else if (betterAuth) args.push("--keys", keys, "--headers", "x-api-key");
  else
    args.push(
      "--keys",
      files.authorizeTsv,
      "--headers",
      "x-api-appkey,x-api-apptoken,x-original-method,x-original-uri",
    );
  return nodeJson(AUTOCANNON, args, { ...base, timeoutMs: (duration + 40) * 1000 });
}

/** How often a latchkey server writes its usage counters (verify/usage.ts), plus a margin. */
const USAGE_FLUSH_MS = 5_000 + 500;

/**
 * Waits until the servers are done with the work a run left behind, so that it does not fall into
 * the next run of another target on the same pinned core: a latchkey server writes the usage
 * counters of a run up to 5 s after it (one write of every key used), a few hundred milliseconds of
 * CPU that the following row would otherwise pay. Waits until the last run's server has had its
 * flush (5.5 s after that run ended), then until no server has used 1 % of a core for 300 ms (at
 * most 10 s in all). Returns the seconds waited.
 */
async function settle(servers, lastRun) {
  if (!CFG.settle || lastRun === null) return 0;
  const started = Date.now();
  const deadline = started + 10_000;
  if (lastRun.server.name.startsWith("latchkey")) {
    const flushAt = lastRun.endedAt + USAGE_FLUSH_MS;
    if (flushAt > Date.now()) await new Promise((resolve) => setTimeout(resolve, flushAt - Date.now()));
  }
  const live = servers.filter((s) => !s.exited());
  while (Date.now() < deadline) {
    const before = live.map((s) => cpuMsOf(s.pid) ?? 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const used = live.reduce((sum, s, i) => sum + ((cpuMsOf(s.pid) ?? 0) - (before[i] ?? 0)), 0);
    if (used < 3 * live.length + 3) break;
  }
  return (Date.now() - started) / 1000;
}

/**
 * latchkey's key-state cache counters from /metrics: how many verifications of a run went to the
 * store (a key seen for the first time or whose entry expired). Null for other targets.
 */
async function cacheCounts(row) {
  if (row.kind !== "authorize" && row.kind !== "verify") return null;
  const r = await request(row.server.port, "/metrics").catch(() => null);
  const count = (result) =>
    Number(
      r?.text.match(
        new RegExp(`^latchkey_key_cache_requests_total\\{result="${result}"\\} (\\d+)`, "m"),
      )?.[1],
    );
  const counts = { hit: count("hit"), miss: count("miss") };
  return Number.isFinite(counts.hit) && Number.isFinite(counts.miss) ? counts : null;
}

/**
 * One request per key right before a server's runs of a round: its cache entries live 60 s from
 * their load and all of them were loaded together, so without this they all expire together and
 * whichever run comes first after the expiry pays for reloading every key. Returns how many
 * requests missed the cache (the keys that had expired) and the server CPU that took.
 */
async function refresh(row, credsFile) {
  const before = await cacheCounts(row);
  const cpu0 = cpuMsOf(row.server.pid);
  const started = Date.now();
  const r = await nodeJson(
    join(ROOT, "bench", "verify-client.mjs"),
    [
      "--port",
      String(row.server.port),
      "--keys",
      credsFile,
      "--cold",
      "0",
      "--fill",
      String(CFG.keys),
      "--concurrency",
      "50",
    ],
    { cpu: CFG.loadgenCpu, cwd: ROOT, timeoutMs: 300_000 },
  );
  const after = await cacheCounts(row);
  return {
    seconds: (Date.now() - started) / 1000,
    misses: before && after ? after.miss - before.miss : null,
    server_cpu_ms: cpuMsOf(row.server.pid) - cpu0,
    statuses: r.fill?.statuses ?? r.error,
  };
}

export async function httpPhase(out, work, profileDir, logDir) {
  const servers = [];
  const rows = [];
  const files = { creds: join(work, "creds.tsv"), authorizeTsv: join(work, "authorize.tsv") };
  let creds = [];
  const controls = {};
  try {
    // "controls": SQLite again, every key with an expiry, a 10-entry IP allowlist, a rate limit
    // and metadata (benchControls), so that its row prices the controls against the plain one.
    const latchkeyDbs = ["sqlite", "controls", "postgres"].filter(has);
    if (latchkeyDbs.length || has("ceiling") || has("micro")) {
      // The same 10,000 credentials in every latchkey database: SQLite is seeded first, its
      // credentials file then replayed into PostgreSQL.
      log(`seeding ${CFG.keys} keys into SQLite through the Store`);
      const seeded = await seedInto(
        { kind: "sqlite", file: join(work, "sqlite", "latchkey.db") },
        { count: CFG.keys, credsFile: files.creds },
      );
      out.seeds.sqlite_s = seeded.seedSeconds;
      controls.sqlite = [seeded.control.appKey, seeded.control.appToken];
      creds = readFileSync(files.creds, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t"));
      writeFileSync(files.authorizeTsv, `${creds.map((c) => [...c, "GET", URI].join("\t")).join("\n")}\n`);
    }
    if (has("ceiling")) {
      servers.push(
        await startServer({
          name: "ceiling",
          argv: pinned(CFG.serverCpu, [process.execPath, "ceiling-server.mjs"]),
          cwd: PEERS,
          env: {},
          logDir,
        }),
      );
      rows.push({
        id: "ceiling",
        target: "ceiling",
        endpoint: "any (200 ok)",
        kind: "ceiling",
        path: "/",
        server: servers.at(-1),
      });
    }
    if (has("better-auth")) {
      const baDir = betterAuthSeed();
      copyFileSync(join(baDir, "seed.db"), join(work, "ba.db"));
      const baKeys = readFileSync(join(baDir, "ba-keys.tsv"), "utf8").split("\n").filter(Boolean);
      servers.push(
        await startServer({
          name: "better-auth",
          argv: pinned(CFG.serverCpu, [process.execPath, "better-auth-server.mjs"]),
          cwd: PEERS,
          env: { DB: join(work, "ba.db"), BA_JOURNAL: "wal-normal", BA_RATE_LIMIT: "0" },
          logDir,
        }),
      );
      rows.push({
        id: "better-auth",
        target: "better-auth",
        endpoint: "verifyApiKey",
        kind: "better-auth",
        path: "/",
        server: servers.at(-1),
        baDir,
        baKeys,
      });
    }
    for (const db of latchkeyDbs) {
      let dbEnv = { DATA_DIR: join(work, "sqlite") };
      if (db === "postgres") {
        log(`seeding the same ${CFG.keys} keys into a fresh PostgreSQL database`);
        const pg = await preparePostgres({
          credsFile: join(work, "creds-pg.tsv"),
          tokens: creds,
          count: CFG.keys,
        });
        out.seeds.postgres_s = pg.seedSeconds;
        out.cleanups.push(pg.drop);
        dbEnv = { ...pg.env, DATA_DIR: join(work, "pg-data") };
        controls.postgres = [pg.control.appKey, pg.control.appToken];
      } else if (db === "controls") {
        log(`seeding the same ${CFG.keys} keys, each with every control, into another SQLite database`);
        mkdirSync(join(work, "sqlite-controls"), { recursive: true });
        const seeded = await seedInto(
          { kind: "sqlite", file: join(work, "sqlite-controls", "latchkey.db") },
          {
            count: CFG.keys,
            credsFile: join(work, "creds-controls.tsv"),
            tokens: creds,
            controls: benchControls(Date.now()),
          },
        );
        out.seeds.controls_s = seeded.seedSeconds;
        controls.controls = [seeded.control.appKey, seeded.control.appToken];
        dbEnv = { DATA_DIR: join(work, "sqlite-controls"), LATCHKEY_SECRET: BENCH_SECRET };
      } else {
        dbEnv.LATCHKEY_SECRET = BENCH_SECRET;
      }
      const name = db === "controls" ? "latchkey-sqlite-controls" : `latchkey-${db}`;
      const server = await startServer({
        name,
        argv: latchkeyArgv(name, profileDir),
        cwd: ROOT,
        env: latchkeyEnv(dbEnv),
        readyPath: "/healthz",
        logDir,
      });
      servers.push(server);
      if (CFG.endpoints.includes("authorize"))
        rows.push({
          id: `${name} authorize`,
          target: name,
          endpoint: "/v1/authorize",
          kind: "authorize",
          path: "/v1/authorize",
          server,
          control: controls[db],
        });
      if (CFG.endpoints.includes("verify"))
        rows.push({
          id: `${name} verify`,
          target: name,
          endpoint: "/v1/verify",
          kind: "verify",
          path: "/v1/verify",
          server,
          control: controls[db],
        });
      // Warm cache: one request per key before any measured load.
      const fill = await nodeJson(
        join(ROOT, "bench", "verify-client.mjs"),
        [
          "--port",
          String(server.port),
          "--keys",
          files.creds,
          "--cold",
          "0",
          "--fill",
          String(creds.length),
          "--concurrency",
          "50",
        ],
        { cpu: CFG.loadgenCpu, cwd: ROOT, timeoutMs: 300_000 },
      );
      log(`${name}: cache filled with ${creds.length} keys: ${JSON.stringify(fill.fill?.statuses ?? fill)}`);
    }

    for (const row of rows) {
      row.checks = await checkRow(row, creds);
      for (const c of row.checks) log(`check ${row.id}: ${c.name}: ${c.pass ? "ok" : `FAIL (got ${c.got})`}`);
      out.checks[row.id] = row.checks;
      if (CFG.warmup > 0) await loadRun(row, "autocannon", CFG.warmup, files);
    }

    const tools = CFG.tools.filter((t) => t !== "wrk" || haveWrk());
    if (tools.length < CFG.tools.length) log("wrk not found (apt-get install -y wrk): autocannon only");
    let lastRun = null;
    for (let round = 1; round <= CFG.rounds; round++) {
      for (const tool of tools) {
        const refreshed = new Set();
        for (const row of rows) {
          if (row.server.exited()) {
            log(`${row.id}: server has exited; skipped`);
            continue;
          }
          if (
            CFG.refresh &&
            (row.kind === "authorize" || row.kind === "verify") &&
            !refreshed.has(row.server)
          ) {
            refreshed.add(row.server);
            out.refreshes.push({
              server: row.server.name,
              round,
              tool,
              ...(await refresh(row, files.creds)),
            });
          }
          const settled = await settle(servers, lastRun);
          const quiet = await waitQuiet(CFG.quietPct, CFG.quietWaitS);
          const cache0 = await cacheCounts(row);
          const res = await measured(row.server, () => loadRun(row, tool, CFG.duration, files));
          const cache1 = await cacheCounts(row);
          if (cache0 && cache1) {
            res.cache_hits = cache1.hit - cache0.hit;
            res.cache_misses = cache1.miss - cache0.miss;
          }
          Object.assign(res, {
            row: row.id,
            target: row.target,
            endpoint: row.endpoint,
            tool,
            round,
            bg_busy_pct_before: quiet.busy,
            quiet_wait_s: quiet.waitedS,
            settle_s: settled,
          });
          lastRun = { server: row.server, endedAt: res.ended_at ?? Date.now() };
          out.runs.push(res);
          log(
            res.error
              ? `${row.id} ${tool} #${round}: ERROR ${res.error}`
              : `${row.id} ${tool} #${round}: ${Math.round(res.rps)} req/s p50 ${res.p50_ms?.toFixed(2)} p99 ${res.p99_ms?.toFixed(2)} ms non2xx ${res.non2xx} err ${res.errors}${res.cache_misses === undefined ? "" : ` cache misses ${res.cache_misses}`} | cpu server ${res.server_cpu_pct}% loadgen ${res.loadgen_cpu_pct}% others ${res.other_cpu_pct}% (machine ${quiet.busy}% busy before)`,
          );
        }
      }
    }
    for (const s of servers.filter((x) => x.name.startsWith("latchkey")))
      out.servers[s.name] = { cpu_ms: cpuMsOf(s.pid), ...memoryOf(s.pid) };
  } finally {
    for (const s of servers) await s.stop();
  }
  for (const s of servers) if (out.servers[s.name]) out.servers[s.name].exited_at = s.exitedAt();
  out.rows = rows.map(({ id, target, endpoint, kind }) => ({ id, target, endpoint, kind }));
  return { creds, files };
}
