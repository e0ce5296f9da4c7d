/**
 * A fault while checking credentials (here: the store does not answer the key lookup) is one
 * behaviour everywhere: 503 UNAVAILABLE, logged. On /v1/authorize through the node:http fast path
 * and through the application route alike (empty body, X-Auth-Code), on POST /v1/verify, app-token
 * login, a management route and a VTEX-compatible route (the error shapes of their APIs).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createFastPath } from "../../src/http/fast-path.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const FAULT = "database went away";
const LOGGED = "credentials could not be checked";

let h: Harness;
let server: Server;
let fastBase: string;

beforeAll(async () => {
  h = await createHarness("sqlite");
  const fastPath = createFastPath({
    verifier: h.services.verifier,
    catalog: h.services.catalog,
    trustProxy: false,
    logger: h.logger,
  });
  server = createServer((req, res) => {
    if (!fastPath(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fastBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await h.close();
});

/** A key this instance has not read yet (so the verifier must look it up), and a store that fails it. */
async function unreadKeyWithStoreDown(name: string): Promise<Credentials> {
  const { appKey, appToken } = await h.createKey(name, [OMS_READ]);
  vi.spyOn(h.store.keys, "getByAppKey").mockRejectedValue(new Error(FAULT));
  return { appKey, appToken };
}

/** Log lines written since `from` that report the fault, parsed. */
function faultLines(from: number): Array<{ level: string; msg: string; err?: { message: string } }> {
  return h.logLines
    .slice(from)
    .map((line) => JSON.parse(line))
    .filter((line) => line.msg === LOGGED);
}

function gateway(key: Credentials) {
  return {
    "x-original-method": "GET",
    "x-original-uri": "/api/oms/pvt/orders/1",
    "x-api-appkey": key.appKey,
    "x-api-apptoken": key.appToken,
  };
}

describe("a store fault while checking credentials", () => {
  it("is 503 UNAVAILABLE, logged, on /v1/authorize through the fast path", async () => {
    const key = await unreadKeyWithStoreDown("fault-fast");
    const from = h.logLines.length;
    const res = await fetch(`${fastBase}/v1/authorize`, { headers: gateway(key) });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-auth-code")).toBe("UNAVAILABLE");
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(await res.text()).toBe("");
    const [line] = faultLines(from);
    expect(line?.level).toBe("error");
    expect(line?.err?.message).toBe(FAULT);
  });

  it("is 503 UNAVAILABLE, logged with the request id, on the /v1/authorize route", async () => {
    const key = await unreadKeyWithStoreDown("fault-routed");
    const from = h.logLines.length;
    const res = await h.request("GET", "/v1/authorize", { as: null, headers: gateway(key) });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-auth-code")).toBe("UNAVAILABLE");
    expect(res.text).toBe("");
    const lines = faultLines(from);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", requestId: res.headers.get("x-request-id") });
    expect(lines[0]?.err?.message).toBe(FAULT);
  });

  it("is a 503 UNAVAILABLE problem, logged, on POST /v1/verify", async () => {
    const key = await unreadKeyWithStoreDown("fault-verify");
    const from = h.logLines.length;
    const res = await h.request("POST", "/v1/verify", { as: null, body: key });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    expect(res.text).not.toContain(FAULT);
    expect(res.text).not.toContain(key.appToken);
    expect(faultLines(from)).toMatchObject([{ level: "error", requestId: res.body.requestId }]);
  });

  it("is a 503 UNAVAILABLE problem, logged, on app-token login", async () => {
    const key = await unreadKeyWithStoreDown("fault-login");
    const from = h.logLines.length;
    const res = await h.request("POST", "/v1/auth/apptoken", { as: null, body: key });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("UNAVAILABLE");
    expect(faultLines(from)).toMatchObject([{ level: "error", requestId: res.body.requestId }]);
  });

  it("is a 503 UNAVAILABLE problem, logged, on a management route", async () => {
    const key = await unreadKeyWithStoreDown("fault-management");
    const from = h.logLines.length;
    const res = await h.request("GET", "/v1/accounts/acme/keys", { as: key });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    expect(res.text).not.toContain(FAULT);
    expect(faultLines(from)).toMatchObject([{ level: "error", requestId: res.body.requestId }]);
  });

  it("is 503 UNAVAILABLE, logged, for a session whose lookup fails", async () => {
    const signIn = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: "correct horse battery staple" },
    });
    const cookie = signIn.headers.get("set-cookie")?.match(/lk_session=[^;]+/)?.[0] ?? "";
    expect(cookie).not.toBe("");
    vi.spyOn(h.store.sessions, "get").mockRejectedValue(new Error(FAULT));
    const from = h.logLines.length;
    const res = await h.request("GET", "/v1/accounts/acme/keys", { as: null, headers: { cookie } });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("UNAVAILABLE");
    expect(faultLines(from)).toHaveLength(1);
  });

  it("is a 503 in VTEX's shape, logged, on a VTEX-compatible route", async () => {
    const key = await unreadKeyWithStoreDown("fault-vtex");
    const from = h.logLines.length;
    const res = await h.request("GET", "/api/vlm/appkeys?an=acme", { as: key });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ Message: expect.any(String) });
    expect(res.text).not.toContain(FAULT);
    expect(faultLines(from)).toHaveLength(1);
  });
});
