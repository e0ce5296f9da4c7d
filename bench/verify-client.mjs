/**
 * Keep-alive HTTP client of the verification benchmark, for what a load generator does not do:
 * requests with keys the server has not seen yet, and one request per key.
 *
 * From the credentials file (appKey <TAB> appToken) it draws a random permutation of the keys
 * (seeded), then, on GET /v1/authorize with the orders URI:
 *   1. cold: the first `--cold` keys of the permutation, one request at a time on one socket,
 *      each key new to the server process: per-request latency with the key-state cache missing;
 *   2. warm: the same keys again, one at a time: the same requests with the cache hit;
 *   3. fill: the next keys up to `--fill` distinct keys in all, `--concurrency` at a time
 *      (the server then holds `--fill` keys in its cache);
 *   4. optionally writes the following `--rest` keys to `--rest-file` (keys still unseen, for a
 *      cold run under load).
 * Prints one JSON line: latency summaries (ms), statuses, the fill's rate.
 *
 * Usage: node bench/verify-client.mjs --port P --keys creds.tsv [--cold 2000] [--fill 0]
 *        [--concurrency 16] [--seed 1] [--rest 0 --rest-file F]
 */
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { parseArgs, summarize } from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const port = Number(args.port);
const coldCount = Number(args.cold ?? 2000);
const fill = Number(args.fill ?? 0);
const concurrency = Number(args.concurrency ?? 16);
const restCount = Number(args.rest ?? 0);
const URI = "/api/oms/pvt/orders/123";

const lines = readFileSync(String(args.keys), "utf8").split("\n").filter(Boolean);

/** Seeded Fisher-Yates over indices, so two runs with one seed draw the same keys. */
function permutation(n, seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
const order = permutation(lines.length, Number(args.seed ?? 1));
const credential = (i) => lines[order[i]].split("\t");
if (Math.max(coldCount, fill) + restCount > lines.length) throw new Error("not enough keys in the file");

function authorize(agent, i) {
  const [appKey, appToken] = credential(i);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/authorize",
        agent,
        headers: {
          "x-api-appkey": appKey,
          "x-api-apptoken": appToken,
          "x-original-method": "GET",
          "x-original-uri": URI,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function sequential(from, to) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ms = [];
  const statuses = {};
  // One request first on the socket, so that the connection set-up is not in the first sample.
  await new Promise((resolve, reject) =>
    http
      .get({ host: "127.0.0.1", port, path: "/healthz", agent }, (r) => r.resume().on("end", resolve))
      .on("error", reject),
  );
  for (let i = from; i < to; i++) {
    const r = await authorize(agent, i);
    ms.push(r.ms);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  agent.destroy();
  const s = summarize(ms);
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    ...s,
    p90: sorted[Math.floor(0.9 * (sorted.length - 1))],
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    statuses,
  };
}

async function parallel(from, to) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = {};
  let next = from;
  const started = performance.now();
  async function worker() {
    while (next < to) {
      const r = await authorize(agent, next++);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  return { requests: to - from, seconds, rps: (to - from) / seconds, statuses };
}

const out = {};
if (coldCount > 0) {
  out.cold = await sequential(0, coldCount);
  out.warm = await sequential(0, coldCount);
}
if (fill > coldCount) out.fill = await parallel(coldCount, fill);
if (restCount > 0) {
  const from = Math.max(coldCount, fill);
  const rest = [];
  for (let i = from; i < from + restCount; i++) rest.push(lines[order[i]]);
  writeFileSync(String(args["rest-file"]), `${rest.join("\n")}\n`);
}
console.log(JSON.stringify(out));
