import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const KEYS = "/v1/accounts/acme/keys";

async function keyCount(): Promise<number> {
  return (await h.request("GET", KEYS)).body.total;
}

describe("bad input gets a precise 4xx and changes nothing", () => {
  it("rejects non-JSON, malformed JSON, unknown fields and overlong names", async () => {
    const before = await keyCount();
    const cases: [Parameters<Harness["request"]>[2], number, string][] = [
      [
        { rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } },
        400,
        "INVALID_JSON",
      ],
      [{ rawBody: "{not json", headers: { "content-type": "application/json" } }, 400, "INVALID_JSON"],
      [{ rawBody: '{"name": "x"}' }, 400, "INVALID_JSON"],
      [{ body: [] }, 400, "VALIDATION_FAILED"],
      [{ body: { name: "x", unknown: 1 } }, 400, "VALIDATION_FAILED"],
      [{ body: { name: "x".repeat(101) } }, 400, "VALIDATION_FAILED"],
      [{ body: { name: "   " } }, 400, "VALIDATION_FAILED"],
      [{ body: { name: 42 } }, 400, "VALIDATION_FAILED"],
      [{ body: { name: "x", roles: ["1"] } }, 400, "VALIDATION_FAILED"],
      [{ body: { name: "x", roles: [1.5] } }, 400, "VALIDATION_FAILED"],
      [{ body: {} }, 400, "VALIDATION_FAILED"],
    ];
    for (const [options, status, code] of cases) {
      const res = await h.request("POST", KEYS, options);
      expect([res.status, res.body?.code], JSON.stringify(options)).toEqual([status, code]);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.body.requestId).toBe(res.headers.get("x-request-id"));
    }
    expect(await keyCount()).toBe(before);
  });

  it("names the offending field in the problem detail", async () => {
    const res = await h.request("POST", KEYS, { body: { name: "ok", colour: "red" } });
    expect(res.body.detail).toMatch(/colour/);
    expect(res.body.errors).toBeInstanceOf(Array);
  });

  it("answers 413 to bodies over 1 MiB", async () => {
    const res = await h.request("POST", KEYS, {
      rawBody: JSON.stringify({ name: "x".repeat(1024 * 1024) }),
      headers: { "content-type": "application/json", "content-length": String(1024 * 1024 + 13) },
    });
    expect([res.status, res.body.code]).toEqual([413, "BODY_TOO_LARGE"]);
  });

  it("answers unknown routes with a 404 problem, never a stack trace", async () => {
    const res = await h.request("GET", "/v1/nothing/here");
    expect([res.status, res.body.code]).toEqual([404, "NOT_FOUND"]);
  });

  it("never answers 500 to random garbage", async () => {
    const junk = [
      "",
      "null",
      "0",
      '"str"',
      "{}",
      '{"name":null}',
      '{"name":{"$gt":""}}',
      "\u0000",
      "[[[[[[",
      "🔑",
    ];
    const paths = [
      KEYS,
      `${KEYS}/appkey-acme-ZZZZZZ`,
      `${KEYS}/%00/roles`,
      "/v1/accounts/acme/roles/abc",
      "/v1/accounts/acme/users/x/roles",
      "/v1/accounts/ACME!/keys",
    ];
    for (const path of paths) {
      for (const method of ["POST", "PUT", "PATCH", "DELETE", "GET"]) {
        for (const rawBody of junk) {
          const body = method === "GET" ? {} : { rawBody };
          const res = await h.request(method, path, {
            ...body,
            headers: { "content-type": "application/json" },
          });
          expect(res.status, `${method} ${path} ${JSON.stringify(rawBody)}`).toBeLessThan(500);
        }
      }
    }
  });

  it("keeps the answer to a strange request id safe", async () => {
    const res = await h.request("GET", "/healthz", { headers: { "x-request-id": "<script>" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const ok = await h.request("GET", "/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(ok.headers.get("x-request-id")).toBe("abc-123");
  });
});
