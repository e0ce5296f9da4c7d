/**
 * Answers carrying a secret (a token, a generated password, a JWT, the CSRF token, a webhook secret)
 * are `Cache-Control: no-store`, through one app-wide default on /v1 and the VTEX paths rather than
 * a header per route: every such answer is checked here, and a walk over /openapi.json proves the
 * default holds on every operation (only the public JWKS chooses to be cacheable).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, OWNER_PASSWORD, type TestResponse } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const ACME = "/v1/accounts/acme";

function expectNoStore(res: TestResponse, label: string, status: number) {
  expect(res.status, `${label}: ${res.text}`).toBe(status);
  expect(res.headers.get("cache-control"), label).toBe("no-store");
}

describe("Cache-Control on answers that carry a secret", () => {
  it("covers keys, renewal, share links and users on /v1", async () => {
    const created = await h.request("POST", `${ACME}/keys`, { body: { name: "inline" } });
    expectNoStore(created, "key create", 201);
    expect(created.body.appToken).toMatch(/^lkt_/);
    const renewed = await h.request("POST", `${ACME}/keys/${created.body.key.appKey}/renewal`, { body: {} });
    expectNoStore(renewed, "renewal start", 201);
    expect(renewed.body.appToken).toMatch(/^lkt_/);

    const linked = await h.request("POST", `${ACME}/keys`, { body: { name: "linked", delivery: "link" } });
    expectNoStore(linked, "key create with a share link", 201);
    const id = new URL(linked.body.shareUrl).pathname.split("/").pop();
    const revealed = await h.request("POST", `/v1/shares/${id}/reveal`, { as: null });
    expectNoStore(revealed, "share link reveal", 200);
    expect(revealed.body.appToken).toMatch(/^lkt_/);

    const user = await h.request("POST", `${ACME}/users`, { body: { email: "new@acme.test" } });
    expectNoStore(user, "user with a generated password", 201);
    expect(typeof user.body.password).toBe("string");
  });

  it("covers webhook secrets and the settings test", async () => {
    const settings = {
      renewalPeriodMonths: 3,
      notifications: { emails: [], webhooks: [{ url: "https://127.0.0.1:9/latchkey" }] },
      policies: { deactivateUnusedDays: null, maxTokenAgeDays: null },
    };
    const saved = await h.request("PUT", `${ACME}/settings/api-keys`, { body: settings });
    expectNoStore(saved, "settings with a generated webhook secret", 200);
    expect(Object.values(saved.body.webhookSecrets)).toHaveLength(1);
    // Webhook URLs may hold a secret of their own (chat webhooks do); the loopback one is refused
    // by policy before any connection.
    const tested = await h.request("POST", `${ACME}/settings/api-keys/test`);
    expect(tested.status, tested.text).toBe(200);
    expect(tested.headers.get("cache-control")).toBe("no-store");
  });

  it("covers sign-in (CSRF token) and app-token login (JWT)", async () => {
    const login = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: OWNER_PASSWORD },
    });
    expectNoStore(login, "sign-in", 200);
    expect(login.body.csrfToken).toBeTruthy();
    const jwt = await h.request("POST", "/v1/auth/apptoken", { as: null, body: h.owner });
    expectNoStore(jwt, "app-token login", 200);
    expect(jwt.body.token).toBeTruthy();
  });

  it("covers the VTEX key creation, app-token login and renewal", async () => {
    const created = await h.request("POST", "/api/vlm/appkeys?an=acme", { body: { label: "vtex" } });
    expectNoStore(created, "VTEX key create", 200);
    expect(created.body.appToken).toMatch(/^lkt_/);
    const login = await h.request("POST", "/api/vtexid/apptoken/login", {
      as: null,
      body: { appkey: created.body.appKey, apptoken: created.body.appToken },
    });
    expectNoStore(login, "VTEX app-token login", 200);
    expect(login.body.token).toBeTruthy();
    const renewed = await h.request(
      "PATCH",
      `/api/vtexid/apikey/${created.body.appKey}/apitoken/renew?an=acme`,
    );
    expectNoStore(renewed, "VTEX renew", 200);
    expect(renewed.body.newToken).toMatch(/^lkt_/);
    const refused = await h.request("GET", "/api/vlm/appkeys?an=acme", { as: null });
    expect(refused.headers.get("cache-control")).toBe("no-store");
  });

  it("is the default on every /v1 operation, refusals included; only the JWKS may be cached", async () => {
    const doc = (await h.request("GET", "/openapi.json")).body as { paths: Record<string, object> };
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const concrete = path
          .replace("{account}", "acme")
          .replace("{appKey}", "appkey-acme-ZZZZZZ")
          .replace("{id}", "100000");
        const write = !["get", "delete"].includes(method);
        const res = await h.request(method.toUpperCase(), concrete, write ? { body: {} } : {});
        const expected = path === "/.well-known/jwks.json" ? "public, max-age=300" : "no-store";
        expect(res.headers.get("cache-control"), `${method} ${path} (${res.status})`).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(35);
  });
});
