/**
 * What the port answers while the server waits for its database at start (http/starting.ts): alive,
 * not ready naming the database, and 503 UNAVAILABLE everywhere else, in each path's error shape.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createStartingApp } from "../../src/http/starting.js";
import { createLogger } from "../../src/log.js";

const logger = createLogger({
  level: "info",
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});
const app = createStartingApp({
  logger,
  trustProxy: false,
  waitingFor: () => ({ dependency: "database", detail: "The database cannot be reached yet" }),
});

describe("the server while it waits for its database", () => {
  it("is alive", async () => {
    const res = await app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("is not ready, naming the database, as /readyz says it once composed", async () => {
    const res = await app.request("/readyz", { headers: { "x-request-id": "probe-1" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toEqual({
      type: "urn:latchkey:error:NOT_READY",
      title: "The service is not ready",
      status: 503,
      detail: "The database cannot be reached yet",
      code: "NOT_READY",
      requestId: "probe-1",
      dependency: "database",
    });
  });

  it.each([
    ["GET", "/v1/accounts/acme/keys"],
    ["POST", "/v1/verify"],
    ["GET", "/admin/"],
    ["GET", "/metrics"],
  ])("answers %s %s 503 UNAVAILABLE as problem+json", async (method, path) => {
    const res = await app.request(path, { method });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("x-request-id")).toEqual(expect.any(String));
    expect(await res.json()).toMatchObject({ code: "UNAVAILABLE", status: 503 });
  });

  it("answers VTEX paths in VTEX's shape", async () => {
    const res = await app.request("/api/vlm/appkeys");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      Message: "The server is starting and waits for its database; retry shortly",
    });
  });

  it("answers a gateway's subrequest with X-Auth-Code, as a fault on /v1/authorize", async () => {
    const res = await app.request("/v1/authorize", { headers: { "x-original-uri": "/x" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-auth-code")).toBe("UNAVAILABLE");
    expect(await res.text()).toBe("");
  });
});
