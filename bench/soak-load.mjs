/**
 * Paced load generator of the soak (`soak.mjs`): `GET /v1/authorize` at a fixed total rate,
 * spread over several latchkey instances, on keep-alive connections, for a duration. wrk cannot
 * hold a rate (its Lua `delay()` has no wall clock, and wrk2 is not packaged), so requests are sent
 * from here on raw sockets: no HTTP library, a few microseconds of CPU per request.
 *
 * Pacing is open-loop: request n is due at start + n / rate, whatever the answers before it. A due
 * request goes to an idle connection of the next instance in turn, or waits for one; its latency is
 * counted from when it was due, so a slow server cannot hide its queue (no coordinated omission).
 * One that found no connection within `--max-late` ms (1000) is dropped and counted as `late`: the
 * rate was not kept, and a backlog that only grows would make every later latency meaningless.
 * Every request carries a random credential of the file (keys the churn never changes), so any
 * answer but 200 is an error.
 *
 * With `--closed` there is no pacing: every connection sends its next request as soon as the
 * answer to the last one is in (closed loop), which measures the most the servers answer with this
 * very generator sharing the machine; latency is then counted from when each request was sent.
 *
 * Prints one JSON line per window (`{window, t, sent, answered, rps, statuses, errors, p50, p99,
 * max, behind}`: `late` dropped, `behind` waiting for a connection at the end of the window) and a last line
 * `{done: true, ...totals}` with the load generator's own CPU time.
 *
 * Secrets: credentials come from a throwaway bench database and go into request headers only.
 *
 * Usage: node bench/soak-load.mjs --ports 8081,8082 --keys creds.tsv --rate 3000 --duration 600
 *        [--connections 48] [--window 10]
 *        node bench/soak-load.mjs --ports 8081,8082 --keys creds.tsv --closed --duration 10
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { parseArgs, percentile } from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const ports = String(args.ports).split(",").map(Number);
const closed = Boolean(args.closed);
const rate = closed ? null : Number(args.rate);
const durationMs = Number(args.duration) * 1000;
const perPort = Number(args.connections ?? 48);
const windowMs = Number(args.window ?? 10) * 1000;
const TIMEOUT_MS = 10_000;
/** A due request not sent within this long is dropped and counted as `late` (the rate was not kept). */
const maxLateMs = Number(args["max-late"] ?? 1000);
const URI = "/api/oms/pvt/orders/123";

const requests = readFileSync(String(args.keys), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const [appKey, appToken] = line.split("\t");
    return Buffer.from(
      `GET /v1/authorize HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-appkey: ${appKey}\r\n` +
        `x-api-apptoken: ${appToken}\r\nx-original-method: GET\r\nx-original-uri: ${URI}\r\n\r\n`,
    );
  });

/** Figures of the current window, and of the whole run. */
function tally() {
  return { sent: 0, late: 0, answered: 0, statuses: {}, errors: 0, latencies: [] };
}
let current = tally();
const total = tally();

const answeredPerPort = ports.map(() => 0);

function answered(status, dueAt, portIndex) {
  const ms = performance.now() - dueAt;
  answeredPerPort[portIndex]++;
  for (const t of [current, total]) {
    t.answered++;
    t.statuses[status] = (t.statuses[status] ?? 0) + 1;
  }
  current.latencies.push(ms);
  total.latencies.push(ms);
}

function failed() {
  current.errors++;
  total.errors++;
}

/**
 * Requests are due in order, request n at `started + n * intervalMs`: those due that no connection
 * could take yet are the range [nextWaiting, scheduled).
 */
let started = 0;
let intervalMs = 0;
let scheduled = 0;
let nextWaiting = 0;
const waitingCount = () => scheduled - nextWaiting;
const idle = ports.map(() => []);
const connections = new Set();
let stopping = false;

/** One keep-alive connection: one request at a time, the answer parsed from status line and length. */
function connect(portIndex) {
  const socket = net.connect({ host: "127.0.0.1", port: ports[portIndex], noDelay: true });
  const conn = { socket, portIndex, dueAt: 0, sentAt: 0, busy: false, buffer: Buffer.alloc(0) };
  connections.add(conn);
  socket.on("connect", () => release(conn));
  socket.on("data", (chunk) => {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    const end = conn.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = conn.buffer.toString("latin1", 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (conn.buffer.length < end + 4 + length) return;
    conn.buffer = conn.buffer.subarray(end + 4 + length);
    conn.busy = false;
    answered(Number(head.slice(9, 12)), conn.dueAt, conn.portIndex);
    if (/\r\nconnection: *close/i.test(head)) return reconnect(conn);
    release(conn);
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    if (conn.busy) failed();
    conn.busy = false;
    reconnect(conn);
  });
  return conn;
}

function reconnect(conn) {
  connections.delete(conn);
  conn.socket.destroy();
  const list = idle[conn.portIndex];
  const at = list.indexOf(conn);
  if (at >= 0) list.splice(at, 1);
  if (!stopping && !conn.replaced) {
    conn.replaced = true;
    setTimeout(() => connect(conn.portIndex), 100);
  }
}

function send(conn, dueAt) {
  conn.busy = true;
  conn.dueAt = dueAt;
  conn.sentAt = performance.now();
  current.sent++;
  total.sent++;
  conn.socket.write(requests[Math.floor(Math.random() * requests.length)]);
}

/** Drops the due requests that waited longer than maxLateMs for a connection. */
function dropLate() {
  const oldest = Math.ceil((performance.now() - maxLateMs - started) / intervalMs);
  if (oldest <= nextWaiting) return;
  const dropped = Math.min(oldest, scheduled) - nextWaiting;
  nextWaiting += dropped;
  current.late += dropped;
  total.late += dropped;
}

/** A connection that is free: it takes the oldest waiting request, or waits for the next one. */
function release(conn) {
  if (stopping) return;
  if (closed) {
    if (started === 0) idle[conn.portIndex].push(conn);
    else if (performance.now() - started < durationMs) send(conn, performance.now());
    return;
  }
  dropLate();
  if (nextWaiting < scheduled) send(conn, started + nextWaiting++ * intervalMs);
  else idle[conn.portIndex].push(conn);
}

let turn = 0;
/** Sends the oldest due request on an idle connection of the next instance in turn; false if none is idle. */
function dispatch() {
  for (let i = 0; i < ports.length; i++) {
    const conn = idle[(turn + i) % ports.length].pop();
    if (conn) {
      turn = (turn + i + 1) % ports.length;
      send(conn, started + nextWaiting++ * intervalMs);
      return true;
    }
  }
  return false;
}

/** A request unanswered for TIMEOUT_MS is an error, and its connection is replaced (one sweep a second). */
const sweeper = setInterval(() => {
  const now = performance.now();
  for (const conn of connections) {
    if (!conn.busy || now - conn.sentAt < TIMEOUT_MS) continue;
    failed();
    conn.busy = false;
    reconnect(conn);
  }
}, 1000);

for (let p = 0; p < ports.length; p++) for (let c = 0; c < perPort; c++) connect(p);
await new Promise((resolve) => setTimeout(resolve, 500));

started = performance.now();
intervalMs = closed ? 0 : 1000 / rate;
let windowIndex = 0;

function report() {
  const sorted = current.latencies.sort((a, b) => a - b);
  const line = {
    window: windowIndex++,
    t: Math.round((performance.now() - started) / 1000),
    sent: current.sent,
    late: current.late,
    answered: current.answered,
    rps: Math.round(current.answered / (windowMs / 1000)),
    statuses: current.statuses,
    errors: current.errors,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? null,
    behind: waitingCount(),
  };
  current = tally();
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (closed) for (const list of idle) for (const conn of list.splice(0)) release(conn);
const pacer = setInterval(() => {
  if (closed) return;
  const elapsed = performance.now() - started;
  const due = Math.min(Math.floor(elapsed / intervalMs), Math.floor(durationMs / intervalMs));
  scheduled = Math.max(scheduled, due);
  dropLate();
  while (nextWaiting < scheduled && dispatch()) {}
}, 1);
const windows = setInterval(report, windowMs);

await new Promise((resolve) => setTimeout(resolve, durationMs));
clearInterval(pacer);
// Answers still in flight get a few seconds; what is left then counts as errors.
const drainUntil = performance.now() + 5000;
while (performance.now() < drainUntil && (waitingCount() > 0 || total.answered + total.errors < total.sent))
  await new Promise((resolve) => setTimeout(resolve, 20));
clearInterval(windows);
clearInterval(sweeper);
if (current.sent > 0 || current.answered > 0) report();
stopping = true;
const sorted = total.latencies.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    done: true,
    seconds: (performance.now() - started) / 1000,
    rate,
    due: scheduled,
    sent: total.sent,
    late: total.late,
    answered: total.answered,
    /** Answers from each instance, in the order of --ports. */
    perPort: answeredPerPort,
    statuses: total.statuses,
    errors: total.errors,
    /** Sent but never answered (connections still busy after the drain). */
    unanswered: total.sent - total.answered - total.errors,
    /** Due but never sent: the load generator or the servers could not keep the rate. */
    neverSent: waitingCount(),
    cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.at(-1) ?? null,
  })}\n`,
);
process.exit(0);
