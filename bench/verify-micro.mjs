/**
 * In-process micro-benchmark of the verification decision, no HTTP: `createVerifier` over the
 * key-state cache, wired as src/main.ts (`composeLatchkey`) wires it (store, role directory, catalog, change
 * bus; usage counters, failure limiter and metrics), and with the cache alone,
 * against the lower bound of any verification by token: one `createHash("sha256")` of the
 * presented token and one `Map.get` of its digest.
 *
 * Both loops draw a random credential out of the same 10,000 (one PRNG, same sequence), after a
 * warm-up pass that loads every key into the cache; a verification that is not answered
 * synchronously (cache miss) or not allowed is counted as an anomaly. Cases alternate within each
 * run, so background noise hits both alike. Prints one JSON line.
 *
 * A fourth case runs the `/v1/authorize` fast path (src/http/fast-path.ts) on stub request and
 * response objects: header reading, route mapping, the served verifier and the answer's headers,
 * without sockets.
 *
 * Usage: node bench/verify-micro.mjs --sqlite FILE --keys creds.tsv [--ms 500] [--runs 3]
 *
 * Instruction counts (repeatable on a shared machine, unlike times): `--count N --case NAME`
 * runs `--warm W` (default 20,000) untimed steps of one case, then exactly N more, and prints
 * nothing else. Run it under callgrind with N = 0 and N = M; the difference of the two totals
 * divided by M is the steady-state cost of one step (start-up, seeding and JIT warm-up cancel):
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/verify-micro.mjs \
 *     --sqlite FILE --keys creds.tsv --case served --count 20000
 * NAME: served, cache, bound, fastpath.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCatalogFile } from "../dist/catalog/load.js";
import * as tokensModule from "../dist/core/tokens.js";
import * as tokenHash from "../dist/crypto/token-hash.js";
import { createFastPath } from "../dist/http/fast-path.js";
import { createMetrics } from "../dist/metrics.js";
import { createRoleDirectory } from "../dist/services/role-directory.js";
import { openStore } from "../dist/storage/open.js";
import { createAllowances } from "../dist/verify/allowance.js";
import { createChangeBus } from "../dist/verify/changes.js";
import { createKeyCache } from "../dist/verify/key-cache.js";
import { createFailureLimiter } from "../dist/verify/rate-limit.js";
import { createUsageRecorder } from "../dist/verify/usage.js";
import { createVerifier } from "../dist/verify/verifier.js";
import { parseArgs, ROOT } from "./lib.mjs";
import { ACCOUNT } from "./verify-seed.mjs";

const args = parseArgs(process.argv.slice(2));
const ms = Number(args.ms ?? 500);
const runs = Number(args.runs ?? 3);
const creds = readFileSync(String(args.keys), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => line.split("\t"));
const n = creds.length;
const appKeys = creds.map((c) => c[0]);
const tokens = creds.map((c) => c[1]);

const store = await openStore({ kind: "sqlite", file: String(args.sqlite) });
const clock = { now: () => Date.now() };
const catalog = loadCatalogFile(join(ROOT, "catalog", "commerce.yaml"));
const cache = createKeyCache({
  store,
  roles: createRoleDirectory({ store, catalog }),
  everyResource: catalog.resources.map((r) => r.key),
  changes: createChangeBus(),
  clock,
  // Entries must not expire during the measurement (expiry is what the HTTP runs show).
  ttlMs: 3_600_000,
});
/** Cache only, and as src/main.ts (`composeLatchkey`) wires it for the server (usage counters, limiter, metrics). */
const verifier = createVerifier({ cache, tokenPrefix: "lkt" });
const served = createVerifier({
  cache,
  tokenPrefix: "lkt",
  usage: createUsageRecorder({ store, clock }),
  limiter: createFailureLimiter({ limit: 20, windowSeconds: 60, clock }),
  allowances: createAllowances({ clock }),
  metrics: createMetrics({ clock, processMetrics: false }),
});
const RESOURCES = ["ViewOrders"];
// No fault is expected here; one would be counted as an anomaly by the checks below, not logged.
const fastPath = createFastPath({ verifier: served, catalog, trustProxy: false, logger: { error() {} } });
/** What node:http hands the fast path for a gateway's subrequest (headers lower-cased). */
const requests = creds.map(([appKey, appToken]) => ({
  url: "/v1/authorize",
  headers: {
    host: "127.0.0.1:8080",
    "x-api-appkey": appKey,
    "x-api-apptoken": appToken,
    "x-original-uri": "/api/oms/pvt/orders/123",
    "x-original-method": "GET",
  },
  socket: { remoteAddress: "127.0.0.1" },
}));
let lastStatus = 0;
const response = {
  writeHead(status) {
    lastStatus = status;
  },
  end() {},
};

/** The bound's table: what a verifier keyed by token digest would hold. */
const byDigest = new Map();
for (let i = 0; i < n; i++) {
  byDigest.set(createHash("sha256").update(tokens[i]).digest("base64url"), {
    appKey: appKeys[i],
    resources: RESOURCES,
  });
}

let anomalies = 0;
for (let i = 0; i < n; i++) {
  const d = await verifier.verify({
    credentials: { kind: "key", appKey: appKeys[i], appToken: tokens[i] },
    resources: RESOURCES,
    ip: "127.0.0.1",
  });
  if (!d.valid || d.allowed !== true) anomalies++;
}
const warmAnomalies = anomalies;
anomalies = 0;

/** xorshift32: both cases draw the same index sequence. */
function indices(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

function timed(step) {
  let ops = 0;
  const started = performance.now();
  let now = started;
  do {
    for (let i = 0; i < 256; i++) step();
    ops += 256;
    now = performance.now();
  } while (now - started < ms);
  return ops / ((now - started) / 1000);
}

/** One step of each case, given the credential's index. */
const steps = {
  bound: (i) => {
    if (byDigest.get(createHash("sha256").update(tokens[i]).digest("base64url")) === undefined) anomalies++;
  },
  served: (i) => {
    const d = served.verify({
      credentials: { kind: "key", appKey: appKeys[i], appToken: tokens[i] },
      resources: RESOURCES,
      ip: "127.0.0.1",
    });
    if (d instanceof Promise || d.allowed !== true) anomalies++;
  },
  cache: (i) => {
    const d = verifier.verify({
      credentials: { kind: "key", appKey: appKeys[i], appToken: tokens[i] },
      resources: RESOURCES,
      ip: "127.0.0.1",
    });
    if (d instanceof Promise || d.allowed !== true) anomalies++;
  },
  fastpath: (i) => {
    lastStatus = 0;
    if (!fastPath(requests[i], response) || lastStatus !== 200) anomalies++;
  },
};

if (args.count !== undefined) {
  const step = steps[String(args.case)];
  if (!step) throw new Error(`--case must be one of ${Object.keys(steps).join(", ")}`);
  const next = indices(12345);
  const warm = Number(args.warm ?? 20_000);
  for (let k = 0; k < warm; k++) step(next());
  const count = Number(args.count);
  for (let k = 0; k < count; k++) step(next());
  await store.close();
  if (anomalies > 0 || warmAnomalies > 0) {
    console.error(JSON.stringify({ warmAnomalies, anomalies }));
    process.exit(1);
  }
  process.exit(0);
}

function caseOf(step) {
  return () => {
    const next = indices(12345);
    return timed(() => step(next()));
  };
}
const cases = {
  "sha256 + Map.get (bound)": caseOf(steps.bound),
  "createVerifier().verify as the server wires it, warm cache": caseOf(steps.served),
  "createVerifier().verify, cache only (no usage, limiter, metrics)": caseOf(steps.cache),
  "fast path: /v1/authorize handler on stub req/res (headers, route, served verify, answer)": caseOf(
    steps.fastpath,
  ),
};

// Parts of a verification, each alone, to show where the time between the two goes. They follow
// the helpers the verifier uses (digest as bytes when token-hash.js has it, else base64url), and a
// part whose helper is gone is skipped rather than failing the run.
function part(name, step) {
  cases[`part: ${name}`] = () => {
    const next = indices(12345);
    return timed(() => step(next()));
  };
}
const { classifyToken, isAppKeyShaped } = tokensModule;
if (classifyToken && isAppKeyShaped)
  part("classifyToken + isAppKeyShaped", (i) => {
    if (classifyToken(tokens[i], "lkt") !== "native" || !isAppKeyShaped(appKeys[i])) anomalies++;
  });
if (tokenHash.tokenDigestBinary && tokenHash.digestMatchesBinary) {
  // As the verifier does: the presented token's digest as a binary string, against cached bytes.
  const { tokenDigestBinary, digestMatchesBinary } = tokenHash;
  const stored = tokens.map((t) => Buffer.from(tokenHash.hashToken(t), "base64url"));
  const presented = tokens.map((t) => tokenDigestBinary(t));
  part("tokenDigestBinary (crypto.hash sha256 -> binary string)", (i) => {
    if (tokenDigestBinary(tokens[i]).length !== 32) anomalies++;
  });
  part("digestMatchesBinary (constant-time compare)", (i) => {
    if (!digestMatchesBinary(stored[i], presented[i])) anomalies++;
  });
} else {
  const digestOf = tokenHash.tokenDigest ?? tokenHash.hashToken;
  const equal = tokenHash.tokenDigest ? tokenHash.digestBytesEqual : tokenHash.digestsEqual;
  const digests = tokens.map((t) => digestOf(t));
  const copies = tokens.map((t) => digestOf(t));
  part(
    `${tokenHash.tokenDigest ? "tokenDigest (sha256 -> Buffer)" : "hashToken (sha256 -> base64url)"}`,
    (i) => {
      if (digestOf(tokens[i]).length === 0) anomalies++;
    },
  );
  part(`${tokenHash.tokenDigest ? "digestBytesEqual" : "digestsEqual"} (constant-time compare)`, (i) => {
    if (!equal(digests[i], copies[i])) anomalies++;
  });
}
if (typeof cache.peek === "function" && typeof cache.peekGrant === "function")
  part("cache.peek + peekGrant", (i) => {
    const state = cache.peek(appKeys[i]);
    if (!state || !cache.peekGrant(state, ACCOUNT)) anomalies++;
  });

for (const fn of Object.values(cases)) fn(); // JIT warm-up
const results = [];
for (let r = 0; r < runs; r++) {
  const out = {};
  const names = r % 2 ? Object.keys(cases).reverse() : Object.keys(cases);
  for (const name of names) out[name] = Math.round(cases[name]());
  results.push(out);
}
await store.close();
console.log(JSON.stringify({ keys: n, ms, runs: results, warmAnomalies, anomalies }));
