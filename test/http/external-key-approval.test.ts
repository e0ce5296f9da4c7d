/**
 * Approval of external keys (docs/key-controls.md): with beta's requireExternalKeyApproval on, adding
 * an acme key makes a request that grants nothing and is refused with EXTERNAL_KEY_PENDING on every
 * path, until a different caller holding EditApiKeys (and the roles asked for) approves it; reject,
 * 7-day expiry, audit and bad input. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS } from "../../src/core/time.js";
import { emailText } from "../../src/notify/messages.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

const USER_ADMIN = 2;
const OMS_READ = 10;
const BETA = "/v1/accounts/beta/external-keys";
const REQUESTS = `${BETA}/requests`;

describe.each(["sqlite", "postgres"] as const)("approval of external keys on %s", (kind) => {
  let h: Harness;
  let betaOwner: Credentials;
  /** Two beta keys holding EditApiKeys (User Administrator), neither an Owner. */
  let alice: Credentials;
  let bob: Credentials;

  beforeAll(async () => {
    h = await createHarness(kind);
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
    alice = await h.createKey("alice", [USER_ADMIN], "beta", betaOwner);
    bob = await h.createKey("bob", [USER_ADMIN], "beta", betaOwner);
  });
  afterAll(() => h.close());

  async function policy(on: boolean) {
    const res = await h.request("PUT", "/v1/accounts/beta/settings/api-keys", {
      as: betaOwner,
      body: {
        renewalPeriodMonths: 3,
        notifications: { emails: ["ops@beta.test"], webhooks: [] },
        policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, requireExternalKeyApproval: on },
      },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.policies.requireExternalKeyApproval).toBe(on);
  }

  /** An acme key (holding USER_ADMIN in acme) that `as` asks beta to add with `roles`. */
  async function requested(name: string, roles: number[], as: Credentials) {
    const key = await h.createKey(name, [USER_ADMIN]);
    const res = await h.request("POST", BETA, { as, body: { appKey: key.appKey, roles } });
    expect(res.status, res.text).toBe(201);
    return { ...key, added: res.body };
  }

  const approve = (appKey: string, as: Credentials) =>
    h.request("POST", `${REQUESTS}/${appKey}/approve`, { as });
  const reject = (appKey: string, as: Credentials) =>
    h.request("POST", `${REQUESTS}/${appKey}/reject`, { as });
  const lastEvent = async (account: string) => (await h.store.audit.list(account, 1)).at(0);

  /** Every way the key can be used in beta: verify, authorize, management API, VTEX, app-token login. */
  async function usesInBeta(key: Credentials) {
    const verify = await h.request("POST", "/v1/verify", {
      as: null,
      body: { appKey: key.appKey, appToken: key.appToken, account: "beta", resource: "ViewApiKeys" },
    });
    const authorize = await h.request("GET", "/v1/authorize", {
      as: null,
      headers: {
        "x-api-appkey": key.appKey,
        "x-api-apptoken": key.appToken,
        "x-api-account": "beta",
        "x-original-method": "GET",
        "x-original-uri": "/api/oms/pvt/orders/1",
      },
    });
    const management = await h.request("GET", "/v1/accounts/beta/keys", { as: key });
    const vtex = await h.request("GET", "/api/vlm/appkeys?an=beta", {
      as: null,
      headers: { "x-vtex-api-appkey": key.appKey, "x-vtex-api-apptoken": key.appToken },
    });
    const login = await h.request("POST", "/v1/auth/apptoken", {
      as: null,
      body: { appKey: key.appKey, appToken: key.appToken, account: "beta" },
    });
    return { verify, authorize, management, vtex, login };
  }

  it("with the policy off, adding is unchanged: active at once with its roles", async () => {
    await policy(false);
    const key = await requested("direct", [USER_ADMIN], alice);
    expect(key.added).toMatchObject({ status: "active", roles: [{ id: USER_ADMIN }] });
    expect((await lastEvent("beta"))?.action).toBe("external_key.added");
    expect((await h.request("GET", REQUESTS, { as: alice })).body.items).toEqual([]);
    expect((await usesInBeta(key)).management.status).toBe(200);
  });

  it("with it on, adding makes a pending request refused on every path until someone else approves it", async () => {
    await policy(true);
    const key = await requested("pending one", [USER_ADMIN], alice);
    expect(key.added).toMatchObject({ appKey: key.appKey, account: "acme", status: "pending", roles: [] });
    const requestedEvent = await lastEvent("beta");
    expect(requestedEvent).toMatchObject({
      action: "external_key.requested",
      actorId: alice.appKey,
      targetId: key.appKey,
    });
    expect(requestedEvent?.data).toEqual({ owner: "acme", requested: { roles: [USER_ADMIN] } });
    // The account's recipients are told, with public facts only.
    const [notice] = await h.store.outbox.list("beta", 1);
    expect(notice).toMatchObject({
      event: "external_key.requested",
      channel: "email",
      target: "ops@beta.test",
    });
    expect(notice?.payload).toEqual({
      key: { appKey: key.appKey },
      owner: "acme",
      roles: ["User Administrator - RESTRICTED"],
      requestedBy: { type: "key", label: alice.appKey },
      expiresAt: "2026-12-03T10:00:00.000Z",
    });
    const mail = emailText(notice as NonNullable<typeof notice>, "https://keys.example.com");
    expect(mail.subject).toBe(`[latchkey] Approval needed: external key ${key.appKey} in account beta`);
    expect(mail.text).toContain("https://keys.example.com/admin/beta/keys/approvals");
    expect(JSON.stringify(notice)).not.toContain(key.appToken);
    // The owner learns of the key's addition only once it grants something.
    expect((await lastEvent("acme"))?.action).not.toBe("key.added_elsewhere");

    const uses = await usesInBeta(key);
    expect(uses.verify.body).toMatchObject({ valid: false, code: "EXTERNAL_KEY_PENDING", allowed: false });
    expect(uses.authorize.status).toBe(403);
    expect(uses.authorize.headers.get("x-auth-code")).toBe("EXTERNAL_KEY_PENDING");
    expect([uses.management.status, uses.management.body.code]).toEqual([403, "EXTERNAL_KEY_PENDING"]);
    expect(uses.vtex.status).toBe(403);
    expect([uses.login.status, uses.login.body.code]).toEqual([403, "EXTERNAL_KEY_PENDING"]);
    // Its own account is untouched.
    expect((await h.request("GET", "/v1/accounts/acme/keys", { as: key })).status).toBe(200);

    const asAlice = await h.request("GET", REQUESTS, { as: alice });
    expect(asAlice.status).toBe(200);
    expect(asAlice.body.items).toEqual([
      {
        id: key.added.id,
        appKey: key.appKey,
        account: "acme",
        roles: [{ id: USER_ADMIN, name: "User Administrator - RESTRICTED" }],
        requestedAt: "2026-11-26T10:00:00.000Z",
        expiresAt: "2026-12-03T10:00:00.000Z",
        requestedBy: { type: "key", id: alice.appKey, label: alice.appKey },
        byYou: true,
        keyStatus: "active",
      },
    ]);
    expect((await h.request("GET", REQUESTS, { as: bob })).body.items[0].byYou).toBe(false);
    expect((await h.request("GET", BETA, { as: bob })).body.items).toContainEqual(key.added);
    expect(asAlice.text).not.toContain(key.appToken);

    const self = await approve(key.appKey, alice);
    expect([self.status, self.body.code]).toEqual([403, "SELF_APPROVAL_DENIED"]);
    expect(await lastEvent("beta")).toMatchObject({ action: "access.refused", actorId: alice.appKey });
    expect((await usesInBeta(key)).management.body.code).toBe("EXTERNAL_KEY_PENDING");

    const approved = await approve(key.appKey, bob);
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ id: key.added.id, status: "active", roles: [{ id: USER_ADMIN }] });
    const approvedEvent = await lastEvent("beta");
    expect(approvedEvent).toMatchObject({ action: "external_key.approved", actorId: bob.appKey });
    expect(approvedEvent?.data).toEqual({
      owner: "acme",
      requestedBy: { type: "key", id: alice.appKey, label: alice.appKey },
      after: { roles: [USER_ADMIN] },
    });
    expect(await lastEvent("acme")).toMatchObject({ action: "key.added_elsewhere", targetId: key.appKey });

    const after = await usesInBeta(key);
    expect(after.verify.body).toMatchObject({ valid: true, code: "OK", keyType: "external", allowed: true });
    expect(after.management.status).toBe(200);
    expect(after.login.status).toBe(200);
    expect((await h.request("GET", REQUESTS, { as: bob })).body.items).toEqual([]);
    // Decided: a second approval finds nothing.
    expect((await approve(key.appKey, betaOwner)).body.code).toBe("EXTERNAL_KEY_REQUEST_NOT_FOUND");
  });

  it("a user and the keys that user created are one requester: neither approves the other's request", async () => {
    await policy(true);
    const user = (id: string) => ({
      actor: {
        type: "user" as const,
        id,
        label: `${id}@beta.test`,
        ip: null,
        userAgent: null,
        requestId: null,
      },
      grant: { all: true as const },
    });
    const made = await h.services.keys.create(user("u-carol"), "beta", { name: "carol's key", roles: [1] });
    const carolsKey = { appKey: made.key.appKey, appToken: (made as { appToken: string }).appToken };
    const byCarol = await h.createKey("asked by carol", []);
    await h.services.externalKeys.add(user("u-carol"), "beta", { appKey: byCarol.appKey });
    const viaKey = await approve(byCarol.appKey, carolsKey);
    expect([viaKey.status, viaKey.body.code]).toEqual([403, "SELF_APPROVAL_DENIED"]);
    const listed = await h.request("GET", REQUESTS, { as: carolsKey });
    expect(listed.body.items.find((i: { appKey: string }) => i.appKey === byCarol.appKey).byYou).toBe(true);
    // And the other way round: carol cannot approve what her key asked for.
    const byKey = await h.createKey("asked by carol's key", []);
    expect((await h.request("POST", BETA, { as: carolsKey, body: { appKey: byKey.appKey } })).status).toBe(
      201,
    );
    await expect(
      h.services.externalKeys.approve(user("u-carol"), "beta", byKey.appKey),
    ).rejects.toMatchObject({
      code: "SELF_APPROVAL_DENIED",
    });
    // Another user may approve both.
    await h.services.externalKeys.approve(user("u-dave"), "beta", byCarol.appKey);
    expect((await approve(byKey.appKey, bob)).status).toBe(200);
  });

  it("the approver gives what it grants: it must hold every resource of the roles asked for", async () => {
    await policy(true);
    const key = await requested("asks for OMS", [OMS_READ], betaOwner);
    const weak = await approve(key.appKey, bob);
    expect([weak.status, weak.body.code]).toEqual([403, "ESCALATION_DENIED"]);
    expect(await lastEvent("beta")).toMatchObject({ action: "access.refused", actorId: bob.appKey });
    // Holding no EditApiKeys at all: refused before anything is read.
    const viewer = await h.createKey("viewer", [OMS_READ], "beta", betaOwner);
    expect((await approve(key.appKey, viewer)).status).toBe(403);
    expect((await h.request("GET", REQUESTS, { as: viewer })).status).toBe(403);
    // A weak requester cannot ask for more than it holds either (the same check as adding directly).
    const other = await h.createKey("asks too much", []);
    const tooMuch = await h.request("POST", BETA, {
      as: alice,
      body: { appKey: other.appKey, roles: [OMS_READ] },
    });
    expect([tooMuch.status, tooMuch.body.code]).toEqual([403, "ESCALATION_DENIED"]);
    // Its requester may not approve it even as an Owner; another Owner may.
    expect((await approve(key.appKey, betaOwner)).body.code).toBe("SELF_APPROVAL_DENIED");
    const secondOwner = await h.createKey("second owner", [1], "beta", betaOwner);
    expect((await approve(key.appKey, secondOwner)).status).toBe(200);
  });

  it("reject (or the requester's withdrawal) removes the request, audited; the key may be asked for again", async () => {
    await policy(true);
    const key = await requested("rejected", [], alice);
    const rejected = await reject(key.appKey, bob);
    expect(rejected.status, rejected.text).toBe(204);
    const event = await lastEvent("beta");
    expect(event).toMatchObject({
      action: "external_key.rejected",
      actorId: bob.appKey,
      targetId: key.appKey,
    });
    expect(event?.data).toMatchObject({ owner: "acme", requested: { roles: [] } });
    expect((await approve(key.appKey, bob)).body.code).toBe("EXTERNAL_KEY_REQUEST_NOT_FOUND");
    expect((await reject(key.appKey, bob)).body.code).toBe("EXTERNAL_KEY_REQUEST_NOT_FOUND");
    expect((await usesInBeta(key)).verify.body.code).toBe("ACCOUNT_NOT_GRANTED");
    const again = await h.request("POST", BETA, { as: alice, body: { appKey: key.appKey } });
    expect(again.body.status).toBe("pending");
    expect((await reject(key.appKey, alice)).status).toBe(204);
  });

  it("a request expires after 7 days: it can no longer be approved, and the sweep audits it", async () => {
    await policy(true);
    const late = await requested("late", [], alice);
    h.advance(7 * DAY_MS - 1);
    const justInTime = await requested("just in time", [], alice);
    expect((await approve(late.appKey, bob)).status).toBe(200);
    h.advance(1);
    const swept = await requested("swept", [], alice);
    h.advance(7 * DAY_MS - 1);
    const expired = await approve(justInTime.appKey, bob);
    expect([expired.status, expired.body.code]).toEqual([410, "EXTERNAL_KEY_REQUEST_EXPIRED"]);
    const event = await lastEvent("beta");
    expect(event).toMatchObject({
      action: "external_key.request_expired",
      actorType: "system",
      targetId: justInTime.appKey,
    });
    expect((await approve(justInTime.appKey, bob)).body.code).toBe("EXTERNAL_KEY_REQUEST_NOT_FOUND");
    h.advance(1);
    // The scheduler's pass sweeps the rest without anyone reading the account.
    expect(await h.services.externalKeys.expireRequests()).toBe(1);
    expect(await h.services.externalKeys.expireRequests()).toBe(0);
    expect(await h.store.externalKeys.get("beta", swept.key.id)).toBeUndefined();
    expect((await h.request("GET", REQUESTS, { as: bob })).body.items).toEqual([]);
  });

  it("turning the policy off leaves pending requests pending, and they can still be approved", async () => {
    await policy(true);
    const key = await requested("before off", [USER_ADMIN], alice);
    await policy(false);
    expect((await usesInBeta(key)).management.body.code).toBe("EXTERNAL_KEY_PENDING");
    const items = (await h.request("GET", REQUESTS, { as: bob })).body.items;
    expect(items.map((item: { appKey: string }) => item.appKey)).toContain(key.appKey);
    const exported = await h.request("GET", "/v1/accounts/beta/keys/export?format=json", { as: bob });
    const row = exported.body.external.find((r: { keyName: string }) => r.keyName === key.appKey);
    expect(row).toMatchObject({ status: "pending", roles: "" });
    expect((await approve(key.appKey, bob)).status).toBe(200);
    expect((await usesInBeta(key)).management.status).toBe(200);
  });

  it("refuses bad input with a precise 4xx and changes nothing", async () => {
    await policy(true);
    const key = await requested("bad input", [USER_ADMIN], alice);
    const before = (await h.store.audit.list("beta", 1000)).length;
    const tooLong = await approve("x".repeat(101), bob);
    expect([tooLong.status, tooLong.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect((await approve("not-an-appkey", bob)).body.code).toBe("EXTERNAL_KEY_REQUEST_NOT_FOUND");
    expect((await reject("appkey-acme-NOSUCH", bob)).status).toBe(404);
    const roles = await h.request("PUT", `${BETA}/${key.appKey}/roles`, { as: bob, body: { roles: [] } });
    expect([roles.status, roles.body.code]).toEqual([409, "EXTERNAL_KEY_REQUEST_PENDING"]);
    const removed = await h.request("DELETE", `${BETA}/${key.appKey}`, { as: bob });
    expect([removed.status, removed.body.code]).toEqual([409, "EXTERNAL_KEY_REQUEST_PENDING"]);
    const twice = await h.request("POST", BETA, { as: bob, body: { appKey: key.appKey } });
    expect([twice.status, twice.body.code]).toEqual([409, "EXTERNAL_KEY_REQUEST_PENDING"]);
    const badPolicy = await h.request("PUT", "/v1/accounts/beta/settings/api-keys", {
      as: betaOwner,
      body: {
        renewalPeriodMonths: 3,
        notifications: { emails: [], webhooks: [] },
        policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, requireExternalKeyApproval: "yes" },
      },
    });
    expect([badPolicy.status, badPolicy.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect((await h.store.audit.list("beta", 1000)).length).toBe(before);
    expect((await h.request("GET", REQUESTS, { as: bob })).body.items[0]).toMatchObject({
      appKey: key.appKey,
    });
    expect((await reject(key.appKey, bob)).status).toBe(204);
  });
});
