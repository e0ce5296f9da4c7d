/**
 * Management API latency with many keys in one account, on SQLite and PostgreSQL.
 *
 * Per database: a fresh database, `latchkey init`, 100,000 keys seeded through the store, then the
 * real `latchkey serve` (LOG_LEVEL=warn) and one sequential keep-alive client authenticated with the
 * bootstrap key. Each scenario gets a warm-up, then SAMPLES timed requests; all scenarios run once per
 * round, ROUNDS times, and the table quotes the range over rounds. Afterwards the store's own SQL for
 * each listing is timed and explained in-process (plans.mjs).
 *
 * Usage: node bench/management.mjs [--db sqlite,postgres] [--count 100000] [--samples 300]
 *        [--warmup 30] [--rounds 2] [--no-plans]
 */

import { createClient, fmt, load, parseArgs, range, startServe, summarize, table } from "./lib.mjs";
import { decodeCursor, explainListings, plansMarkdown } from "./plans.mjs";
import { prepareDatabase } from "./seed-store.mjs";

export const LIST_P99_TARGET_MS = 20;

/** Walks `pages - 1` pages of the listing to get the cursor of page `pages`. */
async function deepCursor(client, base, pages) {
  let cursor = null;
  for (let page = 1; page < pages; page++) {
    const res = await client.request("GET", cursor ? `${base}&cursor=${cursor}` : base);
    if (res.status !== 200) throw new Error(`page ${page}: ${res.status} ${res.text}`);
    cursor = JSON.parse(res.text).nextCursor;
    if (!cursor) throw new Error(`listing ended before page ${pages}`);
  }
  return cursor;
}

/** The scenarios: name, what it measures, and the request to send (the i-th call may vary it). */
async function scenarios(client, account, count) {
  const keys = `/v1/accounts/${account}/keys`;
  const nameBase = `${keys}?limit=50&sort=name&order=asc`;
  // Page 50 (keys 2,451-2,500), or the last full page of a smaller seed.
  const deepPage = Math.max(2, Math.min(50, Math.floor(count / 50)));
  const cursor = await deepCursor(client, nameBase, deepPage);
  let created = 0;
  const stamp = Date.now().toString(36);
  return [
    { id: "healthz", label: "`GET /healthz`: no auth, no database (noise floor)", path: "/healthz" },
    {
      id: "first",
      label: "list, first page of 50 (default sort createdAt desc)",
      path: `${keys}?limit=50`,
      list: true,
    },
    {
      id: "deep",
      label: `list, page ${deepPage} by cursor (sort=name asc)`,
      path: `${nameBase}&cursor=${cursor}`,
      cursor,
    },
    { id: "q-common", label: "list, `q=warehouse` (~1 in 16 match)", path: `${keys}?limit=50&q=warehouse` },
    { id: "q-rare", label: "list, `q=4242` (~20 match)", path: `${keys}?limit=50&q=4242` },
    { id: "inactive", label: "list, `status=inactive` (1 in 10)", path: `${keys}?limit=50&status=inactive` },
    { id: "role", label: "list, `role=10` (1 in 3)", path: `${keys}?limit=50&role=10` },
    {
      id: "create",
      label: "`POST` create key (role 10)",
      method: "POST",
      path: keys,
      expect: 201,
      body: () => ({ name: `bench created ${stamp} ${created++}`, roles: [10] }),
    },
  ];
}

async function measure(client, scenario, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const body = scenario.body?.();
    const res = await client.request(scenario.method ?? "GET", scenario.path ?? "", body);
    if (res.status !== (scenario.expect ?? 200)) {
      throw new Error(`${scenario.id}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    }
    times.push(res.ms);
  }
  return times;
}

/** The store queries behind each listing scenario, for plans.mjs. */
function listQueries(account, cursor) {
  const base = { account, sort: "createdAt", order: "desc", limit: 50 };
  return {
    first: base,
    deep: { ...base, sort: "name", order: "asc", after: decodeCursor(cursor) },
    "q-common": { ...base, q: "warehouse" },
    "q-rare": { ...base, q: "4242" },
    inactive: { ...base, status: "inactive" },
    role: { ...base, roleId: 10 },
  };
}

/** Seeds, serves and measures one database; returns per-round summaries and the plans. */
export async function benchDatabase(kind, opts) {
  const log = (msg) => console.error(`[management:${kind}] ${msg}`);
  log(`seeding ${opts.count} keys…`);
  const db = await prepareDatabase(kind, { count: opts.count });
  log(`seeded in ${db.seedSeconds.toFixed(1)} s`);
  const server = await startServe({ ...db.env, LOG_LEVEL: "warn" });
  const client = createClient(server.port, {
    "x-api-appkey": db.creds.appKey,
    "x-api-apptoken": db.creds.appToken,
  });
  try {
    const list = await scenarios(client, db.account, opts.count);
    const rounds = [];
    for (let r = 0; r < opts.rounds; r++) {
      const round = { loadBefore: load(), results: {} };
      for (const scenario of list) {
        await measure(client, scenario, opts.warmup);
        round.results[scenario.id] = summarize(await measure(client, scenario, opts.samples));
        log(`round ${r + 1} ${scenario.id}: ${JSON.stringify(round.results[scenario.id])}`);
      }
      round.loadAfter = load();
      rounds.push(round);
    }
    const cursor = list.find((s) => s.id === "deep")?.cursor;
    const plans = opts.plans ? await explainListings(db.storeOptions, listQueries(db.account, cursor)) : [];
    return { kind, seedSeconds: db.seedSeconds, scenarios: list, rounds, plans };
  } finally {
    client.close();
    await server.stop();
    await db.drop();
  }
}

/** Markdown: one row per scenario, p50/p99/max per database as ranges over rounds. */
export function managementMarkdown(results, opts) {
  const kinds = results.map((r) => r.kind);
  const header = ["request", ...kinds.flatMap((k) => [`${k} p50`, `${k} p99`, `${k} max`])];
  const align = header.map((_, i) => (i === 0 ? "l" : "r"));
  const rows = results[0].scenarios.map((scenario) => [
    scenario.label,
    ...results.flatMap((r) => {
      const per = r.rounds.map((round) => round.results[scenario.id]);
      return [range(per.map((s) => s.p50)), range(per.map((s) => s.p99)), range(per.map((s) => s.max))];
    }),
  ]);
  const lines = [
    `${opts.count.toLocaleString("en-US")} keys in one account; ${opts.samples} samples per request after ${opts.warmup} warm-up, ` +
      `${opts.rounds} rounds; ms, range over rounds; one sequential keep-alive client.`,
    "",
    table(header, rows, align),
    "",
  ];
  for (const r of results) {
    const first = r.rounds.map((round) => round.results.first.p99);
    const worst = Math.max(...first);
    const verdict = worst <= LIST_P99_TARGET_MS ? "met" : "missed";
    const loads = r.rounds.map((round) => `${round.loadBefore.join(" ")} → ${round.loadAfter.join(" ")}`);
    lines.push(
      `- ${r.kind}: list page of 50 p99 ${fmt(worst)} ms worst round, target ≤ ${LIST_P99_TARGET_MS} ms **${verdict}**; ` +
        `seeding ${r.seedSeconds.toFixed(0)} s; load average (1/5/15 min) per round: ${loads.join("; ")}`,
    );
  }
  return lines.join("\n");
}

export async function benchManagement(opts) {
  const results = [];
  for (const kind of opts.db) results.push(await benchDatabase(kind, opts));
  const plans = results
    .filter((r) => r.plans.length > 0)
    .map((r) => plansMarkdown(r.kind, r.plans))
    .join("\n\n");
  return { results, markdown: managementMarkdown(results, opts), plans };
}

export function managementOptions(args) {
  return {
    db: String(args.db ?? "sqlite,postgres").split(","),
    count: Number(args.count ?? 100_000),
    samples: Number(args.samples ?? 300),
    warmup: Number(args.warmup ?? 30),
    rounds: Number(args.rounds ?? 2),
    plans: !args["no-plans"],
  };
}

if (import.meta.filename === process.argv[1]) {
  const opts = managementOptions(parseArgs(process.argv.slice(2)));
  const { markdown, plans } = await benchManagement(opts);
  console.log(`${markdown}\n\n${plans}`);
}
