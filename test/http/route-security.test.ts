/**
 * The shared route-security suite: reads every operation from the OpenAPI document (the routes a
 * client can call) and proves, for each, 401 without or with bad credentials and 403 without the
 * resource it declares. A route added without `secure()` fails the first test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { tamperedLast } from "../support/tampered.js";

let h: Harness;
let target: Credentials;
let inactive: Credentials;
let deleted: Credentials;
let noRoles: Credentials;
let otherOwner: Credentials;
const lacking = new Map<string, Credentials>();

type Operation = { method: string; path: string; access: string };
let operations: Operation[] = [];

const PUBLIC = new Set([
  "POST /v1/auth/login",
  "POST /v1/auth/logout",
  // Password reset links: the email (always 202) or the link's code is the capability.
  "GET /v1/auth/password-reset",
  "POST /v1/auth/password-reset",
  "POST /v1/auth/password-reset/complete",
  "POST /v1/shares/{id}/reveal",
  "POST /v1/auth/apptoken",
  "GET /.well-known/jwks.json",
  "POST /v1/credentials/revoke",
  "POST /v1/verify",
  "GET /v1/authorize",
  "POST /v1/invitations/{account}/sign-up",
]);

beforeAll(async () => {
  h = await createHarness();
  const doc = (await h.request("GET", "/openapi.json")).body as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      access: String(op["x-latchkey-access"]),
    })),
  );
  target = await h.createKey("target", [10]);
  inactive = await h.createKey("inactive", [1]);
  await h.request("PATCH", `/v1/accounts/acme/keys/${inactive.appKey}`, { body: { active: false } });
  deleted = await h.createKey("deleted", [1]);
  await h.request("DELETE", `/v1/accounts/acme/keys/${deleted.appKey}`);
  noRoles = await h.createKey("no roles");
  const other = await h.services.accounts.init({ account: "other", email: "o@other.test" });
  otherOwner = { appKey: other.appKey, appToken: other.appToken };
  // For each resource: a key holding every resource but that one.
  const every = h.deps.catalog.resources.map((r) => r.key);
  for (const resource of new Set(operations.map((op) => op.access))) {
    if (!every.includes(resource)) continue;
    const role = await h.request("POST", "/v1/accounts/acme/roles", {
      body: { name: `all but ${resource}`, resources: every.filter((key) => key !== resource) },
    });
    lacking.set(resource, await h.createKey(`lacks ${resource}`, [role.body.id]));
  }
});

afterAll(() => h.close());

function concrete(path: string): string {
  return path.replace("{account}", "acme").replace("{appKey}", target.appKey).replace("{id}", "100000");
}

function call(op: Operation, as: Credentials | null) {
  const write = !["GET", "HEAD", "DELETE"].includes(op.method);
  return h.request(op.method, concrete(op.path), { as, ...(write ? { body: {} } : {}) });
}

describe("route security", () => {
  it("every API route is documented with an access rule", () => {
    expect(operations.length).toBeGreaterThanOrEqual(17);
    for (const op of operations) {
      const label = `${op.method} ${op.path}`;
      expect(op.access, label).not.toBe("undefined");
      if (op.access === "public") expect(PUBLIC.has(label), label).toBe(true);
    }
    const documented = new Set(
      operations.map((op) => `${op.method} ${op.path.replace(/\{([^}]+)\}/g, ":$1")}`),
    );
    const mounted = h.app.routes
      .filter((route) => route.path.startsWith("/v1/") && route.method !== "ALL")
      .map((route) => `${route.method} ${route.path}`);
    for (const route of mounted)
      expect(documented.has(route), `${route} is not in the OpenAPI document`).toBe(true);
  });

  it("refuses every non-public route without credentials or with bad ones (401)", async () => {
    const forged = { appKey: target.appKey, appToken: tamperedLast(target.appToken) };
    const wrong = { appKey: target.appKey, appToken: noRoles.appToken };
    for (const op of operations.filter((o) => o.access !== "public")) {
      for (const as of [null, forged, wrong, inactive, deleted]) {
        const res = await call(op, as);
        expect(res.status, `${op.method} ${op.path} as ${as?.appKey ?? "nobody"}`).toBe(401);
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        expect(res.body.code).toBe("UNAUTHENTICATED");
      }
    }
  });

  it("refuses every resource route to a key lacking that resource, or from another account (403)", async () => {
    const guarded = operations.filter((o) => !["public", "authenticated"].includes(o.access));
    expect(guarded.length).toBeGreaterThanOrEqual(14);
    for (const op of guarded) {
      for (const as of [noRoles, lacking.get(op.access) as Credentials, otherOwner]) {
        const res = await call(op, as);
        expect(res.status, `${op.method} ${op.path} as ${as.appKey}`).toBe(403);
        expect(res.body.code).toBe("FORBIDDEN");
        expect(res.body.detail).toContain(op.access);
      }
    }
  });

  it("lets a key holding the resource past the guard", async () => {
    for (const op of operations.filter((o) => !["public", "authenticated"].includes(o.access))) {
      const res = await call(op, h.owner);
      expect([401, 403], `${op.method} ${op.path}`).not.toContain(res.status);
      expect(res.status, `${op.method} ${op.path}: ${res.text}`).toBeLessThan(500);
    }
  });
});
