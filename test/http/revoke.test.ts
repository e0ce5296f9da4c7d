/**
 * Leaked-token reports, `POST /v1/credentials/revoke`, on both databases: a reported token's key is
 * deactivated at once with one audit event and its notifications in the outbox; unknown tokens and
 * bad bodies change nothing; reports are rate limited per address; and no reported token ever
 * reaches the database, the log or a response.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAppToken } from "../../src/core/tokens.js";
import { hashToken } from "../../src/crypto/token-hash.js";
import { emailText } from "../../src/notify/messages.js";
import type { Change } from "../../src/verify/changes.js";
import { createHarness, type Harness } from "../support/harness.js";

type Kind = "sqlite" | "postgres";
const REPORTER = "192.0.2.77";
const PATH = "/v1/credentials/revoke";

/** Every row of every table, as text: what a search for a secret must cover. */
async function dumpDatabase(h: Harness, kind: Kind): Promise<string> {
  const db = h.raw();
  if (kind === "sqlite") {
    const files = await sql<{ file: string }>`pragma database_list`.execute(db);
    const main = files.rows.find((row) => row.file)?.file as string;
    const parts = await Promise.all(
      [main, `${main}-wal`, `${main}-shm`].map((file) => readFile(file, "latin1").catch(() => "")),
    );
    return parts.join("\n");
  }
  const tables = await sql<{ t: string }>`
    select table_name as t from information_schema.tables where table_schema = current_schema()`.execute(db);
  const rows = await Promise.all(
    tables.rows.map(({ t }) =>
      sql<{ row: string }>`select x::text as row from ${sql.table(t)} x`.execute(db),
    ),
  );
  return rows.flatMap((result) => result.rows.map((r) => r.row)).join("\n");
}

describe.each<Kind>(["sqlite", "postgres"])("leaked-token reports on %s", (kind) => {
  let h: Harness;
  /** Every token the tests reported or could have reported. */
  const secrets: string[] = [];
  /** Every answer of the revoke endpoint (create and renew responses carry tokens by design). */
  const answers: string[] = [];

  async function report(body: unknown, options: { rawBody?: string; headers?: Record<string, string> } = {}) {
    const res = await h.request("POST", PATH, {
      as: null,
      ...(body === undefined ? {} : { body }),
      ...(options.rawBody === undefined ? {} : { rawBody: options.rawBody }),
      headers: { "x-forwarded-for": REPORTER, "user-agent": "scanner/1.0", ...options.headers },
    });
    answers.push(res.text);
    return res;
  }

  async function activeOf(appKey: string) {
    return (await h.store.keys.getByAppKey(appKey))?.active;
  }

  async function counts() {
    return {
      audit: (await h.store.audit.list("acme", 1000)).length,
      notifications: (await h.store.outbox.list("acme", 1000)).length,
    };
  }

  beforeAll(async () => {
    h = await createHarness(kind, { trustProxy: true, revokeRate: { limit: 1000, windowSeconds: 60 } });
    secrets.push(h.owner.appToken);
    const settings = await h.request("PUT", "/v1/accounts/acme/settings/api-keys", {
      body: {
        renewalPeriodMonths: 3,
        notifications: {
          emails: ["ops@acme.test", "security@acme.test"],
          webhooks: [{ url: "https://hooks.example.com/latchkey" }],
        },
        policies: { deactivateUnusedDays: null, maxTokenAgeDays: null },
      },
    });
    expect(settings.status).toBe(200);
  });

  afterAll(async () => {
    // The secrets search, over everything this file did on this database.
    const dump = await dumpDatabase(h, kind);
    const log = h.logLines.join("\n");
    const responses = answers.join("\n");
    expect(secrets.length).toBeGreaterThan(5);
    // The search looks where the data is: public values and token hashes are found there.
    expect(dump).toContain(hashToken(h.owner.appToken));
    expect(log).toContain("leaked tokens reported: keys deactivated");
    for (const secret of secrets) {
      expect(dump.includes(secret), "token in the database").toBe(false);
      expect(log.includes(secret), "token in the log").toBe(false);
      expect(responses.includes(secret), "token in a revoke response").toBe(false);
    }
    await h.close();
  });

  it("deactivates the key at once, audits it once and enqueues its notifications", async () => {
    const key = await h.createKey("leaky erp", [2]);
    secrets.push(key.appToken);
    expect((await h.request("GET", "/v1/me", { as: key })).status).toBe(200);
    const heard: Change[] = [];
    const afterPublish: Promise<boolean | undefined>[] = [];
    const unsubscribe = h.deps.changes.subscribe((change) => {
      heard.push(change);
      afterPublish.push(activeOf(key.appKey));
    });

    const res = await report({ tokens: [key.appToken] });
    unsubscribe();
    expect([res.status, res.body]).toEqual([202, { received: 1 }]);
    expect(heard).toContainEqual({ kind: "key", appKey: key.appKey });
    // Published once committed: a read started by the change already sees the key off.
    expect(await Promise.all(afterPublish)).not.toContain(true);
    expect(await activeOf(key.appKey)).toBe(false);
    const call = await h.request("GET", "/v1/me", { as: key });
    expect([call.status, call.body.code]).toEqual([401, "UNAUTHENTICATED"]);

    const events = (await h.store.audit.list("acme", 100)).filter((e) => e.action === "key.deactivated_leak");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actorType: "system",
      actorId: "system",
      targetType: "key",
      targetId: key.appKey,
      ip: REPORTER,
      userAgent: "scanner/1.0",
      data: { before: { active: true }, after: { active: false } },
    });

    const notices = (await h.store.outbox.list("acme", 100)).filter((n) => n.event === "key.leaked");
    const webhookId = (await h.request("GET", "/v1/accounts/acme/settings/api-keys")).body.notifications
      .webhooks[0].id;
    expect(notices.map((n) => `${n.channel}:${n.target}`).sort()).toEqual([
      "email:ops@acme.test",
      "email:security@acme.test",
      `webhook:${webhookId}`,
    ]);
    for (const notice of notices) {
      expect(notice).toMatchObject({
        status: "pending",
        payload: { key: { appKey: key.appKey, name: "leaky erp" } },
      });
    }
    const mail = emailText(notices[0] as (typeof notices)[number], "https://keys.example.com");
    expect(mail.subject).toBe(
      `[latchkey] API key "leaky erp" (${key.appKey}) was deactivated: its token was reported leaked`,
    );
    expect(mail.text).toContain("https://keys.example.com/admin");
    for (const text of [JSON.stringify(events), JSON.stringify(notices), mail.text]) {
      expect(text).not.toContain(key.appToken);
      expect(text).not.toContain(hashToken(key.appToken));
    }

    // Reported again: already off, so nothing more is written.
    const before = await counts();
    expect((await report({ tokens: [key.appToken, key.appToken] })).body).toEqual({ received: 2 });
    expect(await counts()).toEqual(before);
  });

  it("finds a key by its pending token, and a key whose token has another shape", async () => {
    const renewing = await h.createKey("renewing", [2]);
    const renewal = await h.request("POST", `/v1/accounts/acme/keys/${renewing.appKey}/renewal`, {
      body: {},
    });
    expect(renewal.status).toBe(201);
    const imported = `VTEX${randomBytes(60).toString("hex").toUpperCase()}`;
    const appKey = "appkey-acme-IMPORT";
    const now = h.deps.clock.now();
    await h.store.keys.create({
      id: randomUUID(),
      appKey,
      account: "acme",
      name: "imported",
      active: true,
      createdAt: now,
      token: { id: randomUUID(), hash: hashToken(imported), createdAt: now },
      roleIds: [],
    });
    secrets.push(renewing.appToken, renewal.body.appToken, imported);

    const res = await report({ tokens: [renewal.body.appToken, imported] });
    expect([res.status, res.body]).toEqual([202, { received: 2 }]);
    expect(await activeOf(renewing.appKey)).toBe(false);
    expect(await activeOf(appKey)).toBe(false);
  });

  it("answers unknown, malformed and foreign tokens the same 202, changing nothing", async () => {
    const bystander = await h.createKey("bystander", [2]);
    const unknown = generateAppToken((size) => randomBytes(size), "lkt");
    const badChecksum = `${bystander.appToken.slice(0, -1)}${bystander.appToken.endsWith("a") ? "b" : "a"}`;
    const foreign = "X".repeat(120);
    secrets.push(bystander.appToken, unknown, badChecksum);
    const before = await counts();
    const res = await report({ tokens: [unknown, badChecksum, foreign, "lkt_short", "\u0001odd"] });
    expect([res.status, res.body]).toEqual([202, { received: 5 }]);
    expect(await counts()).toEqual(before);
    expect(await activeOf(bystander.appKey)).toBe(true);
    expect((await h.request("GET", "/v1/me", { as: bystander })).status).toBe(200);
  });

  it("refuses bad bodies with 400, naming the problem, and changes nothing", async () => {
    const victim = await h.createKey("victim", [2]);
    secrets.push(victim.appToken);
    const before = await counts();
    const bodies: unknown[] = [
      {},
      { tokens: [] },
      { tokens: victim.appToken },
      { tokens: [""] },
      { tokens: ["x".repeat(513)] },
      { tokens: Array.from({ length: 101 }, (_, i) => `token-${i}`) },
      { tokens: [victim.appToken, 42] },
      { tokens: [victim.appToken], extra: true },
    ];
    for (const body of bodies) {
      const res = await report(body);
      expect([res.status, res.body.code], JSON.stringify(body).slice(0, 80)).toEqual([
        400,
        "VALIDATION_FAILED",
      ]);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const notJson = await report(undefined, {
      rawBody: JSON.stringify({ tokens: [victim.appToken] }),
      headers: { "content-type": "text/plain" },
    });
    expect(notJson.status).toBe(400);
    const raw = await report(undefined, {
      rawBody: `{"tokens": ["${victim.appToken}"`,
      headers: { "content-type": "application/json" },
    });
    expect([raw.status, raw.body.code]).toEqual([400, "INVALID_JSON"]);
    expect(await counts()).toEqual(before);
    expect(await activeOf(victim.appKey)).toBe(true);
  });
});

describe("the leak-report rate limit", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("sqlite", { trustProxy: true });
  });
  afterAll(() => h.close());

  const report = (ip: string, body: unknown) =>
    h.request("POST", PATH, { as: null, body, headers: { "x-forwarded-for": ip } });

  it("takes 10 requests a minute per address, bad ones included, then 429 before any lookup", async () => {
    const key = await h.createKey("late report", [2]);
    for (let i = 0; i < 9; i++)
      expect((await report(REPORTER, { tokens: [`unknown-${i}`] })).status).toBe(202);
    expect((await report(REPORTER, { tokens: [] })).status).toBe(400);
    const refused = await report(REPORTER, { tokens: [key.appToken] });
    expect([refused.status, refused.body.code, refused.headers.get("retry-after")]).toEqual([
      429,
      "RATE_LIMITED",
      "60",
    ]);
    expect(refused.text).not.toContain(key.appToken);
    expect((await h.store.keys.getByAppKey(key.appKey))?.active).toBe(true);

    expect((await report("198.51.100.3", { tokens: ["unknown"] })).status).toBe(202);
    h.advance(60_000);
    expect((await report(REPORTER, { tokens: [key.appToken] })).status).toBe(202);
    expect((await h.store.keys.getByAppKey(key.appKey))?.active).toBe(false);
  });
});
