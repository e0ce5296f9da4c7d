/**
 * Seeds many keys into one account directly through the Store (batched transactions of
 * `createKey`), far faster than the HTTP API. The data is deterministic for a given count:
 *
 * - names: two words from small lists in mixed case plus a number, so `sort=name` interleaves and
 *   `q=warehouse` (about 1 in 16) or `q=4242` (a few dozen) find realistic subsets;
 * - createdAt spread over the last two years in random order; a third have a newer token;
 * - one key in ten inactive; one in three holds role 10 (OMS - Read only), one in seven role 20;
 * - token hashes are random 43-character base64url strings (no token exists for them).
 *
 * Usage: node bench/seed-store.mjs (--sqlite FILE | --postgres URL) --account NAME [--count 100000]
 * The account must exist (create it with `latchkey init`).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../dist/storage/open.js";
import { BENCH_SECRET, createPgDatabase, initAccount, onInterrupt, parseArgs, prng, withPg } from "./lib.mjs";

const FIRST = [
  ...["orders", "ERP", "warehouse", "Pricing", "catalog", "Billing", "shipping", "CRM"],
  ...["marketplace", "Inventory", "payments", "Loyalty", "search", "Reports", "tax", "Returns"],
];
const SECOND = ["sync", "Connector", "export", "Importer", "feed", "Bridge", "job", "Webhook"];
const DAY = 86_400_000;
/** 26^6 appKey suffixes; multiplying by a unit modulo 26^6 spreads the indices without collisions. */
const SUFFIXES = 26 ** 6;
const SPREAD = 7_919_609;

function appKeySuffix(i) {
  let n = (i * SPREAD) % SUFFIXES;
  let out = "";
  for (let d = 0; d < 6; d++) {
    out = String.fromCharCode(65 + (n % 26)) + out;
    n = Math.floor(n / 26);
  }
  return out;
}

/** The i-th seeded key of `account`; `now` anchors the time spread. */
export function seededKey(i, account, now, random) {
  const name = `${FIRST[Math.floor(random() * FIRST.length)]} ${SECOND[Math.floor(random() * SECOND.length)]} ${i}`;
  const createdAt = now - Math.floor(random() * 730 * DAY);
  const renewed = random() < 1 / 3;
  const tokenCreatedAt = renewed ? createdAt + Math.floor(random() * (now - createdAt)) : createdAt;
  const roleIds = [];
  if (i % 3 === 0) roleIds.push(10);
  if (i % 7 === 1) roleIds.push(20);
  return {
    id: randomUUID(),
    appKey: `appkey-${account}-${appKeySuffix(i + 1)}`,
    account,
    name,
    active: i % 10 !== 5,
    createdAt,
    token: { id: randomUUID(), hash: randomBytes(32).toString("base64url"), createdAt: tokenCreatedAt },
    roleIds,
  };
}

/**
 * Inserts `count` keys in transactions of `batch` keys, `parallel` transactions at a time (SQLite has
 * one connection and runs them in turn; on PostgreSQL they queue on the account's key_counts row).
 */
export async function seedKeys(store, { account, count, batch = 1000, parallel = 1, now = Date.now() }) {
  const random = prng(42);
  const keys = Array.from({ length: count }, (_, i) => seededKey(i, account, now, random));
  let next = 0;
  async function worker() {
    while (next < count) {
      const start = next;
      next += batch;
      const slice = keys.slice(start, start + batch);
      await store.transaction(async (tx) => {
        for (const key of slice) await tx.keys.create(key);
      });
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return count;
}

/**
 * A fresh database of `kind` ("sqlite" in a temporary DATA_DIR, or "postgres" in a new database
 * next to BENCH_PG_URL's), with an account made by `latchkey init` and `count` seeded keys.
 * Returns the environment for `latchkey serve`, the bootstrap credentials, the seeding time and
 * `drop()`, which deletes the directory or database.
 */
export async function prepareDatabase(kind, { count, account = "bench" }) {
  let env;
  let storeOptions;
  let drop;
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "latchkey-bench-"));
    env = { DATA_DIR: dir };
    storeOptions = { kind: "sqlite", file: join(dir, "latchkey.db") };
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await createPgDatabase("latchkey_bench");
    env = { DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET };
    storeOptions = { kind: "postgres", url: db.url };
    drop = () => db.drop();
  }
  const unregister = onInterrupt(drop);
  const dropOnce = async () => {
    unregister();
    await drop();
  };
  try {
    const creds = await initAccount(env, account);
    const store = await openStore(storeOptions);
    const started = performance.now();
    try {
      await store.migrate();
      // One transaction at a time: every key insert also bumps the account's row in key_counts, so
      // parallel transactions on PostgreSQL would only queue on that row lock.
      if (count > 0) await seedKeys(store, { account, count });
    } finally {
      await store.close();
    }
    // A live PostgreSQL has been through autovacuum; a freshly loaded one has neither statistics nor
    // a visibility map, which would make index-only counts look worse than in service.
    if (kind === "postgres" && count > 0) await withPg(env.DATABASE_URL, (c) => c.query("vacuum analyze"));
    const seedSeconds = (performance.now() - started) / 1000;
    return { kind, env, creds, account, count, seedSeconds, storeOptions, drop: dropOnce };
  } catch (error) {
    await dropOnce();
    throw error;
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const count = Number(args.count ?? 100_000);
  if (typeof args.account !== "string" || (!args.sqlite && !args.postgres)) {
    console.error(
      "usage: node bench/seed-store.mjs (--sqlite FILE | --postgres URL) --account NAME [--count N]",
    );
    process.exit(2);
  }
  const store = args.sqlite
    ? await openStore({ kind: "sqlite", file: String(args.sqlite) })
    : await openStore({ kind: "postgres", url: String(args.postgres) });
  try {
    await store.migrate();
    const started = performance.now();
    await seedKeys(store, { account: args.account, count });
    const seconds = (performance.now() - started) / 1000;
    console.log(`seeded ${count} keys into ${args.account} (${store.dialect}) in ${seconds.toFixed(1)} s`);
  } finally {
    await store.close();
  }
}

if (import.meta.filename === process.argv[1]) await main();
