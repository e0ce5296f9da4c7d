/**
 * Nothing a client puts in a path or query parameter produces a 5xx, on either database. Every
 * operation of /openapi.json, the VTEX paths and the pages with a parameter are called as an Owner
 * with hostile values (NUL raw and encoded, invalid UTF-8 escapes, very long text, Object.prototype
 * names, traversal, emoji…) in one parameter at a time, the others well-formed. The bodies are
 * valid, so a value that passes validation reaches the handler. A malformed `{account}` is a 400
 * before any lookup, and a well-formed unknown one stays a 403.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

/** Put into the URL as they are: escapes that decode to NUL, to nothing valid, or to a slash. */
const RAW = [
  "%00",
  "a%00b",
  "%C0%80",
  "%FF",
  "%E0%A4%A",
  "%ED%A0%80",
  "%",
  "%25",
  "..%2f..%2fpackage.json",
  "%2e%2e",
  "%0d%0aSet-Cookie:%20x=1",
  "\u0000",
];

/** Put into the URL with encodeURIComponent. */
const TEXT = [
  "\u0000",
  "acme\u0000",
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "prototype",
  "a".repeat(300),
  "b".repeat(10_000),
  "🔑",
  "🔑".repeat(2_000),
  "ACME",
  " acme",
  "acme\n",
  "-1",
  "0",
  "1.5",
  "1e400",
  "99999999999999999999999",
  "null",
  "../../package.json",
  "<script>alert(1)</script>",
  "'; drop table keys; --",
  "\u202e\ufeff",
];

const HOSTILE = [...RAW, ...TEXT.map(encodeURIComponent)];

const SETTINGS = {
  renewalPeriodMonths: 3,
  notifications: { emails: [], webhooks: [] },
  policies: { deactivateUnusedDays: null, maxTokenAgeDays: null },
};

/** A valid body for each operation that takes one, so that only the parameter is wrong. */
const BODIES: Record<string, unknown> = {
  "POST /v1/accounts/{account}/keys": { name: "fuzz" },
  "PATCH /v1/accounts/{account}/keys/{appKey}": { active: true },
  "PUT /v1/accounts/{account}/keys/{appKey}/roles": { roles: [] },
  "POST /v1/accounts/{account}/keys/{appKey}/renewal": {},
  "POST /v1/accounts/{account}/keys/{appKey}/renewal/complete": {},
  "POST /v1/shares/{id}/reveal": {},
  "POST /v1/accounts/{account}/external-keys": { appKey: "appkey-other-AAAAAA" },
  "PUT /v1/accounts/{account}/external-keys/{appKey}/roles": { roles: [] },
  "PUT /v1/accounts/{account}/settings/api-keys": SETTINGS,
  "POST /v1/accounts/{account}/roles": { name: "fuzz", resources: [] },
  "PUT /v1/accounts/{account}/roles/{id}": { name: "fuzz", resources: [] },
  "POST /v1/accounts/{account}/users": { email: "fuzz@acme.test" },
  "PUT /v1/accounts/{account}/users/{id}/roles": { roles: [] },
  "PUT /api/vlm/appkeys/{id}": { isActive: true },
  "PUT /api/license-manager/users/{userId}/roles": [],
};

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: "path" | "query" }[];
}

/** The VTEX paths and the pages are not in the OpenAPI document; `an` is VTEX's account. */
const an = { name: "an", in: "query" } as const;
const UNDOCUMENTED: Operation[] = [
  { method: "GET", path: "/api/vlm/appkeys", params: [an] },
  { method: "PUT", path: "/api/vlm/appkeys/{id}", params: [{ name: "id", in: "path" }, an] },
  ...["GET", "PUT"].map((method) => ({
    method,
    path: "/api/license-manager/users/{userId}/roles",
    params: [{ name: "userId", in: "path" as const }, an],
  })),
  {
    method: "DELETE",
    path: "/api/license-manager/users/{userId}/roles/{roleId}",
    params: [{ name: "userId", in: "path" }, { name: "roleId", in: "path" }, an],
  },
  {
    method: "GET",
    path: "/api/license-manager/site/pvt/roles/list/paged",
    params: ["numItems", "pageNumber", "sort", "sortType", "an"].map((name) => ({ name, in: "query" })),
  },
  ...["renew", "finish-renewal"].map((step) => ({
    method: "PATCH",
    path: `/api/vtexid/apikey/{apiKey}/apitoken/${step}`,
    params: [{ name: "apiKey", in: "path" as const }, an],
  })),
  { method: "GET", path: "/docs/assets/{file}", params: [{ name: "file", in: "path" }] },
  { method: "GET", path: "/share/{id}", params: [{ name: "id", in: "path" }] },
];

describe.each(["sqlite", "postgres"] as const)("hostile parameters on %s", (kind) => {
  let h: Harness;
  let operations: Operation[] = [];
  const valid: Record<string, string> = { account: "acme", file: "swagger-ui.css", roleId: "999999" };

  beforeAll(async () => {
    h = await createHarness(kind);
    const doc = (await h.request("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, { parameters?: Operation["params"] }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).filter((p) => p.in === "path" || p.in === "query"),
      })),
    );
    operations.push(...UNDOCUMENTED);
    const key = await h.createKey("fuzz target");
    const role = await h.request("POST", "/v1/accounts/acme/roles", { body: { name: "r", resources: [] } });
    const user = (await h.request("GET", "/v1/accounts/acme/users")).body.items[0];
    Object.assign(valid, { appKey: key.appKey, apiKey: key.appKey, userId: user.id, id: key.key.id });
    valid.roleIdOf = String(role.body.id);
  }, 60_000);
  afterAll(() => h?.close());

  /** The operation's URL with `hostile` as parameter `name` and well-formed values elsewhere. */
  function url(op: Operation, name: string, hostile: string): string {
    const path = op.path.replace(/\{([^}]+)\}/g, (_, param: string) => {
      if (param === name) return hostile;
      if (param === "id" && op.path.includes("/roles/")) return valid.roleIdOf as string;
      if (param === "id" && op.path.includes("/users/")) return valid.userId as string;
      return encodeURIComponent(valid[param] ?? "x");
    });
    const query = op.params.some((p) => p.in === "query" && p.name === name) ? `?${name}=${hostile}` : "";
    return `${path}${query}`;
  }

  it("answers every hostile path and query parameter with less than 500", async () => {
    expect(operations.length).toBeGreaterThan(40);
    const failures: string[] = [];
    let calls = 0;
    for (const op of operations) {
      const body = BODIES[`${op.method} ${op.path}`];
      for (const param of op.params) {
        for (const hostile of HOSTILE) {
          const target = url(op, param.name, hostile);
          const label = `${op.method} ${target.slice(0, 120)}`;
          calls++;
          try {
            // A streamed answer that breaks after its 200 throws here: that counts as a failure too.
            const res = await h.request(op.method, target, body === undefined ? {} : { body });
            if (res.status >= 500) failures.push(`${res.status} ${label}`);
          } catch (error) {
            failures.push(`${String(error)} ${label}`);
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(1500);
    expect(failures).toEqual([]);
  }, 180_000);

  it("answers hostile credential, session and precondition headers with less than 500", async () => {
    const values = [
      "constructor",
      "__proto__",
      "%00",
      "c".repeat(10_000),
      "\u00ff\u00fe",
      "Bearer ",
      "a=b; c",
    ];
    const headers = [
      "x-api-appkey",
      "x-api-apptoken",
      "authorization",
      "vtexidclientautcookie",
      "cookie",
      "x-csrf-token",
      "if-match",
      "x-forwarded-uri",
      "x-forwarded-method",
      "x-request-id",
    ];
    const targets = [
      ["GET", "/v1/me"],
      ["PUT", "/v1/accounts/acme/settings/api-keys"],
      ["POST", "/v1/auth/logout"],
      ["GET", "/v1/authorize"],
      ["GET", "/api/vlm/appkeys?an=acme"],
    ] as const;
    const failures: string[] = [];
    for (const [method, path] of targets) {
      for (const name of headers) {
        for (const value of values) {
          const sent = name === "cookie" ? `lk_session=${value}; VtexIdclientAutCookie=${value}` : value;
          const body = method === "PUT" ? { body: SETTINGS } : {};
          const res = await h.request(method, path, { ...body, as: null, headers: { [name]: sent } });
          if (res.status >= 500)
            failures.push(`${res.status} ${method} ${path} ${name}: ${value.slice(0, 20)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("refuses a malformed account with a 400 and keeps a well-formed unknown one a 403", async () => {
    for (const account of ["%00", "ACME", "a", "a".repeat(41), "__proto__", "acme%0A", "%C0%80"]) {
      const res = await h.request("GET", `/v1/accounts/${account}/keys`);
      expect([res.status, res.body.code], account).toEqual([400, "VALIDATION_FAILED"]);
    }
    for (const account of ["constructor", "nobody-here"]) {
      const res = await h.request("GET", `/v1/accounts/${account}/keys`);
      expect([res.status, res.body.code], account).toEqual([403, "FORBIDDEN"]);
    }
  });

  it("still says 401 first to a caller without credentials", async () => {
    const res = await h.request("GET", "/v1/accounts/%00/keys", { as: null });
    expect([res.status, res.body.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("refuses audit filters holding a control character with a 400", async () => {
    for (const filter of ["actor", "target"]) {
      for (const value of ["%00", "a%00b", "x%0Ay", "%7F"]) {
        const res = await h.request("GET", `/v1/accounts/acme/audit?${filter}=${value}`);
        expect([res.status, res.body.code], `${filter}=${value}`).toEqual([400, "VALIDATION_FAILED"]);
        const exported = await h.request("GET", `/v1/accounts/acme/audit/export?${filter}=${value}`);
        expect(exported.status, `export ${filter}=${value}`).toBe(400);
      }
    }
    const ok = await h.request("GET", "/v1/accounts/acme/audit?actor=system&target=🔑");
    expect(ok.status).toBe(200);
  });
});
