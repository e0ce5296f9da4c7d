/**
 * A database that cannot be reached, met past the credential check (a public route, a use case's
 * query), is a 503 UNAVAILABLE the caller may retry, logged as a warning: never a 500. Any other
 * fault stays a generic 500 (problem.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("sqlite");
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await h.close();
});

const refused = () =>
  Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

function signIn() {
  return h.request("POST", "/v1/auth/login", {
    as: null,
    body: { email: "owner@acme.test", password: "not the password" },
  });
}

describe("a database that cannot be reached", () => {
  it("is 503 UNAVAILABLE on a public route, logged as a warning without the URL", async () => {
    vi.spyOn(h.store.people, "getUserByEmail").mockRejectedValue(refused());
    const from = h.logLines.length;
    const res = await signIn();
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    expect(res.text).not.toContain("ECONNREFUSED");
    const line = h.logLines
      .slice(from)
      .map((text) => JSON.parse(text))
      .find((logged) => logged.msg === "the database cannot be reached");
    expect(line).toMatchObject({
      level: "warn",
      requestId: res.body.requestId,
      error: "connect ECONNREFUSED 127.0.0.1:5432",
    });
  });

  it("is 503 UNAVAILABLE when a query fails behind a passed credential check", async () => {
    const dropped = new Error("Connection terminated unexpectedly");
    vi.spyOn(h.store.keys, "list").mockRejectedValue(dropped);
    const res = await h.request("GET", "/v1/accounts/acme/keys");
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "UNAVAILABLE" });
  });

  it("leaves any other fault a generic 500", async () => {
    vi.spyOn(h.store.people, "getUserByEmail").mockRejectedValue(new Error("something else"));
    const res = await signIn();
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: "INTERNAL" });
  });
});
