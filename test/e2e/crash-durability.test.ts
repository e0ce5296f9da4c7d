/**
 * Durability under a crash, against the real `latchkey serve` on both databases: a burst of
 * concurrent key creates and token renewals (crash-burst.ts) is cut by SIGKILL once enough of it
 * was acknowledged, and the server is started again on the same database. Then:
 * - it starts cleanly (no warning or error on the way to listening, ready);
 * - every acknowledged create and renewal step is there, and each key is in a state its record
 *   allows: as its acknowledged steps left it, or with the step in flight fully applied. Every
 *   token it was ever handed is accepted by /v1/verify exactly when that state holds it;
 * - no key is half-renewed: its view (pendingRenewal, token dates), its token rows and its audit
 *   trail replayed tell the same story;
 * - the database holds no partial write (a key without its current token, a token without its key,
 *   a key without its `key.created` event, stored counts that disagree with the rows);
 * - the audit chain verifies, through the API and with `latchkey verify-audit` on the database.
 */

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Key } from "../../src/core/api.js";
import type { Database } from "../../src/storage/schema.js";
import { openRawDb } from "../support/stores.js";
import { type Burst, type KeyState, type KeyTrail, knownTokens, outcomes, runBurst } from "./crash-burst.js";
import { createTestDatabase } from "./databases.js";
import { callAs, runCli, type Served, serve } from "./process.js";

type Kind = "sqlite" | "postgres";

const WORKERS = 8;
/** Acknowledgements before the kill: a few keys per worker through create, renewals and completions. */
const KILL_AFTER = 100;

interface Prepared {
  env: Record<string, string>;
  raw(): Kysely<Database>;
  drop(): Promise<void>;
}

async function prepare(kind: Kind): Promise<Prepared> {
  const dataDir = await mkdtemp(join(tmpdir(), "latchkey-crash-"));
  // Verifying old tokens after the restart is a run of failures from one address: no limiter.
  const base = {
    DATA_DIR: dataDir,
    LATCHKEY_SECRET: randomBytes(32).toString("hex"),
    RATE_LIMIT_FAILURES: "0",
    // As in production: a localhost PUBLIC_URL (the default) is warned about at every start.
    PUBLIC_URL: "https://latchkey.example.com",
  };
  if (kind === "sqlite") {
    return {
      env: { ...base, DATABASE_URL: "" },
      raw: () => openRawDb({ file: join(dataDir, "latchkey.db") }),
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const database = await createTestDatabase("latchkey_crash");
  return {
    env: { ...base, DATABASE_URL: database.url },
    raw: () =>
      new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }),
      }),
    async drop() {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  }
  return results;
}

/** What a key looks like after the restart: its view, token rows, and which known tokens work. */
interface Observed {
  view: Key;
  tokenRows: number;
  works: Map<string, boolean>;
}

function describeState(state: KeyState): string {
  return state === "absent" ? "absent" : `${state.tokens.length} token(s)`;
}

/** Whether the observed key (undefined: none by that name) is the state `expected`. */
function isState(expected: KeyState, observed: Observed | undefined, tokens: string[]): boolean {
  if (expected === "absent" || observed === undefined) return expected === "absent" && observed === undefined;
  if (observed.tokenRows !== expected.tokens.length) return false;
  if (observed.view.pendingRenewal !== (expected.tokens.length === 2)) return false;
  return tokens.every((token) => observed.works.get(token) === expected.tokens.includes(token));
}

describe.each<Kind>(["sqlite", "postgres"])("a SIGKILL in the middle of a write burst on %s", (kind) => {
  let prepared: Prepared;
  let raw: Kysely<Database>;
  let owner: { appKey: string; appToken: string };
  let burst: Burst;
  let killedBy: NodeJS.Signals | null;
  let burstMs: number;
  let restarted: Served;
  let verifiedDirectly: ReturnType<typeof runCli>;
  /** Every key of the account after the restart, by name. */
  const keys = new Map<string, Observed>();

  /** Which of the trail's possible states its key is in: 0 as acknowledged, 1 with the step in flight, -1 neither. */
  function matchOf(trail: KeyTrail): number {
    const observed = keys.get(trail.name);
    return outcomes(trail).findIndex((state) => isState(state, observed, knownTokens(trail)));
  }

  const call = (method: string, path: string) => callAs(restarted.url, owner, method, path);

  async function listKeys(): Promise<Key[]> {
    const all: Key[] = [];
    let cursor = "";
    do {
      const page = await call("GET", `/v1/accounts/acme/keys?limit=200${cursor && `&cursor=${cursor}`}`);
      expect(page.status).toBe(200);
      all.push(...(page.json.items as Key[]));
      cursor = page.json.nextCursor ? encodeURIComponent(page.json.nextCursor) : "";
    } while (cursor);
    return all;
  }

  async function works(appKey: string, appToken: string): Promise<boolean> {
    const res = await fetch(`${restarted.url}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appKey, appToken }),
    });
    const { code } = (await res.json()) as { code: string };
    if (code !== "OK" && code !== "INVALID_CREDENTIALS") throw new Error(`verify answered ${code}`);
    return code === "OK";
  }

  beforeAll(async () => {
    prepared = await prepare(kind);
    const init = await runCli(
      ["init", "--account", "acme", "--email", "owner@acme.test", "--json"],
      prepared.env,
    );
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout);
    const first = await serve(prepared.env);
    const exited = once(first.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    const started = performance.now();
    burst = await runBurst(first.url, owner, WORKERS, (progress) => {
      if (progress.acked === KILL_AFTER) first.child.kill("SIGKILL");
    });
    burstMs = performance.now() - started;
    [, killedBy] = await exited;
    restarted = await serve(prepared.env);
    // On the database directly, beside the running server, while the checks below go through the API.
    verifiedDirectly = runCli(["verify-audit", "--json"], prepared.env);
    raw = prepared.raw();
    const tokenRows = new Map(
      (
        await sql<{ app_key: string; n: number | string }>`
          select k.app_key, count(t.id) as n from keys k left join tokens t on t.key_id = k.id
          where k.account = 'acme' group by k.app_key`.execute(raw)
      ).rows.map((r) => [r.app_key, Number(r.n)]),
    );
    const trails = new Map(burst.trails.map((trail) => [trail.name, trail]));
    await inBatches(await listKeys(), 8, async (view) => {
      const tokens = knownTokens(trails.get(view.name) ?? { name: "", via: "native", steps: [] });
      const checked = await Promise.all(tokens.map(async (t) => [t, await works(view.appKey, t)] as const));
      keys.set(view.name, { view, tokenRows: tokenRows.get(view.appKey) ?? 0, works: new Map(checked) });
    });
  });

  afterAll(async () => {
    await raw?.destroy();
    if (restarted?.child.exitCode === null) await restarted.stop();
    await prepared?.drop();
  });

  it("killed the server in the middle of the burst", () => {
    console.info(
      `${kind}: ${burst.acked} acknowledged, ${burst.unacked} not, ${burst.trails.length} keys tried, ` +
        `killed after ${Math.round(burstMs)} ms, healthy again after ${Math.round(restarted.readyMs)} ms`,
    );
    expect(killedBy).toBe("SIGKILL");
    expect(burst.refused).toEqual([]);
    expect(burst.acked).toBeGreaterThanOrEqual(KILL_AFTER);
    // Every worker had a request the server never answered.
    expect(burst.unacked).toBe(WORKERS);
    const ops = new Set(burst.trails.flatMap((trail) => trail.steps.filter((s) => s.acked).map((s) => s.op)));
    expect([...ops].sort()).toEqual(["complete", "create", "start", "startNow"]);
  });

  it("starts again cleanly on the same database", async () => {
    expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
    const lines = restarted
      .log()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    // A change-journal read that a saturated machine delays past 750 ms is reported at warn, rightly;
    // it says nothing of the crash.
    const journalTiming = (line: { msg: string }) => line.msg.startsWith("change journal:");
    expect(
      lines.filter((line) => ["warn", "error", "fatal"].includes(line.level) && !journalTiming(line)),
    ).toEqual([]);
  });

  it("keeps every acknowledged create and renewal step: each key is in a state its record allows", () => {
    const wrong: string[] = [];
    /** Of the steps unanswered at the kill: how many had committed, how many had not. */
    const inFlight = { applied: 0, notApplied: 0 };
    for (const trail of burst.trails) {
      const observed = keys.get(trail.name);
      const allowed = outcomes(trail);
      const matched = matchOf(trail);
      if (allowed.length === 2 && matched >= 0) inFlight[matched === 1 ? "applied" : "notApplied"]++;
      if (trail.appKey !== undefined && observed?.view.appKey !== trail.appKey) {
        wrong.push(
          `${trail.name}: acknowledged as ${trail.appKey}, found ${observed?.view.appKey ?? "nothing"}`,
        );
      } else if (matched < 0) {
        const seen = observed && { rows: observed.tokenRows, works: [...observed.works.values()] };
        const steps = trail.steps.map((s) => `${s.op}${s.acked ? "" : "?"}`).join(",");
        wrong.push(
          `${trail.name} [${steps}]: expected ${allowed.map(describeState)}, saw ${JSON.stringify(seen)}`,
        );
      }
    }
    console.info(
      `${kind}: unanswered at the kill, ${inFlight.applied} committed, ${inFlight.notApplied} not`,
    );
    expect(wrong).toEqual([]);
    expect(inFlight.applied + inFlight.notApplied).toBe(WORKERS);
    const names = new Set(burst.trails.map((trail) => trail.name));
    // The owner's bootstrap key and the keys of the burst; nothing else.
    expect([...keys.keys()].filter((name) => !names.has(name))).toHaveLength(1);
  });

  it("leaves no key half-renewed: view, token rows and audit trail agree", async () => {
    const exported = await call("GET", "/v1/accounts/acme/audit/export?format=json");
    expect(exported.status).toBe(200);
    const events = exported.json.items as {
      action: string;
      target: { id: string } | null;
      data: { after?: unknown } | null;
    }[];
    const wrong: string[] = [];
    for (const { view, tokenRows } of keys.values()) {
      const trail = events.filter((e) => e.target?.id === view.appKey && e.action.startsWith("key."));
      let tokens = 0;
      for (const event of trail) {
        if (event.action === "key.created") tokens = 1;
        else if (event.action === "key.renewal_started") tokens++;
        else if (event.action === "key.renewal_completed") tokens--;
        if (tokens < 1 || tokens > 2) wrong.push(`${view.name}: ${tokens} tokens after ${event.action}`);
      }
      const last = trail.at(-1);
      const dates = {
        creationDateToken: view.creationDateToken,
        creationDateNewToken: view.creationDateNewToken,
      };
      if (trail[0]?.action !== "key.created") wrong.push(`${view.name}: no key.created first`);
      if (tokens !== tokenRows || tokenRows !== (view.pendingRenewal ? 2 : 1))
        wrong.push(
          `${view.name}: audit says ${tokens} tokens, rows ${tokenRows}, view ${view.pendingRenewal}`,
        );
      if (last && last.action !== "key.created" && JSON.stringify(last.data?.after) !== JSON.stringify(dates))
        wrong.push(
          `${view.name}: last event ${JSON.stringify(last.data?.after)}, view ${JSON.stringify(dates)}`,
        );
    }
    expect(wrong).toEqual([]);
  });

  it("journals every committed change for the other instances, acknowledged or not", async () => {
    const journal = await sql<{ change: string }>`select change from change_log`.execute(raw);
    const entries = new Map<string, number>();
    for (const { change } of journal.rows) {
      const { kind: what, appKey } = JSON.parse(change) as { kind: string; appKey?: string };
      if (what === "key" && appKey) entries.set(appKey, (entries.get(appKey) ?? 0) + 1);
    }
    const wrong: string[] = [];
    for (const trail of burst.trails) {
      const appKey = keys.get(trail.name)?.view.appKey;
      if (appKey === undefined) continue;
      // One change published per step: a start with deleteOldToken "now" is one.
      const acked = trail.steps.filter((step) => step.acked).length;
      const committed = acked + (matchOf(trail) === 1 ? 1 : 0);
      const found = entries.get(appKey) ?? 0;
      // The entry is written in the change's own transaction: committed means journaled.
      if (found !== committed) wrong.push(`${trail.name}: ${found} entries, ${committed} committed`);
    }
    expect(wrong).toEqual([]);
  });

  it("leaves no partial rows in the database", async () => {
    const count = async (query: ReturnType<typeof sql<{ n: number | string }>>) =>
      Number((await query.execute(raw)).rows[0]?.n);
    expect(
      await count(sql`select count(*) as n from tokens t where not exists
      (select 1 from keys k where k.id = t.key_id)`),
    ).toBe(0);
    expect(
      await count(sql`select count(*) as n from keys k where not exists
      (select 1 from tokens t where t.key_id = k.id and t.slot = 0)`),
    ).toBe(0);
    expect(await count(sql`select count(*) as n from tokens where slot not in (0, 1)`)).toBe(0);
    expect(
      await count(sql`select count(*) as n from keys k where k.token_created_at <>
      (select max(t.created_at) from tokens t where t.key_id = k.id)`),
    ).toBe(0);
    expect(
      await count(sql`select count(*) as n from keys k where not exists
      (select 1 from audit_events e where e.action = 'key.created' and e.target_id = k.app_key)`),
    ).toBe(0);
    expect(
      await count(sql`select count(*) as n from audit_events e where e.action like 'key.%'
      and not exists (select 1 from keys k where k.app_key = e.target_id)`),
    ).toBe(0);
    const stored = await sql<{ total: number | string; active: number | string }>`
      select total, active from key_counts where account = 'acme'`.execute(raw);
    const rows = await sql<{ total: number | string; active: number | string }>`
      select count(*) as total, sum(active) as active from keys where account = 'acme'`.execute(raw);
    const numbers = (r: { total: number | string; active: number | string } | undefined) =>
      r && [Number(r.total), Number(r.active)];
    expect(numbers(stored.rows[0])).toEqual(numbers(rows.rows[0]));
    expect(numbers(rows.rows[0])).toEqual([keys.size, keys.size]);
  });

  it("keeps the audit chain intact, through the API and on the database itself", async () => {
    const check = await call("GET", "/v1/accounts/acme/audit/verify");
    expect(check.status).toBe(200);
    expect(check.json).toMatchObject({ ok: true, firstBroken: null });
    // Init's events, one per key created and one per renewal step at least.
    expect(check.json.checked).toBeGreaterThan(burst.acked);
    const direct = await verifiedDirectly;
    expect(direct.code, direct.stdout + direct.stderr).toBe(0);
  });

  it("stops cleanly after the checks", async () => {
    expect(await restarted.stop()).toBe(0);
  });
});
