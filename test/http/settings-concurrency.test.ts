/**
 * Optimistic concurrency on the API key settings, on SQLite and PostgreSQL: GET and PUT answer a
 * strong ETag that changes with every save (the harness clock stands still, so every save here is
 * "within the same millisecond"); a PUT whose If-Match is stale gets 412 SETTINGS_CHANGED and writes
 * and audits nothing; of simultaneous PUTs sent with the same If-Match exactly one wins. Without
 * If-Match the last write wins, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIfMatch } from "../../src/http/preconditions.js";
import { createHarness, type Harness } from "../support/harness.js";

const PATH = "/v1/accounts/acme/settings/api-keys";
const STRONG = /^"[0-9-]+"$/;

function settings(emails: string[], renewalPeriodMonths = 3) {
  return {
    renewalPeriodMonths,
    notifications: { emails, webhooks: [] },
    policies: { deactivateUnusedDays: null, maxTokenAgeDays: null },
  };
}

describe.each(["sqlite", "postgres"] as const)("settings preconditions on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  const audited = async () =>
    (await h.store.audit.list("acme", 1000)).filter((event) => event.action === "settings.updated").length;
  const read = async () => {
    const res = await h.request("GET", PATH);
    expect(res.status).toBe(200);
    return { etag: res.headers.get("etag") as string, body: res.body };
  };
  const put = (body: unknown, ifMatch?: string) =>
    h.request("PUT", PATH, { body, ...(ifMatch === undefined ? {} : { headers: { "if-match": ifMatch } }) });

  it("lets exactly one of simultaneous first saves with the defaults' ETag through", async () => {
    const defaults = await read();
    expect(defaults.body.updatedAt).toBeNull();
    expect(defaults.etag).toMatch(STRONG);
    const raced = await Promise.all(
      ["a", "b", "c", "d"].map((name) => put(settings([`${name}@acme.test`]), defaults.etag)),
    );
    const statuses = raced.map((res) => res.status);
    expect(statuses.sort()).toEqual([200, 412, 412, 412]);
    const winner = raced.find((res) => res.status === 200);
    const after = await read();
    expect(after.body.notifications.emails).toEqual(winner?.body.notifications.emails);
    expect(after.etag).toBe(winner?.headers.get("etag"));
    expect(await audited()).toBe(1);
  });

  it("lets exactly one of simultaneous saves sent with the same If-Match through", async () => {
    const current = await read();
    const events = await audited();
    const raced = await Promise.all(
      [3, 6, 3, 6, 3].map((months, i) => put(settings([`race${i}@acme.test`], months), current.etag)),
    );
    expect(raced.map((res) => res.status).sort()).toEqual([200, 412, 412, 412, 412]);
    for (const lost of raced.filter((res) => res.status === 412))
      expect(lost.body.code).toBe("SETTINGS_CHANGED");
    const winner = raced.find((res) => res.status === 200);
    const { webhookSecrets, ...shown } = winner?.body ?? {};
    expect(webhookSecrets).toEqual({});
    const after = await read();
    expect(after.body).toEqual(shown);
    expect(after.etag).toBe(winner?.headers.get("etag"));
    expect(await audited()).toBe(events + 1);
  });

  it("answers a new ETag for every save, even two in the same millisecond", async () => {
    const first = await read();
    const saved = await put(settings(["x@acme.test"]), first.etag);
    expect(saved.status, saved.text).toBe(200);
    const second = saved.headers.get("etag") as string;
    expect(second).toMatch(STRONG);
    expect(second).not.toBe(first.etag);
    // The same content again, at the same instant: still another version.
    const again = await put(settings(["x@acme.test"]));
    expect(again.status).toBe(200);
    const third = again.headers.get("etag") as string;
    expect(new Set([first.etag, second, third]).size).toBe(3);
    expect((await read()).etag).toBe(third);
  });

  it("refuses a stale If-Match with 412 SETTINGS_CHANGED and writes and audits nothing", async () => {
    const mine = await read();
    expect((await put(settings(["theirs@acme.test"]))).status).toBe(200);
    const theirs = await read();
    const events = await audited();

    const refused = await put(settings(["mine@acme.test"], 6), mine.etag);
    expect([refused.status, refused.body.code]).toEqual([412, "SETTINGS_CHANGED"]);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(refused.body.detail).toBe(
      "The settings were changed by someone else since you read them; reload and try again",
    );
    expect(refused.headers.get("etag")).toBeNull();
    expect(await read()).toEqual(theirs);
    expect(await audited()).toBe(events);

    // A weak tag never matches (strong comparison), even of the current version.
    const weak = await put(settings(["mine@acme.test"]), `W/${theirs.etag}`);
    expect(weak.status).toBe(412);
    // A list of tags passes when one of them is current.
    const listed = await put(settings(["mine@acme.test"], 6), `"1-0", ${theirs.etag}`);
    expect(listed.status, listed.text).toBe(200);
    expect(await audited()).toBe(events + 1);
    expect((await read()).body).toMatchObject({ renewalPeriodMonths: 6 });
  });

  it("writes whatever the version with If-Match * or without If-Match (last write wins)", async () => {
    await read();
    expect((await put(settings(["star@acme.test"]), "*")).status).toBe(200);
    const raced = await Promise.all(["p", "q", "r"].map((name) => put(settings([`${name}@acme.test`]))));
    expect(raced.map((res) => res.status)).toEqual([200, 200, 200]);
    const etags = raced.map((res) => res.headers.get("etag"));
    expect(new Set(etags).size).toBe(3);
    const last = await read();
    expect(etags).toContain(last.etag);
  });

  it("documents the ETag and If-Match headers and the 412 in the OpenAPI document", async () => {
    const doc = await h.request("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    const ops = doc.body.paths["/v1/accounts/{account}/settings/api-keys"];
    for (const method of ["get", "put"])
      expect(Object.keys(ops[method].responses["200"].headers)).toEqual(["ETag"]);
    expect(ops.put.parameters).toContainEqual(
      expect.objectContaining({ name: "if-match", in: "header", required: false }),
    );
    expect(Object.keys(ops.put.responses)).toContain("412");
  });

  it("refuses a malformed If-Match with 400 VALIDATION_FAILED, before looking at the settings", async () => {
    const before = await read();
    for (const header of ["abc", '"unterminated', 'W/"a" junk', ",", '"a" "b"']) {
      const res = await put(settings(["bad@acme.test"]), header);
      expect([res.status, res.body.code], header).toEqual([400, "VALIDATION_FAILED"]);
      expect(res.body.detail, header).toMatch(/^if-match: must be "\*" or ETags/);
    }
    expect(await read()).toEqual(before);
  });
});

describe("parseIfMatch", () => {
  it("reads *, lists of strong tags, and leaves weak tags out", () => {
    expect(parseIfMatch("*")).toEqual({ any: true });
    expect(parseIfMatch(' "3-17" ')).toEqual({ any: false, versions: ["3-17"] });
    expect(parseIfMatch('"1-2", W/"3-4",, "5-6"')).toEqual({ any: false, versions: ["1-2", "5-6"] });
    expect(parseIfMatch('W/"3-4"')).toEqual({ any: false, versions: [] });
    expect(parseIfMatch('""')).toEqual({ any: false, versions: [""] });
  });

  it("refuses what is not an If-Match value", () => {
    for (const raw of ["", " ", "3-17", '"a"b', 'w/"a"', '"a" "b"', '*, "a"', '"sp ace"']) {
      expect(parseIfMatch(raw), raw).toBeUndefined();
    }
  });
});
