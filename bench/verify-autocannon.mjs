/**
 * One bounded autocannon run of the verification benchmark, in its own process (verify.mjs pins it
 * to the load generator's CPU). Every request carries a random credential of a TSV file:
 * - with `--headers h1,h2,…`: a GET whose headers are the row's columns, in that order (the
 *   ceiling, better-auth, `/v1/authorize`);
 * - without: POST /v1/verify with the row's appKey and appToken in a JSON body.
 * autocannon comes from bench/peers/ (installed there by verify.mjs; not a dependency of latchkey).
 * Prints one JSON line: rps, p50_ms, p99_ms, non2xx, errors, timeouts, … (the fields of a wrk run).
 *
 * Usage: node bench/verify-autocannon.mjs --url U --keys creds.tsv [--headers h1,h2]
 *        [--duration 5] [--connections 50] [--resource ViewOrders]
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const autocannon = createRequire(join(import.meta.dirname, "peers", "package.json"))("autocannon");
const duration = Number(args.duration ?? 5);
const connections = Number(args.connections ?? 50);
const resource = String(args.resource ?? "ViewOrders");
const names = String(args.headers ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const rows = readFileSync(String(args.keys), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => line.split("\t"));
if (!rows.length) throw new Error(`no credentials in ${args.keys}`);

// Bodies are serialised once, as wrk's script builds its requests once.
const bodies = names.length
  ? []
  : rows.map(([appKey, appToken]) => JSON.stringify({ appKey, appToken, resource }));

const requests = names.length
  ? [
      {
        setupRequest(req) {
          const row = rows[(Math.random() * rows.length) | 0];
          for (let i = 0; i < names.length; i++) req.headers[names[i]] = row[i];
          return req;
        },
      },
    ]
  : [
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest(req) {
          req.body = bodies[(Math.random() * bodies.length) | 0];
          return req;
        },
      },
    ];

// Exact per-response latencies (autocannon's own histogram has 1 ms resolution).
let latencies = new Float64Array(1 << 20);
let count = 0;
const status = {};
const instance = autocannon({
  url: String(args.url),
  duration,
  connections,
  pipelining: 1,
  requests,
  timeout: 10,
});
instance.on("response", (_client, code, _bytes, ms) => {
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = ms;
  status[code] = (status[code] ?? 0) + 1;
});
setTimeout(() => process.exit(3), (duration + 20) * 1000).unref();

const result = await instance;
const sorted = latencies.subarray(0, count).sort();
const at = (p) => (count ? sorted[Math.min(count - 1, Math.floor(p * count))] : null);
const ok = Object.entries(status).reduce((sum, [code, n]) => sum + (code >= 200 && code < 300 ? n : 0), 0);
console.log(
  JSON.stringify({
    tool: "autocannon",
    url: args.url,
    connections,
    duration_s: result.duration,
    responses: count,
    rps: count / result.duration,
    ok,
    non2xx: count - ok,
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    p50_ms: at(0.5),
    p90_ms: at(0.9),
    p99_ms: at(0.99),
    max_ms: count ? sorted[count - 1] : null,
  }),
);
