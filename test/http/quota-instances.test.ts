/**
 * A key's quota on two latchkeys over one database and one Redis (REDIS_URL): each instance's
 * /v1/verify answers count the other's calls within a sync interval, from the key as cached (no new
 * read), a PATCH of the quota starts a fresh count that both honour, and the management API shows
 * the calls left as verification counts them before any usage flush.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { composeLatchkey, type Latchkey } from "../../src/main.js";
import { startChangeJournal } from "../../src/verify/change-journal.js";
import { connectLimiterRedis } from "../../src/verify/rate-limit.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { type Ask, cacheMisses, capturingLogger, inProcess, timeUntil } from "../support/instances.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const OMS_READ = 10;
const KEYS = "/v1/accounts/acme/keys";
/** The allowance sync's interval (100 ms) and a round trip, with room for a busy machine. */
const SYNC_WAIT_MS = 400;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(["sqlite", "postgres"] as const)(
  "a quota shared by two instances through Redis on %s",
  (kind) => {
    const prefix = `latchkey-test:${process.pid}-${Date.now()}-${kind}:`;
    let redis: Redis;
    let a: Harness;
    let b: Latchkey;
    let askB: Ask;
    const closing: Array<() => Promise<unknown>> = [];

    beforeAll(async () => {
      redis = await connectLimiterRedis(REDIS_URL);
      await new Promise((resolve) => redis.once("ready", resolve));
      const limiterRedis = { client: redis, prefix };
      a = await createHarness(kind, { limiterRedis });
      const { logger } = capturingLogger();
      const config = loadConfig({
        LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
        PUBLIC_URL: "http://localhost",
        RATE_LIMIT_FAILURES: "0",
      });
      b = composeLatchkey(config, { store: a.store, logger, clock: a.deps.clock, limiterRedis });
      askB = inProcess(b.app);
      // Changes reach the other instance through the database's journal (as with no fan-out).
      for (const [changes, log] of [
        [a.deps.changes, a.logger],
        [b.deps.changes, logger],
      ] as const) {
        const journal = await startChangeJournal({
          bus: changes,
          journal: a.store.changeLog,
          logger: log,
          dependency: "database",
        });
        closing.push(() => journal.close());
      }
    });

    afterAll(async () => {
      for (const close of closing.splice(0).reverse()) await close();
      await b.services.usage.stop();
      b.allowances.close();
      await a.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    async function verifyOnA(creds: Credentials, extra: Record<string, unknown> = {}) {
      return (await a.request("POST", "/v1/verify", { as: null, body: { ...creds, ...extra } })).body;
    }

    async function verifyOnB(creds: Credentials, extra: Record<string, unknown> = {}) {
      const res = await askB("/v1/verify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...creds, ...extra }),
      });
      return (await res.json()) as { valid: boolean; code?: string; quota: { remaining: number } | null };
    }

    const shownOnA = async (appKey: string) =>
      (await a.request("GET", `${KEYS}/${appKey}`)).body.quota.remaining as number;

    it("counts the other instance's calls within a sync interval, honours a PATCH of the quota, and shows the count", async () => {
      const created = await a.request("POST", KEYS, {
        body: { name: "shared-quota", roles: [OMS_READ], quota: { remaining: 10, refill: null } },
      });
      expect(created.status).toBe(201);
      const creds = { appKey: created.body.key.appKey, appToken: created.body.appToken };
      // Both instances have the key cached and have looked at its count (a refused grant spends nothing).
      const refused = { resource: "EditOrders" };
      expect(await verifyOnA(creds, refused)).toMatchObject({
        code: "RESOURCE_NOT_GRANTED",
        quota: { remaining: 10 },
      });
      expect(await verifyOnB(creds, refused)).toMatchObject({
        code: "RESOURCE_NOT_GRANTED",
        quota: { remaining: 10 },
      });
      const missesBefore = await cacheMisses(askB);

      for (const left of [9, 8, 7, 6])
        expect(await verifyOnA(creds)).toMatchObject({ quota: { remaining: left } });
      await sleep(SYNC_WAIT_MS);
      // B counts A's four calls with no new read of the key (nothing was flushed either).
      expect(await verifyOnB(creds)).toMatchObject({ valid: true, quota: { remaining: 5 } });
      expect(await cacheMisses(askB)).toBe(missesBefore);
      await sleep(SYNC_WAIT_MS);
      // The management API shows the count before the usage flush has written anything.
      expect(await shownOnA(creds.appKey)).toBe(5);

      // A new setting: a fresh count of 3, whatever was spent under the old one.
      const patched = await a.request("PATCH", `${KEYS}/${creds.appKey}`, {
        body: { quota: { remaining: 3 } },
      });
      expect(patched.status).toBe(200);
      expect(patched.body.quota.remaining).toBe(3);
      // Each instance looks at the new count once it has heard of it (A at once, B through the journal).
      expect(await verifyOnA(creds, refused)).toMatchObject({ quota: { remaining: 3 } });
      const heard = await timeUntil(async () => (await verifyOnB(creds, refused)).quota?.remaining === 3);
      expect(heard).toBeGreaterThanOrEqual(0);
      expect(await verifyOnB(creds)).toMatchObject({ valid: true, quota: { remaining: 2 } });
      await sleep(SYNC_WAIT_MS);
      expect(await verifyOnA(creds)).toMatchObject({ valid: true, quota: { remaining: 1 } });
      await sleep(SYNC_WAIT_MS);
      expect(await verifyOnB(creds)).toMatchObject({ valid: true, quota: { remaining: 0 } });
      await sleep(SYNC_WAIT_MS);
      expect(await verifyOnA(creds)).toMatchObject({ valid: false, code: "QUOTA_EXHAUSTED" });
      expect(await verifyOnB(creds)).toMatchObject({ valid: false, code: "QUOTA_EXHAUSTED" });
      expect(await shownOnA(creds.appKey)).toBe(0);

      // The database stays the record, per setting: spends made under the earlier settings and
      // flushed after a new one are not taken from it.
      const stored = async () => (await a.store.keys.getByAppKey(creds.appKey))?.quota?.remaining;
      const topped = await a.request("PATCH", `${KEYS}/${creds.appKey}`, {
        body: { quota: { remaining: 2 } },
      });
      expect(topped.body.quota.remaining).toBe(2);
      await a.services.usage.flush();
      await b.services.usage.flush();
      expect(await stored()).toBe(2);
      expect(await verifyOnA(creds)).toMatchObject({ valid: true, quota: { remaining: 1 } });
      await a.services.usage.flush();
      expect(await stored()).toBe(1);
    }, 30_000);
  },
);
