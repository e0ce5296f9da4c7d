/**
 * `clientIp` on POST /v1/verify: the end client's address, counted by the failure limiter instead
 * of the calling service's, believed only from callers in VERIFY_TRUSTED_PROXIES (400
 * CLIENT_IP_NOT_TRUSTED from anyone else, 400 VALIDATION_FAILED when it is not an address).
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { requestFrom } from "../support/limits.js";

const SERVICE = "10.20.0.5";
const STRANGER = "192.0.2.9";
const CLIENT = "203.0.113.50";
let h: Harness;
afterEach(() => h.close());

let key: Credentials;
let wrong: Credentials;

async function setUp(options: { trustProxy?: boolean } = {}) {
  h = await createHarness("sqlite", {
    rateLimit: { failures: 3, windowSeconds: 60 },
    verifyTrustedProxies: ["10.20.0.0/16", "fd00::/8"],
    ...options,
  });
  const made = await h.createKey("erp");
  key = { appKey: made.appKey, appToken: made.appToken };
  wrong = { appKey: key.appKey, appToken: h.owner.appToken };
}

const verify = (caller: string, body: object, headers: Record<string, string> = {}) =>
  requestFrom(h, caller, "POST", "/v1/verify", { body, headers });

describe("clientIp from a trusted caller", () => {
  it("is what the limiter counts and checks; the caller itself is not counted", async () => {
    await setUp();
    for (let i = 0; i < 4; i++) {
      const res = await verify(SERVICE, { ...wrong, clientIp: CLIENT });
      expect([res.status, res.body.valid]).toEqual([200, false]);
    }
    const refused = await verify(SERVICE, { ...wrong, clientIp: CLIENT });
    expect([refused.status, refused.body.code, refused.headers.get("retry-after")]).toEqual([
      429,
      "RATE_LIMITED",
      "60",
    ]);
    // The blocked client's valid token is still answered.
    const valid = await verify(SERVICE, { ...key, clientIp: CLIENT });
    expect([valid.status, valid.body.valid]).toEqual([200, true]);
    // Other clients of the same service, and the service's own failures, are not blocked.
    expect((await verify(SERVICE, { ...wrong, clientIp: "203.0.113.51" })).body.valid).toBe(false);
    expect((await verify(SERVICE, wrong)).body.valid).toBe(false);
    // The address is blocked as such, wherever it shows up next.
    const direct = await requestFrom(h, CLIENT, "GET", "/v1/me", { as: wrong });
    expect(direct.status).toBe(429);
  });

  it("is believed from IPv6 and IPv4-mapped callers inside the listed blocks", async () => {
    await setUp();
    for (const caller of ["fd00::1:2", "::ffff:10.20.9.9"]) {
      const res = await verify(caller, { ...key, clientIp: "2001:db8::7" });
      expect([caller, res.status, res.body.valid]).toEqual([caller, 200, true]);
    }
  });

  it("with TRUST_PROXY, is judged by the caller's address from X-Forwarded-For", async () => {
    await setUp({ trustProxy: true });
    const viaProxy = { "x-forwarded-for": `1.2.3.4, ${SERVICE}` };
    expect((await verify("127.0.0.1", { ...key, clientIp: CLIENT }, viaProxy)).status).toBe(200);
    const spoofed = { "x-forwarded-for": `${SERVICE}, ${STRANGER}` };
    const refused = await verify("127.0.0.1", { ...key, clientIp: CLIENT }, spoofed);
    expect([refused.status, refused.body.code]).toEqual([400, "CLIENT_IP_NOT_TRUSTED"]);
  });
});

describe("clientIp from any other caller", () => {
  it("is refused with 400 CLIENT_IP_NOT_TRUSTED naming the caller's address, and counts nothing", async () => {
    await setUp();
    for (let i = 0; i < 6; i++) {
      const res = await verify(STRANGER, { ...wrong, clientIp: CLIENT });
      expect([res.status, res.body.code]).toEqual([400, "CLIENT_IP_NOT_TRUSTED"]);
      expect(res.body.detail).toContain(STRANGER);
      expect(res.text).not.toContain(h.owner.appToken);
    }
    expect(h.services.limiter.blockedFor(CLIENT)).toBe(0);
    expect(h.services.limiter.blockedFor(STRANGER)).toBe(0);
    expect((await verify(STRANGER, key)).body.valid).toBe(true);
  });

  it("is refused by default: no caller is trusted unless configured", async () => {
    h = await createHarness("sqlite");
    const res = await verify("127.0.0.1", { ...h.owner, clientIp: CLIENT });
    expect([res.status, res.body.code]).toEqual([400, "CLIENT_IP_NOT_TRUSTED"]);
  });
});

describe("a clientIp that is not an IP address", () => {
  it.each(["not-an-ip", "203.0.113.500", "203.0.113", "10.0.0.1%eth0", "fe80::1%1", "", "::ffff:1.2.3"])(
    "%j is a 400 VALIDATION_FAILED, even from a trusted caller",
    async (clientIp) => {
      await setUp();
      const res = await verify(SERVICE, { ...key, clientIp });
      expect([res.status, res.body.code]).toEqual([400, "VALIDATION_FAILED"]);
      expect(res.body.errors[0].path).toBe("clientIp");
    },
  );
});

describe("VERIFY_TRUSTED_PROXIES", () => {
  it("defaults to none, and takes addresses and CIDR blocks separated by commas or spaces", () => {
    expect(loadConfig({}).verifyTrustedProxies).toEqual([]);
    expect(
      loadConfig({ VERIFY_TRUSTED_PROXIES: "10.0.0.0/8, 192.0.2.7 fd00::/8,::1" }).verifyTrustedProxies,
    ).toEqual(["10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1"]);
  });

  it("names every bad entry", () => {
    let caught: unknown;
    try {
      loadConfig({ VERIFY_TRUSTED_PROXIES: "10.0.0.0/33, 10.0.0.0/8, example.com, fd00::/129, 10.0.0.1/08" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^VERIFY_TRUSTED_PROXIES: must be IP addresses or CIDR blocks/);
    for (const bad of ["10.0.0.0/33", "example.com", "fd00::/129", "10.0.0.1/08"])
      expect(problems[0]).toContain(`"${bad}"`);
    expect(problems[0]).not.toContain('"10.0.0.0/8"');
  });
});
