import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("generated keys", () => {
  it("creates a key with no roles by default, active, and shows the token once", async () => {
    const res = await h.request("POST", "/v1/accounts/acme/keys", { body: { name: "  ERP connector  " } });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatchObject({ name: "ERP connector", roles: [], status: "active", active: true });
    expect(res.body.key.appKey).toMatch(/^appkey-acme-[A-Z]{6}$/);
    expect(res.body.appToken).toMatch(/^lkt_[0-9A-Za-z]{46}$/);
    const again = await h.request("GET", `/v1/accounts/acme/keys/${res.body.key.appKey}`);
    expect(again.status).toBe(200);
    expect(again.text).not.toContain(res.body.appToken);
    expect(again.body).toEqual(res.body.key);
  });

  it("authenticates with the new token, under both header spellings, and gives nothing without roles", async () => {
    const key = await h.createKey("headers");
    const vtex = { "X-VTEX-API-AppKey": key.appKey, "X-VTEX-API-AppToken": key.appToken };
    const me = await h.request("GET", "/v1/me", { as: null, headers: vtex });
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({
      type: "key",
      appKey: key.appKey,
      account: "acme",
      token: "current",
    });
    expect(me.body.accounts).toEqual([{ account: "acme", roles: [], resources: [] }]);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(403);
  });

  it("refuses a duplicate name case-insensitively with 409 and writes nothing", async () => {
    await h.createKey("Duplicate Me");
    const before = await h.store.audit.list("acme", 1000);
    const res = await h.request("POST", "/v1/accounts/acme/keys", { body: { name: "duplicate me" } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("KEY_NAME_TAKEN");
    expect(await h.store.audit.list("acme", 1000)).toHaveLength(before.length);
    const list = await h.request("GET", "/v1/accounts/acme/keys?q=duplicate");
    expect(list.body.total).toBe(1);
  });

  it("two creates with the same name at once: one 201, one 409", async () => {
    const results = await Promise.all(
      [0, 1].map(() => h.request("POST", "/v1/accounts/acme/keys", { body: { name: "racer" } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it("renames, deactivates (401 at once) and reactivates", async () => {
    const key = await h.createKey("toggle", [10]);
    const path = `/v1/accounts/acme/keys/${key.appKey}`;
    const renamed = await h.request("PATCH", path, { body: { name: "toggled" } });
    expect(renamed.body).toMatchObject({ name: "toggled", active: true });
    const off = await h.request("PATCH", path, { body: { active: false } });
    expect(off.body).toMatchObject({ status: "inactive", active: false });
    expect((await h.request("GET", "/v1/me", { as: key })).status).toBe(401);
    await h.request("PATCH", path, { body: { active: true } });
    expect((await h.request("GET", "/v1/me", { as: key })).status).toBe(200);
    const actions = (await h.store.audit.list("acme", 10)).map((e) => e.action);
    expect(actions.slice(0, 3)).toEqual(["key.activated", "key.deactivated", "key.renamed"]);
  });

  it("sets roles, and the key's permissions follow", async () => {
    const key = await h.createKey("roles");
    const path = `/v1/accounts/acme/keys/${key.appKey}/roles`;
    const set = await h.request("PUT", path, { body: { roles: [2, 10] } });
    expect(set.status).toBe(200);
    expect(set.body.roles).toEqual([
      { id: 2, name: "User Administrator - RESTRICTED" },
      { id: 10, name: "OMS - Read only" },
    ]);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(200);
    const unknown = await h.request("PUT", path, { body: { roles: [99999] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("UNKNOWN_ROLE");
    const audit = (await h.store.audit.list("acme", 5)).find((e) => e.action === "key.roles_set");
    expect(audit?.data).toEqual({ before: { roles: [] }, after: { roles: [2, 10] } });
  });

  it("refuses escalation: a User Administrator cannot give Owner or OMS roles", async () => {
    const admin = await h.createKey("user admin", [2]);
    const target = await h.createKey("escalation target");
    for (const role of [1, 10]) {
      const res = await h.request("PUT", `/v1/accounts/acme/keys/${target.appKey}/roles`, {
        as: admin,
        body: { roles: [role] },
      });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("ESCALATION_DENIED");
    }
    const create = await h.request("POST", "/v1/accounts/acme/keys", {
      as: admin,
      body: { name: "x", roles: [1] },
    });
    expect(create.status).toBe(403);
    const ok = await h.request("PUT", `/v1/accounts/acme/keys/${target.appKey}/roles`, {
      as: admin,
      body: { roles: [2] },
    });
    expect(ok.status).toBe(200);
  });

  it("deletes for good: 204, then 404, and the token stops working", async () => {
    const key = await h.createKey("doomed", [10]);
    const path = `/v1/accounts/acme/keys/${key.appKey}`;
    expect((await h.request("DELETE", path)).status).toBe(204);
    expect((await h.request("GET", path)).status).toBe(404);
    expect((await h.request("DELETE", path)).body.code).toBe("KEY_NOT_FOUND");
    expect((await h.request("GET", "/v1/me", { as: key })).status).toBe(401);
  });

  it("keeps accounts apart: another account's key is 404 here", async () => {
    await h.services.accounts.init({ account: "beta", email: "b@beta.test" });
    const betaKeys = await h.store.keys.list({ account: "beta", sort: "name", order: "asc", limit: 10 });
    const betaKey = betaKeys.items[0]?.appKey as string;
    expect((await h.request("GET", `/v1/accounts/acme/keys/${betaKey}`)).status).toBe(404);
    expect((await h.request("DELETE", `/v1/accounts/acme/keys/${betaKey}`)).status).toBe(404);
    expect((await h.request("GET", "/v1/accounts/beta/keys")).status).toBe(403);
    expect((await h.request("GET", "/v1/accounts/nosuch/keys")).status).toBe(403);
  });
});

describe("listing keys", () => {
  let lh: Harness;
  beforeAll(async () => {
    lh = await createHarness();
    for (let i = 0; i < 30; i++) {
      await lh.createKey(`key ${String(i).padStart(2, "0")}`, i % 3 === 0 ? [10] : []);
      lh.advance(1000);
    }
    const third = (await lh.request("GET", "/v1/accounts/acme/keys?q=key%2005")).body.items[0].appKey;
    await lh.request("PATCH", `/v1/accounts/acme/keys/${third}`, { body: { active: false } });
  });
  afterAll(() => lh.close());

  it("pages with an opaque cursor through every key exactly once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `sort=name&order=asc&limit=7${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await lh.request("GET", `/v1/accounts/acme/keys?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(31);
      seen.push(...res.body.items.map((k: { name: string }) => k.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(31);
    expect(seen).toEqual([...seen].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
  });

  it("defaults to newest first and filters by q, status and role", async () => {
    const all = await lh.request("GET", "/v1/accounts/acme/keys?limit=3");
    expect(all.body.items.map((k: { name: string }) => k.name)).toEqual(["key 29", "key 28", "key 27"]);
    const q = await lh.request("GET", "/v1/accounts/acme/keys?q=KEY%201");
    expect(q.body.total).toBe(10);
    const inactive = await lh.request("GET", "/v1/accounts/acme/keys?status=inactive");
    expect(inactive.body.items.map((k: { name: string }) => k.name)).toEqual(["key 05"]);
    const role = await lh.request("GET", "/v1/accounts/acme/keys?role=10");
    expect(role.body.total).toBe(10);
    const byAppKey = await lh.request("GET", `/v1/accounts/acme/keys?q=${lh.owner.appKey.slice(-6)}`);
    expect(byAppKey.body.items[0].appKey).toBe(lh.owner.appKey);
  });

  it("rejects a cursor from another sort, a bad limit and unknown parameters with 400", async () => {
    const first = await lh.request("GET", "/v1/accounts/acme/keys?sort=name&limit=2");
    const wrong = await lh.request(
      "GET",
      `/v1/accounts/acme/keys?sort=createdAt&cursor=${first.body.nextCursor}`,
    );
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe("INVALID_CURSOR");
    expect((await lh.request("GET", "/v1/accounts/acme/keys?cursor=garbage")).body.code).toBe(
      "INVALID_CURSOR",
    );
    expect((await lh.request("GET", "/v1/accounts/acme/keys?limit=201")).status).toBe(400);
    expect((await lh.request("GET", "/v1/accounts/acme/keys?limit=0")).status).toBe(400);
    expect((await lh.request("GET", "/v1/accounts/acme/keys?sort=secret")).status).toBe(400);
    expect((await lh.request("GET", "/v1/accounts/acme/keys?bogus=1")).body.code).toBe("VALIDATION_FAILED");
  });
});
