import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const keyPath = (appKey: string) => `/v1/accounts/acme/keys/${appKey}`;
const renewalPath = (appKey: string) => `${keyPath(appKey)}/renewal`;

async function works(as: Credentials): Promise<boolean> {
  const status = (await h.request("GET", "/v1/me", { as })).status;
  expect([200, 401]).toContain(status);
  return status === 200;
}

async function renew(appKey: string, body?: unknown) {
  return h.request("POST", renewalPath(appKey), body === undefined ? {} : { body });
}

/** The key's stored state (tokens, dates) and the account's audit length: what must not change on a refusal. */
async function snapshot(appKey: string) {
  const key = await h.store.keys.getByAppKey(appKey);
  return { key, audit: (await h.store.audit.list("acme", 10_000)).length };
}

async function lastAudit(n = 1) {
  return (await h.store.audit.list("acme", n)).reverse();
}

describe("starting a renewal", () => {
  it("makes a second token; both authenticate while pending; the key shows it; audited without the token", async () => {
    const key = await h.createKey("rotate me", [10]);
    h.advance(MINUTE);
    const res = await renew(key.appKey);
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const appToken = res.body.appToken as string;
    expect(appToken).toMatch(/^lkt_[0-9A-Za-z]{46}$/);
    expect(appToken).not.toBe(key.appToken);
    expect(res.body.key).toMatchObject({
      appKey: key.appKey,
      pendingRenewal: true,
      creationDate: key.key.creationDate,
      creationDateToken: key.key.creationDateToken,
      creationDateNewToken: new Date(Date.parse(key.key.creationDateToken) + MINUTE).toISOString(),
    });
    expect(await works(key)).toBe(true);
    expect(await works({ appKey: key.appKey, appToken })).toBe(true);
    const again = await h.request("GET", keyPath(key.appKey));
    expect(again.body).toEqual(res.body.key);
    const [event] = await lastAudit();
    expect(event).toMatchObject({
      action: "key.renewal_started",
      actorType: "key",
      actorId: h.owner.appKey,
      targetType: "key",
      targetId: key.appKey,
      data: { deleteOldToken: "later", delivery: "inline" },
    });
  });

  it("accepts an empty object and explicit defaults as well as no body", async () => {
    for (const body of [{}, { deleteOldToken: "later", delivery: "inline" }]) {
      const key = await h.createKey(`explicit ${JSON.stringify(body)}`);
      const res = await renew(key.appKey, body);
      expect([res.status, res.body.key.pendingRenewal]).toEqual([201, true]);
    }
  });

  it("refuses a second start with 409 RENEWAL_PENDING and changes nothing", async () => {
    const key = await h.createKey("twice");
    const first = await renew(key.appKey);
    const before = await snapshot(key.appKey);
    for (const body of [undefined, { deleteOldToken: "now" }, { delivery: "link" }]) {
      const res = await renew(key.appKey, body);
      expect([res.status, res.body.code]).toEqual([409, "RENEWAL_PENDING"]);
      expect(res.text).not.toMatch(/lkt_/);
    }
    expect(await snapshot(key.appKey)).toEqual(before);
    expect(await works(key)).toBe(true);
    expect(await works({ appKey: key.appKey, appToken: first.body.appToken })).toBe(true);
  });

  it("two starts at once: one 201, one 409, and only the winner's token works", async () => {
    const key = await h.createKey("racer");
    const results = await Promise.all([renew(key.appKey), renew(key.appKey)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = results.find((r) => r.status === 201);
    const stored = await h.store.keys.getByAppKey(key.appKey);
    expect(stored?.tokens).toHaveLength(2);
    expect(await works({ appKey: key.appKey, appToken: winner?.body.appToken })).toBe(true);
    const started = (await h.store.audit.list("acme", 50)).filter(
      (e) => e.action === "key.renewal_started" && e.targetId === key.appKey,
    );
    expect(started).toHaveLength(1);
  });

  it("with deleteOldToken now: only the new token works at once, nothing pending, both steps audited", async () => {
    const key = await h.createKey("rotate now");
    h.advance(MINUTE);
    const res = await renew(key.appKey, { deleteOldToken: "now" });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatchObject({ pendingRenewal: false, creationDateNewToken: null });
    expect(res.body.key.creationDateToken).not.toBe(key.key.creationDateToken);
    expect(await works(key)).toBe(false);
    expect(await works({ appKey: key.appKey, appToken: res.body.appToken })).toBe(true);
    const [old, renewed] = [key.key.creationDateToken, res.body.key.creationDateToken];
    const pending = { creationDateToken: old, creationDateNewToken: renewed };
    expect((await lastAudit(2)).map((e) => [e.action, e.data])).toEqual([
      [
        "key.renewal_started",
        {
          deleteOldToken: "now",
          delivery: "inline",
          before: { creationDateToken: old, creationDateNewToken: null },
          after: pending,
        },
      ],
      [
        "key.renewal_completed",
        {
          deleteOldToken: "now",
          before: pending,
          after: { creationDateToken: renewed, creationDateNewToken: null },
        },
      ],
    ]);
    const undo = await h.request("DELETE", renewalPath(key.appKey));
    expect([undo.status, undo.body.code]).toEqual([404, "NO_RENEWAL_PENDING"]);
  });

  it("also works when the new token is made in the same millisecond as the old one", async () => {
    const key = await h.createKey("same instant");
    const res = await renew(key.appKey, { deleteOldToken: "now" });
    expect(res.status).toBe(201);
    expect(await works(key)).toBe(false);
    expect(await works({ appKey: key.appKey, appToken: res.body.appToken })).toBe(true);
  });
});

describe("completing and undoing", () => {
  it("complete removes the old token; the new one becomes current; a second complete is 404", async () => {
    const key = await h.createKey("complete me");
    h.advance(MINUTE);
    const started = await renew(key.appKey);
    const fresh = { appKey: key.appKey, appToken: started.body.appToken as string };
    h.advance(MINUTE);
    const res = await h.request("POST", `${renewalPath(key.appKey)}/complete`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      pendingRenewal: false,
      creationDateNewToken: null,
      creationDateToken: started.body.key.creationDateNewToken,
    });
    expect(await works(key)).toBe(false);
    expect(await works(fresh)).toBe(true);
    const [event] = await lastAudit();
    expect(event).toMatchObject({ action: "key.renewal_completed", targetId: key.appKey });
    const again = await h.request("POST", `${renewalPath(key.appKey)}/complete`, { body: {} });
    expect([again.status, again.body.code]).toEqual([404, "NO_RENEWAL_PENDING"]);
    const undo = await h.request("DELETE", renewalPath(key.appKey));
    expect([undo.status, undo.body.code]).toEqual([404, "NO_RENEWAL_PENDING"]);
    expect(await works(fresh)).toBe(true);
  });

  it("undo discards the new token; the old one stays current; a second undo is 404", async () => {
    const key = await h.createKey("undo me");
    const started = await renew(key.appKey);
    const fresh = { appKey: key.appKey, appToken: started.body.appToken as string };
    const res = await h.request("DELETE", renewalPath(key.appKey));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...key.key, updatedAt: res.body.updatedAt });
    expect(await works(key)).toBe(true);
    expect(await works(fresh)).toBe(false);
    expect((await lastAudit())[0]).toMatchObject({ action: "key.renewal_undone", targetId: key.appKey });
    const again = await h.request("DELETE", renewalPath(key.appKey));
    expect([again.status, again.body.code]).toEqual([404, "NO_RENEWAL_PENDING"]);
    // Undone, the key can be renewed again.
    expect((await renew(key.appKey)).status).toBe(201);
  });

  it("completing or undoing with nothing pending is 404 and writes nothing", async () => {
    const key = await h.createKey("never renewed");
    const before = await snapshot(key.appKey);
    const complete = await h.request("POST", `${renewalPath(key.appKey)}/complete`);
    const undo = await h.request("DELETE", renewalPath(key.appKey));
    for (const res of [complete, undo])
      expect([res.status, res.body.code]).toEqual([404, "NO_RENEWAL_PENDING"]);
    expect(await snapshot(key.appKey)).toEqual(before);
  });

  it("the token's age counts from the newest token: an orange key is back to none once renewed", async () => {
    const key = await h.createKey("old token");
    h.advance(125 * DAY);
    expect((await h.request("GET", keyPath(key.appKey))).body.alert).toBe("orange");
    const res = await renew(key.appKey);
    expect(res.body.key.alert).toBe("none");
    expect((await h.request("DELETE", renewalPath(key.appKey))).body.alert).toBe("orange");
  });
});

describe("which keys, and bad input", () => {
  it("answers 404 KEY_NOT_FOUND for unknown keys and another account's keys, external ones included", async () => {
    const beta = await h.services.accounts.init({ account: "beta", email: "b@beta.test" });
    const added = await h.request("POST", "/v1/accounts/acme/external-keys", {
      body: { appKey: beta.appKey },
    });
    expect(added.status).toBe(201);
    for (const appKey of ["appkey-acme-ZZZZZZ", beta.appKey, "not a key"]) {
      const encoded = encodeURIComponent(appKey);
      const calls = [
        renew(encoded),
        h.request("POST", `${renewalPath(encoded)}/complete`),
        h.request("DELETE", renewalPath(encoded)),
      ];
      for (const res of await Promise.all(calls)) {
        expect([res.status, res.body.code], appKey).toEqual([404, "KEY_NOT_FOUND"]);
      }
    }
    expect(await works({ appKey: beta.appKey, appToken: beta.appToken })).toBe(true);
    expect((await h.store.keys.getByAppKey(beta.appKey))?.tokens).toHaveLength(1);
  });

  it("renews a deactivated key; its tokens fail until it is active again", async () => {
    const key = await h.createKey("switched off");
    await h.request("PATCH", keyPath(key.appKey), { body: { active: false } });
    const res = await renew(key.appKey, { deleteOldToken: "now" });
    expect([res.status, res.body.key.status]).toEqual([201, "inactive"]);
    const fresh = { appKey: key.appKey, appToken: res.body.appToken as string };
    expect(await works(fresh)).toBe(false);
    await h.request("PATCH", keyPath(key.appKey), { body: { active: true } });
    expect(await works(fresh)).toBe(true);
    expect(await works(key)).toBe(false);
  });

  it("rejects wrong types, unknown fields and bad values with 400, changing nothing", async () => {
    const key = await h.createKey("bad input");
    const before = await snapshot(key.appKey);
    const bodies: unknown[] = [
      [],
      "now",
      null,
      { deleteOldToken: "soon" },
      { deleteOldToken: true },
      { deleteOldToken: "NOW" },
      { delivery: "email" },
      { delivery: ["link"] },
      { deleteOldToken: "now", colour: "red" },
    ];
    for (const body of bodies) {
      const res = await h.request("POST", renewalPath(key.appKey), {
        rawBody: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, "VALIDATION_FAILED"]);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const junk = await h.request("POST", renewalPath(key.appKey), {
      rawBody: "deleteOldToken=now",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect([junk.status, junk.body.code]).toEqual([400, "INVALID_JSON"]);
    const complete = await h.request("POST", `${renewalPath(key.appKey)}/complete`, {
      body: { force: true },
    });
    expect([complete.status, complete.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    const badAccount = await h.request("POST", "/v1/accounts/ACME!/keys/x/renewal");
    expect(badAccount.status).toBeGreaterThanOrEqual(400);
    expect(badAccount.status).toBeLessThan(500);
    expect(await snapshot(key.appKey)).toEqual(before);
  });

  it("never answers 500 to junk bodies", async () => {
    const key = await h.createKey("junk");
    const junk = ["", "null", "0", '"str"', "[]", "{", '{"deleteOldToken":{"$gt":""}}', "\u0000", "🔑"];
    const calls = [
      ["POST", renewalPath(key.appKey)],
      ["POST", `${renewalPath(key.appKey)}/complete`],
      ["DELETE", renewalPath(key.appKey)],
      ["POST", "/v1/shares/x/reveal"],
    ] as const;
    for (const [method, path] of calls) {
      for (const rawBody of junk) {
        const res = await h.request(method, path, {
          rawBody,
          headers: { "content-type": "application/json" },
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(rawBody)}`).toBeLessThan(500);
      }
    }
    expect((await h.store.keys.getByAppKey(key.appKey))?.tokens).toHaveLength(1);
  });

  it("needs RenewApiToken: a key with every other API-key resource gets 403", async () => {
    const role = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "keys but no renewal", resources: ["ViewApiKeys", "EditApiKeys"] },
    });
    const editor = await h.createKey("editor", [role.body.id]);
    const target = await h.createKey("renewal target");
    const res = await h.request("POST", renewalPath(target.appKey), { as: editor });
    expect([res.status, res.body.code]).toEqual([403, "FORBIDDEN"]);
  });
});

describe("secrets", () => {
  it("never shows a renewed token in key reads, lists, audit events or logs", async () => {
    const key = await h.createKey("secret keeper");
    const started = await renew(key.appKey);
    const tokens = [key.appToken, started.body.appToken as string];
    const reads = [
      await h.request("GET", keyPath(key.appKey)),
      await h.request("GET", "/v1/accounts/acme/keys?limit=200"),
      await h.request("POST", `${renewalPath(key.appKey)}/complete`),
    ];
    const audit = JSON.stringify(await h.store.audit.list("acme", 10_000));
    const logs = h.logLines.join("\n");
    for (const token of tokens) {
      for (const res of reads) expect(res.text).not.toContain(token);
      expect(audit).not.toContain(token);
      expect(logs).not.toContain(token);
    }
  });
});
