import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalogFile } from "../../src/catalog/load.js";
import { defaultCatalogFile } from "../../src/config.js";
import { createFastPath } from "../../src/http/fast-path.js";
import { createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const OTHER = 20;
const ORDERS = "/api/oms/pvt/orders/1234";
/** Headers of a forward-auth answer that both paths must send alike. */
const ANSWER_HEADERS = [
  "x-auth-account",
  "x-auth-appkey",
  "x-auth-key-type",
  "x-auth-code",
  "www-authenticate",
  "retry-after",
];

describe("/v1/authorize fast path (node:http) answers as the application route does", () => {
  let h: Harness;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    h = await createHarness("sqlite");
    const fastPath = createFastPath({
      verifier: h.services.verifier,
      catalog: loadCatalogFile(defaultCatalogFile()),
      trustProxy: false,
      logger: h.logger,
    });
    server = createServer((req, res) => {
      if (!fastPath(req, res)) res.writeHead(404, { "x-not-fast": "1" }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  async function both(headers: Record<string, string>) {
    const fast = await fetch(`${base}/v1/authorize`, { headers });
    const routed = await h.request("GET", "/v1/authorize", { as: null, headers });
    return { fast, routed };
  }

  function answered(headers: Headers) {
    return Object.fromEntries(
      ANSWER_HEADERS.flatMap((name) => {
        const value = headers.get(name);
        return value === null ? [] : [[name, value]];
      }),
    );
  }

  it.each([
    ["a key holding the route's resource", "read", 200],
    ["a wrong token", "wrong", 401],
    ["a key without the route's resource", "other", 403],
    ["no credentials", "none", 401],
    ["no original URI", "no-uri", 400],
    ["an X-API-Account that is not an account name", "bad-account", 400],
  ] as const)("%s", async (_name, kind, status) => {
    const read = await h.createKey(`fast-read-${kind}`, [OMS_READ]);
    const other = await h.createKey(`fast-other-${kind}`, [OTHER]);
    const creds =
      kind === "other" ? other : kind === "wrong" ? { appKey: read.appKey, appToken: other.appToken } : read;
    const headers: Record<string, string> = {
      "x-original-method": "GET",
      ...(kind === "no-uri" ? {} : { "x-original-uri": ORDERS }),
      ...(kind === "none" ? {} : { "x-api-appkey": creds.appKey, "x-api-apptoken": creds.appToken }),
      ...(kind === "bad-account" ? { "x-api-account": "Not-An-Account" } : {}),
    };
    const { fast, routed } = await both(headers);
    expect(fast.status).toBe(status);
    expect(routed.status).toBe(status);
    expect(answered(fast.headers)).toEqual(answered(routed.headers));
    expect(fast.headers.get("content-length")).toBe("0");
    expect(fast.headers.get("cache-control")).toBe("no-store");
    expect(await fast.text()).toBe("");
    if (status === 200) {
      expect(answered(fast.headers)).toEqual({
        "x-auth-account": "acme",
        "x-auth-appkey": read.appKey,
        "x-auth-key-type": "generated",
      });
    }
  });

  it("serves a key imported by hash with its own token shape, and refuses that shape for a native key", async () => {
    const token = "IMPORTEDVTEXTOKEN".padEnd(110, "Z");
    const tokenHash = createHash("sha256").update(token, "utf8").digest("hex");
    const appKey = "vtexappkey-acme-FASTIM";
    const imported = await h.request("POST", "/v1/accounts/acme/keys/import", {
      body: { keys: [{ name: "fast imported", appKey, tokenHash, roles: [OMS_READ] }] },
    });
    expect(imported.status).toBe(201);
    const native = await h.createKey("fast native", [OMS_READ]);
    const request = (key: string, appToken: string) => ({
      "x-original-method": "GET",
      "x-original-uri": ORDERS,
      "x-api-appkey": key,
      "x-api-apptoken": appToken,
    });
    const ok = await both(request(appKey, token));
    expect([ok.fast.status, ok.routed.status]).toEqual([200, 200]);
    expect(ok.fast.headers.get("x-auth-appkey")).toBe(appKey);
    const refused = await both(request(native.appKey, token));
    expect([refused.fast.status, refused.routed.status]).toEqual([401, 401]);
    expect(refused.fast.headers.get("x-auth-code")).toBe("INVALID_CREDENTIALS");
  });

  it("leaves every other path to the application", async () => {
    const res = await fetch(`${base}/v1/authorizex`);
    expect(res.status).toBe(404);
    expect(res.headers.get("x-not-fast")).toBe("1");
  });
});
