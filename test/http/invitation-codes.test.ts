/**
 * Invitation codes, on SQLite and PostgreSQL. The account that created a sign-in knows its password,
 * so a session is no proof that the person is answering: an invitation is accepted or declined only
 * with the one-time code the inviting account was given, and is listed nowhere. Also: wrong codes are
 * counted by the failure limiter, codes expire and are replaced by inviting again, the invitee sees
 * no other account's appKey, VTEX answers for an invitation as for a stranger, and users may leave.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { requestFrom } from "../support/limits.js";

const OWNER_ROLE = 1;
const OMS_READ = 10;
const ACME = "/v1/accounts/acme";
const VICTIM = "/v1/accounts/victim";
const WEEK = 7 * 24 * 60 * 60 * 1000;

interface Session {
  cookie: string;
  csrf: string;
}

describe.each(["sqlite", "postgres"] as const)("invitation codes on %s", (kind) => {
  let h: Harness;
  let victim: Credentials;
  let victimPassword: string;

  beforeAll(async () => {
    h = await createHarness(kind, { rateLimit: { failures: 5, windowSeconds: 60 } });
    const init = await h.services.accounts.init({ account: "victim", email: "owner@victim.test" });
    victim = { appKey: init.appKey, appToken: init.appToken };
    victimPassword = init.password as string;
  });
  afterAll(() => h.close());

  async function signIn(email: string, password: string, ip = "198.51.100.1"): Promise<Session> {
    const res = await requestFrom(h, ip, "POST", "/v1/auth/login", { body: { email, password } });
    expect(res.status, res.text).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    return { cookie, csrf: res.body.csrfToken as string };
  }

  function asUser(s: Session, method: string, path: string, body?: unknown, ip = "198.51.100.1") {
    const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
    return requestFrom(h, ip, method, path, { headers, ...(body === undefined ? {} : { body }) });
  }

  async function invite(as: Credentials, email: string, roles: number[]) {
    const res = await h.request("POST", `${VICTIM}/users`, { as, body: { email, roles } });
    expect([res.status, res.body.user?.status], res.text).toEqual([201, "invited"]);
    return { id: res.body.user.id as string, code: res.body.invitation.code as string };
  }

  it("stops the account that made a sign-in from accepting that person's invitations", async () => {
    // acme makes alice's sign-in, and so holds her password.
    const made = await h.request("POST", `${ACME}/users`, {
      as: h.owner,
      body: { email: "alice@victim.test" },
    });
    expect([made.status, made.body.user.status], made.text).toEqual([201, "active"]);
    const password = made.body.password as string;
    // Later victim invites alice as its Owner, and gives the code to alice alone.
    const { code } = await invite(victim, "alice@victim.test", [OWNER_ROLE]);

    // acme signs in as alice: it learns of no invitation, and cannot answer one without the code.
    const acme = await signIn("alice@victim.test", password, "203.0.113.66");
    const me = await asUser(acme, "GET", "/v1/me", undefined, "203.0.113.66");
    expect(me.body).not.toHaveProperty("invitations");
    expect(me.body.accounts.map((a: { account: string }) => a.account)).toEqual(["acme"]);
    const attempts = [
      ["POST", "/v1/me/invitations/victim/preview", { code: "x".repeat(43) }],
      ["POST", "/v1/me/invitations/victim", { code: "x".repeat(43) }],
      ["POST", "/v1/me/invitations/victim", { code: "" }],
      ["DELETE", "/v1/me/invitations/victim", { code: "x".repeat(43) }],
    ] as const;
    for (const [method, path, body] of attempts) {
      const res = await asUser(acme, method, path, body, "203.0.113.66");
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([404, "INVITATION_NOT_FOUND"]);
    }
    const without = await asUser(acme, "POST", "/v1/me/invitations/victim", {}, "203.0.113.66");
    expect([without.status, without.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect((await asUser(acme, "GET", `${VICTIM}/users`, undefined, "203.0.113.66")).status).toBe(403);
    const users = (await h.request("GET", `${VICTIM}/users`, { as: victim })).body.items;
    expect(users.find((u: { email: string }) => u.email === "alice@victim.test")?.status).toBe("invited");

    // Alice, with the code, accepts: Owner of victim.
    const alice = await signIn("alice@victim.test", password);
    const accepted = await asUser(alice, "POST", "/v1/me/invitations/victim", { code });
    expect([accepted.status, accepted.body.roles], accepted.text).toEqual([
      200,
      [{ id: OWNER_ROLE, name: "Owner (Admin Super)" }],
    ]);
    // The code is spent, and was never recorded or logged.
    const again = await asUser(alice, "POST", "/v1/me/invitations/victim", { code });
    expect(again.status).toBe(404);
    const events = [...(await h.store.audit.list("victim", 500)), ...(await h.store.audit.list("acme", 500))];
    expect(JSON.stringify(events)).not.toContain(code);
    expect(h.logLines.join("\n")).not.toContain(code);
    const stored = await h.raw().selectFrom("account_members").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(code);
  });

  it("counts wrong codes as failures of the address, and then refuses even the right one", async () => {
    await h.services.accounts.init({ account: "bob-co", email: "bob@bob.test", password: "bob password 12" });
    const { code } = await invite(victim, "bob@bob.test", [OMS_READ]);
    const s = await signIn("bob@bob.test", "bob password 12");
    const ip = "192.0.2.77";
    // The limit is 5 failures: the sixth blocks the address.
    for (let i = 0; i < 6; i++) {
      const res = await asUser(
        s,
        "POST",
        "/v1/me/invitations/victim/preview",
        { code: `${i}`.repeat(43) },
        ip,
      );
      expect(res.status).toBe(404);
    }
    const blocked = await asUser(s, "POST", "/v1/me/invitations/victim", { code }, ip);
    expect([blocked.status, blocked.body.code]).toEqual([429, "RATE_LIMITED"]);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address, with the code: what is offered, then accepted.
    const seen = await asUser(s, "POST", "/v1/me/invitations/victim/preview", { code }, "192.0.2.78");
    expect(seen.body).toMatchObject({
      account: "victim",
      roles: [{ id: OMS_READ }],
      invitedBy: victim.appKey,
    });
    expect((await asUser(s, "POST", "/v1/me/invitations/victim", { code }, "192.0.2.78")).status).toBe(200);
  });

  it("expires codes after 7 days; inviting again gives a new code and kills the old one", async () => {
    await h.services.accounts.init({
      account: "carol-co",
      email: "carol@c.test",
      password: "carol password 1",
    });
    const first = await invite(victim, "carol@c.test", [OMS_READ]);
    h.advance(WEEK);
    const s = await signIn("carol@c.test", "carol password 1");
    const expired = await asUser(s, "POST", "/v1/me/invitations/victim", { code: first.code });
    expect([expired.status, expired.body.code]).toEqual([410, "INVITATION_EXPIRED"]);
    const taken = await h.request("POST", `${VICTIM}/users`, { as: victim, body: { email: "carol@c.test" } });
    expect([taken.status, taken.body.code]).toEqual([409, "USER_ALREADY_MEMBER"]);
    expect((await h.request("DELETE", `${VICTIM}/users/${first.id}`, { as: victim })).status).toBe(204);
    const second = await invite(victim, "carol@c.test", []);
    expect(second.code).not.toBe(first.code);
    const old = await asUser(s, "DELETE", "/v1/me/invitations/victim", { code: first.code });
    expect(old.status).toBe(404);
    expect((await asUser(s, "DELETE", "/v1/me/invitations/victim", { code: second.code })).status).toBe(204);
  });

  it("shows the invitee no other account's appKey as the inviter", async () => {
    await h.services.accounts.init({
      account: "dave-co",
      email: "dave@d.test",
      password: "dave password 12",
    });
    await h.services.accounts.init({
      account: "erin-co",
      email: "erin@e.test",
      password: "erin password 12",
    });
    // An acme key that victim added with the user-admin resources invites for victim.
    const acmeKey = await h.createKey("acme admin", [OWNER_ROLE]);
    const added = await h.request("POST", `${VICTIM}/external-keys`, {
      as: victim,
      body: { appKey: acmeKey.appKey, roles: [OWNER_ROLE] },
    });
    expect(added.status, added.text).toBe(201);
    const byExternal = await invite(acmeKey, "dave@d.test", [OMS_READ]);
    // A user of victim invites too.
    const victimOwner = await signIn("owner@victim.test", victimPassword);
    const byUser = await asUser(victimOwner, "POST", `${VICTIM}/users`, { email: "erin@e.test", roles: [] });
    expect(byUser.status, byUser.text).toBe(201);

    const dave = await signIn("dave@d.test", "dave password 12");
    const daveSees = await asUser(dave, "POST", "/v1/me/invitations/victim/preview", {
      code: byExternal.code,
    });
    expect(daveSees.body).toMatchObject({ account: "victim", invitedBy: null });
    expect(daveSees.text).not.toContain(acmeKey.appKey);
    const erin = await signIn("erin@e.test", "erin password 12");
    const code = byUser.body.invitation.code as string;
    const erinSees = await asUser(erin, "POST", "/v1/me/invitations/victim/preview", { code });
    expect(erinSees.body).toMatchObject({ account: "victim", invitedBy: "owner@victim.test" });
  });

  it("gives an invited user roles here through VTEX's role paths, as the native API offers them, and nothing in their own account", async () => {
    await h.services.accounts.init({ account: "frank-co", email: "frank@f.test" });
    const { id } = await invite(victim, "frank@f.test", [OWNER_ROLE]);
    const headers = { "X-VTEX-API-AppKey": victim.appKey, "X-VTEX-API-AppToken": victim.appToken };
    const call = (method: string, who: string, suffix: string, body?: unknown) =>
      h.request(method, `/api/license-manager/users/${who}/roles${suffix}?an=victim`, {
        as: null,
        headers,
        ...(body === undefined ? {} : { body }),
      });
    expect((await call("PUT", id, "", [OMS_READ])).status).toBeLessThan(300);
    const offered = await call("GET", id, "");
    expect(offered.status).toBe(200);
    expect(JSON.stringify(offered.body)).toContain(String(OMS_READ));
    expect((await call("DELETE", id, `/${OMS_READ}`)).status).toBe(204);
    // Frank's own account is not this one's to change: his Owner role there stays.
    const own = await h.store.people.getMember("frank-co", id);
    expect(own?.roleIds).toContain(OWNER_ROLE);
    // A stranger is still no one: look-ups and grants refused, removal idempotent.
    for (const [method, suffix, body] of [
      ["GET", "", undefined],
      ["PUT", "", [OMS_READ]],
    ] as const) {
      const res = await call(method, "nobody", suffix, body);
      expect([res.status, res.body], method).toEqual([400, { Message: "Invalid UserId" }]);
    }
    expect((await call("DELETE", "nobody", `/${OWNER_ROLE}`)).status).toBe(204);
  });

  it("lets a user leave an account, never its last Owner; audited there", async () => {
    await h.services.accounts.init({
      account: "gina-co",
      email: "gina@g.test",
      password: "gina password 12",
    });
    const { code } = await invite(victim, "gina@g.test", [OMS_READ]);
    const gina = await signIn("gina@g.test", "gina password 12");
    const invited = await asUser(gina, "DELETE", "/v1/me/accounts/victim");
    expect([invited.status, invited.body.code]).toEqual([404, "MEMBERSHIP_NOT_FOUND"]);
    expect((await asUser(gina, "POST", "/v1/me/invitations/victim", { code })).status).toBe(200);
    const left = await asUser(gina, "DELETE", "/v1/me/accounts/victim");
    expect(left.status, left.text).toBe(204);
    const me = await asUser(gina, "GET", "/v1/me");
    expect(me.body.accounts.map((a: { account: string }) => a.account)).toEqual(["gina-co"]);
    const [event] = await h.store.audit.list("victim", 1);
    expect(event).toMatchObject({ action: "user.left", actorLabel: "gina@g.test" });
    const last = await asUser(gina, "DELETE", "/v1/me/accounts/gina-co");
    expect([last.status, last.body.code]).toEqual([409, "LAST_OWNER"]);
    const stranger = await asUser(gina, "DELETE", "/v1/me/accounts/nowhere");
    expect([stranger.status, stranger.body.code]).toEqual([404, "MEMBERSHIP_NOT_FOUND"]);
    const key = await h.request("DELETE", "/v1/me/accounts/acme");
    expect([key.status, key.body.code]).toEqual([404, "MEMBERSHIP_NOT_FOUND"]);
  });

  it("serializes two adds of one email: the first one's offered roles stand", async () => {
    await h.services.accounts.init({ account: "hank-co", email: "hank@h.test" });
    for (let round = 0; round < 3; round++) {
      const email = round === 0 ? "hank@h.test" : `hank${round}@h.test`;
      if (round > 0) await h.services.accounts.init({ account: `hank-co${round}`, email });
      const [owner, reader] = await Promise.all([
        h.request("POST", `${VICTIM}/users`, { as: victim, body: { email, roles: [OWNER_ROLE] } }),
        h.request("POST", `${VICTIM}/users`, { as: victim, body: { email, roles: [OMS_READ] } }),
      ]);
      const statuses = [owner.status, reader.status].sort();
      expect(statuses, `${owner.text} ${reader.text}`).toEqual([201, 409]);
      const winner = owner.status === 201 ? owner : reader;
      const user = (await h.request("GET", `${VICTIM}/users`, { as: victim })).body.items.find(
        (u: { email: string }) => u.email === email,
      );
      expect(user.roles).toEqual(winner.body.user.roles);
    }
  });
});
