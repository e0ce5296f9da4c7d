/**
 * The VTEX paths are kept out of the OpenAPI document, so the shared route-security suite does not
 * see them: this file proves the same for each of them (401 without or with bad credentials, 403
 * without the resource or from another account), in VTEX's error shape, plus account resolution
 * and the failure limiter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

describe.each(["sqlite", "postgres"] as const)("VTEX paths on %s", (kind) => {
  let h: Harness;
  let target: Awaited<ReturnType<Harness["createKey"]>>;
  let userId: string;
  let noRoles: Credentials;
  let inactive: Credentials;
  let otherOwner: Credentials;
  const lacking = new Map<string, Credentials>();

  type Route = { method: string; path: () => string; resource: string; body?: unknown };
  const ROUTES: Route[] = [
    { method: "POST", path: () => "/api/vlm/appkeys", resource: "EditApiKeys", body: { label: "x" } },
    { method: "GET", path: () => "/api/vlm/appkeys", resource: "ViewApiKeys" },
    {
      method: "PUT",
      path: () => `/api/vlm/appkeys/${target.key.id}`,
      resource: "EditApiKeys",
      body: { isActive: true },
    },
    {
      method: "GET",
      path: () => `/api/license-manager/users/${target.key.id}/roles`,
      resource: "ViewApiKeys",
    },
    {
      method: "PUT",
      path: () => `/api/license-manager/users/${target.appKey}/roles`,
      resource: "EditApiKeys",
      body: [10],
    },
    {
      method: "DELETE",
      path: () => `/api/license-manager/users/${target.key.id}/roles/10`,
      resource: "EditApiKeys",
    },
    { method: "GET", path: () => `/api/license-manager/users/${userId}/roles`, resource: "ViewAdminUsers" },
    {
      method: "PUT",
      path: () => `/api/license-manager/users/${userId}/roles`,
      resource: "EditAdminUsers",
      body: [10],
    },
    {
      method: "DELETE",
      path: () => `/api/license-manager/users/${userId}/roles/10`,
      resource: "EditAdminUsers",
    },
    {
      method: "GET",
      path: () => "/api/license-manager/site/pvt/roles/list/paged",
      resource: "ViewAdminUsers",
    },
    // Reading one user and the account's data accept either of two resources: vtex-users.test.ts.
    {
      method: "POST",
      path: () => "/api/license-manager/users",
      resource: "EditAdminUsers",
      body: { name: "x", email: "x@acme.test" },
    },
    { method: "DELETE", path: () => `/api/license-manager/users/${userId}`, resource: "EditAdminUsers" },
    {
      method: "GET",
      path: () => "/api/license-manager/site/pvt/logins/list/paged",
      resource: "ViewAdminUsers",
    },
    {
      method: "PATCH",
      path: () => `/api/vtexid/apikey/${target.appKey}/apitoken/renew`,
      resource: "RenewApiToken",
    },
    {
      method: "PATCH",
      path: () => `/api/vtexid/apikey/${target.appKey}/apitoken/finish-renewal`,
      resource: "RenewApiToken",
    },
  ];

  function vtex(
    method: string,
    path: string,
    as: Credentials | null,
    options: { body?: unknown; host?: string } = {},
  ) {
    const headers: Record<string, string> = { host: options.host ?? "localhost" };
    if (as) {
      headers["x-vtex-api-appkey"] = as.appKey;
      headers["x-vtex-api-apptoken"] = as.appToken;
    }
    return h.request(method, path, {
      as: null,
      headers,
      ...(options.body === undefined ? {} : { body: options.body }),
    });
  }

  beforeAll(async () => {
    h = await createHarness(kind, { keyPrefix: "vtexappkey" });
    target = await h.createKey("target", [10]);
    const user = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "u@acme.test", roles: [10] },
    });
    userId = user.body.user.id;
    noRoles = await h.createKey("no roles");
    inactive = await h.createKey("inactive", [1]);
    await h.request("PATCH", `/v1/accounts/acme/keys/${inactive.appKey}`, { body: { active: false } });
    const other = await h.services.accounts.init({ account: "other", email: "o@other.test" });
    otherOwner = { appKey: other.appKey, appToken: other.appToken };
    const every = h.deps.catalog.resources.map((r) => r.key);
    for (const resource of new Set(ROUTES.map((route) => route.resource))) {
      const role = await h.request("POST", "/v1/accounts/acme/roles", {
        body: { name: `all but ${resource}`, resources: every.filter((key) => key !== resource) },
      });
      lacking.set(resource, await h.createKey(`lacks ${resource}`, [role.body.id]));
    }
  });
  afterAll(() => h.close());

  describe("VTEX route security", () => {
    it("refuses every route without credentials or with bad ones: 401 {Message}", async () => {
      const forged = { appKey: target.appKey, appToken: noRoles.appToken };
      for (const route of ROUTES) {
        for (const as of [null, forged, inactive]) {
          const res = await vtex(route.method, `${route.path()}?an=acme`, as, { body: route.body });
          expect(res.status, `${route.method} ${route.path()} as ${as?.appKey ?? "nobody"}`).toBe(401);
          expect(Object.keys(res.body)).toEqual(["Message"]);
          expect(res.text).not.toContain(noRoles.appToken);
        }
      }
    });

    it("refuses every route to a key lacking its resource, or from another account: 403 {Message}", async () => {
      for (const route of ROUTES) {
        for (const as of [noRoles, lacking.get(route.resource) as Credentials, otherOwner]) {
          const res = await vtex(route.method, `${route.path()}?an=acme`, as, { body: route.body });
          expect(res.status, `${route.method} ${route.path()} as ${as.appKey}`).toBe(403);
          expect(Object.keys(res.body)).toEqual(["Message"]);
          expect(res.body.Message).toContain(route.resource);
        }
      }
    });

    it("lets a key holding the resource past the check", async () => {
      for (const route of ROUTES) {
        const res = await vtex(route.method, route.path(), h.owner, { body: route.body });
        expect([401, 403], `${route.method} ${route.path()}: ${res.text}`).not.toContain(res.status);
        expect(res.status).toBeLessThan(500);
      }
    });

    it("applies no-escalation as /v1 does: a user administrator cannot give the Owner role", async () => {
      const admin = await h.createKey("user admin", [2]);
      const res = await vtex("PUT", `/api/license-manager/users/${noRoles.appKey}/roles`, admin, {
        body: [1],
      });
      expect(res.status).toBe(403);
      expect(Object.keys(res.body)).toEqual(["Message"]);
      const roles = await vtex("GET", `/api/license-manager/users/${noRoles.appKey}/roles`, h.owner);
      expect(roles.body).toEqual([]);
    });
  });

  describe("VTEX account resolution", () => {
    it("takes `an` first, then the caller's account; an unknown account is the 403 of any other", async () => {
      // The same answer for an account that exists and one that does not: accounts cannot be probed.
      const unknown = await vtex("GET", "/api/vlm/appkeys?an=nosuchstore", h.owner);
      const foreign = await vtex("GET", "/api/vlm/appkeys?an=other", h.owner);
      expect([unknown.status, foreign.status]).toEqual([403, 403]);
      expect(Object.keys(unknown.body)).toEqual(["Message"]);
      expect(unknown.body.Message).toBe("This needs the ViewApiKeys resource in account nosuchstore");
      expect(foreign.body.Message).toBe("This needs the ViewApiKeys resource in account other");
      const malformed = await vtex("GET", "/api/vlm/appkeys?an=no_such%00store", h.owner);
      expect([malformed.status, malformed.body]).toEqual([404, { Message: "Account not found" }]);
      const mine = await vtex("GET", "/api/vlm/appkeys", otherOwner, { host: "acme.example.com" });
      expect(mine.status).toBe(200);
      expect(mine.body.map((key: { appKey: string }) => key.appKey)).toEqual([otherOwner.appKey]);
    });

    it("takes the first Host label for a signed-in user", async () => {
      const login = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "owner@acme.test", password: OWNER_PASSWORD },
      });
      const cookie = login.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; ");
      const call = (host: string) =>
        h.request("GET", "/api/vlm/appkeys", { as: null, headers: { cookie, host } });
      const acme = await call("acme.vtexcommercestable.com.br");
      expect(acme.status).toBe(200);
      expect(acme.body.map((key: { appKey: string }) => key.appKey)).toContain(target.appKey);
      const missing = await call("nosuchstore.vtexcommercestable.com.br");
      expect(missing.status).toBe(403);
      expect(Object.keys(missing.body)).toEqual(["Message"]);
    });
  });

  describe("VTEX failure limiter", () => {
    it("limits failed logins and failed key headers per address, as on /v1: 429 {Message} to failures only", async () => {
      const limited = await createHarness(kind, {
        keyPrefix: "vtexappkey",
        rateLimit: { failures: 2, windowSeconds: 60 },
        trustProxy: true,
      });
      const from = { "x-forwarded-for": "203.0.113.7" };
      try {
        // The key is in use (so its state is cached): a blocked address is served for it.
        const warm = await limited.request("GET", "/api/vlm/appkeys", {
          headers: { "x-forwarded-for": "198.51.100.9" },
        });
        expect(warm.status).toBe(200);
        const bad = { appkey: limited.owner.appKey, apptoken: "lkt_wrong" };
        // As on /v1, the attempt past the limit still answers; the address is blocked from then on.
        for (let i = 0; i < 3; i++) {
          const res = await limited.request("POST", "/api/vtexid/apptoken/login", {
            as: null,
            body: bad,
            headers: from,
          });
          expect(res.status).toBe(200);
          expect(res.body).toEqual({ authStatus: "WrongCredentials" });
        }
        const blocked = await limited.request("POST", "/api/vtexid/apptoken/login", {
          as: null,
          headers: from,
          body: bad,
        });
        expect(blocked.status).toBe(429);
        expect(Object.keys(blocked.body)).toEqual(["Message"]);
        expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
        // The right credentials still log in from that address, on both paths.
        const served = await limited.request("POST", "/api/vtexid/apptoken/login", {
          as: null,
          headers: from,
          body: { appkey: limited.owner.appKey, apptoken: limited.owner.appToken },
        });
        expect([served.status, served.body.authStatus]).toEqual([200, "Success"]);
        const native = await limited.request("POST", "/v1/auth/apptoken", {
          as: null,
          headers: from,
          body: { appKey: limited.owner.appKey, appToken: limited.owner.appToken },
        });
        expect(native.status).toBe(200);
        // The same limiter refuses the native login's failures from that address.
        const nativeBad = await limited.request("POST", "/v1/auth/apptoken", {
          as: null,
          headers: from,
          body: { appKey: limited.owner.appKey, appToken: "lkt_wrong" },
        });
        expect(nativeBad.status).toBe(429);
        const keyed = {
          ...from,
          "X-VTEX-API-AppKey": limited.owner.appKey,
          "X-VTEX-API-AppToken": "lkt_wrong",
        };
        const headerBlocked = await limited.request("GET", "/api/vlm/appkeys", { as: null, headers: keyed });
        expect(headerBlocked.status).toBe(429);
        expect(Object.keys(headerBlocked.body)).toEqual(["Message"]);
        limited.advance(61_000);
        const headers = {
          ...from,
          "X-VTEX-API-AppKey": limited.owner.appKey,
          "X-VTEX-API-AppToken": limited.owner.appToken,
        };
        expect((await limited.request("GET", "/api/vlm/appkeys", { as: null, headers })).status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });
});
