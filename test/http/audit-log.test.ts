/**
 * Reading the audit log through the API, on SQLite and PostgreSQL: newest first, every filter,
 * cursor paging, precise 400s for bad queries, csv and json exports streamed page by page, and the
 * chain check of an intact log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { AUDIT_CSV_COLUMNS } from "../../src/services/audit-log.js";
import { signIn } from "../support/audit.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const HOUR = 3_600_000;
const AUDIT = "/v1/accounts/acme/audit";

/** RFC 4180 with CRLF line ends, as the export writes it. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let [row, field, quoted] = [[] as string[], "", false];
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted && char === '"' && text[i + 1] === '"') [field, i] = [`${field}"`, i + 1];
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === ",") [row, field] = [[...row, field], ""];
    else if (!quoted && char === "\r" && text[i + 1] === "\n") {
      rows.push([...row, field]);
      [row, field, i] = [[], "", i + 1];
    } else field += char;
  }
  expect(field).toBe("");
  return rows;
}

describe.each(["sqlite", "postgres"] as const)("the audit log API (%s)", (kind) => {
  let h: Harness;
  let alpha: string;
  let userId: string;
  // biome-ignore lint/suspicious/noExplicitAny: items as the API returns them
  let all: any[];

  beforeAll(async () => {
    h = await createHarness(kind);
    // 10:00 account set-up (3 events, system); 11:00 key created; 12:00 renamed; 13:00 role created;
    // 14:00 signed in; 14:30 role deleted by that user.
    h.advance(HOUR);
    alpha = (await h.createKey("Alpha")).appKey;
    h.advance(HOUR);
    await h.request("PATCH", `/v1/accounts/acme/keys/${alpha}`, { body: { name: "Alpha 2" } });
    h.advance(HOUR);
    const role = await h.request("POST", "/v1/accounts/acme/roles", { body: { name: "R", resources: [] } });
    h.advance(HOUR);
    const session = await signIn(h, "owner@acme.test", OWNER_PASSWORD);
    h.advance(HOUR / 2); // within the session's hour
    await h.request("DELETE", `/v1/accounts/acme/roles/${role.body.id}`, session);
    userId = (await h.store.people.getUserByEmail("owner@acme.test"))?.id as string;
    all = (await h.request("GET", AUDIT)).body.items;
  });
  afterAll(() => h.close());
  afterEach(() => vi.restoreAllMocks());

  const actions = (items: { action: string }[]) => items.map((item) => item.action);

  it("lists every event newest first, each with its fields and its link to the one before", async () => {
    expect(actions(all)).toEqual([
      "role.deleted",
      "user.signed_in",
      "role.created",
      "key.renamed",
      "key.created",
      "key.created",
      "user.added",
      "account.created",
    ]);
    expect(Object.keys(all[0]).sort()).toEqual(
      [
        "account",
        "action",
        "actor",
        "at",
        "data",
        "hash",
        "id",
        "ip",
        "prevHash",
        "requestId",
        "seq",
        "target",
        "userAgent",
      ].sort(),
    );
    expect(all[0]).toMatchObject({
      at: "2026-11-26T14:30:00.000Z",
      account: "acme",
      actor: { type: "user", id: userId, label: "owner@acme.test" },
      target: { type: "role" },
    });
    for (let i = 0; i < all.length - 1; i++) {
      expect(all[i].seq).toBeGreaterThan(all[i + 1].seq);
      expect(all[i].prevHash).toBe(all[i + 1].hash);
    }
    expect(all.at(-1).prevHash).toBeNull();
  });

  it.each([
    ["action=key.renamed", ["key.renamed"]],
    ["action=key.", ["key.renamed", "key.created", "key.created"]],
    ["action=role.", ["role.deleted", "role.created"]],
    ["action=key", []],
    ["actor=system", ["key.created", "user.added", "account.created"]],
    ["actor=owner%40acme.test", ["role.deleted", "user.signed_in"]],
    ["from=2026-11-26T12:00:00Z", ["role.deleted", "user.signed_in", "role.created", "key.renamed"]],
    ["to=2026-11-26T11:00:00.001Z", ["key.created", "key.created", "user.added", "account.created"]],
    ["from=2026-11-26T13:00:00%2B02:00&to=2026-11-26T13:00:00Z", ["key.renamed", "key.created"]],
    ["from=2026-11-27", []],
    [
      "to=2026-11-27",
      [
        "role.deleted",
        "user.signed_in",
        "role.created",
        "key.renamed",
        "key.created",
        "key.created",
        "user.added",
        "account.created",
      ],
    ],
  ])("filters by %s", async (query, expected) => {
    const res = await h.request("GET", `${AUDIT}?${query}`);
    expect(res.status, res.text).toBe(200);
    expect(actions(res.body.items)).toEqual(expected);
  });

  it("filters by actor id, by target and by several filters at once", async () => {
    const byUser = await h.request("GET", `${AUDIT}?actor=${userId}`);
    expect(actions(byUser.body.items)).toEqual(["role.deleted", "user.signed_in"]);
    const byKey = await h.request("GET", `${AUDIT}?actor=${h.owner.appKey}`);
    expect(actions(byKey.body.items)).toEqual(["role.created", "key.renamed", "key.created"]);
    const byTarget = await h.request("GET", `${AUDIT}?target=${alpha}`);
    expect(actions(byTarget.body.items)).toEqual(["key.renamed", "key.created"]);
    const both = await h.request(
      "GET",
      `${AUDIT}?action=key.&actor=${h.owner.appKey}&from=2026-11-26T12:00:00Z`,
    );
    expect(actions(both.body.items)).toEqual(["key.renamed"]);
  });

  it("pages with an opaque cursor, filters kept, until nextCursor is null", async () => {
    for (const [query, expected] of [
      ["limit=3", all],
      ["limit=1&action=key.", all.filter((item) => item.action.startsWith("key."))],
    ] as const) {
      const seen = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await h.request("GET", `${AUDIT}?${query}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages += 1;
      } while (cursor !== null);
      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / Number(query.split("&")[0]?.slice(6))));
    }
    expect((await h.request("GET", `${AUDIT}?limit=200`)).body.nextCursor).toBeNull();
  });

  it.each([
    ["limit=0", "VALIDATION_FAILED", "limit"],
    ["limit=201", "VALIDATION_FAILED", "limit"],
    ["limit=ten", "VALIDATION_FAILED", "limit"],
    ["action=Key.Created", "VALIDATION_FAILED", "action: must be an action such as key.created"],
    ["action=key..x", "VALIDATION_FAILED", "action"],
    ["from=yesterday", "VALIDATION_FAILED", "from: must be an ISO 8601 date"],
    ["to=2026-02-30", "VALIDATION_FAILED", "to: must be an ISO 8601 date"],
    ["from=2026-11-26T10:00:00", "VALIDATION_FAILED", "from"],
    ["from=2026-11-27&to=2026-11-26", "VALIDATION_FAILED", "from must be earlier than to"],
    ["actor=", "VALIDATION_FAILED", "actor"],
    ["page=2", "VALIDATION_FAILED", "page"],
    ["cursor=bm9wZQ", "INVALID_CURSOR", "cursor"],
    [`cursor=${Buffer.from('["audit",-1]').toString("base64url")}`, "INVALID_CURSOR", "cursor"],
  ])("refuses %s with a precise 400, changing nothing", async (query, code, detail) => {
    const before = await h.store.audit.getHead("acme");
    const res = await h.request("GET", `${AUDIT}?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe(code);
    expect(res.body.detail).toContain(detail);
    const exported = await h.request(
      "GET",
      `${AUDIT}/export?${query.replace(/^(limit|cursor|page)=/, "bad=")}`,
    );
    expect(exported.status).toBe(400);
    expect(await h.store.audit.getHead("acme")).toEqual(before);
  });

  it("exports json oldest first, as an attachment named by account and day, filters applied", async () => {
    const res = await h.request("GET", `${AUDIT}/export?format=json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="latchkey-acme-audit-2026-11-26.json"',
    );
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toEqual({ items: [...all].reverse() });
    const roles = await h.request("GET", `${AUDIT}/export?format=json&action=role.&to=2026-11-26T14:30:00Z`);
    expect(actions(roles.body.items)).toEqual(["role.created"]);
  });

  it("exports csv by default: a header, one row per event, data as JSON", async () => {
    const res = await h.request("GET", `${AUDIT}/export`);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(res.headers.get("content-disposition")).toBe(
      'attachment; filename="latchkey-acme-audit-2026-11-26.csv"',
    );
    const [header, ...rows] = parseCsv(res.text);
    expect(header).toEqual([...AUDIT_CSV_COLUMNS]);
    expect(rows).toHaveLength(all.length);
    const oldestFirst = [...all].reverse();
    rows.forEach((row, i) => {
      const item = oldestFirst[i];
      const cell = (column: string) => row[AUDIT_CSV_COLUMNS.indexOf(column as never)];
      expect([cell("seq"), cell("id"), cell("at"), cell("action"), cell("hash")]).toEqual([
        String(item.seq),
        item.id,
        item.at,
        item.action,
        item.hash,
      ]);
      expect(cell("actorLabel")).toBe(item.actor.label);
      expect(cell("targetId")).toBe(item.target?.id ?? "");
      expect(cell("data") === "" ? null : JSON.parse(cell("data") as string)).toEqual(item.data);
    });
  });

  it("checks the chain of an intact log and shows its head", async () => {
    const res = await h.request("GET", `${AUDIT}/verify`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ok: true,
      checked: all.length,
      firstBroken: null,
      head: { seq: all[0].seq, hash: all[0].hash },
    });
  });

  it("lets a key holding only ViewAuditLog read the log, and nothing else", async () => {
    const role = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "Auditor", resources: ["ViewAuditLog"] },
    });
    const auditor = await h.createKey("Auditor key", [role.body.id]);
    expect((await h.request("GET", AUDIT, { as: auditor })).status).toBe(200);
    expect((await h.request("GET", `${AUDIT}/verify`, { as: auditor })).status).toBe(200);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: auditor })).status).toBe(403);
  });

  describe("a long log", () => {
    const EVENTS = 1200;
    let bulk: Credentials;
    beforeAll(async () => {
      const init = await h.services.accounts.init({ account: "bulk", email: "owner@bulk.test" });
      bulk = { appKey: init.appKey, appToken: init.appToken };
      await h.store.transaction(async (tx) => {
        for (let i = 0; i < EVENTS; i++) {
          await tx.audit.append({
            id: `bulk-${i}`,
            account: "bulk",
            at: h.deps.clock.now(),
            actorType: "system",
            actorId: "system",
            actorLabel: "system",
            action: "key.renamed",
            targetType: "key",
            targetId: `k${i}`,
            ip: null,
            userAgent: null,
            requestId: null,
            data: { before: { name: `=cmd|' /C calc'!A${i}` }, after: { name: `n${i}` } },
          });
        }
      });
    });

    it("streams the export 500 events a page, only as fast as the client reads", async () => {
      const spy = vi.spyOn(h.store.audit, "listEvents");
      const res = await h.app.request("/v1/accounts/bulk/audit/export?format=csv", {
        headers: { "x-api-appkey": bulk.appKey, "x-api-apptoken": bulk.appToken },
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const chunks = [(await reader.read()).value as Uint8Array];
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      // One read finds the newest event (the export's end), then three pages of 500, 500 and 203.
      expect(spy).toHaveBeenCalledTimes(4);
      for (const [query] of spy.mock.calls.slice(1))
        expect(query).toMatchObject({ order: "asc", limit: 500 });
      const rows = parseCsv(Buffer.concat(chunks).toString("utf8"));
      expect(rows).toHaveLength(EVENTS + 3 + 1);
      expect(new Set(rows.slice(1).map((row) => row[1])).size).toBe(EVENTS + 3);
      const verify = await h.request("GET", "/v1/accounts/bulk/audit/verify", { as: bulk });
      expect(verify.body).toMatchObject({ ok: true, checked: EVENTS + 3 });
    });
  });
});
