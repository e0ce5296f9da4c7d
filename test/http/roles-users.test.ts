import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("roles", () => {
  it("lists the predefined roles of SPEC §1.2 and the catalog", async () => {
    const res = await h.request("GET", "/v1/accounts/acme/roles");
    const names = res.body.items.map((r: { name: string }) => r.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "Owner (Admin Super)",
        "User Administrator - RESTRICTED",
        "OMS - Read only",
        "OMS - Full access",
        "Catalog - Full access",
        "Logistics - Read only",
        "Logistics - Full access",
      ]),
    );
    const admin = res.body.items.find((r: { id: number }) => r.id === 2);
    expect(admin.resources.sort()).toEqual(
      [
        "EditAdminUsers",
        "EditApiKeys",
        "EditApiKeysSettings",
        "RenewApiToken",
        "ViewAdminUsers",
        "ViewApiKeys",
      ].sort(),
    );
    expect(res.body.items.every((r: { type: string }) => r.type === "predefined")).toBe(true);
  });

  it("creates, updates and deletes a custom role; a key holding it gets exactly its resources", async () => {
    const created = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "Order reader", resources: ["ViewOrders", "ViewApiKeys"] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: "custom", products: ["License Manager", "OMS"] });
    expect(created.body.id).toBeGreaterThanOrEqual(100000);
    const key = await h.createKey("custom holder", [created.body.id]);
    const me = await h.request("GET", "/v1/me", { as: key });
    expect(me.body.accounts[0].resources).toEqual(["ViewApiKeys", "ViewOrders"]);

    const path = `/v1/accounts/acme/roles/${created.body.id}`;
    const updated = await h.request("PUT", path, {
      body: { name: "Order reader", resources: ["ViewOrders"] },
    });
    expect(updated.body.resources).toEqual(["ViewOrders"]);
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(403);

    const inUse = await h.request("DELETE", path);
    expect(inUse.status).toBe(409);
    expect(inUse.body.code).toBe("ROLE_IN_USE");
    await h.request("PUT", `/v1/accounts/acme/keys/${key.appKey}/roles`, { body: { roles: [] } });
    expect((await h.request("DELETE", path)).status).toBe(204);
    expect((await h.request("DELETE", path)).status).toBe(404);
  });

  it("refuses bad role input with precise 4xx", async () => {
    const cases: [unknown, number, string][] = [
      [{ name: "x", resources: ["NoSuchThing"] }, 400, "UNKNOWN_RESOURCE"],
      [{ name: "", resources: [] }, 400, "VALIDATION_FAILED"],
      [{ name: "x".repeat(101), resources: [] }, 400, "VALIDATION_FAILED"],
      [{ name: "x", resources: [], extra: true }, 400, "VALIDATION_FAILED"],
      [{ name: "oms - read only", resources: [] }, 409, "ROLE_NAME_TAKEN"],
    ];
    for (const [body, status, code] of cases) {
      const res = await h.request("POST", "/v1/accounts/acme/roles", { body });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([status, code]);
    }
    await h.request("POST", "/v1/accounts/acme/roles", { body: { name: "Twice", resources: [] } });
    const dup = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: "TWICE", resources: [] },
    });
    expect(dup.body.code).toBe("ROLE_NAME_TAKEN");
    const predefined = await h.request("PUT", "/v1/accounts/acme/roles/1", {
      body: { name: "Mine", resources: [] },
    });
    expect([predefined.status, predefined.body.code]).toEqual([409, "ROLE_PREDEFINED"]);
  });

  it("refuses to put a resource the caller lacks into a role", async () => {
    const admin = await h.createKey("role admin", [2]);
    const res = await h.request("POST", "/v1/accounts/acme/roles", {
      as: admin,
      body: { name: "sneaky", resources: ["EditOrders"] },
    });
    expect([res.status, res.body.code]).toEqual([403, "ESCALATION_DENIED"]);
    const ok = await h.request("POST", "/v1/accounts/acme/roles", {
      as: admin,
      body: { name: "key viewer", resources: ["ViewApiKeys"] },
    });
    expect(ok.status).toBe(201);
  });

  it("lists the resource catalog to any signed-in caller", async () => {
    const key = await h.createKey("catalog reader");
    const res = await h.request("GET", "/v1/resources", { as: key });
    const byKey = new Map(res.body.items.map((r: { key: string; id: number }) => [r.key, r.id]));
    expect(byKey.get("ViewApiKeys")).toBe(2042457);
    expect(byKey.get("EditAdminUsers")).toBe(2099310);
    expect(byKey.has("ViewOrders")).toBe(true);
  });
});

describe("users", () => {
  it("adds a user with a generated password shown once, who can then sign in", async () => {
    const res = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "Ann@Acme.test", roles: [10] },
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({
      email: "ann@acme.test",
      roles: [{ id: 10, name: "OMS - Read only" }],
    });
    expect(res.body.password).toMatch(/^[0-9A-Za-z]{20}$/);
    const login = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "ann@acme.test", password: res.body.password },
    });
    expect(login.status).toBe(200);
    const list = await h.request("GET", "/v1/accounts/acme/users");
    expect(list.text).not.toContain(res.body.password);
    expect(list.body.items.map((u: { email: string }) => u.email)).toContain("ann@acme.test");
    const again = await h.request("POST", "/v1/accounts/acme/users", { body: { email: "ann@acme.test" } });
    expect([again.status, again.body.code]).toEqual([409, "USER_ALREADY_MEMBER"]);
  });

  it("invites an existing user of another account without touching their password", async () => {
    const other = await h.services.accounts.init({
      account: "gamma",
      email: "g@gamma.test",
      password: "gamma password 1",
    });
    expect(other.password).toBe("gamma password 1");
    // A password sent for an existing email is ignored: the same 201 invitation as without one.
    const withPassword = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "g@gamma.test", password: "another password" },
    });
    expect([withPassword.status, withPassword.body.user.status]).toEqual([201, "invited"]);
    expect(withPassword.body.password).toBeUndefined();
    const again = await h.request("POST", "/v1/accounts/acme/users", { body: { email: "g@gamma.test" } });
    expect([again.status, again.body.code]).toEqual([409, "USER_ALREADY_MEMBER"]);
    expect(again.body.detail).toMatch(/already invited to acme/);
    for (const [password, status] of [
      ["gamma password 1", 200],
      ["another password", 401],
    ] as const) {
      const login = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "g@gamma.test", password },
      });
      expect(login.status, password).toBe(status);
    }
  });

  it("sets roles, keeps a last Owner, and removes users", async () => {
    const users = (await h.request("GET", "/v1/accounts/acme/users")).body.items;
    const owner = users.find((u: { email: string }) => u.email === "owner@acme.test");
    const demote = await h.request("PUT", `/v1/accounts/acme/users/${owner.id}/roles`, {
      body: { roles: [2] },
    });
    expect([demote.status, demote.body.code]).toEqual([409, "LAST_OWNER"]);
    expect((await h.request("DELETE", `/v1/accounts/acme/users/${owner.id}`)).body.code).toBe("LAST_OWNER");

    const added = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "bob@acme.test", roles: [1] },
    });
    const bob = added.body.user.id;
    expect(
      (await h.request("PUT", `/v1/accounts/acme/users/${owner.id}/roles`, { body: { roles: [2] } })).status,
    ).toBe(200);
    const admin = await h.createKey("user admin 2", [2]);
    const strip = await h.request("DELETE", `/v1/accounts/acme/users/${bob}`, { as: admin });
    expect([strip.status, strip.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    expect(
      (await h.request("PUT", `/v1/accounts/acme/users/${owner.id}/roles`, { body: { roles: [1] } })).status,
    ).toBe(200);
    expect((await h.request("DELETE", `/v1/accounts/acme/users/${bob}`)).status).toBe(204);
    expect((await h.request("DELETE", `/v1/accounts/acme/users/${bob}`)).body.code).toBe("USER_NOT_FOUND");
  });

  it("validates user input", async () => {
    const cases: [unknown, string][] = [
      [{ email: "not-an-email" }, "VALIDATION_FAILED"],
      [{ email: "short@acme.test", password: "short" }, "VALIDATION_FAILED"],
      [{ email: "r@acme.test", roles: [424242] }, "UNKNOWN_ROLE"],
      [{ email: "r@acme.test", role: [1] }, "VALIDATION_FAILED"],
    ];
    for (const [body, code] of cases) {
      const res = await h.request("POST", "/v1/accounts/acme/users", { body });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, code]);
    }
  });
});
