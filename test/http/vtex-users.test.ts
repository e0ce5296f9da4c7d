/**
 * VTEX's user and account operations of the License Manager, called as VTEX's reference shows them
 * (bodies and expected shapes in test/fixtures/vtex/, one file per operation): create, read, delete
 * and list users; the account's data and stores. Also what an attacker would try: acting without the
 * user-management resource, deleting a stronger user or the last Owner, reaching another account's
 * membership, and setting the password of someone else's sign-in through an invitation code.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OWNER_ROLE, USER_ADMIN_ROLE } from "../../src/core/catalog.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON
const fixture = (name: string): any =>
  JSON.parse(readFileSync(new URL(`../fixtures/vtex/${name}.json`, import.meta.url), "utf8"));

/** Each documented field is there with its documented type (`string|null` allows null). */
function expectTypes(value: Record<string, unknown>, types: Record<string, string>) {
  for (const [field, type] of Object.entries(types)) {
    expect(Object.hasOwn(value, field), `${field} is missing`).toBe(true);
    const actual = value[field];
    const kind = actual === null ? "null" : Array.isArray(actual) ? "array" : typeof actual;
    expect(type.split("|"), `${field} is ${kind}`).toContain(kind);
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe.each(["sqlite", "postgres"] as const)("VTEX users and account on %s", (kind) => {
  let h: Harness;
  let userAdmin: Credentials;
  let viewer: Credentials;
  let settingsOnly: Credentials;
  let nothing: Credentials;

  beforeAll(async () => {
    h = await createHarness(kind, { keyPrefix: "vtexappkey" });
    userAdmin = await h.createKey("user admin", [USER_ADMIN_ROLE.id]);
    const roles = async (name: string, resources: string[]) => {
      const res = await h.request("POST", "/v1/accounts/acme/roles", { body: { name, resources } });
      expect(res.status, res.text).toBe(201);
      return res.body.id as number;
    };
    viewer = await h.createKey("viewer", [await roles("viewers", ["ViewAdminUsers"])]);
    settingsOnly = await h.createKey("settings", [await roles("settings", ["EditApiKeysSettings"])]);
    nothing = await h.createKey("nothing");
  });
  afterAll(() => h.close());

  function vtex(method: string, path: string, as: Credentials | null, body?: unknown) {
    const headers: Record<string, string> = { host: "acme.vtexcommercestable.com.br" };
    if (as) {
      headers["X-VTEX-API-AppKey"] = as.appKey;
      headers["X-VTEX-API-AppToken"] = as.appToken;
    }
    return h.request(method, path, { as: null, headers, ...(body === undefined ? {} : { body }) });
  }

  async function nativeMember(id: string, account = "acme", as: Credentials = h.owner) {
    const res = await h.request("GET", `/v1/accounts/${account}/users`, { as });
    return res.body.items.find((user: { id: string }) => user.id === id);
  }

  describe("create user", () => {
    const spec = fixture("create-user");

    it("answers the reference's shape; the person is invited with no roles, and it is audited", async () => {
      const res = await vtex("POST", "/api/license-manager/users", h.owner, spec.request);
      expect(res.status, res.text).toBe(spec.response.status);
      expectTypes(res.body, spec.response.types);
      expect(res.body).toMatchObject({ email: "jane@mail.com", name: "Jane" });
      expect(res.body.id).toMatch(/^\S+$/);
      expect(res.body.invitation.url).toContain("/admin/invitation/acme#code=");
      expect(await nativeMember(res.body.id)).toMatchObject({ status: "invited", roles: [] });
      const audit = await h.request("GET", "/v1/accounts/acme/audit?action=user.added");
      const event = audit.body.items.find((e: { target: { id: string } }) => e.target?.id === res.body.id);
      expect(event.data.after).toMatchObject({
        email: "jane@mail.com",
        name: "Jane",
        roles: [],
        status: "invited",
      });
      expect(JSON.stringify(audit.body)).not.toContain(res.body.invitation.code);
    });

    it("creating the same user again answers the same user and issues no new invitation", async () => {
      const first = await vtex("POST", "/api/license-manager/users", h.owner, {
        name: "Twice",
        email: "twice@x.test",
      });
      const again = await vtex("POST", "/api/license-manager/users", h.owner, {
        name: "Other",
        email: "TWICE@x.test",
      });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ id: first.body.id, email: "twice@x.test", name: "Twice" });
    });

    it("a bad email is 400 as the reference shows; a missing name is allowed", async () => {
      for (const body of [{ name: "x", email: "not an email" }, { name: "x" }, ["jane@mail.com"]]) {
        const res = await vtex("POST", "/api/license-manager/users", h.owner, body);
        expect(res.status).toBe(spec.badRequest.status);
        expect(res.body).toEqual(spec.badRequest.example);
      }
      const noName = await vtex("POST", "/api/license-manager/users", h.owner, { email: "noname@x.test" });
      expect(noName.status).toBe(200);
      expect(noName.body.name).toBe("noname@x.test");
    });

    it("needs EditAdminUsers (VTEX's Save user): 403 without it, nothing created", async () => {
      for (const as of [viewer, nothing, settingsOnly]) {
        const res = await vtex("POST", "/api/license-manager/users", as, {
          name: "M",
          email: "mallory@x.test",
        });
        expect(res.status).toBe(403);
        expect(typeof res.body.Message).toBe("string");
      }
      expect((await vtex("POST", "/api/license-manager/users", null, { email: "m@x.test" })).status).toBe(
        401,
      );
      const users = await h.request("GET", "/v1/accounts/acme/users");
      expect(JSON.stringify(users.body)).not.toContain("mallory@x.test");
    });
  });

  describe("get user", () => {
    const spec = fixture("get-user");

    it("answers id, name and email; with EditAdminUsers or ViewAdminUsers", async () => {
      const created = await vtex("POST", "/api/license-manager/users", h.owner, {
        name: "Gus",
        email: "gus@x.test",
      });
      for (const as of [h.owner, userAdmin, viewer]) {
        const res = await vtex("GET", `/api/license-manager/users/${created.body.id}`, as);
        expect(res.status).toBe(spec.response.status);
        expect(res.body).toEqual({ id: created.body.id, name: "Gus", email: "gus@x.test" });
        expectTypes(res.body, spec.response.types);
      }
      expect((await vtex("GET", `/api/license-manager/users/${created.body.id}`, nothing)).status).toBe(403);
    });

    it("an unknown id, a key's id or another account's user is 400 Invalid UserId", async () => {
      const other = await h.services.accounts.init({ account: "elsewhere", email: "stranger@else.test" });
      const stranger = (await h.request("GET", "/v1/accounts/elsewhere/users", { as: other })).body.items[0]
        .id;
      for (const id of ["nobody", stranger, encodeURIComponent("x".repeat(300))]) {
        const res = await vtex("GET", `/api/license-manager/users/${id}`, h.owner);
        expect(res.status).toBe(spec.badRequest.status);
        expect(res.body).toEqual(spec.badRequest.example);
      }
    });
  });

  describe("list users (paged)", () => {
    const spec = fixture("list-users-paged");

    it("answers items and paging with every documented field and type", async () => {
      const q = new URLSearchParams(spec.query as Record<string, string>);
      const res = await vtex("GET", `/api/license-manager/site/pvt/logins/list/paged?${q}`, viewer);
      expect(res.status).toBe(spec.response.status);
      expect(Object.keys(res.body).sort()).toEqual(["items", "paging"]);
      expectTypes(res.body.paging, spec.response.pagingTypes);
      expect(res.body.items.length).toBeGreaterThan(0);
      for (const item of res.body.items) {
        expectTypes(item, spec.response.itemTypes);
        expect(item.roles).toEqual([]);
        expect(item.accountNames).toEqual([]);
      }
      const owner = res.body.items.find((item: { email: string }) => item.email === "owner@acme.test");
      expect(owner.isAdmin).toBe(true);
      const names = res.body.items.map((item: { name: string }) => item.name.toLowerCase());
      expect(names).toEqual([...names].sort((a: string, b: string) => a.localeCompare(b)));
    });

    it("pages and sorts as the roles list does", async () => {
      const all = await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged?numItems=200", viewer);
      const total = all.body.paging.total;
      const page2 = await vtex(
        "GET",
        "/api/license-manager/site/pvt/logins/list/paged?numItems=2&pageNumber=2&sort=email&sortType=DSC",
        viewer,
      );
      expect(page2.body.paging).toEqual({ page: 2, perPage: 2, total, pages: Math.ceil(total / 2) });
      const emails = all.body.items
        .map((item: { email: string }) => item.email)
        .sort()
        .reverse();
      expect(page2.body.items.map((item: { email: string }) => item.email)).toEqual(emails.slice(2, 4));
      const bad = await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged?sort=password", viewer);
      expect(bad.status).toBe(400);
      expect(typeof bad.body.Message).toBe("string");
    });

    it("needs ViewAdminUsers (VTEX's Get paged users)", async () => {
      expect((await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged", nothing)).status).toBe(
        403,
      );
      expect((await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged", null)).status).toBe(401);
    });
  });

  describe("from creation to signing in", () => {
    it("the created person chooses a password with the code, holds the roles given, and signs in", async () => {
      const created = await vtex("POST", "/api/license-manager/users", userAdmin, {
        name: "Ann",
        email: "ann@x.test",
      });
      const { id, invitation } = created.body;
      // The user administrator may not give what it does not hold (OMS - Read only); the Owner may.
      expect((await vtex("PUT", `/api/license-manager/users/${id}/roles`, userAdmin, [10])).status).toBe(403);
      expect((await vtex("PUT", `/api/license-manager/users/${id}/roles`, h.owner, [10])).status).toBe(204);
      const roles = await vtex("GET", `/api/license-manager/users/${id}/roles`, userAdmin);
      expect(roles.body).toEqual([{ id: 10, name: expect.any(String) }]);
      // Before the password is chosen there is no way in.
      const early = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "ann@x.test", password: "" },
      });
      expect(early.status).toBe(401);
      const wrong = await h.request("POST", "/v1/invitations/acme/sign-up", {
        as: null,
        body: { email: "ann@x.test", code: "A".repeat(43), password: "ann's password 1" },
      });
      expect(wrong.status).toBe(404);
      const signUp = await h.request("POST", "/v1/invitations/acme/sign-up", {
        as: null,
        body: { email: "ann@x.test", code: invitation.code, password: "ann's password 1" },
      });
      expect(signUp.status, signUp.text).toBe(204);
      expect(await nativeMember(id)).toMatchObject({ status: "active", roles: [{ id: 10 }] });
      const login = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "ann@x.test", password: "ann's password 1" },
      });
      expect(login.status).toBe(200);
      // The code is spent: it sets nothing again.
      const replay = await h.request("POST", "/v1/invitations/acme/sign-up", {
        as: null,
        body: { email: "ann@x.test", code: invitation.code, password: "mallory's password" },
      });
      expect(replay.status).toBe(404);
      for (const text of h.logLines) expect(text).not.toContain(invitation.code);
    });

    it("a code for someone who already has a sign-in never sets their password", async () => {
      await h.services.accounts.init({
        account: "bobco",
        email: "bob@bob.test",
        password: "bob's own password",
      });
      const created = await vtex("POST", "/api/license-manager/users", h.owner, {
        name: "Bob",
        email: "bob@bob.test",
      });
      expect(created.status).toBe(200);
      const takeover = await h.request("POST", "/v1/invitations/acme/sign-up", {
        as: null,
        body: { email: "bob@bob.test", code: created.body.invitation.code, password: "attacker chosen 1" },
      });
      expect(takeover.status).toBe(404);
      const asBob = (password: string) =>
        h.request("POST", "/v1/auth/login", { as: null, body: { email: "bob@bob.test", password } });
      expect((await asBob("attacker chosen 1")).status).toBe(401);
      expect((await asBob("bob's own password")).status).toBe(200);
    });
  });

  describe("delete user", () => {
    const spec = fixture("delete-user");

    it("removes the user from this account only: 200, and their other membership stays", async () => {
      const other = await h.services.accounts.init({ account: "twoacct", email: "both@x.test" });
      const created = await vtex("POST", "/api/license-manager/users", h.owner, {
        name: "Both",
        email: "both@x.test",
      });
      const res = await vtex("DELETE", `/api/license-manager/users/${created.body.id}`, userAdmin);
      expect(res.status).toBe(spec.response.status);
      expect(await nativeMember(created.body.id)).toBeUndefined();
      expect(await nativeMember(created.body.id, "twoacct", other)).toMatchObject({ status: "active" });
      const again = await vtex("DELETE", `/api/license-manager/users/${created.body.id}`, userAdmin);
      expect(again.status).toBe(spec.badRequest.status);
      expect(again.body).toEqual(spec.badRequest.example);
    });

    it("never deletes a stronger user, the last Owner, or without EditAdminUsers", async () => {
      const ownerId =
        h.init.email &&
        (await h.request("GET", "/v1/accounts/acme/users")).body.items.find(
          (user: { email: string }) => user.email === "owner@acme.test",
        ).id;
      const weaker = await vtex("DELETE", `/api/license-manager/users/${ownerId}`, userAdmin);
      expect(weaker.status).toBe(403);
      const last = await vtex("DELETE", `/api/license-manager/users/${ownerId}`, h.owner);
      expect(last.status).toBe(409);
      expect(typeof last.body.Message).toBe("string");
      const victim = await vtex("POST", "/api/license-manager/users", h.owner, { email: "victim@x.test" });
      for (const as of [viewer, nothing]) {
        expect((await vtex("DELETE", `/api/license-manager/users/${victim.body.id}`, as)).status).toBe(403);
      }
      expect(await nativeMember(ownerId)).toMatchObject({ status: "active", roles: [{ id: OWNER_ROLE.id }] });
      expect(await nativeMember(victim.body.id)).toBeDefined();
    });
  });

  describe("account and stores", () => {
    const account = fixture("get-account");
    const stores = fixture("get-stores");

    it("the profile is set natively and answered on VTEX's paths with every documented field", async () => {
      const set = await h.request("PUT", "/v1/accounts/acme/settings/profile", {
        body: { displayName: "ACME, Inc.", hosts: ["WWW.acme.test", "shop.acme.test", "www.acme.test"] },
      });
      expect(set.status, set.text).toBe(200);
      expect(set.body).toEqual({
        account: "acme",
        displayName: "ACME, Inc.",
        hosts: ["www.acme.test", "shop.acme.test"],
        createdAt: "2026-11-26T10:00:00.000Z",
      });
      const res = await vtex("GET", "/api/vlm/account", h.owner);
      expect(res.status).toBe(account.response.status);
      expect(Object.keys(res.body).sort()).toEqual(Object.keys(account.response.types).sort());
      expectTypes(res.body, account.response.types);
      expect(res.body).toMatchObject({
        accountName: "acme",
        name: "ACME, Inc.",
        tradingName: "ACME, Inc.",
        companyName: "ACME, Inc.",
        hosts: ["www.acme.test", "shop.acme.test"],
        isActive: true,
      });
      expect(res.body.id).toMatch(/^[0-9a-f]{32}$/);
      expect(res.body.creationDate).toMatch(ISO);
      for (const site of res.body.sites) expectTypes(site, account.response.siteTypes);
      expect(res.body.appKeys.length).toBeGreaterThan(0);
      for (const key of res.body.appKeys) {
        expectTypes(key, account.response.appKeyTypes);
        expect(key.appToken).toBeNull();
      }
      expect(res.text).not.toContain("lkt_");

      const list = await vtex("GET", "/api/vlm/account/stores", h.owner);
      expect(list.status).toBe(stores.response.status);
      expect(list.body).toEqual([{ id: 1, name: "acme", hosts: ["www.acme.test", "shop.acme.test"] }]);
      for (const store of list.body) expectTypes(store, stores.response.itemTypes);
    });

    it("needs ViewApiKeys or EditApiKeysSettings; app keys are listed only with ViewApiKeys", async () => {
      const settings = await vtex("GET", "/api/vlm/account", settingsOnly);
      expect(settings.status).toBe(200);
      expect(settings.body.appKeys).toEqual([]);
      for (const path of ["/api/vlm/account", "/api/vlm/account/stores"]) {
        expect((await vtex("GET", path, nothing)).status).toBe(403);
        expect((await vtex("GET", path, viewer)).status).toBe(403);
        expect((await vtex("GET", path, null)).status).toBe(401);
      }
    });

    it("the native profile refuses bad input and callers without EditApiKeysSettings", async () => {
      const put = (body: unknown, as: Credentials = h.owner) =>
        h.request("PUT", "/v1/accounts/acme/settings/profile", { as, body });
      for (const body of [
        { displayName: "x", hosts: ["https://acme.test"] },
        { displayName: "x", hosts: ["-bad.test"] },
        { displayName: "x".repeat(101), hosts: [] },
        { displayName: "x", hosts: [], extra: 1 },
        { displayName: "x", hosts: Array.from({ length: 51 }, (_, i) => `h${i}.test`) },
      ]) {
        const res = await put(body);
        expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      }
      expect((await put({ displayName: "x", hosts: [] }, viewer)).status).toBe(403);
      const ok = await put({ displayName: "Mine", hosts: [] }, settingsOnly);
      expect(ok.status).toBe(200);
      expect((await h.request("GET", "/v1/accounts/acme/settings/profile")).body.displayName).toBe("Mine");
    });
  });
});
