/**
 * Memory of the key-state cache per cached key, in process: a SQLite database seeded as
 * `verify-seed.mjs` seeds it (active keys holding role 10, real token hashes; seeded once into
 * `$CACHE_DIR/cache-memory-<N>/`, default `/tmp/latchkey-verify-cache`), then per run a fresh child
 * process that builds the cache as `src/main.ts` (`composeLatchkey`) wires it (real store, role directory,
 * catalog, change bus), fills it with every key (one verification per key, as a server's fill
 * does: load, token check, own grant) and reports `process.memoryUsage()` heapUsed and RSS deltas
 * after `global.gc()`, per key and per 100,000 keys. Prints the median of the runs as JSON.
 *
 * Uses `dist/` (`npm run build` first), or the build in `$DIST`. The appKeys handed to the cache are fresh flat strings
 * made just before each load, as a request's header would be, so that the cache's own copies are
 * what is counted.
 *
 * Usage: node bench/cache-memory.mjs [--keys 100000] [--runs 3]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs, ROOT } from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const count = Number(args.keys ?? 100_000);

if (args.child) {
  await child(String(args.child), String(args.creds), count);
} else {
  const runs = Number(args.runs ?? 3);
  const dir = join(process.env.CACHE_DIR ?? "/tmp/latchkey-verify-cache", `cache-memory-${count}`);
  const file = join(dir, "latchkey.db");
  const creds = join(dir, "creds.tsv");
  if (!existsSync(join(dir, "done"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const { seedInto } = await import("./verify-seed.mjs");
    const { seedSeconds } = await seedInto({ kind: "sqlite", file }, { count, credsFile: creds });
    execFileSync("touch", [join(dir, "done")]);
    console.error(`seeded ${count} keys in ${seedSeconds.toFixed(1)} s`);
  }
  const results = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", import.meta.filename, "--child", file, "--creds", creds, "--keys", String(count)],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    const result = JSON.parse(out.trim().split("\n").pop());
    console.error(JSON.stringify(result));
    results.push(result);
  }
  const median = (pick) => {
    const values = results.map(pick).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)];
  };
  console.log(
    JSON.stringify({
      keys: count,
      runs,
      heapBytesPerKey: median((r) => r.heapBytesPerKey),
      rssBytesPerKey: median((r) => r.rssBytesPerKey),
      heapMBPer100k: median((r) => r.heapMBPer100k),
      rssMBPer100k: median((r) => r.rssMBPer100k),
      anomalies: Math.max(...results.map((r) => r.anomalies)),
    }),
  );
}

async function child(file, credsFile, n) {
  // DIST: another build to measure (a snapshot of dist/), default this tree's dist/.
  const dist = process.env.DIST ?? join(ROOT, "dist");
  const load = (path) => import(pathToFileURL(join(dist, path)).href);
  const { loadCatalogFile } = await load("catalog/load.js");
  const { createRoleDirectory } = await load("services/role-directory.js");
  const { openStore } = await load("storage/open.js");
  const { createChangeBus } = await load("verify/changes.js");
  const { createKeyCache } = await load("verify/key-cache.js");
  const { createVerifier } = await load("verify/verifier.js");
  const lines = readFileSync(credsFile, "utf8").split("\n").filter(Boolean).slice(0, n);
  const store = await openStore({ kind: "sqlite", file });
  const catalog = loadCatalogFile(join(ROOT, "catalog", "commerce.yaml"));
  const cache = createKeyCache({
    store,
    roles: createRoleDirectory({ store, catalog }),
    everyResource: catalog.resources.map((r) => r.key),
    changes: createChangeBus(),
    clock: { now: () => Date.now() },
    ttlMs: 3_600_000,
  });
  const verifier = createVerifier({ cache, tokenPrefix: "lkt" });
  /** A fresh flat copy, as a request header's value would be (not a slice of the file's text). */
  const fresh = (s) => {
    // Not from Buffer's shared pool, whose slabs the cached digests could otherwise keep alive.
    const bytes = Buffer.allocUnsafeSlow(s.length);
    bytes.write(s, "latin1");
    return bytes.toString("latin1");
  };
  // Warm the code paths (and SQLite's page cache) on a few keys, then forget them.
  for (let i = 0; i < 200 && i < lines.length; i++) await cache.load(fresh(lines[i].split("\t")[0]));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const measure = () => {
    global.gc();
    global.gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, rss: m.rss, total: m.heapTotal, buffers: m.arrayBuffers };
  };
  const baseline = measure();
  let anomalies = 0;
  for (let i = 0; i < lines.length; i++) {
    const tab = lines[i].indexOf("\t");
    const decision = await verifier.verify({
      credentials: {
        kind: "key",
        appKey: fresh(lines[i].slice(0, tab)),
        appToken: fresh(lines[i].slice(tab + 1)),
      },
      resources: ["ViewOrders"],
      ip: null,
    });
    if (!decision.valid || decision.allowed !== true) anomalies++;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const filled = measure();
  if (cache.held() < lines.length) anomalies++;
  const heap = filled.heap - baseline.heap;
  const rss = filled.rss - baseline.rss;
  console.log(
    JSON.stringify({
      keys: lines.length,
      cached: cache.held(),
      heapBytesPerKey: Math.round(heap / lines.length),
      rssBytesPerKey: Math.round(rss / lines.length),
      heapMBPer100k: Number((((heap / lines.length) * 100_000) / 1e6).toFixed(1)),
      rssMBPer100k: Number((((rss / lines.length) * 100_000) / 1e6).toFixed(1)),
      heapTotalBytesPerKey: Math.round((filled.total - baseline.total) / lines.length),
      arrayBufferBytesPerKey: Math.round((filled.buffers - baseline.buffers) / lines.length),
      anomalies,
    }),
  );
  await store.close();
}
