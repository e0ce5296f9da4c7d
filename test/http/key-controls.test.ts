import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS } from "../../src/core/time.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const OMS_READ = 10;
const ORDERS = "/api/oms/pvt/orders/1234";
const KEYS = "/v1/accounts/acme/keys";

describe.each(["sqlite", "postgres"] as const)("per-key controls on %s", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    // TRUST_PROXY: the client address is X-Forwarded-For's last entry, as the failure limiter reads it.
    h = await createHarness(kind, { trustProxy: true });
  });
  afterAll(() => h.close());

  const from = (ip: string) => ({ "x-forwarded-for": ip });

  async function create(body: Record<string, unknown>, as?: Credentials) {
    return h.request("POST", KEYS, { body: { roles: [OMS_READ], ...body }, ...(as ? { as } : {}) });
  }

  function authorize(creds: Credentials, headers: Record<string, string> = {}) {
    return h.request("GET", "/v1/authorize", {
      as: creds,
      headers: { "x-original-method": "GET", "x-original-uri": ORDERS, ...headers },
    });
  }

  function verify(creds: Credentials, headers: Record<string, string> = {}) {
    return h.request("POST", "/v1/verify", { as: null, body: { ...creds }, headers });
  }

  function credsOf(res: { body: { key: { appKey: string }; appToken: string } }): Credentials {
    return { appKey: res.body.key.appKey, appToken: res.body.appToken };
  }

  async function policies(extra: Record<string, unknown>) {
    const res = await h.request("PUT", "/v1/accounts/acme/settings/api-keys", {
      body: {
        renewalPeriodMonths: 3,
        notifications: { emails: [], webhooks: [] },
        policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, ...extra },
      },
    });
    expect(res.status).toBe(200);
  }

  describe("expiry", () => {
    it("is set on create, shown, and an expired key fails with KEY_EXPIRED yet stays listed", async () => {
      const at = new Date(h.deps.clock.now() + 2 * DAY_MS).toISOString();
      const res = await create({ name: "expiring", expiresAt: at });
      expect(res.status).toBe(201);
      expect(res.body.key).toMatchObject({ expiresAt: at, expiry: "soon" });
      const creds = credsOf(res);
      expect((await verify(creds)).body).toMatchObject({ valid: true, code: "OK" });
      h.advance(3 * DAY_MS);
      expect((await verify(creds)).body).toMatchObject({ valid: false, code: "KEY_EXPIRED" });
      const gate = await authorize(creds);
      expect(gate.status).toBe(401);
      expect(gate.headers.get("x-auth-code")).toBe("KEY_EXPIRED");
      const me = await h.request("GET", "/v1/me", { as: creds });
      expect(me.status).toBe(401);
      expect(me.body.code).toBe("KEY_EXPIRED");
      const shown = await h.request("GET", `${KEYS}/${creds.appKey}`);
      expect(shown.body).toMatchObject({ expiry: "expired", status: "active" });
      // A later expiry brings it back; null clears it; both are audited with before and after.
      const later = new Date(h.deps.clock.now() + 30 * DAY_MS).toISOString();
      const patched = await h.request("PATCH", `${KEYS}/${creds.appKey}`, { body: { expiresAt: later } });
      expect(patched.status).toBe(200);
      expect((await verify(creds)).body.code).toBe("OK");
      const cleared = await h.request("PATCH", `${KEYS}/${creds.appKey}`, { body: { expiresAt: null } });
      expect(cleared.body).toMatchObject({ expiresAt: null, expiry: "none" });
      const audit = await h.request("GET", `/v1/accounts/acme/audit?target=${creds.appKey}`);
      const changes = audit.body.items.filter((e: { action: string }) => e.action === "key.controls_changed");
      expect(changes.map((e: { data: unknown }) => e.data)).toEqual(
        expect.arrayContaining([
          { before: { expiresAt: at }, after: { expiresAt: later } },
          { before: { expiresAt: later }, after: { expiresAt: null } },
        ]),
      );
    });

    it("refuses a past or malformed expiry with a precise 400", async () => {
      const past = await create({
        name: "past",
        expiresAt: new Date(h.deps.clock.now() - 1000).toISOString(),
      });
      expect(past.status).toBe(400);
      expect(past.body.detail).toMatch(/expiresAt: must be in the future/);
      const bad = await create({ name: "bad-date", expiresAt: "next tuesday" });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe("VALIDATION_FAILED");
    });

    it("applies maxKeyLifetimeDays to creating and extending, and gives new keys the maximum", async () => {
      await policies({ maxKeyLifetimeDays: 30 });
      try {
        const now = h.deps.clock.now();
        const tooLate = await create({
          name: "too-late",
          expiresAt: new Date(now + 31 * DAY_MS).toISOString(),
        });
        expect(tooLate.status).toBe(422);
        expect(tooLate.body.code).toBe("KEY_LIFETIME_EXCEEDED");
        expect(tooLate.body.detail).toMatch(/at most 30 days/);
        const defaulted = await create({ name: "defaulted" });
        expect(defaulted.body.key.expiresAt).toBe(new Date(now + 30 * DAY_MS).toISOString());
        const { appKey } = defaulted.body.key;
        const extend = await h.request("PATCH", `${KEYS}/${appKey}`, {
          body: { expiresAt: new Date(now + 40 * DAY_MS).toISOString() },
        });
        expect(extend.status).toBe(422);
        const clear = await h.request("PATCH", `${KEYS}/${appKey}`, { body: { expiresAt: null } });
        expect(clear.status).toBe(422);
        const settings = await h.request("GET", "/v1/accounts/acme/settings/api-keys");
        expect(settings.body.policies).toMatchObject({ maxKeyLifetimeDays: 30, allowBrowserKeys: false });
      } finally {
        await policies({ maxKeyLifetimeDays: null });
      }
    });
  });

  describe("IP allowlist", () => {
    it("lets calls from inside through and refuses others with IP_NOT_ALLOWED", async () => {
      const res = await create({ name: "office-only", ipAllowlist: ["203.0.113.0/24", "2001:DB8::/32"] });
      expect(res.status).toBe(201);
      expect(res.body.key.ipAllowlist).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
      const creds = credsOf(res);
      expect((await authorize(creds, from("203.0.113.9"))).status).toBe(200);
      expect((await authorize(creds, from("2001:db8:1::5"))).status).toBe(200);
      const outside = await authorize(creds, from("198.51.100.1"));
      expect(outside.status).toBe(403);
      expect(outside.headers.get("x-auth-code")).toBe("IP_NOT_ALLOWED");
      // Only the proxy's own (last) X-Forwarded-For entry counts: a client cannot prepend one.
      expect((await authorize(creds, from("203.0.113.9, 198.51.100.1"))).status).toBe(403);
      expect((await verify(creds, from("198.51.100.1"))).body.code).toBe("IP_NOT_ALLOWED");
      const me = await h.request("GET", "/v1/me", { as: creds, headers: from("198.51.100.1") });
      expect(me.status).toBe(403);
      expect(me.body.code).toBe("IP_NOT_ALLOWED");
    });

    it("validates entries precisely", async () => {
      const cases: [unknown, RegExp][] = [
        [["10.0.0.1/8"], /ipAllowlist\.0: .*network address, e\.g\. 10\.0\.0\.0\/8/],
        [["10.0.0.0/33"], /ipAllowlist\.0: .*not an IPv4 or IPv6 address or CIDR/],
        [["example.com"], /ipAllowlist\.0/],
        [["10.0.0.0/8", "10.0.0.0/8"], /ipAllowlist\.1: .*listed twice/],
        [[], /at least one block/],
        [Array.from({ length: 101 }, (_, i) => `10.0.${i}.0/24`), /ipAllowlist/],
      ];
      for (const [ipAllowlist, message] of cases) {
        const res = await create({ name: "bad-ip", ipAllowlist });
        expect(res.status).toBe(400);
        expect(`${res.body.detail} ${JSON.stringify(res.body.errors ?? [])}`).toMatch(message);
      }
    });
  });

  describe("metadata", () => {
    it("is returned by /v1/verify and as X-Latchkey-Key-Metadata by /v1/authorize", async () => {
      const metadata = { customerId: "c-42", plan: "gold", name: "Café" };
      const res = await create({ name: "with-metadata", metadata });
      const creds = credsOf(res);
      expect((await verify(creds)).body.metadata).toEqual(metadata);
      const gate = await authorize(creds);
      expect(gate.status).toBe(200);
      const header = gate.headers.get("x-latchkey-key-metadata") ?? "";
      expect(JSON.parse(Buffer.from(header, "base64url").toString("utf8"))).toEqual(metadata);
      const plain = credsOf(await create({ name: "no-metadata" }));
      expect((await authorize(plain)).headers.get("x-latchkey-key-metadata")).toBeNull();
      expect((await verify(plain)).body.metadata).toBeNull();
    });

    it("refuses more than 4 KB and anything but an object", async () => {
      const big = await create({ name: "big", metadata: { blob: "x".repeat(4100) } });
      expect(big.status).toBe(400);
      expect(big.body.detail).toMatch(/metadata: is \d+ bytes as JSON; at most 4096/);
      expect((await create({ name: "list", metadata: [1, 2] })).status).toBe(400);
    });
  });

  describe("browser refusal", () => {
    it("refuses key credentials from browser pages unless the key allows it, per account setting", async () => {
      const creds = credsOf(await create({ name: "server-side" }));
      for (const headers of [
        { origin: "https://shop.example" },
        { "sec-fetch-site": "cross-site" },
        { "sec-fetch-mode": "no-cors" },
      ]) {
        const gate = await authorize(creds, headers);
        expect(gate.status).toBe(403);
        expect(gate.headers.get("x-auth-code")).toBe("BROWSER_REQUEST_REFUSED");
      }
      const me = await h.request("GET", "/v1/me", { as: creds, headers: { origin: "https://shop.example" } });
      expect(me.status).toBe(403);
      expect(me.body).toMatchObject({ code: "BROWSER_REQUEST_REFUSED" });
      expect(me.body.detail).toMatch(/never be used in client-side code/);
      // The JWT cookie too.
      const login = await h.request("POST", "/v1/auth/apptoken", { as: null, body: creds });
      const cookie = { cookie: `VtexIdclientAutCookie=${login.body.token}`, "sec-fetch-site": "same-site" };
      const byCookie = await h.request("GET", "/v1/me", { as: null, headers: cookie });
      expect(byCookie.body.code).toBe("BROWSER_REQUEST_REFUSED");
      // allowBrowser needs the account's policy.
      const refused = await create({ name: "browser-key", allowBrowser: true });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe("BROWSER_KEYS_DISABLED");
      await policies({ allowBrowserKeys: true });
      const allowed = await create({ name: "browser-key", allowBrowser: true });
      expect(allowed.status).toBe(201);
      expect((await authorize(credsOf(allowed), { origin: "https://shop.example" })).status).toBe(200);
      await policies({ allowBrowserKeys: false });
    });

    it("leaves the admin's session alone", async () => {
      const login = await h.request("POST", "/v1/auth/login", {
        as: null,
        body: { email: "owner@acme.test", password: "correct horse battery staple" },
      });
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const res = await h.request("GET", KEYS, {
        as: null,
        headers: { cookie, origin: "http://localhost", "sec-fetch-site": "same-origin" },
      });
      expect(res.status).toBe(200);
    });
  });

  describe("a key editing keys", () => {
    it("cannot loosen its own controls nor give looser ones than its own", async () => {
      const at = new Date(h.deps.clock.now() + 20 * DAY_MS).toISOString();
      const editorRes = await create({
        name: "restricted-editor",
        roles: [1],
        expiresAt: at,
        ipAllowlist: ["203.0.113.0/24"],
      });
      const editor = credsOf(editorRes);
      const opts = (body: unknown) => ({ as: editor, body, headers: from("203.0.113.5") });
      const own = await h.request("PATCH", `${KEYS}/${editor.appKey}`, opts({ expiresAt: null }));
      expect(own.status).toBe(403);
      expect(own.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
      const wide = await h.request("POST", KEYS, opts({ name: "wider", ipAllowlist: ["0.0.0.0/0"] }));
      expect(wide.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
      const later = new Date(h.deps.clock.now() + 60 * DAY_MS).toISOString();
      const long = await h.request("POST", KEYS, opts({ name: "longer", expiresAt: later }));
      expect(long.body.code).toBe("KEY_CONTROLS_EXCEED_CALLER");
      // With nothing asked, the new key inherits the editor's bounds.
      const child = await h.request("POST", KEYS, opts({ name: "child" }));
      expect(child.status).toBe(201);
      expect(child.body.key).toMatchObject({ expiresAt: at, ipAllowlist: ["203.0.113.0/24"] });
      const refusals = await h.request("GET", "/v1/accounts/acme/audit?action=access.refused");
      expect(refusals.body.items.length).toBeGreaterThan(0);
    });
  });

  it("exports the controls as columns", async () => {
    const res = await h.request("GET", `${KEYS}/export?format=json`);
    expect(res.status).toBe(200);
    const row = res.body.generated.find((r: { label: string }) => r.label === "office-only");
    expect(row).toMatchObject({ ipAllowlist: "203.0.113.0/24; 2001:db8::/32", allowBrowser: "false" });
    const meta = res.body.generated.find((r: { label: string }) => r.label === "with-metadata");
    expect(JSON.parse(meta.metadata)).toMatchObject({ plan: "gold" });
  });
});
