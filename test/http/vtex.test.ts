/**
 * A VTEX integration, unchanged, against latchkey: it speaks only VTEX's License Manager and VTEX
 * ID paths with VTEX's header and field names, and checks every response's shape field by field.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const APP_KEY = /^vtexappkey-acme-[A-Z]{6}$/;

type Auth = Credentials | { jwt: string; as: "header" | "cookie" } | null;

function expectKeys(value: object, keys: string[]) {
  expect(Object.keys(value).sort()).toEqual([...keys].sort());
}

describe.each(["sqlite", "postgres"] as const)("VTEX paths on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind, { keyPrefix: "vtexappkey" });
  });
  afterAll(() => h.close());

  /** A call as a VTEX client makes it: X-VTEX-API-* headers (in VTEX's casing) or the JWT. */
  function vtex(method: string, path: string, auth: Auth, body?: unknown) {
    const headers: Record<string, string> = { host: "acme.vtexcommercestable.com.br" };
    if (auth && "appKey" in auth) {
      headers["X-VTEX-API-AppKey"] = auth.appKey;
      headers["X-VTEX-API-AppToken"] = auth.appToken;
    } else if (auth?.as === "header") headers.VtexIdclientAutCookie = auth.jwt;
    else if (auth) headers.cookie = `VtexIdclientAutCookie=${auth.jwt}`;
    return h.request(method, path, { as: null, headers, ...(body === undefined ? {} : { body }) });
  }

  async function createAppKey(label: string, as: Credentials = h.owner) {
    const res = await vtex("POST", "/api/vlm/appkeys", as, { label });
    expect(res.status, res.text).toBe(200);
    return { ...res.body, credentials: { appKey: res.body.appKey, appToken: res.body.appToken } };
  }

  describe("License Manager app keys", () => {
    it("creates a key: 200 with id, appKey, appToken, label, createdIn, isActive", async () => {
      const res = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: "erp" });
      expect(res.status).toBe(200);
      expectKeys(res.body, ["id", "appKey", "appToken", "label", "createdIn", "isActive"]);
      expect(typeof res.body.id).toBe("string");
      expect(res.body.appKey).toMatch(APP_KEY);
      expect(res.body.appToken).toMatch(/^lkt_[A-Za-z0-9]{46}$/);
      expect(res.body.label).toBe("erp");
      expect(res.body.createdIn).toMatch(ISO);
      expect(res.body.createdIn).toBe("2026-11-26T10:00:00.000Z");
      expect(res.body.isActive).toBe(true);
      expect(res.headers.get("cache-control")).toBe("no-store");
      // The new key authenticates at once (it holds no roles, so it is allowed nothing: 403).
      expect((await vtex("GET", "/api/vlm/appkeys", res.body)).status).toBe(403);
    });

    it("lists keys without any token; the native API's keys are there too", async () => {
      const native = await h.createKey("made natively");
      const res = await vtex("GET", "/api/vlm/appkeys", h.owner);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body)).toBe(true);
      for (const item of res.body) {
        expectKeys(item, ["id", "appKey", "label", "createdIn", "isActive"]);
        expect(item.appKey).toMatch(APP_KEY);
        expect(item.createdIn).toMatch(ISO);
        expect(typeof item.isActive).toBe("boolean");
      }
      expect(res.body.map((item: { label: string }) => item.label)).toEqual(
        expect.arrayContaining(["erp", "made natively"]),
      );
      expect(res.body.find((item: { appKey: string }) => item.appKey === native.appKey).id).toBe(
        native.key.id,
      );
      expect(res.text).not.toContain("lkt_");
    });

    it("deactivates and reactivates by id: 200, empty body; visible natively; audited as on /v1", async () => {
      const key = await createAppKey("to switch off");
      const res = await vtex("PUT", `/api/vlm/appkeys/${key.id}`, h.owner, { isActive: false });
      expect(res.status).toBe(200);
      expect(res.text).toBe("");
      const native = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`);
      expect(native.body.active).toBe(false);
      const refused = await vtex("GET", "/api/vlm/appkeys", key.credentials);
      expect(refused.status).toBe(401);
      expectKeys(refused.body, ["Message"]);
      const [event] = (await h.store.audit.list("acme", 1)).reverse();
      expect(event).toMatchObject({
        action: "key.deactivated",
        targetType: "key",
        targetId: key.appKey,
        actorId: h.owner.appKey,
      });
      const listed = (await vtex("GET", "/api/vlm/appkeys", h.owner)).body;
      expect(listed.find((item: { id: string }) => item.id === key.id).isActive).toBe(false);
      // Native reactivation is seen through VTEX's list.
      await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: true } });
      const again = (await vtex("GET", "/api/vlm/appkeys", h.owner)).body;
      expect(again.find((item: { id: string }) => item.id === key.id).isActive).toBe(true);
    });

    it("refuses an unknown id with VTEX's VLM error body", async () => {
      const res = await vtex("PUT", "/api/vlm/appkeys/no-such-id", h.owner, { isActive: false });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        Details: null,
        HttpStatusCode: 400,
        VLMErrorCode: 17,
        Message: "Token not exists for this account",
      });
    });

    it("answers a bad body with 400 and a Message", async () => {
      const res = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: 5 });
      expect(res.status).toBe(400);
      expectKeys(res.body, ["Message"]);
      expect(typeof res.body.Message).toBe("string");
    });
  });

  describe("License Manager user roles", () => {
    it("adds and removes a key's roles by key id and by appKey; native sees the same roles", async () => {
      const key = await createAppKey("roles holder");
      const path = (id: string) => `/api/license-manager/users/${id}/roles`;
      expect((await vtex("GET", path(key.id), h.owner)).body).toEqual([]);
      const added = await vtex("PUT", path(key.id), h.owner, [10, 30]);
      expect(added.status).toBe(204);
      expect(added.text).toBe("");
      // PUT adds: what was held stays.
      expect((await vtex("PUT", path(key.appKey), h.owner, [50])).status).toBe(204);
      const listed = await vtex("GET", path(key.appKey), h.owner);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([
        { id: 10, name: "OMS - Read only" },
        { id: 30, name: "Logistics - Read only" },
        { id: 50, name: "Customers - Read only" },
      ]);
      const native = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`);
      expect(native.body.roles.map((role: { id: number }) => role.id)).toEqual([10, 30, 50]);
      expect((await vtex("DELETE", `${path(key.id)}/30`, h.owner)).status).toBe(204);
      expect((await vtex("DELETE", `${path(key.id)}/30`, h.owner)).status).toBe(204);
      const after = await vtex("GET", path(key.id), h.owner);
      expect(after.body.map((role: { id: number }) => role.id)).toEqual([10, 50]);
    });

    it("sets a user's roles by user id, as the native users API shows", async () => {
      const created = await h.request("POST", "/v1/accounts/acme/users", {
        body: { email: "ana@acme.test" },
      });
      const userId = created.body.user.id as string;
      const path = `/api/license-manager/users/${userId}/roles`;
      expect((await vtex("PUT", path, h.owner, [2])).status).toBe(204);
      expect((await vtex("GET", path, h.owner)).body).toEqual([
        { id: 2, name: "User Administrator - RESTRICTED" },
      ]);
      const users = (await h.request("GET", "/v1/accounts/acme/users")).body.items;
      const ana = users.find((user: { id: string }) => user.id === userId);
      expect(ana.roles).toEqual([{ id: 2, name: "User Administrator - RESTRICTED" }]);
      expect((await vtex("DELETE", `${path}/2`, h.owner)).status).toBe(204);
      expect((await vtex("GET", path, h.owner)).body).toEqual([]);
    });

    it("refuses roles the account does not have, and unknown users, in VTEX's words", async () => {
      const key = await createAppKey("strict roles");
      const unknownRole = await vtex("PUT", `/api/license-manager/users/${key.id}/roles`, h.owner, [999999]);
      expect(unknownRole.status).toBe(400);
      expect(unknownRole.body).toEqual({
        Message: "Roles list contains roles that do not exist in this account",
      });
      for (const [method, suffix, body] of [
        ["GET", "", undefined],
        ["PUT", "", [10]],
      ] as const) {
        const res = await vtex(method, `/api/license-manager/users/nobody/roles${suffix}`, h.owner, body);
        expect(res.status, method).toBe(400);
        expect(res.body).toEqual({ Message: "Invalid UserId" });
      }
      // Removal is idempotent in VTEX: an unknown user is a 204 too (vtex-compat.test.ts).
      const removal = await vtex("DELETE", "/api/license-manager/users/nobody/roles/10", h.owner);
      expect([removal.status, removal.text]).toEqual([204, ""]);
    });
  });

  describe("License Manager roles list", () => {
    it("pages the account's roles, predefined and custom, with VTEX's fields", async () => {
      const custom = await h.request("POST", "/v1/accounts/acme/roles", {
        body: { name: "Zeta viewers", resources: ["ViewApiKeys"] },
      });
      const total = (await h.request("GET", "/v1/accounts/acme/roles")).body.items.length;
      const base = "/api/license-manager/site/pvt/roles/list/paged";
      const res = await vtex("GET", `${base}?numItems=2&pageNumber=1&sort=id&sortType=ASC`, h.owner);
      expect(res.status).toBe(200);
      expectKeys(res.body, ["items", "paging"]);
      expect(res.body.paging).toEqual({ page: 1, perPage: 2, total, pages: Math.ceil(total / 2) });
      expect(res.body.items).toHaveLength(2);
      const [owner, admin] = res.body.items;
      for (const item of res.body.items) {
        expectKeys(item, ["id", "name", "isAdmin", "roleType", "products", "resources", "logins"]);
        expect(item.resources).toBeNull();
        expect(item.logins).toBeNull();
      }
      expect(owner).toMatchObject({ id: 1, name: "Owner (Admin Super)", isAdmin: true, roleType: 0 });
      expect(owner.products).toContainEqual(expect.objectContaining({ name: "License Manager" }));
      expect(admin).toMatchObject({
        id: 2,
        isAdmin: false,
        roleType: 0,
        products: [{ name: "License Manager" }],
      });
      const last = await vtex(
        "GET",
        `${base}?numItems=${total}&pageNumber=1&sort=name&sortType=DSC`,
        h.owner,
      );
      expect(last.body.items[0]).toMatchObject({ id: custom.body.id, name: "Zeta viewers", roleType: 1 });
      const beyond = await vtex("GET", `${base}?numItems=10&pageNumber=99`, h.owner);
      expect(beyond.body.items).toEqual([]);
      expect((await vtex("GET", `${base}?sortType=UP`, h.owner)).status).toBe(400);
    });
  });

  describe("VTEX ID: login, validate, renew", () => {
    it("walks an integration through login → validate → renew → both tokens → finish → old token refused", async () => {
      const key = await createAppKey("rotating erp");
      const roles = `/api/license-manager/users/${key.id}/roles`;
      expect((await vtex("PUT", roles, h.owner, [2])).status).toBe(204);

      const login = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: key.appKey,
        apptoken: key.appToken,
      });
      expect(login.status).toBe(200);
      expectKeys(login.body, ["authStatus", "token", "expires"]);
      expect(login.body.authStatus).toBe("Success");
      expect(typeof login.body.token).toBe("string");
      // VTEX_JWT_TTL: 24 h by default, as VTEX documents.
      expect(login.body.expires).toBe(Date.parse("2026-11-26T10:00:00Z") / 1000 + 86400);

      const validated = await vtex("POST", "/api/vtexid/credential/validate", null, {
        token: login.body.token,
      });
      expect(validated.status).toBe(200);
      expect(validated.body).toEqual({
        authStatus: "Success",
        id: key.id,
        user: key.appKey,
        account: "acme",
        audience: "admin",
        tokenType: "appkey",
      });
      for (const as of ["header", "cookie"] as const) {
        expect((await vtex("GET", "/api/vlm/appkeys", { jwt: login.body.token, as })).status).toBe(200);
      }

      const renewed = await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/renew`, key.credentials);
      expect(renewed.status).toBe(200);
      expectKeys(renewed.body, [
        "id",
        "keyName",
        "creationDateToken",
        "creationDateNewToken",
        "expirationPeriod",
        "newToken",
      ]);
      expect(renewed.body).toMatchObject({ id: key.id, keyName: key.appKey, expirationPeriod: 90 });
      expect(renewed.body.creationDateToken).toMatch(ISO);
      expect(renewed.body.creationDateNewToken).toMatch(ISO);
      expect(renewed.body.newToken).toMatch(/^lkt_/);
      const fresh = { appKey: key.appKey, appToken: renewed.body.newToken as string };
      expect((await vtex("GET", "/api/vlm/appkeys", key.credentials)).status).toBe(200);
      expect((await vtex("GET", "/api/vlm/appkeys", fresh)).status).toBe(200);
      const again = await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/renew`, fresh);
      expect(again.status).toBe(409);
      expectKeys(again.body, ["Message"]);

      const finished = await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/finish-renewal`, fresh);
      expect(finished.status).toBe(200);
      expect(finished.body).toEqual({
        id: key.id,
        creationDateToken: renewed.body.creationDateNewToken,
        creationDateNewToken: null,
      });
      const old = await vtex("GET", "/api/vlm/appkeys", key.credentials);
      expect(old.status).toBe(401);
      expectKeys(old.body, ["Message"]);
      expect((await vtex("GET", "/api/vlm/appkeys", fresh)).status).toBe(200);
      // The JWT minted from the old token dies with it.
      const stale = await vtex("POST", "/api/vtexid/credential/validate", null, { token: login.body.token });
      expect(stale.status).toBe(401);
      expect(stale.body).toEqual({ authStatus: "WrongCredentials" });
      const nothing = await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/finish-renewal`, fresh);
      expect(nothing.status).toBe(404);
      expectKeys(nothing.body, ["Message"]);
    });

    it("refuses wrong credentials and bad tokens with WrongCredentials", async () => {
      const other = await createAppKey("someone else");
      const wrong = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: h.owner.appKey,
        apptoken: other.appToken,
      });
      // VTEX's login answers a refusal as its reference documents the login: 200 and the authStatus.
      expect(wrong.status).toBe(200);
      expect(wrong.body).toEqual({ authStatus: "WrongCredentials" });
      const bad = await vtex("POST", "/api/vtexid/credential/validate", null, { token: "not.a.jwt" });
      expect(bad.status).toBe(401);
      expect(bad.body).toEqual({ authStatus: "WrongCredentials" });
    });

    it("shows a renewal started natively, and one started here natively", async () => {
      const key = await createAppKey("mixed renewal");
      const native = await h.request("POST", `/v1/accounts/acme/keys/${key.appKey}/renewal`);
      expect(native.status).toBe(201);
      const pending = await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/renew`, h.owner);
      expect(pending.status).toBe(409);
      expect(
        (await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/finish-renewal`, h.owner)).status,
      ).toBe(200);
      expect((await vtex("PATCH", `/api/vtexid/apikey/${key.appKey}/apitoken/renew`, h.owner)).status).toBe(
        200,
      );
      const view = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`);
      expect(view.body.pendingRenewal).toBe(true);
      const actions = (await h.store.audit.list("acme", 3)).map((event) => event.action);
      expect(actions).toContain("key.renewal_started");
    });
  });

  describe("License Manager roles under concurrency", () => {
    const ROLES = [10, 11, 20, 30, 31, 40, 50];
    const held = async (path: string) =>
      ((await vtex("GET", path, h.owner)).body as { id: number }[])
        .map((role) => role.id)
        .sort((a, b) => a - b);

    /** Every add sent at once lands; then every removal sent at once lands, leaving the first role. */
    async function composes(path: string, removalPath: (roleId: number) => string) {
      const adds = await Promise.all(ROLES.map((id) => vtex("PUT", path, h.owner, [id])));
      expect(adds.map((res) => res.status)).toEqual(ROLES.map(() => 204));
      expect(await held(path)).toEqual(ROLES);
      const removed = ROLES.slice(1);
      const removals = await Promise.all(removed.map((id) => vtex("DELETE", removalPath(id), h.owner)));
      expect(removals.map((res) => res.status)).toEqual(removed.map(() => 204));
      expect(await held(path)).toEqual([ROLES[0]]);
    }

    it("keeps every role when adds and removals of a key's roles arrive at once", async () => {
      const key = await createAppKey("concurrent-adds");
      const path = `/api/license-manager/users/${key.appKey}/roles`;
      await composes(path, (id) => `/api/license-manager/users/${key.id}/roles/${id}`);
      const events = (await h.store.audit.list("acme", 100)).filter(
        (event) => event.action === "key.roles_set" && event.targetId === key.appKey,
      );
      expect(events).toHaveLength(ROLES.length * 2 - 1);
    });

    it("does the same for a user's roles and an external key's", async () => {
      const created = await h.request("POST", "/v1/accounts/acme/users", {
        body: { email: "many@acme.test" },
      });
      const userId = created.body.user.id as string;
      const user = `/api/license-manager/users/${userId}/roles`;
      await composes(user, (id) => `/api/license-manager/users/${userId}/roles/${id}`);
      const other = await h.services.accounts.init({ account: "crowd", email: "o@crowd.test" });
      const made = await h.request("POST", "/v1/accounts/crowd/keys", {
        as: { appKey: other.appKey, appToken: other.appToken },
        body: { name: "crowded" },
      });
      const appKey = made.body.key.appKey as string;
      await h.request("POST", "/v1/accounts/acme/external-keys", { body: { appKey } });
      const external = `/api/license-manager/users/${appKey}/roles?an=acme`;
      await composes(external, (id) => `/api/license-manager/users/${appKey}/roles/${id}?an=acme`);
    });
  });

  describe("License Manager roles of an external key", () => {
    it("reads, adds and removes the roles a key of another account holds here", async () => {
      const partner = await h.services.accounts.init({ account: "partner", email: "o@partner.test" });
      const partnerOwner = { appKey: partner.appKey, appToken: partner.appToken };
      const made = await h.request("POST", "/v1/accounts/partner/keys", {
        as: partnerOwner,
        body: { name: "connector" },
      });
      expect(made.status).toBe(201);
      const appKey = made.body.key.appKey as string;
      const added = await h.request("POST", "/v1/accounts/acme/external-keys", {
        body: { appKey, roles: [10] },
      });
      expect(added.status).toBe(201);
      const path = `/api/license-manager/users/${appKey}/roles?an=acme`;
      expect((await vtex("GET", path, h.owner)).body).toEqual([{ id: 10, name: "OMS - Read only" }]);
      expect((await vtex("PUT", path, h.owner, [30])).status).toBe(204);
      const native = await h.request("GET", "/v1/accounts/acme/external-keys");
      const row = native.body.items.find((item: { appKey: string }) => item.appKey === appKey);
      expect(row.roles.map((role: { id: number }) => role.id).sort()).toEqual([10, 30]);
      expect(
        (await vtex("DELETE", `/api/license-manager/users/${appKey}/roles/10?an=acme`, h.owner)).status,
      ).toBe(204);
      expect((await vtex("GET", path, h.owner)).body.map((role: { id: number }) => role.id)).toEqual([30]);
    });
  });

  describe("keys named by id", () => {
    it("finds a key by its id without listing the account's keys", async () => {
      const key = await createAppKey("found by id");
      const listKeys = vi.spyOn(h.store.keys, "list");
      try {
        expect((await vtex("PUT", `/api/vlm/appkeys/${key.id}`, h.owner, { isActive: false })).status).toBe(
          200,
        );
        const roles = `/api/license-manager/users/${key.id}/roles`;
        expect((await vtex("PUT", roles, h.owner, [10])).status).toBe(204);
        expect((await vtex("GET", roles, h.owner)).body).toEqual([{ id: 10, name: "OMS - Read only" }]);
        expect((await vtex("DELETE", `${roles}/10`, h.owner)).status).toBe(204);
        expect((await vtex("GET", `/api/license-manager/users/${key.appKey}/roles`, h.owner)).body).toEqual(
          [],
        );
        expect(listKeys).not.toHaveBeenCalled();
      } finally {
        listKeys.mockRestore();
      }
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body).toMatchObject({
        active: false,
        roles: [],
      });
    });

    it("does not find a key of another account by its id or appKey, even one added here", async () => {
      const partner = await h.services.accounts.init({ account: "byid", email: "o@byid.test" });
      const partnerOwner = { appKey: partner.appKey, appToken: partner.appToken };
      const made = await h.request("POST", "/v1/accounts/byid/keys", {
        as: partnerOwner,
        body: { name: "theirs" },
      });
      const theirs = made.body.key as { id: string; appKey: string };
      const before = (await h.store.audit.list("byid", 1000)).length;
      const unknown = await vtex("PUT", `/api/vlm/appkeys/${theirs.id}`, h.owner, { isActive: false });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ VLMErrorCode: 17, Message: "Token not exists for this account" });
      for (const ref of [theirs.id, theirs.appKey]) {
        const res = await vtex("PUT", `/api/license-manager/users/${ref}/roles`, h.owner, [10]);
        expect(res.status, ref).toBe(400);
        expect(res.body).toEqual({ Message: "Invalid UserId" });
      }
      // Added to acme, it is found there as an external key, never as acme's own: by its appKey or
      // by the addition's id, never by the owner's id of the key.
      const addition = await h.request("POST", "/v1/accounts/acme/external-keys", {
        body: { appKey: theirs.appKey },
      });
      const added = await vtex("PUT", `/api/vlm/appkeys/${theirs.id}`, h.owner, { isActive: false });
      expect(added.status).toBe(400);
      const byOwnersId = await vtex("PUT", `/api/license-manager/users/${theirs.id}/roles`, h.owner, [10]);
      expect([byOwnersId.status, byOwnersId.body]).toEqual([400, { Message: "Invalid UserId" }]);
      expect(
        (await vtex("PUT", `/api/license-manager/users/${addition.body.id}/roles`, h.owner, [10])).status,
      ).toBe(204);
      expect((await vtex("GET", `/api/license-manager/users/${theirs.appKey}/roles`, h.owner)).body).toEqual([
        { id: 10, name: "OMS - Read only" },
      ]);
      const own = await h.request("GET", `/v1/accounts/byid/keys/${theirs.appKey}`, { as: partnerOwner });
      expect(own.body).toMatchObject({ active: true, roles: [] });
      // The owner's log has the addition, and nothing of what acme did with it.
      const after = await h.store.audit.list("byid", 1000);
      expect(after.slice(0, after.length - before).map((event) => event.action)).toEqual([
        "key.added_elsewhere",
      ]);
    });

    it("matches ids and appKeys exactly, on both databases", async () => {
      const key = await createAppKey("exact match");
      for (const ref of [key.id.toUpperCase(), ` ${key.id}`, key.appKey.toLowerCase()]) {
        const res = await vtex("PUT", `/api/vlm/appkeys/${encodeURIComponent(ref)}`, h.owner, {
          isActive: false,
        });
        expect(res.status, ref).toBe(400);
        expect(res.body.VLMErrorCode).toBe(17);
        const roles = await vtex(
          "GET",
          `/api/license-manager/users/${encodeURIComponent(ref)}/roles`,
          h.owner,
        );
        expect(roles.body).toEqual({ Message: "Invalid UserId" });
      }
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.active).toBe(true);
    });

    it("answers ids, appKeys and labels holding NUL with VTEX's 400, not a database error", async () => {
      const key = await createAppKey("nul probe");
      const nul = (text: string) => encodeURIComponent(`${text}\u0000`);
      const put = await vtex("PUT", `/api/vlm/appkeys/${nul(key.id)}`, h.owner, { isActive: false });
      expect(put.status).toBe(400);
      expect(put.body.VLMErrorCode).toBe(17);
      for (const ref of [key.id, key.appKey]) {
        const res = await vtex("PUT", `/api/license-manager/users/${nul(ref)}/roles`, h.owner, [10]);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ Message: "Invalid UserId" });
      }
      for (const step of ["renew", "finish-renewal"]) {
        const res = await vtex("PATCH", `/api/vtexid/apikey/${nul(key.appKey)}/apitoken/${step}`, h.owner);
        expect(res.status, step).toBe(400);
        expectKeys(res.body, ["Message"]);
      }
      const label = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: "bad\u0000label" });
      expect(label.status).toBe(400);
      expect(label.body).toEqual({
        Message: "name must be 1-100 characters after trimming, with no NUL character",
      });
      const login = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: `${key.appKey}\u0000`,
        apptoken: key.appToken,
      });
      expect(login.status).toBe(200);
      expect(login.body).toEqual({ authStatus: "WrongCredentials" });
      const native = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`);
      expect(native.body).toMatchObject({ active: true, roles: [], pendingRenewal: false });
    });

    it("resolves `an` whatever its case", async () => {
      const res = await vtex("GET", "/api/vlm/appkeys?an=ACME", h.owner);
      expect(res.status).toBe(200);
      expect(res.body.length).toBeGreaterThan(0);
    });
  });

  describe("errors on the VTEX paths", () => {
    it("keep VTEX's shape for an oversized body and for a session call without its CSRF token", async () => {
      const big = await h.request("POST", "/api/vlm/appkeys", {
        rawBody: JSON.stringify({ label: "x".repeat(1024 * 1024 + 10) }),
        headers: { "content-type": "application/json" },
      });
      expect(big.status).toBe(413);
      expect(Object.keys(big.body)).toEqual(["Message"]);
      const login = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "owner@acme.test", password: "correct horse battery staple" },
      });
      const cookie = (login.headers.get("set-cookie") ?? "")
        .split(",")
        .map((part) => part.split(";")[0])
        .join("; ");
      const noCsrf = await h.request("POST", "/api/vlm/appkeys", {
        as: null,
        headers: { cookie },
        body: { label: "x" },
      });
      expect(noCsrf.status).toBe(403);
      expect(Object.keys(noCsrf.body)).toEqual(["Message"]);
    });
  });
});
