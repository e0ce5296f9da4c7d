/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) of a latchkey server: where the samples fall,
 * by function (self and inclusive) and by area (a latchkey file under dist/, an npm package, Node's
 * internals, the garbage collector). Percentages are of non-idle samples.
 *
 * Usage: node bench/verify-profile.mjs FILE.cpuprofile [--top 25]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "./lib.mjs";

function areaOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = url.match(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (pkg) return pkg[1];
  const own = url.match(/\/dist\/(.+)$/);
  if (own) return `latchkey dist/${own[1]}`;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  return url.replace(/^file:\/\//, "");
}

function where(frame) {
  const file = frame.url.replace(/^.*\/(dist|node_modules)\//, "$1/").replace(/^file:\/\//, "");
  return file ? `${file}:${frame.lineNumber + 1}` : "";
}

/**
 * Keeps the samples taken inside `windows` ([startMs, endMs] wall-clock pairs), placing the profile
 * on the wall clock by its end, which is the process's exit at `endWallMs` (give or take the time
 * to write the profile: windows should leave a margin).
 */
function samplesIn(profile, windows, endWallMs) {
  if (!windows?.length || !endWallMs)
    return { kept: profile.samples, us: profile.endTime - profile.startTime };
  const kept = [];
  let us = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    const wall = endWallMs - (profile.endTime - t) / 1000;
    if (windows.some(([a, b]) => wall >= a && wall <= b)) {
      kept.push(profile.samples[i]);
      us += delta;
    }
  }
  return { kept, us };
}

export function summarizeProfile(file, { top = 25, windows, endWallMs } = {}) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const { kept: samples, us } = samplesIn(profile, windows, endWallMs);
  const selfCount = new Map();
  for (const id of samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);
  const idle = profile.nodes
    .filter((n) => n.callFrame.functionName === "(idle)")
    .reduce((a, n) => a + (selfCount.get(n.id) ?? 0), 0);
  const busy = samples.length - idle;
  const fnKey = (frame) => `${frame.functionName || "(anonymous)"}\t${where(frame)}`;

  const self = new Map();
  const areas = new Map();
  const inclusive = new Map();
  const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
  // Inclusive counts: each sample counts once per function on its stack (recursion not doubled).
  const totals = new Map();
  function total(node) {
    if (totals.has(node.id)) return totals.get(node.id);
    let sum = selfCount.get(node.id) ?? 0;
    for (const child of node.children ?? []) sum += total(byId.get(child));
    totals.set(node.id, sum);
    return sum;
  }
  function walk(node, active) {
    const key = fnKey(node.callFrame);
    const fresh = !active.has(key);
    if (fresh && node.callFrame.functionName !== "(root)") add(inclusive, key, total(node));
    if (fresh) active.add(key);
    for (const child of node.children ?? []) walk(byId.get(child), active);
    if (fresh) active.delete(key);
  }
  const root = profile.nodes.find((n) => n.callFrame.functionName === "(root)") ?? profile.nodes[0];
  walk(root, new Set());
  for (const node of profile.nodes) {
    const count = selfCount.get(node.id) ?? 0;
    if (!count || node.callFrame.functionName === "(idle)") continue;
    add(self, fnKey(node.callFrame), count);
    add(areas, areaOf(node.callFrame.url, node.callFrame.functionName), count);
  }
  const pct = (count) => (100 * count) / busy;
  const ranked = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, count]) => {
        const [name, at] = key.split("\t");
        return { name, at: at ?? "", pct: pct(count) };
      });
  const seconds = us / 1e6;
  return {
    file,
    seconds,
    samples: samples.length,
    windowed: samples !== profile.samples,
    busyPct: (100 * busy) / samples.length,
    areas: ranked(areas),
    self: ranked(self),
    inclusive: ranked(inclusive).filter((r) => r.pct < 99.5 && r.name !== "(idle)"),
  };
}

export function profileMarkdown(summary) {
  const rows = (items) =>
    items.map((r) => `| ${r.name} | ${r.at ? `\`${r.at}\`` : ""} | ${r.pct.toFixed(1)} |`).join("\n");
  return [
    `Profile \`${summary.file.split("/").slice(-2).join("/")}\`: ${summary.seconds.toFixed(0)} s${summary.windowed ? " (the measured runs only)" : ""}, ${summary.samples} samples, ${summary.busyPct.toFixed(0)} % not idle. Percentages of non-idle samples.`,
    "",
    "| area (self) | | % |",
    "| --- | --- | ---: |",
    rows(summary.areas.slice(0, 15)),
    "",
    "| function (self) | where | % |",
    "| --- | --- | ---: |",
    rows(summary.self),
    "",
    "| function (inclusive) | where | % |",
    "| --- | --- | ---: |",
    rows(summary.inclusive),
  ].join("\n");
}

if (import.meta.filename === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  const file = process.argv.slice(2).find((a) => a.endsWith(".cpuprofile"));
  if (!file) {
    console.error("usage: node bench/verify-profile.mjs FILE.cpuprofile [--top 25]");
    process.exit(2);
  }
  console.log(profileMarkdown(summarizeProfile(file, { top: Number(args.top ?? 25) })));
}
