/**
 * Text holding NUL, which PostgreSQL refuses as a parameter, gets the same precise answer on both
 * databases wherever a key is named or labelled: a name is refused with a 400, an appKey with NUL
 * names no key (404), a search with NUL matches nothing. Never a 500, and nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

const KEYS = "/v1/accounts/acme/keys";
const NUL_KEY = encodeURIComponent("appkey-acme-AAAAAA\u0000");

describe.each(["sqlite", "postgres"] as const)("NUL in key names and references on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(() => h.close());

  async function state() {
    return {
      keys: (await h.request("GET", KEYS)).body.total,
      roles: (await h.request("GET", "/v1/accounts/acme/roles")).body.items.length,
      audit: (await h.store.audit.list("acme", 1000)).length,
    };
  }

  it("refuses a key or role name holding NUL with a precise 400", async () => {
    const key = await h.createKey("plain");
    const before = await state();
    const created = await h.request("POST", KEYS, { body: { name: "bad\u0000name" } });
    expect(created.status).toBe(400);
    expect(created.body).toMatchObject({
      code: "VALIDATION_FAILED",
      detail: "name must be 1-100 characters after trimming, with no NUL character",
    });
    const renamed = await h.request("PATCH", `${KEYS}/${key.appKey}`, { body: { name: "bad\u0000" } });
    expect(renamed.status).toBe(400);
    expect(renamed.body.code).toBe("VALIDATION_FAILED");
    const role = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "bad\u0000role", resources: [] },
    });
    expect(role.status).toBe(400);
    expect(role.body).toMatchObject({
      code: "VALIDATION_FAILED",
      detail: "name must be 1-100 characters, with no NUL character",
    });
    expect(await state()).toEqual(before);
    expect((await h.request("GET", `${KEYS}/${key.appKey}`)).body.name).toBe("plain");
  });

  it("finds no key for an appKey holding NUL: 404 on every key path", async () => {
    const before = await state();
    for (const [method, path, body] of [
      ["GET", `${KEYS}/${NUL_KEY}`, undefined],
      ["PATCH", `${KEYS}/${NUL_KEY}`, { active: false }],
      ["DELETE", `${KEYS}/${NUL_KEY}`, undefined],
      ["PUT", `${KEYS}/${NUL_KEY}/roles`, { roles: [10] }],
      ["POST", `${KEYS}/${NUL_KEY}/renewal`, undefined],
    ] as const) {
      const res = await h.request(method, path, body === undefined ? {} : { body });
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([404, "KEY_NOT_FOUND"]);
    }
    const external = "/v1/accounts/acme/external-keys";
    const added = await h.request("POST", external, { body: { appKey: "appkey-acme-AAAAAA\u0000" } });
    expect([added.status, added.body.code]).toEqual([404, "EXTERNAL_KEY_NOT_FOUND"]);
    const roles = await h.request("PUT", `${external}/${NUL_KEY}/roles`, { body: { roles: [10] } });
    expect([roles.status, roles.body.code]).toEqual([404, "EXTERNAL_KEY_NOT_ADDED"]);
    expect(await state()).toEqual(before);
  });

  it("matches nothing when the search text holds NUL", async () => {
    await h.createKey("Searchable");
    const res = await h.request("GET", `${KEYS}?q=${encodeURIComponent("Search\u0000")}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], nextCursor: null, total: 0, totalExact: true });
    expect((await h.request("GET", `${KEYS}?q=search`)).body.total).toBe(1);
  });

  it("finds no user for a user id holding NUL, and refuses such an email with a 400", async () => {
    const users = "/v1/accounts/acme/users";
    const before = (await h.request("GET", users)).body.items.length;
    const nulId = encodeURIComponent("a\u0000b");
    const roles = await h.request("PUT", `${users}/${nulId}/roles`, { body: { roles: [10] } });
    expect([roles.status, roles.body.code]).toEqual([404, "USER_NOT_FOUND"]);
    const removed = await h.request("DELETE", `${users}/${nulId}`);
    expect([removed.status, removed.body.code]).toEqual([404, "USER_NOT_FOUND"]);
    const added = await h.request("POST", users, { body: { email: "nul\u0000@acme.test" } });
    expect([added.status, added.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    const login = await h.request("POST", "/v1/auth/login", {
      body: { email: "owner\u0000@acme.test", password: "whatever" },
      as: null,
    });
    expect(login.status).toBe(401);
    expect((await h.request("GET", users)).body.items.length).toBe(before);
  });
});
