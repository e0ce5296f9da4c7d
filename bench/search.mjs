/**
 * The key list's substring search (`q=`) on a database seeded by `size.mjs --keep`: in-process
 * statement times and plans of search listings of `big` and of a small account (plans.mjs), and,
 * with `--migrate`, how long the pending migrations take first (the trigram index build of 0023
 * when the database was seeded by a release before it).
 *
 *   node bench/search.mjs --sqlite /tmp/latchkey-size-…/latchkey.db [--migrate]
 *   node bench/search.mjs --pg postgres://…/latchkey_size_… [--migrate]
 */
import { openStore } from "../dist/storage/open.js";
import { parseArgs } from "./lib.mjs";
import { explainListings, plansMarkdown } from "./plans.mjs";

const args = parseArgs(process.argv.slice(2));
const storeOptions = args.sqlite
  ? { kind: "sqlite", file: String(args.sqlite) }
  : { kind: "postgres", url: String(args.pg) };

if (args.migrate === true) {
  const store = await openStore(storeOptions);
  const started = performance.now();
  await store.migrate();
  console.log(`migrations: ${(performance.now() - started).toFixed(0)} ms`);
  await store.close();
}

const page = { account: "big", sort: "createdAt", order: "desc", limit: 50 };
const small = { ...page, account: "acct0001" };
const results = await explainListings(storeOptions, {
  "q=warehouse (1 in 16)": { ...page, q: "warehouse" },
  "q=4242 (rare)": { ...page, q: "4242" },
  "q=zzzz (none)": { ...page, q: "zzzz" },
  "q=warehouse sync 1 (phrase)": { ...page, q: "warehouse sync 1" },
  "q=appkey-big (every key, appKey)": { ...page, q: "appkey-big" },
  "q=42 (2 characters)": { ...page, q: "42" },
  "q=sync&role=10&sort=name": { ...page, q: "sync", roleId: 10, sort: "name", order: "asc" },
  "q=4242&status=inactive": { ...page, q: "4242", status: "inactive" },
  "acct0001: q=warehouse": { ...small, q: "warehouse" },
  "acct0001: q=4242": { ...small, q: "4242" },
});
console.log(plansMarkdown(storeOptions.kind, results, 5));
