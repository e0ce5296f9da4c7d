/**
 * How long a usage write holds the event loop, in process: a usage recorder (`dist/`, or the build
 * in `$DIST`) with a store that takes every slice at once, `--keys` keys each used once (a UUID
 * id, a token of its own, an account and a resource, as a verification records them), then one
 * `flush()` (a stamp write: counts and every last-use time) while a turn of the event loop is
 * timed over and over, as waiting requests would be served. Reports, per round, the longest time
 * between two turns (what a request arriving during the write waits at worst, apart from the
 * database), the turns the write gave, and the whole write. Rounds after the first two (warm-up)
 * go into the median printed last as JSON.
 *
 * Usage: node bench/usage-write.mjs [--keys 100000] [--rounds 7]   (npm run build first)
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs, ROOT } from "./lib.mjs";

const args = parseArgs(process.argv.slice(2));
const keys = Number(args.keys ?? 100_000);
const rounds = Number(args.rounds ?? 7);
const dist = process.env.DIST ?? join(ROOT, "dist");
const { createUsageRecorder } = await import(pathToFileURL(join(dist, "verify", "usage.js")).href);

const ids = Array.from({ length: keys }, () => randomUUID());
const holders = ids.map(() => ({ tokenIds: [randomUUID()] }));
let now = Date.now();
let slices = 0;
const usage = createUsageRecorder({
  clock: { now: () => now },
  store: {
    usage: {
      async record() {
        slices++;
      },
    },
  },
});

const results = [];
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < keys; i++) {
    now += 1;
    usage.record(ids[i], "allowed", "acme", "ViewOrders", holders[i], 0);
  }
  slices = 0;
  let turns = 0;
  let longest = 0;
  let last = performance.now();
  let writing = true;
  const turn = () => {
    const at = performance.now();
    longest = Math.max(longest, at - last);
    last = at;
    turns++;
    if (writing) setImmediate(turn);
  };
  setImmediate(turn);
  const started = performance.now();
  await usage.flush();
  const whole = performance.now() - started;
  writing = false;
  const result = { round, longestTurnMs: +longest.toFixed(2), turns, slices, writeMs: +whole.toFixed(1) };
  console.error(JSON.stringify(result));
  if (round >= 2) results.push(result);
}
const median = (pick) => results.map(pick).sort((a, b) => a - b)[Math.floor(results.length / 2)];
console.log(
  JSON.stringify({
    keys,
    rounds: results.length,
    longestTurnMs: median((r) => r.longestTurnMs),
    writeMs: median((r) => r.writeMs),
    slices: median((r) => r.slices),
  }),
);
