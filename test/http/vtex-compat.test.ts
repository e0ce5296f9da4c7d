/**
 * What real VTEX integrations send, against latchkey: request bodies shaped exactly like VTEX's
 * reference examples (test/fixtures/vtex/, one file per operation), every documented response field
 * and type, and the details integrations rely on (letter case of fields and paths, trailing
 * slashes, `an` on app-token login, the per-account cookie, numbered duplicate labels, 24 h JWTs).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON from VTEX's reference
type Json = any;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`../fixtures/vtex/${name}.json`, import.meta.url), "utf8"));
}

const NOW_S = Date.parse("2026-11-26T10:00:00Z") / 1000;
const DAY_MS = 86_400_000;

/** Same fields as VTEX's example, each of the example's JSON type (null where the reference allows it). */
function expectShape(actual: Json, example: Json, nullable: readonly string[] = []) {
  if (Array.isArray(example)) {
    expect(Array.isArray(actual)).toBe(true);
    for (const item of actual) expectShape(item, example[0], nullable);
    return;
  }
  expect(Object.keys(actual).sort()).toEqual(Object.keys(example).sort());
  for (const [field, value] of Object.entries(example)) {
    const got = actual[field];
    if (value === null || (nullable.includes(field) && got === null)) {
      if (value === null) expect(got, field).toBeNull();
      continue;
    }
    if (Array.isArray(value)) expectShape(got, value, nullable);
    else if (typeof value === "object") expectShape(got, value, nullable);
    else expect(typeof got, field).toBe(typeof value);
  }
}

function claimsOf(jwt: string): Json {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}

describe.each(["sqlite", "postgres"] as const)("VTEX reference requests on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind, { keyPrefix: "vtexappkey" });
  });
  afterAll(() => h.close());

  type Auth = Credentials | { cookie: string } | null;
  function vtex(
    method: string,
    path: string,
    auth: Auth,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const sent: Record<string, string> = { host: "acme.vtexcommercestable.com.br", ...headers };
    if (auth && "appKey" in auth) {
      sent["X-VTEX-API-AppKey"] = auth.appKey;
      sent["X-VTEX-API-AppToken"] = auth.appToken;
    } else if (auth) sent.cookie = auth.cookie;
    return h.request(method, path, { as: null, headers: sent, ...(body === undefined ? {} : { body }) });
  }

  async function newKey(label: string, roles: number[] = []) {
    const res = await vtex("POST", "/api/vlm/appkeys", h.owner, { label });
    expect(res.status, res.text).toBe(200);
    if (roles.length > 0) {
      expect(
        (await vtex("PUT", `/api/license-manager/users/${res.body.id}/roles`, h.owner, roles)).status,
      ).toBe(204);
    }
    return {
      id: res.body.id as string,
      label: res.body.label as string,
      appKey: res.body.appKey,
      appToken: res.body.appToken,
    };
  }

  describe("app keys", () => {
    it("creates with VTEX's example body and answers every documented field", async () => {
      const op = fixture("create-new-api-key");
      const res = await vtex(op.method, op.path, h.owner, op.request);
      expect(res.status).toBe(200);
      expectShape(res.body, op.responses["200"], op.nullable);
      expect(res.body).toMatchObject({ label: op.request.label, isActive: true });
      expect(res.body.appKey).toMatch(/^vtexappkey-acme-[A-Z]{6}$/);
    });

    it("accepts a label already in use, any case, storing it numbered; the native API keeps names unique", async () => {
      const first = await newKey("Twin ERP");
      const second = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: "Twin ERP" });
      const third = await vtex("POST", "/api/vlm/appkeys", h.owner, { Label: "twin erp" });
      expect([second.status, second.body.label]).toEqual([200, "Twin ERP (2)"]);
      expect([third.status, third.body.label]).toEqual([200, "twin erp (3)"]);
      expect(new Set([first.appKey, second.body.appKey, third.body.appKey]).size).toBe(3);
      const listed = (await vtex("GET", "/api/vlm/appkeys", h.owner)).body.map((key: Json) => key.label);
      expect(listed).toEqual(expect.arrayContaining(["Twin ERP", "Twin ERP (2)", "twin erp (3)"]));
      const native = await h.request("POST", "/v1/accounts/acme/keys", { body: { name: "twin erp" } });
      expect([native.status, native.body.code]).toEqual([409, "KEY_NAME_TAKEN"]);
      // At once, each create finds its own free name.
      const raced = await Promise.all(
        [1, 2, 3].map(() => vtex("POST", "/api/vlm/appkeys", h.owner, { label: "Racer" })),
      );
      expect(raced.map((res) => res.status)).toEqual([200, 200, 200]);
      expect(raced.map((res) => res.body.label).sort()).toEqual(["Racer", "Racer (2)", "Racer (3)"]);
      // A label at the length limit stays within it when numbered.
      const long = "L".repeat(100);
      await newKey(long);
      const numbered = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: long });
      expect([numbered.status, numbered.body.label]).toEqual([200, `${"L".repeat(96)} (2)`]);
    });

    it("lists with every documented field and type", async () => {
      const op = fixture("get-api-keys-from-account");
      const res = await vtex(op.method, op.path, h.owner);
      expect(res.status).toBe(200);
      expect(res.body.length).toBeGreaterThan(0);
      expectShape(res.body, op.responses["200"]);
    });

    it("updates with VTEX's example body, in either case; an unknown id is the documented 400", async () => {
      const op = fixture("update-api-key");
      const key = await newKey("switch me");
      const off = await vtex(op.method, `/api/vlm/appkeys/${key.id}`, h.owner, op.request);
      expect([off.status, off.text]).toEqual([200, ""]);
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.active).toBe(false);
      const on = await vtex(op.method, `/api/vlm/appkeys/${key.id}`, h.owner, { IsActive: true });
      expect(on.status).toBe(200);
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`)).body.active).toBe(true);
      const unknown = await vtex(op.method, "/api/vlm/appkeys/no-such-id", h.owner, op.request);
      expect([unknown.status, unknown.body]).toEqual([400, op.responses["400"]]);
      const twice = await vtex(op.method, `/api/vlm/appkeys/${key.id}`, h.owner, {
        isActive: true,
        ISACTIVE: false,
      });
      expect(twice.status).toBe(400);
      expect(Object.keys(twice.body)).toEqual(["Message"]);
    });
  });

  describe("roles of a user or key", () => {
    it("adds with VTEX's example body: its role ids are not this account's, the documented 400", async () => {
      const op = fixture("add-roles-to-user-or-api-key");
      const key = await newKey("role target");
      const path = `/api/license-manager/users/${key.id}/roles`;
      const refused = await vtex(op.method, path, h.owner, op.request);
      expect([refused.status, refused.body]).toEqual([400, op.responses["400"]]);
      const added = await vtex(op.method, path, h.owner, [10, 30]);
      expect([added.status, added.text]).toEqual([204, ""]);
      const read = fixture("get-roles-by-user-or-api-key");
      const roles = await vtex(read.method, path, h.owner);
      expect(roles.status).toBe(200);
      expectShape(roles.body, read.responses["200"]);
      expect(roles.body.map((role: Json) => role.id)).toEqual([10, 30]);
      // Adding to an unknown user: VTEX's 400 "Invalid UserId" (docs/vtex.md).
      const nobody = await vtex(op.method, "/api/license-manager/users/nobody/roles", h.owner, [10]);
      expect([nobody.status, nobody.body]).toEqual([400, read.responses["400"]]);
    });

    it("removes idempotently: a role not held, an unknown role and an unknown user are 204 too", async () => {
      const op = fixture("remove-role-from-user-or-api-key");
      const key = await newKey("role loser", [10, 30]);
      const at = (user: string, role: number | string) => `/api/license-manager/users/${user}/roles/${role}`;
      for (const path of [at(key.id, 10), at(key.id, 10), at(key.appKey, 999999), at("nobody", 10)]) {
        const res = await vtex(op.method, path, h.owner);
        expect([res.status, res.text], path).toEqual([204, ""]);
      }
      const held = await vtex("GET", `/api/license-manager/users/${key.id}/roles`, h.owner);
      expect(held.body.map((role: Json) => role.id)).toEqual([30]);
      expect((await vtex(op.method, at(key.id, "abc"), h.owner)).status).toBe(400);
      // A caller holding only the API-key resources is answered the same for an unknown id as for a
      // user it may not manage (403): it cannot tell which user ids exist.
      const keyAdmin = await newKey("key admin only");
      const custom = await h.request("POST", "/v1/accounts/acme/roles", {
        body: { name: "Keys editors", resources: ["EditApiKeys", "ViewApiKeys"] },
      });
      await vtex("PUT", `/api/license-manager/users/${keyAdmin.id}/roles`, h.owner, [custom.body.id]);
      const ana = await h.request("POST", "/v1/accounts/acme/users", { body: { email: "ana@acme.test" } });
      const asKeyAdmin = { appKey: keyAdmin.appKey, appToken: keyAdmin.appToken };
      const realUser = await vtex(op.method, at(ana.body.user.id, 10), asKeyAdmin);
      const unknownUser = await vtex(op.method, at("nobody", 10), asKeyAdmin);
      expect([realUser.status, unknownUser.status]).toEqual([403, 403]);
    });

    it("pages roles with VTEX's example query and every documented field; numItems past the maximum is clamped", async () => {
      const op = fixture("get-list-of-roles");
      const query = new URLSearchParams(op.query).toString();
      const res = await vtex(op.method, `${op.path}?${query}`, h.owner);
      expect(res.status).toBe(200);
      expectShape(res.body, op.responses["200"]);
      expect(res.body.paging).toMatchObject({ page: 1, perPage: 10 });
      const big = await vtex(op.method, `${op.path}?numItems=100000`, h.owner);
      expect(big.status).toBe(200);
      expect(big.body.paging.perPage).toBe(200);
      expect(big.body.items.length).toBe(big.body.paging.total);
      expect((await vtex(op.method, `${op.path}?numItems=0`, h.owner)).status).toBe(400);
    });
  });

  describe("app-token login", () => {
    it("logs in with VTEX's example body: 24 h, VTEX's claims, and latchkey still verifies it", async () => {
      const op = fixture("generate-authentication-token");
      const key = await newKey("login erp", [2]);
      const body = { appkey: key.appKey, apptoken: key.appToken };
      expect(Object.keys(body)).toEqual(Object.keys(op.request));
      const res = await vtex(op.method, op.path, null, body);
      expect(res.status).toBe(200);
      expectShape(res.body, op.responses["200"]);
      expect(res.body).toMatchObject({ authStatus: "Success", expires: NOW_S + 86_400 });
      const claims = claimsOf(res.body.token);
      for (const name of Object.keys(op.tokenClaims)) expect(claims, name).toHaveProperty(name);
      expect(claims).toMatchObject({
        sub: key.appKey,
        account: "acme",
        audience: op.tokenClaims.audience,
        iss: op.tokenClaims.iss,
        userId: key.id,
        iat: NOW_S,
        exp: NOW_S + 86_400,
      });
      const header = JSON.parse(Buffer.from(res.body.token.split(".")[0], "base64url").toString("utf8"));
      expect(header.alg).toBe(op.tokenHeader.alg);
      // The native login keeps JWT_TTL (3600 s in the harness).
      const native = await h.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: { appKey: key.appKey, appToken: key.appToken },
      });
      expect(native.body.expires).toBe(NOW_S + 3600);
      const jwt = res.body.token as string;
      const use = () => vtex("GET", "/api/vlm/appkeys", null, undefined, { VtexIdclientAutCookie: jwt });
      expect((await use()).status).toBe(200);
      h.advance(DAY_MS - 60_000);
      expect((await use()).status).toBe(200);
      h.advance(120_000);
      expect((await use()).status).toBe(401);
    });

    it("reads the credentials in any letter case; the same field twice is refused", async () => {
      const key = await newKey("case erp");
      for (const body of [
        { appKey: key.appKey, appToken: key.appToken },
        { AppKey: key.appKey, AppToken: key.appToken },
        { APPKEY: key.appKey, apptoken: key.appToken },
      ]) {
        const res = await vtex("POST", "/api/vtexid/apptoken/login", null, body);
        expect([res.status, res.body.authStatus], JSON.stringify(Object.keys(body))).toEqual([
          200,
          "Success",
        ]);
      }
      const twice = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: key.appKey,
        AppKey: h.owner.appKey,
        apptoken: key.appToken,
      });
      expect(twice.status).toBe(400);
      expect(twice.text).not.toContain(key.appToken);
    });

    it("answers a failed login as VTEX's reference documents the login: 200 and authStatus, no token", async () => {
      const key = await newKey("wrong erp");
      const wrong = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: key.appKey,
        apptoken: h.owner.appToken,
      });
      expect([wrong.status, wrong.body]).toEqual([200, { authStatus: "WrongCredentials" }]);
      const unknown = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: "vtexappkey-acme-NOSUCH",
        apptoken: key.appToken,
      });
      expect([unknown.status, unknown.body]).toEqual([200, { authStatus: "WrongCredentials" }]);
      // The native path keeps SPEC's 401.
      const native = await h.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: { appKey: key.appKey, appToken: h.owner.appToken },
      });
      expect([native.status, native.body.code]).toEqual([401, "UNAUTHENTICATED"]);
    });

    it("honours `an`: a token only for an account the key has access to, with that account in it", async () => {
      const partner = await h.services.accounts.init({ account: "partner", email: "o@partner.test" });
      const partnerOwner = { appKey: partner.appKey, appToken: partner.appToken };
      const key = await newKey("shared erp", [10]);
      const body = { appkey: key.appKey, apptoken: key.appToken };
      const login = (an: string) => vtex("POST", `/api/vtexid/apptoken/login?an=${an}`, null, body);
      // Not added to partner yet: no token for it, whatever the case or shape of the name.
      for (const an of ["partner", "PARTNER", "nosuchaccount", "bad name!", "%00"]) {
        const res = await login(an);
        expect([res.status, res.body], an).toEqual([200, { authStatus: "WrongCredentials" }]);
      }
      const own = await login("ACME");
      expect(claimsOf(own.body.token).account).toBe("acme");
      const added = await h.request("POST", "/v1/accounts/partner/external-keys", {
        as: partnerOwner,
        body: { appKey: key.appKey, roles: [1] },
      });
      expect(added.status).toBe(201);
      const there = await login("Partner");
      expect(there.body.authStatus).toBe("Success");
      expect(claimsOf(there.body.token)).toMatchObject({
        account: "partner",
        sub: key.appKey,
        userId: added.body.id,
      });
      expect(there.text).not.toContain(key.id);
      // The token acts with the key's grant in partner there, and only its own grant at home.
      const jwt = { VtexIdclientAutCookie: there.body.token as string };
      const listed = await vtex("GET", "/api/vlm/appkeys?an=partner", null, undefined, jwt);
      expect(listed.status).toBe(200);
      expect(listed.body.map((k: Json) => k.appKey)).toContain(partner.appKey);
      expect((await vtex("GET", "/api/vlm/appkeys?an=acme", null, undefined, jwt)).status).toBe(403);
      // Removed from partner: no more tokens for it, and the one given is refused there.
      expect(
        (await h.request("DELETE", `/v1/accounts/partner/external-keys/${key.appKey}`, { as: partnerOwner }))
          .status,
      ).toBe(204);
      expect((await login("partner")).body).toEqual({ authStatus: "WrongCredentials" });
      expect((await vtex("GET", "/api/vlm/appkeys?an=partner", null, undefined, jwt)).status).toBe(403);
    });
  });

  describe("the storefront cookie VtexIdclientAutCookie_{account}", () => {
    async function jwtOf(credentials: Credentials) {
      const res = await vtex("POST", "/api/vtexid/apptoken/login", null, {
        appkey: credentials.appKey,
        apptoken: credentials.appToken,
      });
      return res.body.token as string;
    }

    it("authenticates as the plain cookie does, picking the cookie named for the account asked", async () => {
      const jwt = await jwtOf(h.owner);
      const named = await vtex("GET", "/api/vlm/appkeys?an=acme", {
        cookie: `VtexIdclientAutCookie_acme=${jwt}`,
      });
      expect(named.status).toBe(200);
      const several = await vtex("GET", "/api/vlm/appkeys?an=acme", {
        cookie: `VtexIdclientAutCookie_other=not.a.jwt; VtexIdclientAutCookie_acme=${jwt}`,
      });
      expect(several.status).toBe(200);
      const plain = await vtex("GET", "/api/vlm/appkeys", { cookie: `VtexIdclientAutCookie=${jwt}` });
      expect(plain.status).toBe(200);
    });

    it("grants nothing by its name: another account's key in acme's cookie gets no access to acme", async () => {
      const rival = await h.services.accounts.init({ account: "rival", email: "o@rival.test" });
      const jwt = await jwtOf({ appKey: rival.appKey, appToken: rival.appToken });
      const cookie = { cookie: `VtexIdclientAutCookie_acme=${jwt}` };
      const asked = await vtex("GET", "/api/vlm/appkeys?an=acme", cookie);
      expect(asked.status).toBe(403);
      const created = await vtex("POST", "/api/vlm/appkeys?an=acme", cookie, { label: "intruder" });
      expect(created.status).toBe(403);
      // Without `an`, the key is in its own account: acme's keys are not shown.
      const own = await vtex("GET", "/api/vlm/appkeys", cookie);
      expect(own.status).toBe(200);
      expect(own.body.every((key: Json) => key.appKey.startsWith("vtexappkey-rival-"))).toBe(true);
      // A browser page cannot make a state-changing call with it (no CSRF token for a cookie JWT).
      const owners = { cookie: `VtexIdclientAutCookie_acme=${await jwtOf(h.owner)}` };
      const forged = await vtex(
        "POST",
        "/api/vlm/appkeys?an=acme",
        owners,
        { label: "forged" },
        { origin: "https://evil.example" },
      );
      expect(forged.status).toBe(403);
    });
  });

  describe("paths and messages", () => {
    it("finds a route whatever the case of its fixed segments and with a trailing slash; ids stay exact", async () => {
      const key = await newKey("path erp", [10]);
      expect((await vtex("GET", "/API/VLM/AppKeys/", h.owner)).status).toBe(200);
      const put = await vtex("PUT", `/api/VLM/appkeys/${key.id}/`, h.owner, { isActive: true });
      expect(put.status).toBe(200);
      const roles = await vtex("GET", `/Api/License-Manager/Users/${key.appKey}/Roles/`, h.owner);
      expect([roles.status, roles.body]).toEqual([200, [{ id: 10, name: "OMS - Read only" }]]);
      const wrongCase = await vtex(
        "GET",
        `/api/license-manager/users/${key.appKey.toLowerCase()}/roles`,
        h.owner,
      );
      expect([wrongCase.status, wrongCase.body]).toEqual([400, { Message: "Invalid UserId" }]);
      const login = await vtex("POST", "/API/VTEXID/AppToken/Login/", null, {
        appkey: key.appKey,
        apptoken: key.appToken,
      });
      expect(login.body.authStatus).toBe("Success");
      const paged = await vtex("GET", "/api/license-manager/site/pvt/roles/list/paged/?numItems=1", h.owner);
      expect(paged.body.paging.perPage).toBe(1);
      const missing = await vtex("GET", "/API/VLM/nothing", h.owner);
      expect([missing.status, Object.keys(missing.body)]).toEqual([404, ["Message"]]);
      // Native paths are exact, as before.
      expect((await h.request("GET", "/V1/accounts/acme/keys")).status).toBe(404);
    });

    it("names VTEX's credential headers in its messages", async () => {
      const none = await vtex("GET", "/api/vlm/appkeys", null);
      expect(none.status).toBe(401);
      expect(none.body.Message).toContain("X-VTEX-API-AppKey");
      expect(none.body.Message).toContain("X-VTEX-API-AppToken");
      expect(none.body.Message).not.toMatch(/(^|[^A-Z])X-API-App/);
      const native = await h.request("GET", "/v1/me", { as: null });
      expect(native.body.detail).toContain("X-API-AppKey");
    });
  });
});
