import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const OMS_FULL = 11;
const ORDERS = "/api/oms/pvt/orders/1234";

describe.each(["sqlite", "postgres"] as const)("verification on %s", (kind) => {
  let h: Harness;
  let betaOwner: Credentials;

  beforeAll(async () => {
    h = await createHarness(kind);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
  });
  afterAll(() => h.close());

  function verify(body: Record<string, unknown>) {
    return h.request("POST", "/v1/verify", { as: null, body });
  }

  function authorize(creds: Credentials | null, headers: Record<string, string> = {}, method = "GET") {
    return h.request("GET", "/v1/authorize", {
      as: null,
      headers: {
        "x-original-method": method,
        "x-original-uri": ORDERS,
        ...(creds ? { "x-api-appkey": creds.appKey, "x-api-apptoken": creds.appToken } : {}),
        ...headers,
      },
    });
  }

  describe("POST /v1/verify", () => {
    it("answers valid with the key's resources, and whether the asked resource is held", async () => {
      const key = await h.createKey("erp-verify", [OMS_READ]);
      const res = await verify({ appKey: key.appKey, appToken: key.appToken, resource: "ViewOrders" });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        valid: true,
        code: "OK",
        account: "acme",
        appKey: key.appKey,
        keyType: "generated",
        resources: ["ViewOrders"],
        allowed: true,
        metadata: null,
        rateLimit: null,
        quota: null,
      });
      const edit = await verify({ appKey: key.appKey, appToken: key.appToken, resource: "EditOrders" });
      expect(edit.body).toMatchObject({ valid: true, code: "RESOURCE_NOT_GRANTED", allowed: false });
      const none = await verify({ appKey: key.appKey, appToken: key.appToken });
      expect(none.body).toMatchObject({ valid: true, code: "OK", allowed: null });
    });

    it("answers 200 valid:false for wrong, malformed and inactive credentials, naming why", async () => {
      const key = await h.createKey("erp-invalid", [OMS_READ]);
      const wrong = `${key.appToken.slice(0, -7)}AAAAAAA`;
      expect((await verify({ appKey: key.appKey, appToken: wrong })).body).toMatchObject({
        valid: false,
        code: "MALFORMED_CREDENTIALS",
      });
      const other = await h.createKey("erp-other-token");
      expect((await verify({ appKey: key.appKey, appToken: other.appToken })).body).toEqual({
        valid: false,
        code: "INVALID_CREDENTIALS",
        account: null,
        appKey: null,
        keyType: null,
        resources: null,
        allowed: null,
        metadata: null,
        rateLimit: null,
        quota: null,
      });
      expect((await verify({ appKey: "appkey-acme-NOSUCH", appToken: key.appToken })).body.code).toBe(
        "INVALID_CREDENTIALS",
      );
      await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: false } });
      expect((await verify({ appKey: key.appKey, appToken: key.appToken })).body.code).toBe("KEY_INACTIVE");
    });

    it("refuses bad bodies with a precise 400", async () => {
      const key = await h.createKey("erp-bad-body");
      const unknown = await verify({ appKey: key.appKey, appToken: key.appToken, resource: "NoSuchThing" });
      expect(unknown.status).toBe(400);
      expect(unknown.body.code).toBe("UNKNOWN_RESOURCE");
      const extra = await verify({ appKey: key.appKey, appToken: key.appToken, admin: true });
      expect(extra.status).toBe(400);
      expect(extra.body.code).toBe("VALIDATION_FAILED");
      const types = await verify({ appKey: 1, appToken: key.appToken });
      expect(types.status).toBe(400);
      const nonJson = await h.request("POST", "/v1/verify", { as: null, rawBody: "appKey=x" });
      expect(nonJson.status).toBe(400);
      expect(JSON.stringify([unknown.body, extra.body, types.body])).not.toContain(key.appToken);
    });

    it("checks an external key against the grant of the account asked for", async () => {
      const key = await h.createKey("partner-app", []);
      const added = await h.request("POST", "/v1/accounts/beta/external-keys", {
        as: betaOwner,
        body: { appKey: key.appKey, roles: [OMS_FULL] },
      });
      expect(added.status, added.text).toBe(201);
      const inBeta = await verify({ ...creds(key), account: "beta", resource: "EditOrders" });
      expect(inBeta.body).toMatchObject({ valid: true, account: "beta", keyType: "external", allowed: true });
      const inAcme = await verify({ ...creds(key), resource: "EditOrders" });
      expect(inAcme.body).toMatchObject({
        valid: true,
        account: "acme",
        keyType: "generated",
        allowed: false,
      });
      const elsewhere = await verify({ ...creds(key), account: "gamma" });
      expect(elsewhere.body).toMatchObject({ valid: false, code: "ACCOUNT_NOT_GRANTED" });
    });
  });

  describe("/v1/authorize", () => {
    it("allows a mapped route the key holds, with the X-Auth headers", async () => {
      const key = await h.createKey("gateway-reader", [OMS_READ]);
      const res = await authorize(key);
      expect(res.status).toBe(200);
      expect(res.text).toBe("");
      expect(res.headers.get("x-auth-account")).toBe("acme");
      expect(res.headers.get("x-auth-appkey")).toBe(key.appKey);
      expect(res.headers.get("x-auth-key-type")).toBe("generated");
    });

    it("reads Traefik's X-Forwarded-* headers and the X-VTEX-API-* credential names", async () => {
      const key = await h.createKey("gateway-traefik", [OMS_READ]);
      const res = await h.request("POST", "/v1/authorize", {
        as: null,
        headers: {
          "x-forwarded-method": "GET",
          "x-forwarded-uri": "/api/oms/pvt/orders?page=2",
          "X-VTEX-API-AppKey": key.appKey,
          "X-VTEX-API-AppToken": key.appToken,
        },
      });
      expect(res.status).toBe(200);
      const write = await h.request("POST", "/v1/authorize", {
        as: null,
        headers: {
          "x-forwarded-method": "DELETE",
          "x-forwarded-uri": "/api/oms/pvt/orders/1",
          "x-api-appkey": key.appKey,
          "x-api-apptoken": key.appToken,
        },
      });
      expect(write.status).toBe(403);
      expect(write.headers.get("x-auth-code")).toBe("RESOURCE_NOT_GRANTED");
    });

    it("answers 401 without valid credentials and 403 on unmapped routes or missing resources", async () => {
      const reader = await h.createKey("gateway-401", [OMS_READ]);
      expect((await authorize(null)).status).toBe(401);
      const wrong = await authorize({
        appKey: reader.appKey,
        appToken: (await h.createKey("x-401")).appToken,
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("x-auth-code")).toBe("INVALID_CREDENTIALS");
      const unmapped = await authorize(reader, { "x-original-uri": "/api/unknown/thing" });
      expect(unmapped.status).toBe(403);
      expect(unmapped.headers.get("x-auth-code")).toBe("ROUTE_NOT_MAPPED");
      const traversal = await authorize(reader, {
        "x-original-uri": "/api/oms/pvt/orders/../../catalog/pvt/x",
      });
      expect(traversal.status).toBe(403);
      const owner = await authorize(h.owner, { "x-original-uri": "/api/unknown/thing" });
      expect(owner.status).toBe(403);
      const noRoles = await h.createKey("gateway-no-roles");
      expect((await authorize(noRoles)).status).toBe(403);
    });

    it("refuses a subrequest without the original URI as a gateway misconfiguration", async () => {
      const key = await h.createKey("gateway-misconfigured", [OMS_READ]);
      const res = await h.request("GET", "/v1/authorize", {
        as: null,
        headers: { "x-api-appkey": key.appKey, "x-api-apptoken": key.appToken },
      });
      expect(res.status).toBe(400);
      expect(res.headers.get("x-auth-code")).toBe("MISSING_ORIGINAL_REQUEST");
    });

    it("accepts a JWT from app-token login, and refuses it once its key is deactivated", async () => {
      const key = await h.createKey("gateway-jwt", [OMS_READ]);
      const login = await h.request("POST", "/v1/auth/apptoken", { as: null, body: creds(key) });
      expect(login.status, login.text).toBe(200);
      const bearer = await authorize(null, { authorization: `Bearer ${login.body.token}` });
      expect(bearer.status).toBe(200);
      expect(bearer.headers.get("x-auth-appkey")).toBe(key.appKey);
      const header = await authorize(null, { vtexidclientautcookie: login.body.token });
      expect(header.status).toBe(200);
      const cookie = await authorize(null, { cookie: `other=1; VtexIdclientAutCookie=${login.body.token}` });
      expect(cookie.status).toBe(200);
      const tampered = `${login.body.token.slice(0, -4)}AAAA`;
      expect((await authorize(null, { authorization: `Bearer ${tampered}` })).status).toBe(401);
      expect((await authorize(null, { authorization: "Basic dXNlcjpwYXNz" })).status).toBe(401);
      await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: false } });
      expect((await authorize(null, { authorization: `Bearer ${login.body.token}` })).status).toBe(401);
    });

    it("uses X-API-Account for external keys", async () => {
      const key = await h.createKey("gateway-partner", []);
      await h.request("POST", "/v1/accounts/beta/external-keys", {
        as: betaOwner,
        body: { appKey: key.appKey, roles: [OMS_READ] },
      });
      const res = await authorize(key, { "x-api-account": "beta" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-auth-account")).toBe("beta");
      expect(res.headers.get("x-auth-key-type")).toBe("external");
      expect((await authorize(key)).status).toBe(403);
    });
  });

  describe("the cache", () => {
    it("answers repeated verifications without reading the store", async () => {
      const key = await h.createKey("cached", [OMS_READ]);
      expect((await authorize(key)).status).toBe(200);
      const reads = countReads();
      for (let i = 0; i < 20; i++) expect((await authorize(key)).status).toBe(200);
      for (let i = 0; i < 5; i++)
        expect((await authorize({ ...key, appToken: h.owner.appToken })).status).toBe(401);
      expect(reads.stop()).toBe(0);
    });

    it("re-reads a key in use before its entry expires, and never serves an entry older than 60 s", async () => {
      // Changes made behind latchkey's back (no change message) are what the time to live is for.
      const refreshed = await h.createKey("refreshed-ahead", [OMS_READ]);
      const expired = await h.createKey("expired-entry", [OMS_READ]);
      expect((await authorize(refreshed)).status).toBe(200);
      expect((await authorize(expired)).status).toBe(200);
      const behindTheBack = { active: false, updatedAt: Date.parse("2026-11-26T10:00:00Z") };
      await h.store.keys.update("acme", refreshed.appKey, behindTheBack);
      await h.store.keys.update("acme", expired.appKey, behindTheBack);
      expect((await authorize(refreshed)).status).toBe(200);
      // Within the last third of the entry's life (it lives 48–60 s), before it can expire.
      h.advance(45_000);
      // Served from the cache at once, while the entry is re-read in the background.
      expect((await authorize(refreshed)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await authorize(refreshed)).status).toBe(401);
      h.advance(16_000);
      expect((await authorize(expired)).status).toBe(401);
    });

    it("caches unknown appKeys too", async () => {
      const token = h.owner.appToken;
      expect((await authorize({ appKey: "appkey-acme-ZZZZZZ", appToken: token })).status).toBe(401);
      const reads = countReads();
      for (let i = 0; i < 5; i++)
        expect((await authorize({ appKey: "appkey-acme-ZZZZZZ", appToken: token })).status).toBe(401);
      expect(reads.stop()).toBe(0);
    });

    it("sees every change that affects a key on the very next request", async () => {
      const key = await h.createKey("revoked-in-steps", [OMS_READ]);
      const path = `/v1/accounts/acme/keys/${key.appKey}`;
      expect((await authorize(key)).status).toBe(200);

      await h.request("PATCH", path, { body: { active: false } });
      expect((await authorize(key)).status).toBe(401);
      await h.request("PATCH", path, { body: { active: true } });
      expect((await authorize(key)).status).toBe(200);

      await h.request("PUT", `${path}/roles`, { body: { roles: [] } });
      expect((await authorize(key)).status).toBe(403);
      await h.request("PUT", `${path}/roles`, { body: { roles: [OMS_READ] } });
      expect((await authorize(key)).status).toBe(200);

      const renewed = await h.request("POST", `${path}/renewal`, { body: {} });
      const fresh = { appKey: key.appKey, appToken: renewed.body.appToken as string };
      expect((await authorize(fresh)).status).toBe(200);
      expect((await authorize(key)).status).toBe(200);
      await h.request("DELETE", `${path}/renewal`);
      expect((await authorize(fresh)).status).toBe(401);
      const again = await h.request("POST", `${path}/renewal`, { body: {} });
      await h.request("POST", `${path}/renewal/complete`);
      expect((await authorize(key)).status).toBe(401);
      const current = { appKey: key.appKey, appToken: again.body.appToken as string };
      expect((await authorize(current)).status).toBe(200);

      await h.request("DELETE", path);
      expect((await authorize(current)).status).toBe(401);
    });

    it("sees custom role edits and external grant changes at once", async () => {
      const role = await h.request("POST", "/v1/accounts/acme/roles", {
        body: { name: "Order readers", resources: ["ViewOrders"] },
      });
      expect(role.status, role.text).toBe(201);
      const key = await h.createKey("custom-role-holder", [role.body.id]);
      expect((await authorize(key)).status).toBe(200);
      await h.request("PUT", `/v1/accounts/acme/roles/${role.body.id}`, {
        body: { name: "Order readers", resources: ["ViewProducts"] },
      });
      expect((await authorize(key)).status).toBe(403);

      const partner = await h.createKey("grant-changes", []);
      const base = `/v1/accounts/beta/external-keys/${partner.appKey}`;
      await h.request("POST", "/v1/accounts/beta/external-keys", {
        as: betaOwner,
        body: { appKey: partner.appKey, roles: [OMS_READ] },
      });
      expect((await authorize(partner, { "x-api-account": "beta" })).status).toBe(200);
      await h.request("PUT", `${base}/roles`, { as: betaOwner, body: { roles: [] } });
      expect((await authorize(partner, { "x-api-account": "beta" })).status).toBe(403);
      await h.request("PUT", `${base}/roles`, { as: betaOwner, body: { roles: [OMS_READ] } });
      expect((await authorize(partner, { "x-api-account": "beta" })).status).toBe(200);
      await h.request("DELETE", base, { as: betaOwner });
      expect((await authorize(partner, { "x-api-account": "beta" })).status).toBe(403);
    });
  });

  describe("usage", () => {
    it("counts verifications per day off the request path and reports them with lastUsedAt", async () => {
      const key = await h.createKey("usage-counted", [OMS_READ]);
      for (let i = 0; i < 3; i++) expect((await authorize(key)).status).toBe(200);
      expect((await authorize(key, { "x-original-method": "DELETE" })).status).toBe(403);
      expect((await authorize({ ...key, appToken: h.owner.appToken })).status).toBe(401);
      const usagePath = `/v1/accounts/acme/keys/${key.appKey}/usage?days=2`;
      const before = await h.request("GET", usagePath);
      expect(before.body.total).toEqual({ ok: 0, denied: 0 });
      await h.services.usage.flush();
      const after = await h.request("GET", usagePath);
      expect(after.status).toBe(200);
      expect(after.body.days).toEqual([
        { date: "2026-11-25", ok: 0, denied: 0 },
        { date: "2026-11-26", ok: 3, denied: 2 },
      ]);
      expect(after.body.lastUsedAt).toMatch(/^2026-11-26T10:/);
      const shown = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}`);
      expect(shown.body.lastUsedAt).toBe(after.body.lastUsedAt);
    });

    it("adds batches from several flushes and skips keys deleted meanwhile", async () => {
      const key = await h.createKey("usage-batches", [OMS_READ]);
      const gone = await h.createKey("usage-deleted", [OMS_READ]);
      await authorize(key);
      await h.services.usage.flush();
      await authorize(key);
      await authorize(gone);
      await h.request("DELETE", `/v1/accounts/acme/keys/${gone.appKey}`);
      await h.services.usage.flush();
      const res = await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}/usage?days=1`);
      expect(res.body.total).toEqual({ ok: 2, denied: 0 });
    });

    it("refuses bad days and other accounts' keys", async () => {
      const key = await h.createKey("usage-bad-input");
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}/usage?days=0`)).status).toBe(400);
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}/usage?days=91`)).status).toBe(400);
      expect((await h.request("GET", `/v1/accounts/acme/keys/${key.appKey}/usage?week=1`)).status).toBe(400);
      const other = await h.request("GET", `/v1/accounts/beta/keys/${key.appKey}/usage`, { as: betaOwner });
      expect(other.status).toBe(404);
    });
  });

  function creds(key: Credentials) {
    return { appKey: key.appKey, appToken: key.appToken };
  }

  /** Counts key reads on the store until stopped. */
  function countReads() {
    const keys = h.store.keys as unknown as { getByAppKey: (...args: unknown[]) => unknown };
    const original = keys.getByAppKey;
    let reads = 0;
    keys.getByAppKey = (...args: unknown[]) => {
      reads++;
      return original.apply(h.store.keys, args);
    };
    return {
      stop() {
        keys.getByAppKey = original;
        return reads;
      },
    };
  }
});
