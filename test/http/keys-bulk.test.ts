/**
 * POST /v1/accounts/{account}/keys/bulk: each key goes through the single action, so a key the
 * caller may not act on gets that refusal as its result, never a silent success, and the others go
 * on. Runs on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Key } from "../../src/core/api.js";
import { SYSTEM_AUTHORITY } from "../../src/services/authority.js";
import { createKeyBulk } from "../../src/services/keys-bulk.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OWNER_ROLE = 1;
const A = "/v1/accounts/acme";
const BULK = `${A}/keys/bulk`;

describe.each(["sqlite", "postgres"] as const)("bulk key actions on %s", (kind) => {
  let h: Harness;
  /** Holds EditApiKeys and ViewApiKeys only: weaker than an Owner key. */
  let editor: Credentials;
  let betaOwner: Credentials;
  let serial = 0;

  beforeAll(async () => {
    h = await createHarness(kind);
    const role = await h.request("POST", `${A}/roles`, {
      body: { name: "key editor", resources: ["EditApiKeys", "ViewApiKeys"] },
    });
    editor = await h.createKey("editor", [role.body.id]);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
  });
  afterAll(() => h.close());

  const fresh = (roles: number[] = []) => h.createKey(`bulk target ${++serial}`, roles);
  const verifies = async ({ appKey, appToken }: Credentials) =>
    (await h.request("POST", "/v1/verify", { as: null, body: { appKey, appToken } })).body.valid === true;
  const bulk = (action: string, appKeys: string[], as: Credentials = h.owner) =>
    h.request("POST", BULK, { as, body: { action, appKeys } });
  const journaled = async (appKey: string) => {
    const rows = await h.raw().selectFrom("change_log").select("change").execute();
    return rows.filter((row) => row.change === JSON.stringify({ kind: "key", appKey })).length;
  };

  it("deactivates what the caller may, and gives every other key its own refusal (200)", async () => {
    const weak = await fresh();
    const strong = await fresh([OWNER_ROLE]);
    const partner = await h.createKey("partner", [], "beta", betaOwner);
    const added = await h.request("POST", `${A}/external-keys`, { body: { appKey: partner.appKey } });
    expect(added.status).toBe(201);
    const unknown = "appkey-acme-NOSUCH";
    const journalBefore = await journaled(weak.appKey);

    const res = await bulk("deactivate", [weak.appKey, strong.appKey, unknown, partner.appKey], editor);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ action: "deactivate", succeeded: 1, failed: 3 });
    const [first, second, third, fourth] = res.body.results;
    expect(first).toMatchObject({
      appKey: weak.appKey,
      ok: true,
      key: { active: false, status: "inactive" },
    });
    expect(second).toMatchObject({
      appKey: strong.appKey,
      ok: false,
      error: { code: "TARGET_EXCEEDS_CALLER", status: 403 },
    });
    expect(second.error.detail).toMatch(/You cannot act on key/);
    expect(third).toEqual({
      appKey: unknown,
      ok: false,
      error: { code: "KEY_NOT_FOUND", status: 404, detail: `No key ${unknown} in account acme` },
    });
    // An external key is the other account's credential: only its owner may switch it off.
    expect(fourth).toMatchObject({ appKey: partner.appKey, ok: false, error: { code: "KEY_NOT_FOUND" } });

    expect(await verifies(weak)).toBe(false);
    expect(await verifies(strong)).toBe(true);
    expect(await verifies(partner)).toBe(true);
    // The deactivation is journaled for the other instances, as a single PATCH is.
    expect(await journaled(weak.appKey)).toBe(journalBefore + 1);

    const events = await h.store.audit.list("acme", 10);
    const mine = events.filter((e) => e.actorId === editor.appKey);
    expect(mine.find((e) => e.action === "key.deactivated")?.targetId).toBe(weak.appKey);
    const refused = mine.filter((e) => e.action === "access.refused");
    expect(refused.map((e) => [e.targetType, e.targetId])).toEqual([["key", strong.appKey]]);
    expect(refused[0]?.data).toMatchObject({ attempted: "key.updated", code: "TARGET_EXCEEDS_CALLER" });
  });

  it("writes one audit event per key, and activates them again", async () => {
    const keys = [await fresh(), await fresh(), await fresh()];
    const appKeys = keys.map((key) => key.appKey);
    const before = (await h.store.audit.list("acme", 1)).at(0)?.id;
    const off = await bulk("deactivate", appKeys);
    expect(off.body.succeeded).toBe(3);
    const since = async () => {
      const events = await h.store.audit.list("acme", 50);
      const index = events.findIndex((e) => e.id === before);
      return events.slice(0, index).reverse();
    };
    const offEvents = await since();
    expect(offEvents.map((e) => [e.action, e.targetId])).toEqual(
      appKeys.map((appKey) => ["key.deactivated", appKey]),
    );
    for (const key of keys) expect(await verifies(key)).toBe(false);

    const on = await bulk("activate", appKeys);
    expect(on.status).toBe(200);
    expect(on.body.results.map((r: { key: { active: boolean } }) => r.key.active)).toEqual([
      true,
      true,
      true,
    ]);
    for (const key of keys) expect(await verifies(key)).toBe(true);
    const all = await since();
    expect(all.slice(3).map((e) => [e.action, e.targetId])).toEqual(
      appKeys.map((appKey) => ["key.activated", appKey]),
    );
  });

  it("deletes what the caller may, each in its own transaction", async () => {
    const weak = await fresh();
    const strong = await fresh([OWNER_ROLE]);
    const res = await bulk("delete", [weak.appKey, strong.appKey], editor);
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { appKey: weak.appKey, ok: true },
      expect.objectContaining({ appKey: strong.appKey, ok: false }),
    ]);
    expect((await h.request("GET", `${A}/keys/${weak.appKey}`)).status).toBe(404);
    expect(await verifies(weak)).toBe(false);
    expect(await verifies(strong)).toBe(true);
    const [deleted] = (await h.store.audit.list("acme", 5)).filter((e) => e.action === "key.deleted");
    expect(deleted?.targetId).toBe(weak.appKey);
    // Deleting it again reports the key as gone, not a success.
    const again = await bulk("delete", [weak.appKey]);
    expect(again.body.results[0].error.code).toBe("KEY_NOT_FOUND");
  });

  it("a key may deactivate itself in a bulk request, as with a single action", async () => {
    const own = await h.request("POST", BULK, {
      as: editor,
      body: { action: "deactivate", appKeys: [editor.appKey] },
    });
    expect(own.body.results[0]).toMatchObject({ ok: true, key: { active: false } });
    expect(await verifies(editor)).toBe(false);
    expect((await bulk("activate", [editor.appKey])).body.succeeded).toBe(1);
  });

  it("needs EditApiKeys for the whole request", async () => {
    const role = await h.request("POST", `${A}/roles`, {
      body: { name: "viewer", resources: ["ViewApiKeys"] },
    });
    const viewer = await h.createKey("viewer", [role.body.id]);
    const target = await fresh();
    const res = await bulk("deactivate", [target.appKey], viewer);
    expect([res.status, res.body.code]).toEqual([403, "FORBIDDEN"]);
    expect(await verifies(target)).toBe(true);
    expect((await bulk("deactivate", [target.appKey], { ...viewer, appToken: "lkt_wrong" })).status).toBe(
      401,
    );
  });

  it("refuses a malformed request with 400 and changes nothing", async () => {
    const target = await fresh();
    const before = (await h.store.audit.list("acme", 1)).at(0)?.id;
    const tooMany = Array.from({ length: 1001 }, (_, i) => `appkey-acme-${String(i).padStart(6, "0")}`);
    tooMany[0] = target.appKey;
    const cases: [unknown, RegExp][] = [
      [{ action: "deactivate", appKeys: tooMany }, /at most 1000 appKeys/],
      [{ action: "deactivate", appKeys: [] }, /at least one appKey/],
      [{ action: "deactivate", appKeys: [target.appKey, target.appKey] }, /names .* more than once/],
      [{ action: "rename", appKeys: [target.appKey] }, /action/],
      [{ action: "deactivate", appKeys: [target.appKey], force: true }, /force/],
      [{ action: "deactivate", appKeys: [""] }, /must not be empty/],
      [{ action: "deactivate" }, /appKeys/],
    ];
    for (const [body, detail] of cases) {
      const res = await h.request("POST", BULK, { body });
      expect([res.status, res.body.code], JSON.stringify(body).slice(0, 80)).toEqual([
        400,
        "VALIDATION_FAILED",
      ]);
      expect(res.body.detail).toMatch(detail);
    }
    expect(await verifies(target)).toBe(true);
    expect((await h.store.audit.list("acme", 1)).at(0)?.id).toBe(before);
  });

  it("takes 1,000 appKeys in one request", async () => {
    const target = await fresh();
    const appKeys = Array.from({ length: 1000 }, (_, i) => `appkey-acme-${String(i).padStart(6, "0")}`);
    appKeys[999] = target.appKey;
    const res = await bulk("deactivate", appKeys);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ succeeded: 1, failed: 999 });
    expect(res.body.results).toHaveLength(1000);
    expect(res.body.results[999]).toMatchObject({ appKey: target.appKey, ok: true });
    expect(await verifies(target)).toBe(false);
  }, 60_000);

  it("never shows a token in its results", async () => {
    const target = await fresh();
    const res = await bulk("deactivate", [target.appKey]);
    expect(res.text).not.toContain(target.appToken);
    expect(res.text).not.toContain(target.appToken.slice(4, 30));
  });
});

describe("bulk key actions after an unexpected fault", () => {
  it("stops: the faulted key and the rest report the fault, none is reported as done", async () => {
    const done: string[] = [];
    const bulk = createKeyBulk({
      update: async (_authority, _account, appKey) => {
        if (appKey === "b") throw new Error("connection reset");
        done.push(appKey);
        return {} as Key;
      },
      remove: async () => undefined,
    });
    const result = await bulk.run(SYSTEM_AUTHORITY, "acme", "deactivate", ["a", "b", "c"], () => ({
      code: "UNAVAILABLE",
      detail: "The database cannot be reached now; retry shortly",
    }));
    expect(done).toEqual(["a"]);
    expect(result).toMatchObject({ succeeded: 1, failed: 2 });
    expect(result.results.map((r) => (r.ok ? "ok" : `${r.error.code} ${r.error.status}`))).toEqual([
      "ok",
      "UNAVAILABLE 503",
      "UNAVAILABLE 503",
    ]);
    const last = result.results[2];
    expect(last?.ok === false && last.error.detail).toMatch(/^Not attempted: the request stopped at b/);
  });
});
