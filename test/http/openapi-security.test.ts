/**
 * /openapi.json tells a client (and /docs) how to call: the credentials each operation takes as
 * security schemes, the 429 of the failure limiter wherever it applies, and servers relative to the
 * origin the document came from.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serversOf } from "../../src/http/openapi.js";
import { createHarness, type Harness } from "../support/harness.js";

type Operation = {
  security?: Record<string, string[]>[];
  responses: Record<string, { headers?: Record<string, unknown> }>;
  "x-latchkey-access": string;
};
interface Document {
  servers: { url: string }[];
  components: { securitySchemes: Record<string, Record<string, string>> };
  paths: Record<string, Record<string, Operation>>;
}

let h: Harness;
let doc: Document;
beforeAll(async () => {
  h = await createHarness("sqlite", { rateLimit: { failures: 1, windowSeconds: 60 }, trustProxy: true });
  doc = (await h.request("GET", "/openapi.json", { as: null })).body as Document;
});
afterAll(() => h.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, method, op })),
  );

describe("/openapi.json", () => {
  it("names every credential the API reads as a security scheme", () => {
    const schemes = doc.components.securitySchemes;
    expect(schemes.appKey).toMatchObject({ type: "apiKey", in: "header", name: "X-API-AppKey" });
    expect(schemes.appToken).toMatchObject({ type: "apiKey", in: "header", name: "X-API-AppToken" });
    expect(schemes.bearer).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(schemes.session).toMatchObject({ type: "apiKey", in: "cookie", name: "lk_session" });
    expect(schemes.csrf).toMatchObject({ type: "apiKey", in: "header", name: "X-CSRF-Token" });
  });

  it("puts the credentials on every guarded operation, the CSRF token on sessions' writes, none on public ones", () => {
    const guarded = operations().filter(({ op }) => op["x-latchkey-access"] !== "public");
    expect(guarded.length).toBeGreaterThan(30);
    for (const { label, method, op } of guarded) {
      const session = method === "get" ? { session: [] } : { session: [], csrf: [] };
      expect(op.security, label).toEqual([{ appKey: [], appToken: [] }, { bearer: [] }, session]);
    }
    for (const { label, op } of operations().filter(({ op }) => op["x-latchkey-access"] === "public")) {
      expect(op.security ?? [], label).toEqual([]);
    }
  });

  it("documents 429 with Retry-After wherever the failure limiter answers", () => {
    const limitedPublic = [
      "POST /v1/auth/login",
      "POST /v1/auth/apptoken",
      "POST /v1/verify",
      "POST /v1/credentials/revoke",
      "GET /v1/authorize",
    ];
    for (const { label, op } of operations()) {
      if (op["x-latchkey-access"] === "public" && !limitedPublic.includes(label)) continue;
      expect(op.responses["429"], label).toBeDefined();
      if (label !== "GET /v1/authorize")
        expect(op.responses["429"]?.headers, label).toHaveProperty("Retry-After");
    }
  });

  it("serves the API from the document's own origin first, then PUBLIC_URL", () => {
    expect(doc.servers.map((server) => server.url)).toEqual(["/", "http://localhost"]);
    expect(serversOf("https://keys.example.com/latchkey/").map((server) => server.url)).toEqual([
      "/latchkey",
      "https://keys.example.com/latchkey",
    ]);
  });
});

describe("the documented 429", () => {
  it("is what a guarded route answers to an address over the limit, with Retry-After", async () => {
    const other = await h.createKey("another key");
    const wrong = { appKey: h.owner.appKey, appToken: other.appToken };
    const from = { "x-forwarded-for": "198.51.100.7" };
    const first = await h.request("GET", "/v1/me", { as: wrong, headers: from });
    expect(first.status).toBe(401);
    let limited = first;
    for (let i = 0; i < 3 && limited.status !== 429; i++) {
      limited = await h.request("GET", "/v1/accounts/acme/keys", { as: wrong, headers: from });
    }
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe("RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});
