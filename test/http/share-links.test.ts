import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const HOUR = 60 * 60 * 1000;
const KEYS = "/v1/accounts/acme/keys";
const LINK = /^http:\/\/localhost\/share\/([A-Za-z0-9_-]{43})$/;

interface Shared {
  appKey: string;
  id: string;
  shareUrl: string;
  shareExpiresAt: string;
}

function linkOf(body: { key: { appKey: string }; shareUrl: string; shareExpiresAt: string }): Shared {
  const id = LINK.exec(body.shareUrl)?.[1];
  if (!id) throw new Error(`not a share URL: ${body.shareUrl}`);
  return { appKey: body.key.appKey, id, shareUrl: body.shareUrl, shareExpiresAt: body.shareExpiresAt };
}

async function createShared(name: string): Promise<Shared> {
  const res = await h.request("POST", KEYS, { body: { name, roles: [10], delivery: "link" } });
  expect(res.status, res.text).toBe(201);
  return linkOf(res.body);
}

async function renewShared(appKey: string, deleteOldToken: "now" | "later" = "later"): Promise<Shared> {
  const res = await h.request("POST", `${KEYS}/${appKey}/renewal`, {
    body: { deleteOldToken, delivery: "link" },
  });
  expect(res.status, res.text).toBe(201);
  return linkOf(res.body);
}

const reveal = (id: string, body?: unknown) =>
  h.request("POST", `/v1/shares/${id}/reveal`, { as: null, ...(body === undefined ? {} : { body }) });

async function works(as: Credentials): Promise<boolean> {
  return (await h.request("GET", "/v1/me", { as })).status === 200;
}

describe("delivery by share link", () => {
  it("create answers with a link that expires in 24 h, never the token, and is not cached", async () => {
    const res = await h.request("POST", KEYS, { body: { name: "linked", delivery: "link" } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["key", "shareExpiresAt", "shareUrl"]);
    expect(res.body.shareUrl).toMatch(LINK);
    expect(Date.parse(res.body.shareExpiresAt) - Date.parse(res.body.key.creationDate)).toBe(24 * HOUR);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.text).not.toMatch(/lkt_/);
    expect(res.body.key).toMatchObject({ name: "linked", status: "active", pendingRenewal: false });
    const audit = (await h.store.audit.list("acme", 1))[0];
    expect(audit).toMatchObject({ action: "key.created", data: { delivery: "link" } });
  });

  it("inline delivery stays the default and is also no-store", async () => {
    const res = await h.request("POST", KEYS, { body: { name: "inline", delivery: "inline" } });
    expect(res.body.appToken).toMatch(/^lkt_/);
    expect(res.body.shareUrl).toBeUndefined();
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("rejects a bad delivery value with 400 and creates nothing", async () => {
    for (const delivery of ["email", "LINK", 1, null]) {
      const res = await h.request("POST", KEYS, { body: { name: "bad delivery", delivery } });
      expect([res.status, res.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    }
    expect((await h.request("GET", `${KEYS}?q=bad%20delivery`)).body.total).toBe(0);
  });

  it("reveals the appKey and token once, then 410; the token works", async () => {
    const link = await createShared("reveal once");
    const first = await reveal(link.id);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.body).toEqual({ appKey: link.appKey, appToken: expect.stringMatching(/^lkt_/) });
    expect(await works(first.body)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const again = await reveal(link.id);
      expect([again.status, again.body.code]).toEqual([410, "SHARE_LINK_GONE"]);
      expect(again.text).not.toContain(first.body.appToken);
    }
  });

  it("two reveals at once: one 200, one 410", async () => {
    const link = await createShared("reveal race");
    const results = await Promise.all([reveal(link.id), reveal(link.id)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 410]);
  });

  it("expires 24 h after creation: 410 after, still fine just before", async () => {
    const late = await createShared("late");
    const onTime = await createShared("on time");
    h.advance(24 * HOUR - 1);
    expect((await reveal(onTime.id)).status).toBe(200);
    h.advance(2);
    const res = await reveal(late.id);
    expect([res.status, res.body.code]).toEqual([410, "SHARE_LINK_GONE"]);
  });

  it("answers 404 to unknown and malformed ids without touching other links", async () => {
    const link = await createShared("bystander");
    const unknown = randomBytes(32).toString("base64url");
    for (const id of [
      unknown,
      "100000",
      "x".repeat(44),
      `${link.id.slice(0, 42)}%2B`,
      "%00",
      "a".repeat(500),
    ]) {
      const res = await reveal(id);
      expect([res.status, res.body.code], id).toEqual([404, "SHARE_LINK_NOT_FOUND"]);
    }
    expect((await reveal(link.id)).status).toBe(200);
  });

  it("refuses unknown body fields with 400 without using the link", async () => {
    const link = await createShared("strict reveal");
    const res = await reveal(link.id, { appKey: "x" });
    expect([res.status, res.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect((await reveal(link.id, {})).status).toBe(200);
  });

  it("audits the reveal on the key, without the token or the link id", async () => {
    const link = await createShared("audited");
    const res = await reveal(link.id);
    const [event] = await h.store.audit.list("acme", 1);
    expect(event).toMatchObject({
      action: "share_link.revealed",
      actorType: "system",
      targetType: "key",
      targetId: link.appKey,
      requestId: res.headers.get("x-request-id"),
    });
    const text = JSON.stringify(event);
    expect(text).not.toContain(res.body.appToken);
    expect(text).not.toContain(link.id);
    expect(text).not.toContain(createHash("sha256").update(link.id).digest("base64url"));
  });
});

describe("share links and renewal", () => {
  it("renewal by link: the new token comes through the link and works beside the old one", async () => {
    const key = await h.createKey("renew by link");
    const link = await renewShared(key.appKey);
    const revealed = await reveal(link.id);
    expect(revealed.body.appKey).toBe(key.appKey);
    expect(revealed.body.appToken).not.toBe(key.appToken);
    expect(await works(revealed.body)).toBe(true);
    expect(await works(key)).toBe(true);
  });

  it("refuses a new renewal while the last link is unopened (409), allows it once opened or expired", async () => {
    const created = await createShared("unopened");
    const path = `${KEYS}/${created.appKey}/renewal`;
    const refused = await h.request("POST", path, { body: {} });
    expect([refused.status, refused.body.code]).toEqual([409, "SHARE_LINK_UNOPENED"]);
    expect((await h.store.keys.getByAppKey(created.appKey))?.tokens).toHaveLength(1);
    await reveal(created.id);
    const renewal = await renewShared(created.appKey, "now");
    const second = await h.request("POST", path, { body: {} });
    expect([second.status, second.body.code]).toEqual([409, "SHARE_LINK_UNOPENED"]);
    h.advance(24 * HOUR);
    expect((await h.request("POST", path, { body: {} })).status).toBe(201);
    expect((await reveal(renewal.id)).status).toBe(410);
  });

  it("undoing the renewal kills its link", async () => {
    const key = await h.createKey("undo kills link");
    const link = await renewShared(key.appKey);
    expect((await h.request("DELETE", `${KEYS}/${key.appKey}/renewal`)).status).toBe(200);
    const res = await reveal(link.id);
    expect([404, 410]).toContain(res.status);
    expect(res.text).not.toMatch(/lkt_/);
    expect(await works(key)).toBe(true);
  });

  it("deleting the key kills its link", async () => {
    const link = await createShared("deleted with link");
    expect((await h.request("DELETE", `${KEYS}/${link.appKey}`)).status).toBe(204);
    const res = await reveal(link.id);
    expect([404, 410]).toContain(res.status);
    expect(res.text).not.toMatch(/lkt_/);
  });

  it("with deleteOldToken now the old token stops at once; the only working token is behind the link", async () => {
    const key = await h.createKey("now by link");
    const link = await renewShared(key.appKey, "now");
    expect(await works(key)).toBe(false);
    const revealed = await reveal(link.id);
    expect(await works(revealed.body)).toBe(true);
  });
});

describe("the share page", () => {
  it("is a self-contained page with strict headers; fetching it does not use the link", async () => {
    const link = await createShared("page");
    for (let i = 0; i < 3; i++) {
      const page = await h.request("GET", `/share/${link.id}`, { as: null });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(page.headers.get("referrer-policy")).toBe("no-referrer");
      expect(page.headers.get("x-robots-tag")).toMatch(/noindex/);
      expect(page.text).toMatch(/<button[^>]*id="reveal"/);
      expect(page.text).toMatch(/will not be shown again/);
      expect(page.text).toContain("/reveal");
      expect(page.text).not.toContain(link.id);
      expect(page.text).not.toMatch(/\b(src|href)=/);
      expect(page.text).not.toMatch(/lkt_/);
    }
    const revealed = await reveal(link.id);
    expect(revealed.status).toBe(200);
  });

  it("pins its inline script and style by hash in a strict Content-Security-Policy", async () => {
    const link = await createShared("csp");
    const page = await h.request("GET", `/share/${link.id}`, { as: null });
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const inline = (tag: string) => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(page.text)?.[1] ?? "";
    for (const [directive, tag] of [
      ["script-src", "script"],
      ["style-src", "style"],
    ] as const) {
      const hash = createHash("sha256").update(inline(tag), "utf8").digest("base64");
      expect(csp).toContain(`${directive} 'sha256-${hash}'`);
    }
  });

  it("answers 404 for a malformed id, with the same headers", async () => {
    const page = await h.request("GET", "/share/not-a-link", { as: null });
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("is not part of the API document", async () => {
    const doc = await h.request("GET", "/openapi.json", { as: null });
    expect(Object.keys(doc.body.paths)).not.toContain("/share/{id}");
    expect(doc.body.paths["/v1/shares/{id}/reveal"]?.post?.["x-latchkey-access"]).toBe("public");
  });
});

describe("secrets", () => {
  it("keeps the link id and the token out of the log, key reads and the audit", async () => {
    const link = await createShared("log check");
    await h.request("GET", `/share/${link.id}`, { as: null });
    const revealed = await reveal(link.id);
    await reveal(link.id);
    const token = revealed.body.appToken as string;
    const logs = h.logLines.join("\n");
    expect(logs).toContain("/v1/shares/");
    expect(logs).not.toContain(link.id);
    expect(logs).not.toContain(token);
    const reads = [
      await h.request("GET", `${KEYS}/${link.appKey}`),
      await h.request("GET", `${KEYS}?limit=200`),
    ];
    for (const res of reads) {
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain(link.id);
    }
    const audit = JSON.stringify(await h.store.audit.list("acme", 10_000));
    expect(audit).not.toContain(token);
    expect(audit).not.toContain(link.id);
  });
});
