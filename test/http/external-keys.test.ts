import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

let h: Harness;
let betaOwner: Credentials;
const BETA = "/v1/accounts/beta/external-keys";
const USER_ADMIN = 2;
const OMS_READ = 10;

beforeAll(async () => {
  h = await createHarness();
  const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
  betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
});
afterAll(() => h.close());

/** A key generated in acme (holding `acmeRoles` there) and added to beta with `betaRoles`. */
async function partner(name: string, acmeRoles: number[], betaRoles?: number[]) {
  const key = await h.createKey(name, acmeRoles);
  const body = betaRoles === undefined ? { appKey: key.appKey } : { appKey: key.appKey, roles: betaRoles };
  const res = await h.request("POST", BETA, { as: betaOwner, body });
  expect(res.status, res.text).toBe(201);
  return { ...key, added: res.body };
}

async function betaState() {
  const list = await h.request("GET", BETA, { as: betaOwner });
  return { items: list.body.items, audit: (await h.store.audit.list("beta", 1000)).length };
}

describe("external keys", () => {
  it("adds another account's key with roles in the receiving account, and lists it", async () => {
    const key = await partner("erp", [OMS_READ], [USER_ADMIN]);
    expect(key.added).toEqual({
      // The addition's own id: the owner's id of the key is not the receiving account's to see.
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      appKey: key.appKey,
      keyName: key.appKey,
      account: "acme",
      roles: [{ id: USER_ADMIN, name: "User Administrator - RESTRICTED" }],
      addedDate: "2026-11-26T10:00:00.000Z",
      status: "active",
      lastUsedAt: null,
    });
    const list = await h.request("GET", BETA, { as: betaOwner });
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual(key.added);
    expect(key.added.id).not.toBe(key.key.id);
    expect(list.text).not.toContain(key.appToken);
    // acme generated it: it is not an external key of acme.
    expect((await h.request("GET", "/v1/accounts/acme/external-keys")).body.items).toEqual([]);
    const event = (await h.store.audit.list("beta", 1)).at(0);
    expect(event).toMatchObject({
      action: "external_key.added",
      targetId: key.appKey,
      actorId: betaOwner.appKey,
    });
    expect(event?.data).toEqual({ owner: "acme", after: { roles: [USER_ADMIN] } });
  });

  it("gets exactly the receiving account's grant there, and its own grant does not leak", async () => {
    const key = await partner("grant probe", [USER_ADMIN], []);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(200);
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(403);
    const roles = `${BETA}/${key.appKey}/roles`;
    const oms = await h.request("PUT", roles, { as: betaOwner, body: { roles: [OMS_READ] } });
    expect(oms.body.roles).toEqual([{ id: OMS_READ, name: "OMS - Read only" }]);
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(403);
    await h.request("PUT", roles, { as: betaOwner, body: { roles: [USER_ADMIN] } });
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(200);
    await h.request("PUT", roles, { as: betaOwner, body: { roles: [] } });
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(403);
    const event = (await h.store.audit.list("beta", 1)).at(0);
    expect(event).toMatchObject({ action: "external_key.roles_set", targetId: key.appKey });
    expect(event?.data).toEqual({ owner: "acme", before: { roles: [USER_ADMIN] }, after: { roles: [] } });
  });

  it("/v1/me lists the owner account and every account that added the key, each with its grant", async () => {
    const key = await partner("me probe", [USER_ADMIN], [OMS_READ]);
    const me = await h.request("GET", "/v1/me", { as: key });
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ type: "key", appKey: key.appKey, account: "acme" });
    expect(me.body.accounts).toHaveLength(2);
    expect(me.body.accounts[0]).toMatchObject({
      account: "acme",
      roles: [{ id: USER_ADMIN, name: "User Administrator - RESTRICTED" }],
    });
    expect(me.body.accounts[0].resources).toContain("ViewApiKeys");
    expect(me.body.accounts[1]).toEqual({
      account: "beta",
      roles: [{ id: OMS_READ, name: "OMS - Read only" }],
      resources: ["ViewOrders"],
    });
  });

  it("never lets the receiving account touch the credential: its generated-key paths answer 404", async () => {
    const key = await partner("credential", [], [1]);
    const path = `/v1/accounts/beta/keys/${key.appKey}`;
    for (const as of [betaOwner, key]) {
      const calls: [string, string, unknown][] = [
        ["GET", path, undefined],
        ["PATCH", path, { active: false }],
        ["PUT", `${path}/roles`, { roles: [] }],
        ["POST", `${path}/renewal`, {}],
        ["POST", `${path}/renewal/complete`, undefined],
        ["DELETE", `${path}/renewal`, undefined],
        ["DELETE", path, undefined],
      ];
      for (const [method, url, body] of calls) {
        const res = await h.request(method, url, { as, ...(body === undefined ? {} : { body }) });
        expect([res.status, res.body?.code], `${method} ${url}`).toEqual([404, "KEY_NOT_FOUND"]);
      }
    }
    const generated = await h.request("GET", `/v1/accounts/beta/keys?q=${key.appKey}`, { as: betaOwner });
    expect(generated.body.items).toEqual([]);
    // Still fine in both accounts: nothing changed.
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(200);
    expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.status).toBe("active");
  });

  it("stops working in the receiving account when its owner deactivates or deletes it", async () => {
    const key = await partner("owned by acme", [], [USER_ADMIN]);
    const own = `/v1/accounts/acme/keys/${key.appKey}`;
    await h.request("PATCH", own, { body: { active: false } });
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(401);
    const listed = (await betaState()).items.find((item: { appKey: string }) => item.appKey === key.appKey);
    expect(listed.status).toBe("inactive");
    await h.request("PATCH", own, { body: { active: true } });
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(200);
    expect((await h.request("DELETE", own)).status).toBe(204);
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(401);
    const after = await betaState();
    expect(after.items.map((item: { appKey: string }) => item.appKey)).not.toContain(key.appKey);
  });

  it("removes the key and its grant from the receiving account only", async () => {
    const key = await partner("removable", [USER_ADMIN], [USER_ADMIN]);
    const res = await h.request("DELETE", `${BETA}/${key.appKey}`, { as: betaOwner });
    expect(res.status).toBe(204);
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(403);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(200);
    const me = await h.request("GET", "/v1/me", { as: key });
    expect(me.body.accounts.map((a: { account: string }) => a.account)).toEqual(["acme"]);
    const event = (await h.store.audit.list("beta", 1)).at(0);
    expect(event).toMatchObject({ action: "external_key.removed", targetId: key.appKey });
    expect(event?.data).toEqual({ owner: "acme", before: { roles: [USER_ADMIN] } });
    const again = await h.request("DELETE", `${BETA}/${key.appKey}`, { as: betaOwner });
    expect([again.status, again.body.code]).toEqual([404, "EXTERNAL_KEY_NOT_ADDED"]);
    // Added again: it starts with no roles, the old grant does not come back.
    const readd = await h.request("POST", BETA, { as: betaOwner, body: { appKey: key.appKey } });
    expect([readd.status, readd.body.roles]).toEqual([201, []]);
    expect((await h.request("GET", "/v1/accounts/beta/keys", { as: key })).status).toBe(403);
  });

  it("two adds of the same key at once: one 201, one 409", async () => {
    const key = await h.createKey("racer");
    const results = await Promise.all(
      [0, 1].map(() => h.request("POST", BETA, { as: betaOwner, body: { appKey: key.appKey } })),
    );
    expect(results.map((r) => [r.status, r.body.code]).sort()).toEqual([
      [201, undefined],
      [409, "EXTERNAL_KEY_EXISTS"],
    ]);
  });
});

describe("external keys: refusals are precise and write nothing", () => {
  it("answers unknown, own, already added and not added keys with their codes", async () => {
    const key = await partner("refusals", [], []);
    const betaOwn = betaOwner.appKey;
    const before = await betaState();
    const cases: [string, string, unknown, number, string][] = [
      ["POST", BETA, { appKey: "appkey-nosuch-ZZZZZZ" }, 404, "EXTERNAL_KEY_NOT_FOUND"],
      ["POST", BETA, { appKey: betaOwn }, 409, "EXTERNAL_KEY_OWN"],
      ["POST", BETA, { appKey: key.appKey }, 409, "EXTERNAL_KEY_EXISTS"],
      ["PUT", `${BETA}/${betaOwn}/roles`, { roles: [] }, 404, "EXTERNAL_KEY_NOT_ADDED"],
      ["PUT", `${BETA}/appkey-nosuch-ZZZZZZ/roles`, { roles: [] }, 404, "EXTERNAL_KEY_NOT_ADDED"],
      ["DELETE", `${BETA}/${betaOwn}`, undefined, 404, "EXTERNAL_KEY_NOT_ADDED"],
      ["DELETE", `${BETA}/appkey-nosuch-ZZZZZZ`, undefined, 404, "EXTERNAL_KEY_NOT_ADDED"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await h.request(method, path, { as: betaOwner, ...(body === undefined ? {} : { body }) });
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([status, code]);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    expect(await betaState()).toEqual(before);
  });

  it("rejects wrong types, unknown fields and unknown roles with 400", async () => {
    const fresh = await h.createKey("never added");
    const added = await partner("bad bodies", [], [OMS_READ]);
    const before = await betaState();
    const cases: [string, string, unknown, string][] = [
      ["POST", BETA, {}, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: 42 }, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: "" }, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: fresh.appKey, colour: "red" }, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: fresh.appKey, roles: ["10"] }, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: fresh.appKey, roles: 10 }, "VALIDATION_FAILED"],
      ["POST", BETA, { appKey: fresh.appKey, roles: [99999] }, "UNKNOWN_ROLE"],
      ["PUT", `${BETA}/${added.appKey}/roles`, {}, "VALIDATION_FAILED"],
      ["PUT", `${BETA}/${added.appKey}/roles`, { roles: [1.5] }, "VALIDATION_FAILED"],
      ["PUT", `${BETA}/${added.appKey}/roles`, { roles: [], extra: true }, "VALIDATION_FAILED"],
      ["PUT", `${BETA}/${added.appKey}/roles`, { roles: [OMS_READ, 99999] }, "UNKNOWN_ROLE"],
    ];
    for (const [method, path, body, code] of cases) {
      const res = await h.request(method, path, { as: betaOwner, body });
      expect([res.status, res.body.code], `${method} ${JSON.stringify(body)}`).toEqual([400, code]);
    }
    expect(await betaState()).toEqual(before);
  });

  it("gives only roles of the receiving account: another account's custom role is unknown", async () => {
    const custom = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "acme only", resources: ["ViewOrders"] },
    });
    expect(custom.status).toBe(201);
    const key = await h.createKey("custom role probe");
    const res = await h.request("POST", BETA, {
      as: betaOwner,
      body: { appKey: key.appKey, roles: [custom.body.id] },
    });
    expect([res.status, res.body.code]).toEqual([400, "UNKNOWN_ROLE"]);
    const betaRole = await h.request("POST", "/v1/accounts/beta/roles", {
      as: betaOwner,
      body: { name: "beta orders", resources: ["ViewOrders"] },
    });
    const ok = await h.request("POST", BETA, {
      as: betaOwner,
      body: { appKey: key.appKey, roles: [betaRole.body.id] },
    });
    expect([ok.status, ok.body.roles]).toEqual([201, [{ id: betaRole.body.id, name: "beta orders" }]]);
  });

  it("refuses escalation on added and on removed roles", async () => {
    const adminRes = await h.request("POST", "/v1/accounts/beta/keys", {
      as: betaOwner,
      body: { name: "beta user admin", roles: [USER_ADMIN] },
    });
    const admin = { appKey: adminRes.body.key.appKey, appToken: adminRes.body.appToken };
    const key = await h.createKey("escalation target");
    const denied = await h.request("POST", BETA, {
      as: admin,
      body: { appKey: key.appKey, roles: [OMS_READ] },
    });
    expect([denied.status, denied.body.code]).toEqual([403, "ESCALATION_DENIED"]);
    expect((await betaState()).items.map((i: { appKey: string }) => i.appKey)).not.toContain(key.appKey);
    const ok = await h.request("POST", BETA, {
      as: admin,
      body: { appKey: key.appKey, roles: [USER_ADMIN] },
    });
    expect(ok.status).toBe(201);
    const roles = `${BETA}/${key.appKey}/roles`;
    for (const given of [
      [USER_ADMIN, 1],
      [USER_ADMIN, OMS_READ],
    ]) {
      const res = await h.request("PUT", roles, { as: admin, body: { roles: given } });
      expect([res.status, res.body.code]).toEqual([403, "ESCALATION_DENIED"]);
    }
    await h.request("PUT", roles, { as: betaOwner, body: { roles: [USER_ADMIN, OMS_READ] } });
    // The grant now holds a resource the admin lacks: it may not touch the grant at all.
    const takeAway = await h.request("PUT", roles, { as: admin, body: { roles: [USER_ADMIN] } });
    expect([takeAway.status, takeAway.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    const kept = (await betaState()).items.find((i: { appKey: string }) => i.appKey === key.appKey);
    expect(kept.roles.map((r: { id: number }) => r.id)).toEqual([USER_ADMIN, OMS_READ]);
  });

  it("needs ViewApiKeys to list and EditApiKeys to change, in the receiving account", async () => {
    const key = await partner("outsider", [USER_ADMIN], []);
    expect((await h.request("GET", BETA, { as: key })).status).toBe(403);
    expect((await h.request("GET", BETA)).status).toBe(403);
    const res = await h.request("POST", BETA, { body: { appKey: key.appKey } });
    expect([res.status, res.body.code]).toEqual([403, "FORBIDDEN"]);
  });
});
