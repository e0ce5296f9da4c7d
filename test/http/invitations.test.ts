/**
 * Consent across accounts, on SQLite and PostgreSQL. Users are installation-wide, so another account
 * adding an email that already has a sign-in only invites that person: until they accept, signed in
 * and with the code the inviting account was given, the membership grants nothing there and their
 * sign-ins are not recorded there. A password sent with such an add is ignored and the answer has the
 * same shape as without one. (Codes themselves: invitation-codes.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const OWNER_ROLE = 1;
const USER_ADMIN = 2;
const OMS_READ = 10;
const ACME_OWNER = "owner@acme.test";
const BETA = "/v1/accounts/beta";

interface Session {
  cookie: string;
  csrf: string;
}

describe.each(["sqlite", "postgres"] as const)("invitations on %s", (kind) => {
  let h: Harness;
  let beta: Credentials;
  let acmeOwnerId: string;

  beforeAll(async () => {
    h = await createHarness(kind);
    const init = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    beta = { appKey: init.appKey, appToken: init.appToken };
    acmeOwnerId = (await h.deps.store.people.getUserByEmail(ACME_OWNER))?.id as string;
  });
  afterAll(() => h.close());

  async function signIn(email: string, password: string): Promise<Session> {
    const res = await h.request("POST", "/v1/auth/login", { as: null, body: { email, password } });
    expect(res.status, res.text).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    return { cookie, csrf: res.body.csrfToken as string };
  }

  function asUser(s: Session, method: string, path: string, body?: unknown) {
    const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
    return h.request(method, path, { as: null, headers, ...(body === undefined ? {} : { body }) });
  }

  /** Beta's events about acme's Owner (sign-ins and invitation answers are theirs as actor). */
  async function betaEventsOf(userId: string): Promise<string[]> {
    const events = await h.store.audit.list("beta", 500);
    return events.filter((e) => e.actorId === userId).map((e) => e.action);
  }

  async function invite(email: string, roles: number[], extra: Record<string, unknown> = {}) {
    return h.request("POST", `${BETA}/users`, { as: beta, body: { email, roles, ...extra } });
  }

  /** Invites and returns the code the answer carries. */
  async function codeFor(email: string, roles: number[]): Promise<string> {
    const res = await invite(email, roles);
    expect(res.status, res.text).toBe(201);
    return res.body.invitation.code as string;
  }

  let acmeCode = "";

  it("invites another account's Owner: pending, granting nothing and recording none of their sign-ins", async () => {
    const added = await invite(ACME_OWNER, [USER_ADMIN, OMS_READ]);
    expect(added.status, added.text).toBe(201);
    expect(added.body).toEqual({
      user: expect.objectContaining({ status: "invited" }),
      invitation: {
        code: expect.any(String),
        url: expect.any(String),
        expiresAt: "2026-12-03T10:00:00.000Z",
      },
    });
    acmeCode = added.body.invitation.code;
    expect(added.body.invitation.url).toBe(`http://localhost/admin/invitation/beta#code=${acmeCode}`);
    expect(added.headers.get("cache-control")).toBe("no-store");
    expect(added.body.user.roles.map((r: { id: number }) => r.id)).toEqual([USER_ADMIN, OMS_READ]);
    const listed = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items;
    expect(listed.find((u: { email: string }) => u.email === ACME_OWNER)?.status).toBe("invited");
    expect(listed.find((u: { email: string }) => u.email === "owner@beta.test")?.status).toBe("active");
    const [addedEvent] = await h.store.audit.list("beta", 1);
    expect(addedEvent).toMatchObject({ action: "user.added", data: { after: { status: "invited" } } });

    const bad = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: ACME_OWNER, password: "not the password" },
    });
    expect(bad.status).toBe(401);
    const s = await signIn(ACME_OWNER, OWNER_PASSWORD);
    expect(await betaEventsOf(acmeOwnerId)).toEqual([]);
    const acmeActions = (await h.store.audit.list("acme", 5)).map((e) => e.action);
    expect(acmeActions).toEqual(expect.arrayContaining(["user.signed_in", "user.sign_in_failed"]));

    const me = await asUser(s, "GET", "/v1/me");
    expect(me.body.accounts.map((a: { account: string }) => a.account)).toEqual(["acme"]);
    // Invitations are listed nowhere: only the code shows one.
    expect(me.body.invitations).toBeUndefined();
    const seen = await asUser(s, "POST", "/v1/me/invitations/beta/preview", { code: acmeCode });
    expect(seen.status, seen.text).toBe(200);
    expect(seen.body).toEqual({
      account: "beta",
      roles: [
        { id: USER_ADMIN, name: "User Administrator - RESTRICTED" },
        { id: OMS_READ, name: "OMS - Read only" },
      ],
      invitedBy: beta.appKey,
      invitedAt: expect.any(String),
      expiresAt: "2026-12-03T10:00:00.000Z",
    });
    for (const [method, path, body] of [
      ["GET", `${BETA}/keys`],
      ["GET", `${BETA}/users`],
      ["POST", `${BETA}/keys`, { name: "sneaky" }],
    ] as const) {
      const res = await asUser(s, method, path, body);
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([403, "FORBIDDEN"]);
    }
    const vtex = await h.request("GET", "/api/vlm/appkeys?an=beta", {
      as: null,
      headers: { cookie: s.cookie },
    });
    expect(vtex.status).toBe(403);
  });

  it("accepting needs the user's own session and CSRF token; keys have no invitations", async () => {
    const s = await signIn(ACME_OWNER, OWNER_PASSWORD);
    const noCsrf = await h.request("POST", "/v1/me/invitations/beta", {
      as: null,
      headers: { cookie: s.cookie },
      body: { code: acmeCode },
    });
    expect([noCsrf.status, noCsrf.body.code]).toEqual([403, "CSRF_FAILED"]);
    for (const as of [h.owner, beta]) {
      for (const method of ["POST", "DELETE"]) {
        const res = await h.request(method, "/v1/me/invitations/beta", { as, body: { code: acmeCode } });
        expect([res.status, res.body.code], `${method} as ${as.appKey}`).toEqual([
          404,
          "INVITATION_NOT_FOUND",
        ]);
      }
    }
    const none = await asUser(s, "POST", "/v1/me/invitations/nowhere", { code: acmeCode });
    expect([none.status, none.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);
    const own = await asUser(s, "POST", "/v1/me/invitations/acme", { code: acmeCode });
    expect([own.status, own.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);
    const noCode = await asUser(s, "POST", "/v1/me/invitations/beta");
    expect(noCode.status).toBe(400);
    expect((await asUser(s, "POST", "/v1/me/invitations/Not_A_Name", { code: acmeCode })).status).toBe(400);
    expect(await betaEventsOf(acmeOwnerId)).toEqual([]);
  });

  it("after accepting: exactly the offered roles (as changed meanwhile), and sign-ins recorded there", async () => {
    const id = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items.find(
      (u: { email: string }) => u.email === ACME_OWNER,
    ).id;
    // The admin may still change what is offered; the acceptance takes what is offered then.
    const changed = await h.request("PUT", `${BETA}/users/${id}/roles`, {
      as: beta,
      body: { roles: [OMS_READ] },
    });
    expect([changed.status, changed.body.status]).toEqual([200, "invited"]);

    const s = await signIn(ACME_OWNER, OWNER_PASSWORD);
    const accepted = await asUser(s, "POST", "/v1/me/invitations/beta", { code: acmeCode });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({
      account: "beta",
      roles: [{ id: OMS_READ, name: "OMS - Read only" }],
    });
    expect(accepted.body.resources).toEqual(["ViewOrders"]);
    const again = await asUser(s, "POST", "/v1/me/invitations/beta", { code: acmeCode });
    expect([again.status, again.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);

    const me = await asUser(s, "GET", "/v1/me");
    const inBeta = me.body.accounts.find((a: { account: string }) => a.account === "beta");
    expect(inBeta).toEqual({
      account: "beta",
      roles: [{ id: OMS_READ, name: "OMS - Read only" }],
      resources: ["ViewOrders"],
    });
    // Still nothing beyond the offered role.
    expect((await asUser(s, "GET", `${BETA}/keys`)).status).toBe(403);
    const users = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items;
    expect(users.find((u: { email: string }) => u.email === ACME_OWNER)?.status).toBe("active");

    await signIn(ACME_OWNER, OWNER_PASSWORD);
    expect(await betaEventsOf(acmeOwnerId)).toEqual(["user.signed_in", "user.invitation_accepted"]);
    const [acceptedEvent] = (await h.store.audit.list("beta", 10)).filter(
      (e) => e.action === "user.invitation_accepted",
    );
    expect(acceptedEvent).toMatchObject({
      actorType: "user",
      actorLabel: ACME_OWNER,
      targetId: acmeOwnerId,
      data: { email: ACME_OWNER, after: { roles: [OMS_READ] }, invitedBy: beta.appKey },
    });
  });

  it("declining removes the invitation, with an event in that account; a new one may follow", async () => {
    await h.services.accounts.init({ account: "gamma", email: "g@gamma.test", password: "gamma password 1" });
    const gammaOwner = (await h.deps.store.people.getUserByEmail("g@gamma.test"))?.id as string;
    const first = await codeFor("g@gamma.test", [OMS_READ]);
    const s = await signIn("g@gamma.test", "gamma password 1");
    const declined = await asUser(s, "DELETE", "/v1/me/invitations/beta", { code: first });
    expect(declined.status, declined.text).toBe(204);
    const users = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items;
    expect(users.map((u: { email: string }) => u.email)).not.toContain("g@gamma.test");
    expect(await betaEventsOf(gammaOwner)).toEqual(["user.invitation_declined"]);
    const twice = await asUser(s, "DELETE", "/v1/me/invitations/beta", { code: first });
    expect([twice.status, twice.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);
    // Declined is not blocked: beta may ask again (a new code), and the person may decline again.
    const second = await codeFor("g@gamma.test", []);
    expect(second).not.toBe(first);
    const stale = await asUser(s, "POST", "/v1/me/invitations/beta/preview", { code: first });
    expect([stale.status, stale.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);
    expect((await asUser(s, "POST", "/v1/me/invitations/beta/preview", { code: second })).status).toBe(200);
    // An invitation withdrawn by the account cannot be accepted.
    const id = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items.find(
      (u: { email: string }) => u.email === "g@gamma.test",
    ).id;
    expect((await h.request("DELETE", `${BETA}/users/${id}`, { as: beta })).status).toBe(204);
    const late = await asUser(s, "POST", "/v1/me/invitations/beta", { code: second });
    expect([late.status, late.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);
  });

  it("answers an add with a password for an existing email like one without; the password is never stored", async () => {
    await h.services.accounts.init({ account: "delta", email: "d@delta.test", password: "delta password 1" });
    await h.services.accounts.init({ account: "eps", email: "e@eps.test", password: "eps password 12" });
    const withPassword = await invite("d@delta.test", [OMS_READ], { password: "chosen by beta 1" });
    const without = await invite("e@eps.test", [OMS_READ]);
    for (const res of [withPassword, without]) {
      expect(res.status, res.text).toBe(201);
      expect(Object.keys(res.body)).toEqual(["user", "invitation"]);
      expect(Object.keys(res.body.user).sort()).toEqual(["addedAt", "email", "id", "roles", "status"]);
      expect(res.body.user).toMatchObject({ status: "invited", roles: [{ id: OMS_READ }] });
    }
    expect(withPassword.text).not.toContain("chosen by beta 1");
    expect((await signIn("d@delta.test", "delta password 1")).csrf).toBeTruthy();
    const refused = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "d@delta.test", password: "chosen by beta 1" },
    });
    expect([refused.status, refused.body.code]).toEqual([401, "INVALID_LOGIN"]);
    const [event] = (await h.store.audit.list("beta", 20)).filter(
      (e) => e.action === "user.added" && e.actorId === beta.appKey,
    );
    expect(JSON.stringify(event?.data)).not.toContain("chosen by beta 1");
    // A password too short is refused before anyone is looked up, new email or not.
    const short = await invite("d@delta.test", [], { password: "short" });
    expect([short.status, short.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    // A new email with a password: the sign-in is made, active, and the password not echoed.
    const fresh = await invite("new@beta.test", [OMS_READ], { password: "chosen by beta 1" });
    expect([fresh.status, fresh.body.user.status, fresh.body.password]).toEqual([201, "active", undefined]);
    expect((await signIn("new@beta.test", "chosen by beta 1")).csrf).toBeTruthy();
  });

  it("counts only active Owners for the last-Owner rule; an invited Owner may be removed", async () => {
    await h.services.accounts.init({ account: "zeta", email: "z@zeta.test" });
    await h.services.accounts.init({ account: "eta", email: "owner@eta.test", password: "eta password 123" });
    // Beta's Owner is its only active Owner; zeta's is only invited as Owner.
    const inviteOwner = await invite("z@zeta.test", [OWNER_ROLE]);
    expect(inviteOwner.body.user.status).toBe("invited");
    const users = (await h.request("GET", `${BETA}/users`, { as: beta })).body.items;
    const betaOwner = users.find((u: { email: string }) => u.email === "owner@beta.test");
    const demote = await h.request("PUT", `${BETA}/users/${betaOwner.id}/roles`, {
      as: beta,
      body: { roles: [USER_ADMIN] },
    });
    expect([demote.status, demote.body.code]).toEqual([409, "LAST_OWNER"]);
    const removeSelf = await h.request("DELETE", `${BETA}/users/${betaOwner.id}`, { as: beta });
    expect([removeSelf.status, removeSelf.body.code]).toEqual([409, "LAST_OWNER"]);
    // The invited Owner can be changed or withdrawn: it holds nothing yet.
    const invited = inviteOwner.body.user.id as string;
    const changed = await h.request("PUT", `${BETA}/users/${invited}/roles`, {
      as: beta,
      body: { roles: [USER_ADMIN] },
    });
    expect(changed.status).toBe(200);
    expect((await h.request("DELETE", `${BETA}/users/${invited}`, { as: beta })).status).toBe(204);

    // Once an invited Owner accepts, they count: the first Owner may then step down.
    const etaCode = await codeFor("owner@eta.test", [OWNER_ROLE]);
    const s = await signIn("owner@eta.test", "eta password 123");
    expect((await asUser(s, "POST", "/v1/me/invitations/beta", { code: etaCode })).status).toBe(200);
    const stepDown = await h.request("PUT", `${BETA}/users/${betaOwner.id}/roles`, {
      as: beta,
      body: { roles: [USER_ADMIN] },
    });
    expect(stepDown.status, stepDown.text).toBe(200);
  });

  it("holds invited members to the same least-privilege checks as active ones", async () => {
    await h.services.accounts.init({ account: "theta", email: "t@theta.test" });
    const invited = (await invite("t@theta.test", [OWNER_ROLE])).body.user.id as string;
    const admin = await h.createKey("beta user admin", [USER_ADMIN], "beta", beta);
    for (const [method, path, body] of [
      ["PUT", `${BETA}/users/${invited}/roles`, { roles: [] }],
      ["DELETE", `${BETA}/users/${invited}`, undefined],
    ] as const) {
      const res = await h.request(method, path, { as: admin, ...(body ? { body } : {}) });
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    }
    const escalate = await h.request("POST", `${BETA}/users`, {
      as: admin,
      body: { email: "g@gamma.test", roles: [OWNER_ROLE] },
    });
    expect([escalate.status, escalate.body.code]).toEqual([403, "ESCALATION_DENIED"]);
  });
});
