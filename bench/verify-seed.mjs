/**
 * Keys with real credentials for the verification benchmark (`verify.mjs`), seeded directly
 * through the Store as `seed-store.mjs` does (transactions of 1,000 `keys.create`): names, appKeys and
 * dates come from `seededKey()`, but every key is active, holds the predefined role 10
 * ("OMS - Read only": GET /api/oms/pvt/orders/**) and has a real appToken of latchkey's format
 * whose SHA-256 is stored.
 *
 * Secrets: the appTokens are bench-only credentials of a throwaway database. They are written to a
 * TSV (appKey, appToken) next to that database because the load generators need them; never to
 * the results.
 *
 * Usage: node bench/verify-seed.mjs --sqlite FILE --count N --out creds.tsv
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { generateAppToken } from "../dist/core/tokens.js";
import { hashToken } from "../dist/crypto/token-hash.js";
import { openStore } from "../dist/storage/open.js";
import { BENCH_SECRET, createPgDatabase, onInterrupt, parseArgs, prng, withPg } from "./lib.mjs";
import { seededKey } from "./seed-store.mjs";

export const ACCOUNT = "bench";
/** The role every benchmark key holds, and a role that does not cover the orders routes. */
export const ORDERS_READ_ROLE = 10;
export const OTHER_ROLE = 20;

/**
 * The per-key controls of the benchmark's "controls" target (docs/key-controls.md): an expiry a
 * year away, a 10-entry IP allowlist whose only match (loopback) is the last entry, a rate limit
 * no benchmark run reaches, and metadata. Each verification checks them all.
 */
export function benchControls(now) {
  const blocks = [
    "203.0.113.0/24",
    "198.51.100.0/24",
    "192.0.2.0/24",
    "10.20.0.0/16",
    "172.16.0.0/12",
    "2001:db8::/32",
    "2001:db8:1::/48",
    "100.64.0.0/10",
    "192.168.0.0/16",
    "127.0.0.0/8",
  ];
  return {
    expiresAt: now + 365 * 24 * 3600 * 1000,
    ipAllowlist: blocks,
    metadata: { customerId: "c-000123", plan: "enterprise", region: "sa-east-1" },
    allowBrowser: false,
    rateLimit: { limit: 100_000_000, windowSeconds: 60 },
    quota: null,
  };
}

/**
 * Creates the account and `count` keys holding role 10, plus one control key holding only role 20
 * (authenticates, lacks ViewOrders). Calls `onCredential(appKey, appToken)` for each benchmark key.
 * `tokens` ([appKey, appToken] rows of an earlier seed of the same count) replays those credentials,
 * so that two databases hold the same keys.
 */
export async function seedVerifyKeys(
  store,
  { count, onCredential, tokens, controls, batch = 1000, now = Date.now() },
) {
  const random = prng(7);
  if (!(await store.accounts.get(ACCOUNT))) await store.accounts.create({ name: ACCOUNT, createdAt: now });
  const make = (i, roleIds) => {
    const base = seededKey(i, ACCOUNT, now, random);
    const given = i < count ? tokens?.[i] : undefined;
    if (given && given[0] !== base.appKey) throw new Error(`credential ${i} is not for ${base.appKey}`);
    const appToken = given ? given[1] : generateAppToken((size) => randomBytes(size), "lkt");
    const key = {
      ...base,
      active: true,
      roleIds,
      token: { ...base.token, hash: hashToken(appToken) },
      ...(controls ? { controls } : {}),
    };
    return { key, appToken };
  };
  for (let start = 0; start < count; start += batch) {
    const made = [];
    for (let i = start; i < Math.min(count, start + batch); i++) made.push(make(i, [ORDERS_READ_ROLE]));
    await store.transaction(async (tx) => {
      for (const { key } of made) await tx.keys.create(key);
    });
    for (const { key, appToken } of made) await onCredential(key.appKey, appToken);
  }
  const control = make(count, [OTHER_ROLE]);
  await store.keys.create(control.key);
  return { appKey: control.key.appKey, appToken: control.appToken };
}

/** A TSV writer that respects back-pressure (1M lines are ~75 MB). */
function tsvWriter(file) {
  const stream = createWriteStream(file);
  return {
    async write(...cells) {
      if (!stream.write(`${cells.join("\t")}\n`)) await once(stream, "drain");
    },
    close: () => new Promise((resolve, reject) => stream.end((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * Seeds `count` keys into the SQLite file or PostgreSQL database `target`
 * ({kind:"sqlite", file} | {kind:"postgres", url}) and writes their credentials to `credsFile`.
 * Returns the control credential and the seeding time.
 */
export async function seedInto(target, { count, credsFile, tokens, controls }) {
  const store = await openStore(target);
  const out = tsvWriter(credsFile);
  const started = performance.now();
  try {
    await store.migrate();
    const control = await seedVerifyKeys(store, {
      count,
      tokens,
      controls,
      onCredential: (k, t) => out.write(k, t),
    });
    if (target.kind === "postgres") await withPg(target.url, (c) => c.query("vacuum analyze"));
    return { control, seedSeconds: (performance.now() - started) / 1000 };
  } finally {
    await out.close();
    await store.close();
  }
}

/**
 * A fresh PostgreSQL database next to BENCH_PG_URL's, seeded; `drop()` removes it (also on an
 * interrupt). Returns the environment for `latchkey serve`.
 */
export async function preparePostgres({ count, credsFile, tokens }) {
  const db = await createPgDatabase("latchkey_vbench");
  const unregister = onInterrupt(() => db.drop());
  const drop = async () => {
    unregister();
    await db.drop();
  };
  try {
    const seeded = await seedInto({ kind: "postgres", url: db.url }, { count, credsFile, tokens });
    return { ...seeded, env: { DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET }, drop };
  } catch (error) {
    await drop();
    throw error;
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.sqlite !== "string" || typeof args.out !== "string") {
    console.error("usage: node bench/verify-seed.mjs --sqlite FILE --count N --out creds.tsv");
    process.exit(2);
  }
  const count = Number(args.count ?? 10_000);
  const { control, seedSeconds } = await seedInto(
    { kind: "sqlite", file: args.sqlite },
    { count, credsFile: args.out },
  );
  const controlFile = `${args.out}.control`;
  const w = tsvWriter(controlFile);
  await w.write(control.appKey, control.appToken);
  await w.close();
  console.log(JSON.stringify({ seeded: count, seedSeconds: Number(seedSeconds.toFixed(1)) }));
}

if (import.meta.filename === process.argv[1]) await main();
