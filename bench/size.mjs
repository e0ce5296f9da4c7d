import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { generateAppToken } from "../dist/core/tokens.js";
import { hashToken } from "../dist/crypto/token-hash.js";
import {
  BENCH_SECRET,
  createClient,
  createPgDatabase,
  initAccount,
  load,
  machine,
  onInterrupt,
  parseArgs,
  prng,
  ROOT,
  runCli,
  sleep,
  startServe,
  summarize,
  withPg,
} from "./lib.mjs";
import { explainListings, plansMarkdown } from "./plans.mjs";
import { cpuMsOf, memoryOf } from "./verify-procs.mjs";

const args = parseArgs(process.argv.slice(2));
const opts = {
  dbs: String(args.db ?? "sqlite,postgres").split(","),
  keys: Number(args.keys ?? 1_000_000),
  accounts: Number(args.accounts ?? 1000),
  big: Number(args.big ?? 200_000),
  only: new Set(String(args.only ?? "seed,start,migrate,notifier,list,sql,export,cold,rss").split(",")),
  samples: Number(args.samples ?? 200),
  starts: Number(args.starts ?? 5),
  cold: Number(args.cold ?? 2000),
  rssKeys: Number(args["rss-keys"] ?? 100_000),
  keep: args.keep === true,
};
const BIG = "big";
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const URI = "/api/oms/pvt/orders/123";
const SERVER_ENV = { MALLOC_ARENA_MAX: "2", LOG_LEVEL: "warn", ALERTS_INTERVAL: "86400" };
const FIRST = [
  ...["orders", "ERP", "warehouse", "Pricing", "catalog", "Billing", "shipping", "CRM"],
  ...["marketplace", "Inventory", "payments", "Loyalty", "search", "Reports", "tax", "Returns"],
];
const SECOND = ["sync", "Connector", "export", "Importer", "feed", "Bridge", "job", "Webhook"];

/** Accounts and how many keys each holds: `big` first, the rest spread evenly. */
function layout(shape = opts) {
  const others = shape.accounts - 1;
  const rest = shape.keys - shape.big;
  const list = [{ name: BIG, count: shape.big }];
  for (let a = 1; a <= others; a++) {
    const count = Math.floor(rest / others) + (a <= rest % others ? 1 : 0);
    list.push({ name: `acct${String(a).padStart(4, "0")}`, count });
  }
  return list;
}

function appKeyOf(account, i) {
  let n = ((i + 1) * 7_919_609) % 26 ** 6;
  let out = "";
  for (let d = 0; d < 6; d++) {
    out = String.fromCharCode(65 + (n % 26)) + out;
    n = Math.floor(n / 26);
  }
  return `appkey-${account}-${out}`;
}

/** The appToken of key `i` of `account`: real format, derived from the index (bench data only). */
export function tokenOf(account, i) {
  let n = 0;
  return generateAppToken((size) => {
    const out = Buffer.alloc(size);
    for (let at = 0; at < size; at += 32)
      createHash("sha256").update(`${account}/${i}/${n++}`).digest().copy(out, at);
    return out;
  }, "lkt");
}

/**
 * A UUID derived from what it names, shaped as latchkey's own ids are (random UUIDs), so that the
 * server holds them as it would in production (a token's id packed beside its digest, not as text).
 */
function uuidOf(kind, account, i) {
  const hex = createHash("sha256").update(`${kind} ${account} ${i}`).digest("hex");
  const variant = ((Number.parseInt(hex[16], 16) & 3) | 8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Row values of key `i` of `account`: one in ten inactive, one in three role 10, one in seven role 20. */
function keyRow(account, i, random) {
  const createdAt = NOW - Math.floor(random() * 730 * DAY);
  const renewed = random() < 1 / 3;
  const tokenCreatedAt = renewed ? createdAt + Math.floor(random() * (NOW - createdAt)) : createdAt;
  const used = random() < 0.6;
  const name = `${FIRST[Math.floor(random() * FIRST.length)]} ${SECOND[Math.floor(random() * SECOND.length)]} ${i}`;
  const id = uuidOf("key", account, i);
  const roles = [];
  if (i % 3 === 0) roles.push(10);
  if (i % 7 === 1) roles.push(20);
  return {
    key: {
      id,
      app_key: appKeyOf(account, i),
      account,
      name,
      name_lower: name.toLowerCase(),
      active: i % 10 === 5 ? 0 : 1,
      created_at: createdAt,
      updated_at: tokenCreatedAt,
      token_created_at: tokenCreatedAt,
      last_used_at: used ? tokenCreatedAt + Math.floor(random() * (NOW - tokenCreatedAt)) : 0,
      inactive_reason: i % 10 === 5 ? "deactivated" : null,
    },
    token: {
      id: uuidOf("token", account, i),
      key_id: id,
      hash: hashToken(tokenOf(account, i)),
      created_at: tokenCreatedAt,
    },
    roles,
  };
}

const KEY_COLS = [
  "id",
  "app_key",
  "account",
  "name",
  "name_lower",
  "active",
  "created_at",
  "updated_at",
  "token_created_at",
  "last_used_at",
  "inactive_reason",
];
const TOKEN_COLS = ["id", "key_id", "hash", "created_at"];

/** Batches of rows of every key, account by account, with the counts of each account. */
function* batches(size, shape) {
  const random = prng(42);
  let keys = [];
  let tokens = [];
  let grants = [];
  for (const { name, count } of layout(shape)) {
    let active = 0;
    for (let i = 0; i < count; i++) {
      const { key, token, roles } = keyRow(name, i, random);
      active += key.active;
      keys.push(key);
      tokens.push(token);
      for (const role of roles) grants.push({ account: name, key_id: key.id, role_id: role });
      if (keys.length === size) {
        yield { keys, tokens, grants };
        keys = [];
        tokens = [];
        grants = [];
      }
    }
    yield { keys, tokens, grants, counts: { account: name, total: count, active } };
    keys = [];
    tokens = [];
    grants = [];
  }
}

function seedSqlite(file, shape) {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const PER = 50;
  const stmts = new Map();
  const insert = (table, cols, rows) => {
    for (let at = 0; at < rows.length; at += PER) {
      const part = rows.slice(at, at + PER);
      const key = `${table}:${part.length}`;
      let stmt = stmts.get(key);
      if (!stmt) {
        const tuple = `(${cols.map(() => "?").join(",")})`;
        stmt = db.prepare(
          `insert into ${table} (${cols.join(",")}) values ${Array(part.length).fill(tuple).join(",")}`,
        );
        stmts.set(key, stmt);
      }
      stmt.run(part.flatMap((r) => cols.map((c) => r[c])));
    }
  };
  const accounts = db.prepare("insert or ignore into accounts (name, created_at) values (?, ?)");
  const counts = db.prepare(
    "insert into key_counts (account, total, active) values (?, ?, ?) on conflict (account) do update set total = total + excluded.total, active = active + excluded.active",
  );
  db.transaction(() => {
    for (const { name } of layout(shape)) accounts.run(name, NOW);
    for (const b of batches(5000, shape)) {
      insert("keys", KEY_COLS, b.keys);
      insert("tokens", TOKEN_COLS, b.tokens);
      insert("key_roles", ["account", "key_id", "role_id"], b.grants);
      if (b.counts) counts.run(b.counts.account, b.counts.total, b.counts.active);
    }
  })();
  db.pragma("optimize");
  db.close();
}

const PG_TYPES = {
  id: "text",
  app_key: "text",
  account: "text",
  name: "text",
  name_lower: "text",
  active: "int",
  created_at: "int8",
  updated_at: "int8",
  token_created_at: "int8",
  last_used_at: "int8",
  inactive_reason: "text",
  key_id: "text",
  hash: "text",
  role_id: "int",
};

async function seedPostgres(url, shape) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const insert = (table, cols, rows) =>
    rows.length === 0
      ? undefined
      : client.query(
          `insert into ${table} (${cols.join(",")}) select * from unnest(${cols.map((c, n) => `$${n + 1}::${PG_TYPES[c]}[]`).join(",")})`,
          cols.map((c) => rows.map((r) => r[c])),
        );
  try {
    await client.query("begin");
    await client.query("set local synchronous_commit = off");
    const names = layout(shape).map((a) => a.name);
    await client.query(
      "insert into accounts (name, created_at) select n, $2 from unnest($1::text[]) n on conflict do nothing",
      [names, NOW],
    );
    for (const b of batches(10_000, shape)) {
      await insert("keys", KEY_COLS, b.keys);
      await insert("tokens", TOKEN_COLS, b.tokens);
      await insert("key_roles", ["account", "key_id", "role_id"], b.grants);
      if (b.counts)
        await client.query(
          "insert into key_counts (account, total, active) values ($1, $2, $3) on conflict (account) do update set total = key_counts.total + excluded.total, active = key_counts.active + excluded.active",
          [b.counts.account, b.counts.total, b.counts.active],
        );
    }
    await client.query("commit");
    await client.query("vacuum analyze");
  } finally {
    await client.end();
  }
}

/**
 * A fresh database with the big account made by `latchkey init`, seeded with `shape` (keys,
 * accounts, big; this script's options by default). Also used by curves.mjs.
 */
export async function prepare(kind, shape = opts) {
  let env;
  let drop;
  let sqliteFile;
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "latchkey-size-"));
    env = { DATA_DIR: dir };
    sqliteFile = join(dir, "latchkey.db");
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await createPgDatabase("latchkey_size");
    env = { DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET };
    drop = () => db.drop();
  }
  const unregister = onInterrupt(drop);
  let creds;
  let seedSeconds;
  try {
    creds = await initAccount(env, BIG);
    const started = performance.now();
    if (kind === "sqlite") seedSqlite(sqliteFile, shape);
    else await seedPostgres(env.DATABASE_URL, shape);
    seedSeconds = (performance.now() - started) / 1000;
  } catch (error) {
    unregister();
    await drop();
    throw error;
  }
  return {
    kind,
    env,
    creds,
    sqliteFile,
    seedSeconds,
    drop: async () => {
      unregister();
      if (!opts.keep) await drop();
    },
  };
}

/** A server with SERVER_ENV; `pid` for /proc. */
const serve = (db) => startServe({ ...SERVER_ENV, ...db.env });

/** An empty database of the same kind, migrated: the baseline that start-up at size is compared with. */
async function emptyDatabase(kind) {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "latchkey-size-empty-"));
    await runCli(["migrate"], { DATA_DIR: dir });
    return { env: { DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await createPgDatabase("latchkey_size_empty");
  const env = { DATABASE_URL: db.url, LATCHKEY_SECRET: BENCH_SECRET };
  await runCli(["migrate"], env);
  return { env, drop: () => db.drop() };
}

/**
 * Starts until /readyz is 200, interleaved with starts on an empty database, so that what the key
 * count adds shows apart from the machine's load: wall time and the server's CPU time at ready.
 */
async function measureStart(db) {
  const empty = await emptyDatabase(db.kind);
  const runs = { size: [], sizeCpu: [], empty: [], emptyCpu: [] };
  try {
    for (let i = 0; i < opts.starts; i++) {
      for (const [name, env] of [
        ["size", db.env],
        ["empty", empty.env],
      ]) {
        const server = await serve({ env });
        runs[`${name}Cpu`].push(cpuMsOf(server.pid));
        runs[name].push(server.readyMs);
        await server.stop();
      }
    }
  } finally {
    await empty.drop();
  }
  return {
    ...summarize(runs.size),
    cpu: summarize(runs.sizeCpu),
    empty: summarize(runs.empty),
    emptyCpu: summarize(runs.emptyCpu),
  };
}

async function timeCli(cliArgs, env) {
  const started = performance.now();
  await runCli(cliArgs, { ...SERVER_ENV, ...env });
  return performance.now() - started;
}

/**
 * `latchkey migrate` with nothing to do (the check every start makes), and what a migration adding
 * one index on `keys` would cost on this database: the index of a new sort column, built and dropped.
 */
async function measureMigrate(db) {
  const noop = [];
  for (let i = 0; i < 3; i++) noop.push(await timeCli(["migrate"], db.env));
  const ddl = ["create index size_probe on keys (account, updated_at, id)", "drop index size_probe"];
  let indexMs;
  if (db.kind === "sqlite") {
    const d = new Database(db.sqliteFile);
    const started = performance.now();
    d.exec(ddl[0]);
    indexMs = performance.now() - started;
    d.exec(ddl[1]);
    d.close();
  } else {
    indexMs = await withPg(db.env.DATABASE_URL, async (c) => {
      const started = performance.now();
      await c.query(ddl[0]);
      const ms = performance.now() - started;
      await c.query(ddl[1]);
      return ms;
    });
  }
  // The migrations of the last releases that change `keys`, each undone and run again by
  // `latchkey migrate` (the whole CLI process): what the upgrade to the release that brought it
  // costs at this size.
  const upgrades = [];
  for (const { name, undo } of UPGRADES) {
    const statements = [...undo[db.kind], `delete from kysely_migration where name = '${name}'`];
    if (db.kind === "sqlite") {
      const d = new Database(db.sqliteFile);
      for (const statement of statements) d.exec(statement);
      d.close();
    } else {
      await withPg(db.env.DATABASE_URL, async (c) => {
        for (const statement of statements) await c.query(statement);
      });
    }
    upgrades.push({ name, ms: await timeCli(["migrate"], db.env) });
  }
  return { noop: summarize(noop), indexMs, upgrades };
}

/** Migrations measured by undoing them (the statements that take a database back to before each). */
const UPGRADES = [
  {
    name: "0023_key_search",
    undo: {
      sqlite: [
        "drop trigger keys_search_insert",
        "drop trigger keys_search_update",
        "drop trigger keys_search_delete",
        "drop table keys_search",
        "drop table keys_search_rows",
      ],
      postgres: ["drop index keys_name_trgm", "drop index keys_app_key_trgm"],
    },
  },
  {
    name: "0024_alert_listing",
    undo: {
      sqlite: [
        "drop index keys_account_created_at_id_token",
        "create index keys_account_created_at_id on keys (account, created_at, id)",
      ],
      postgres: [
        "drop index keys_account_created_at_id_token",
        "create index keys_account_created_at_id on keys (account, created_at, id)",
      ],
    },
  },
];

/** One notifier pass over every account (`latchkey alerts run`): what the server runs 1 s after start. */
async function measureNotifier(db) {
  return { ms: await timeCli(["alerts", "run"], db.env) };
}

function cursor(sort, order, value, id) {
  return Buffer.from(JSON.stringify([sort, order, value, id])).toString("base64url");
}

/** A cursor `depth` keys into the big account in the given sort (read straight from the database). */
async function deepCursor(db, sort, order, depth) {
  const column = { name: "name_lower", createdAt: "created_at" }[sort];
  const sql = `select ${column} as v, id from keys where account = '${BIG}' order by ${column} ${order}, id ${order} limit 1 offset ${depth}`;
  if (db.kind === "sqlite") {
    const d = new Database(db.sqliteFile, { readonly: true });
    const row = d.prepare(sql).get();
    d.close();
    return cursor(sort, order, row.v, row.id);
  }
  const c = new pg.Client({ connectionString: db.env.DATABASE_URL });
  await c.connect();
  const { rows } = await c.query(sql);
  await c.end();
  return cursor(sort, order, sort === "name" ? rows[0].v : Number(rows[0].v), rows[0].id);
}

async function measureList(db) {
  const server = await serve(db);
  const client = createClient(server.port, {
    "x-api-appkey": db.creds.appKey,
    "x-api-apptoken": db.creds.appToken,
  });
  const base = `/v1/accounts/${BIG}/keys`;
  const cases = [["first page (createdAt desc)", ""]];
  for (const sort of ["name", "createdAt", "tokenCreatedAt", "lastUsedAt"])
    for (const order of ["asc", "desc"]) cases.push([`sort=${sort} ${order}`, `sort=${sort}&order=${order}`]);
  const depth = Math.floor(opts.big * 0.75);
  cases.push(
    [
      `cursor ${depth.toLocaleString("en")} deep, name asc`,
      `sort=name&order=asc&cursor=${await deepCursor(db, "name", "asc", depth)}`,
    ],
    [
      `cursor ${depth.toLocaleString("en")} deep, createdAt desc`,
      `sort=createdAt&order=desc&cursor=${await deepCursor(db, "createdAt", "desc", depth)}`,
    ],
    ["q=warehouse", "q=warehouse"],
    ["q=4242", "q=4242"],
    ["q=appkey-big-AB (appKey)", "q=appkey-big-AB"],
    ["status=inactive", "status=inactive"],
    ["status=active, sort=name", "status=active&sort=name&order=asc"],
    ["role=10", "role=10"],
    ["role=20, sort=lastUsedAt", "role=20&sort=lastUsedAt&order=desc"],
    ["role=10&status=inactive", "role=10&status=inactive"],
    ["alert=red", "alert=red"],
    ["alert=orange", "alert=orange"],
    ["alert=none", "alert=none"],
    ["q=sync&role=10&sort=name", "q=sync&role=10&sort=name&order=asc"],
  );
  const rows = [];
  try {
    for (const [label, query] of cases) {
      const path = `${base}?${query}`;
      const first = await client.request("GET", path);
      if (first.status !== 200) throw new Error(`${label}: ${first.status} ${first.text.slice(0, 200)}`);
      const body = JSON.parse(first.text);
      for (let i = 0; i < 10; i++) await client.request("GET", path);
      const samples = [];
      for (let i = 0; i < opts.samples; i++) samples.push((await client.request("GET", path)).ms);
      rows.push({
        label,
        query,
        total: body.total,
        totalExact: body.totalExact,
        items: body.items.length,
        ...summarize(samples),
      });
      console.error(
        `  ${label}: p50 ${rows.at(-1).p50.toFixed(2)} p99 ${rows.at(-1).p99.toFixed(2)} ms (total ${body.total}${body.totalExact ? "" : "+"})`,
      );
    }
  } finally {
    client.close();
    await server.stop();
  }
  return rows;
}

/** In-process statement times and plans of the main listings (plans.mjs), apart from HTTP and load. */
async function measureSql(db) {
  const storeOptions =
    db.kind === "sqlite"
      ? { kind: "sqlite", file: db.sqliteFile }
      : { kind: "postgres", url: db.env.DATABASE_URL };
  const page = { account: BIG, sort: "createdAt", order: "desc", limit: 50 };
  const deep = JSON.parse(
    Buffer.from(await deepCursor(db, "name", "asc", Math.floor(opts.big * 0.75)), "base64url"),
  );
  const results = await explainListings(storeOptions, {
    "first page": page,
    "name asc, cursor 75 % deep": {
      ...page,
      sort: "name",
      order: "asc",
      after: { value: deep[2], id: deep[3] },
    },
    "q=warehouse": { ...page, q: "warehouse" },
    "q=4242": { ...page, q: "4242" },
    "status=inactive": { ...page, status: "inactive" },
    "role=10": { ...page, roleId: 10 },
    "role=10&status=inactive": { ...page, roleId: 10, status: "inactive" },
    "tokenCreatedBefore (alert=red shape)": { ...page, tokenCreatedBefore: NOW - 180 * DAY },
  });
  return { markdown: plansMarkdown(db.kind, results, 5), results };
}

function download(port, path, headers) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get({ host: "127.0.0.1", port, path, headers }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
        for (const b of chunk) if (b === 10) lines++;
      });
      res.on("end", () => resolve({ status: res.statusCode, bytes, lines, ms: performance.now() - started }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function measureExport(db) {
  const server = await serve(db);
  try {
    await sleep(3000); // after the notifier's first pass (1 s after start)
    const idleMb = memoryOf(server.pid).rssMb;
    const headers = { "x-api-appkey": db.creds.appKey, "x-api-apptoken": db.creds.appToken };
    const res = await download(server.port, `/v1/accounts/${BIG}/keys/export?format=csv`, headers);
    if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    return { ...res, idleMb, peakMb: memoryOf(server.pid).hwmMb };
  } finally {
    await server.stop();
  }
}

/** Keys holding role 10 and active, spread over every account, in a seeded order. */
export function sampleKeys(n, seed, shape = opts) {
  const accounts = layout(shape);
  // Indexes 0, 3, 6, … of each account, less the inactive ones (i % 10 === 5).
  let eligible = 0;
  for (const { count } of accounts) for (let i = 0; i < count; i += 3) if (i % 10 !== 5) eligible++;
  if (n > eligible) throw new Error(`asked for ${n} keys holding role 10 of ${eligible} seeded`);
  const random = prng(seed);
  const out = [];
  const seen = new Set();
  while (out.length < n) {
    const { name, count } = accounts[Math.floor(random() * accounts.length)];
    const i = 3 * Math.floor((random() * count) / 3);
    if (i >= count || i % 10 === 5 || seen.has(`${name}/${i}`)) continue;
    seen.add(`${name}/${i}`);
    out.push([appKeyOf(name, i), tokenOf(name, i)]);
  }
  return out;
}

function authorizer(port, agent) {
  return ([appKey, appToken]) =>
    new Promise((resolve, reject) => {
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

async function measureCold(db) {
  const server = await serve(db);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const authorize = authorizer(server.port, agent);
  try {
    const keys = sampleKeys(opts.cold, 7);
    const cold = [];
    const statuses = {};
    for (const k of keys) {
      const r = await authorize(k);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      cold.push(r.ms);
    }
    const warm = [];
    for (const k of keys) warm.push((await authorize(k)).ms);
    if (statuses[200] !== keys.length) throw new Error(`cold authorize statuses ${JSON.stringify(statuses)}`);
    return { cold: summarize(cold), warm: summarize(warm), statuses };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

/**
 * Where a server's memory is, in MB: RSS anonymous and file-backed (the mapped Node binary and
 * libraries) from /proc, V8's heap used and committed by space and its external memory from the
 * server's own /metrics.
 */
async function memoryParts(server) {
  const { anonMb, fileMb } = memoryOf(server.pid);
  const client = createClient(server.port, {});
  const { text } = await client.request("GET", "/metrics").finally(client.close);
  const value = (name, space) => {
    const prefix = space === undefined ? `${name} ` : `${name}{space="${space}"} `;
    const line = text.split("\n").find((l) => l.startsWith(prefix));
    return line === undefined ? Number.NaN : Number(line.slice(prefix.length));
  };
  const metric = (name, space) => value(name, space) / 1048576;
  const space = (name) => ({
    used: metric("nodejs_heap_space_size_used_bytes", name),
    total: metric("nodejs_heap_space_size_total_bytes", name),
  });
  return {
    anon: anonMb,
    file: fileMb,
    heapUsed: metric("nodejs_heap_size_used_bytes"),
    heapTotal: metric("nodejs_heap_size_total_bytes"),
    external: metric("nodejs_external_memory_bytes"),
    young: space("new"),
    old: space("old"),
    large: space("large_object"),
    cachedKeys: value("latchkey_key_cache_entries"),
  };
}

async function measureRss(db) {
  const server = await serve(db);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const authorize = authorizer(server.port, agent);
  try {
    await sleep(3000);
    const startMb = memoryOf(server.pid).rssMb;
    // Idle once settled: V8's memory reducer starts 8 s after the start's allocations stop.
    await sleep(27_000);
    const idleMb = memoryOf(server.pid).rssMb;
    const idleParts = await memoryParts(server);
    const keys = sampleKeys(opts.rssKeys, 11);
    let failed = 0;
    /** Every key once, over 16 keep-alive connections. */
    const fill = async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < keys.length) {
            const r = await authorize(keys[next++]);
            if (r.status !== 200) failed++;
          }
        }),
      );
    };
    const started = performance.now();
    await fill();
    const fillSeconds = (performance.now() - started) / 1000;
    // RSS once a second from the fill's end: a reading at one moment says mostly where V8's
    // collections happen to be, so the minute's median and maximum are reported beside it.
    const samples = [];
    const sampler = setInterval(() => samples.push(memoryOf(server.pid).rssMb), 1000);
    await sleep(2000);
    const cachedMb = memoryOf(server.pid).rssMb;
    const cachedParts = await memoryParts(server);
    // V8 gives back the heap the fill grew only at its next collections: RSS again once the
    // process has idled a minute with every key still cached (entries live 48-60 s, so the keys are
    // sent once more halfway, as steady traffic would).
    await sleep(28_000);
    await fill();
    await sleep(30_000);
    clearInterval(sampler);
    const settledMb = memoryOf(server.pid).rssMb;
    const settledParts = await memoryParts(server);
    const sorted = [...samples].sort((a, b) => a - b);
    return {
      idleParts,
      cachedParts,
      settledParts,
      startMb,
      idleMb,
      cachedMb,
      settledMb,
      minuteMedianMb: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
      minuteMaxMb: sorted.at(-1) ?? Number.NaN,
      settledBytesPerKey: ((settledMb - idleMb) * 1024 * 1024) / keys.length,
      hwmMb: memoryOf(server.pid).hwmMb,
      keys: keys.length,
      failed,
      fillSeconds,
      bytesPerKey: ((cachedMb - idleMb) * 1024 * 1024) / keys.length,
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

const f = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));

/** The RSS phase's breakdown, idle and a minute after the fill (MB; heap spaces used / committed). */
function memoryTable(rss) {
  if (!rss.idleParts) return [];
  const mb = (n) => n.toFixed(1);
  const row = (label, p) =>
    `| ${label} | ${mb(p.anon)} | ${mb(p.file)} | ${mb(p.heapUsed)} / ${mb(p.heapTotal)} | ${mb(p.young.used)} / ${mb(p.young.total)} | ${mb(p.old.used)} / ${mb(p.old.total)} | ${mb(p.large.used)} / ${mb(p.large.total)} | ${mb(p.external)} | ${mb(p.anon - p.heapTotal - p.external)} | ${p.cachedKeys.toLocaleString("en")} |`;
  return [
    "| MB | RSS anonymous | RSS file-backed | V8 heap used / committed | young generation | old generation | large objects | external (buffers) | other anonymous (malloc: SQLite page cache, …) | key states cached |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    row("idle at 30 s", rss.idleParts),
    row(`${rss.keys.toLocaleString("en")} keys cached, 2 s after the fill`, rss.cachedParts),
    row(`${rss.keys.toLocaleString("en")} keys cached, a minute after the fill`, rss.settledParts),
  ];
}

function markdown(report) {
  const out = [
    `# Size benchmark ${report.at}`,
    "",
    `${report.machine}; commit ${report.commit}; ${opts.keys.toLocaleString("en")} keys over ${opts.accounts} accounts, \`big\` holding ${opts.big.toLocaleString("en")}. Load average at start ${report.loadStart.join(" ")}, at end ${report.loadEnd.join(" ")}.`,
  ];
  for (const r of report.dbs) {
    out.push(
      "",
      `## ${r.kind}`,
      "",
      `Seeded in ${r.seedSeconds.toFixed(1)} s (load ${r.seedLoad.join(" ")}).`,
    );
    if (r.start)
      out.push(
        `Start until /readyz 200 (${r.start.n} starts, interleaved with starts on an empty migrated database): median ${f(r.start.p50)} ms (empty ${f(r.start.empty.p50)}), max ${f(r.start.max)} ms (empty ${f(r.start.empty.max)}); server CPU at ready: median ${f(r.start.cpu.p50)} ms (empty ${f(r.start.emptyCpu.p50)}).`,
      );
    if (r.migrate)
      out.push(
        `\`latchkey migrate\` with nothing to do: median ${f(r.migrate.noop.p50)} ms (whole CLI process); one more index on keys (account, updated_at, id) builds in ${f(r.migrate.indexMs)} ms; each undone and run again by \`latchkey migrate\` (whole CLI process): ${r.migrate.upgrades.map((u) => `\`${u.name}\` ${f(u.ms)} ms`).join(", ")}.`,
      );
    if (r.notifier)
      out.push(
        `One notifier pass over every account (\`latchkey alerts run\`): ${f(r.notifier.ms)} ms (whole CLI process).`,
      );
    if (r.export)
      out.push(
        `csv export of \`big\`: ${(r.export.ms / 1000).toFixed(2)} s, ${(r.export.bytes / 1e6).toFixed(1)} MB, ${r.export.lines.toLocaleString("en")} lines; RSS idle ${r.export.idleMb.toFixed(0)} MB, peak ${r.export.peakMb.toFixed(0)} MB.`,
      );
    if (r.cold)
      out.push(
        `/v1/authorize, ${r.cold.cold.n} keys unseen by the server: p50 ${f(r.cold.cold.p50)} ms, p99 ${f(r.cold.cold.p99)} ms; the same keys warm: p50 ${f(r.cold.warm.p50)}, p99 ${f(r.cold.warm.p99)} ms.`,
      );
    if (r.rss)
      out.push(
        `RSS: ${r.rss.startMb.toFixed(1)} MB 3 s after start, idle ${r.rss.idleMb.toFixed(1)} MB at 30 s; ${r.rss.keys.toLocaleString("en")} keys cached ${r.rss.cachedMb.toFixed(1)} MB 2 s after the fill (VmHWM ${r.rss.hwmMb.toFixed(1)}), ${r.rss.bytesPerKey.toFixed(0)} B per cached key; ${r.rss.settledMb.toFixed(1)} MB a minute later, the keys still cached, ${r.rss.settledBytesPerKey.toFixed(0)} B per key; over that minute (once a second) median ${r.rss.minuteMedianMb.toFixed(1)}, max ${r.rss.minuteMaxMb.toFixed(1)} MB; fill ${r.rss.fillSeconds.toFixed(1)} s, ${r.rss.failed} not 200.`,
        "",
        ...memoryTable(r.rss),
      );
    if (r.list) {
      out.push("", "| listing of `big` | total | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|");
      for (const row of r.list)
        out.push(
          `| ${row.label} | ${row.total.toLocaleString("en")}${row.totalExact === false ? "+" : ""} | ${f(row.p50)} | ${f(row.p99)} | ${f(row.max)} |`,
        );
    }
    if (r.sql) out.push("", r.sql.markdown);
  }
  return out.join("\n");
}

async function main() {
  const { execSync } = await import("node:child_process");
  const report = {
    at: new Date().toISOString(),
    machine: machine(),
    commit: execSync("git rev-parse --short HEAD", { cwd: ROOT }).toString().trim(),
    opts: { ...opts, only: [...opts.only] },
    loadStart: load(),
    dbs: [],
  };
  for (const kind of opts.dbs) {
    console.error(`${kind}: seeding ${opts.keys} keys (load ${load().join(" ")})`);
    const db = await prepare(kind);
    const r = { kind, seedSeconds: db.seedSeconds, seedLoad: load() };
    report.dbs.push(r);
    console.error(
      `${kind}: seeded in ${db.seedSeconds.toFixed(1)} s${opts.keep ? ` (${JSON.stringify(db.env)})` : ""}`,
    );
    try {
      if (opts.only.has("start")) r.start = await measureStart(db);
      if (opts.only.has("migrate")) r.migrate = await measureMigrate(db);
      if (opts.only.has("list")) r.list = await measureList(db);
      if (opts.only.has("sql")) r.sql = await measureSql(db);
      if (opts.only.has("export")) r.export = await measureExport(db);
      if (opts.only.has("cold")) r.cold = await measureCold(db);
      if (opts.only.has("rss")) r.rss = await measureRss(db);
      if (opts.only.has("notifier")) r.notifier = await measureNotifier(db);
    } finally {
      await db.drop();
    }
    console.error(markdown({ ...report, dbs: [r], loadEnd: load() }));
  }
  report.loadEnd = load();
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `size-${report.at.replace(/[:.]/g, "-")}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(dir, "size-latest.md"), `${markdown(report)}\n`);
  console.log(markdown(report));
}

if (import.meta.filename === process.argv[1]) await main();
