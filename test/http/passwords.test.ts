/**
 * Password change and an administrator's reset, on SQLite and PostgreSQL: the change needs the current
 * password (a wrong one counts as a failed sign-in), ends the user's other sessions and keeps this
 * one; a reset returns a one-time password once, ends every session, and confines the next session
 * to choosing a new password. Weaker callers cannot reset stronger users, nor users who are stronger
 * in another account, nor users of another account. Nothing secret reaches an audit event or a log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";
import { requestFrom } from "../support/limits.js";

const OWNER_ROLE = 1;
const USER_ADMIN = 2;
const OMS_READ = 10;
const ACME = "/v1/accounts/acme";

interface Session {
  cookie: string;
  csrf: string;
  mustChangePassword: boolean;
}

describe.each(["sqlite", "postgres"] as const)("passwords on %s", (kind) => {
  let h: Harness;
  let ip = 0;
  /** A fresh client address per sign-in, so the failure limiter counts only what a test means. */
  const nextIp = () => `198.51.100.${++ip}`;

  beforeAll(async () => {
    h = await createHarness(kind, { rateLimit: { failures: 3, windowSeconds: 60 } });
  });
  afterAll(() => h.close());

  async function signIn(email: string, password: string, from = nextIp()): Promise<Session> {
    const res = await requestFrom(h, from, "POST", "/v1/auth/login", { body: { email, password } });
    expect(res.status, res.text).toBe(200);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    return { cookie, csrf: res.body.csrfToken, mustChangePassword: res.body.mustChangePassword };
  }

  function asUser(s: Session, method: string, path: string, body?: unknown, from = "192.0.2.200") {
    const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
    return requestFrom(h, from, method, path, { headers, ...(body === undefined ? {} : { body }) });
  }

  async function addUser(email: string, roles: number[], as: Credentials = h.owner, account = "acme") {
    const res = await h.request("POST", `/v1/accounts/${account}/users`, { as, body: { email, roles } });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.user.id as string, password: res.body.password as string };
  }

  const resetOf = (id: string, as: Credentials, account = "acme") =>
    h.request("POST", `/v1/accounts/${account}/users/${id}/password-reset`, { as });

  async function events(action: string, account = "acme") {
    return (await h.store.audit.list(account, 200)).filter((e) => e.action === action);
  }

  describe("changing one's own password", () => {
    it("needs the current password, ends the other sessions and keeps this one", async () => {
      const { id, password } = await addUser("carol@acme.test", [OMS_READ]);
      const here = await signIn("carol@acme.test", password);
      const elsewhere = await signIn("carol@acme.test", password);
      const next = "carol's new password 1";
      const res = await asUser(here, "POST", "/v1/me/password", {
        currentPassword: password,
        newPassword: next,
      });
      expect([res.status, res.body], res.text).toEqual([200, { sessionsEnded: 1 }]);
      expect((await asUser(here, "GET", "/v1/me")).status).toBe(200);
      const ended = await asUser(elsewhere, "GET", "/v1/me");
      expect([ended.status, ended.body.code]).toEqual([401, "UNAUTHENTICATED"]);
      // The old password no longer signs in; the new one does.
      const old = await requestFrom(h, nextIp(), "POST", "/v1/auth/login", {
        body: { email: "carol@acme.test", password },
      });
      expect(old.status).toBe(401);
      await signIn("carol@acme.test", next);
      const [event] = await events("user.password_changed");
      expect(event).toMatchObject({ actorType: "user", actorId: id, targetType: "user", targetId: id });
      expect(event?.data).toMatchObject({ email: "carol@acme.test", sessionsEnded: 1 });
      const everything = JSON.stringify(await h.store.audit.list("acme", 500)) + h.logLines.join("");
      expect(everything).not.toContain(next);
      expect(everything).not.toContain(password);
    });

    it("answers a wrong current password 403 CURRENT_PASSWORD_WRONG, counted as a failed sign-in", async () => {
      const { password } = await addUser("dave@acme.test", []);
      const s = await signIn("dave@acme.test", password);
      const wrong = { currentPassword: "not my password", newPassword: "a brand new password" };
      // The limit is 3 failures: the fourth blocks.
      for (let i = 0; i < 4; i++) {
        const res = await asUser(s, "POST", "/v1/me/password", wrong, "192.0.2.10");
        expect([res.status, res.body.code]).toEqual([403, "CURRENT_PASSWORD_WRONG"]);
      }
      // The email is now blocked: even the right current password waits, and so does sign-in.
      const right = { currentPassword: password, newPassword: "a brand new password" };
      const blocked = await asUser(s, "POST", "/v1/me/password", right, "192.0.2.11");
      expect([blocked.status, blocked.body.code]).toEqual([429, "RATE_LIMITED"]);
      const login = await requestFrom(h, nextIp(), "POST", "/v1/auth/login", {
        body: { email: "dave@acme.test", password },
      });
      expect(login.status).toBe(429);
      h.advance(61_000);
      expect((await asUser(s, "POST", "/v1/me/password", right, "192.0.2.12")).status).toBe(200);
    });

    it("refuses a short, unchanged or missing new password with 400, changing nothing", async () => {
      const { password } = await addUser("erin@acme.test", []);
      const s = await signIn("erin@acme.test", password);
      const bodies = [
        { currentPassword: password, newPassword: "short" },
        { currentPassword: password, newPassword: password },
        { currentPassword: password },
        { currentPassword: password, newPassword: "long enough password", extra: 1 },
      ];
      for (const body of bodies) {
        const res = await asUser(s, "POST", "/v1/me/password", body);
        expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, "VALIDATION_FAILED"]);
      }
      await signIn("erin@acme.test", password);
    });

    it("is for signed-in people only: a key gets 403 SESSION_REQUIRED", async () => {
      const res = await h.request("POST", "/v1/me/password", {
        body: { currentPassword: "whatever at all", newPassword: "whatever at all 2" },
      });
      expect([res.status, res.body.code]).toEqual([403, "SESSION_REQUIRED"]);
      const anonymous = await h.request("POST", "/v1/me/password", {
        as: null,
        body: { currentPassword: "whatever at all", newPassword: "whatever at all 2" },
      });
      expect(anonymous.status).toBe(401);
    });

    it("needs the CSRF token", async () => {
      const { password } = await addUser("fay@acme.test", []);
      const s = await signIn("fay@acme.test", password);
      const res = await requestFrom(h, "192.0.2.1", "POST", "/v1/me/password", {
        headers: { cookie: s.cookie },
        body: { currentPassword: password, newPassword: "fay's new password" },
      });
      expect([res.status, res.body.code]).toEqual([403, "CSRF_FAILED"]);
    });
  });

  describe("an administrator's reset", () => {
    it("returns a one-time password once, ends every session and forces a change at sign-in", async () => {
      const { id, password } = await addUser("gus@acme.test", [OMS_READ]);
      const before = await signIn("gus@acme.test", password);
      const res = await resetOf(id, h.owner);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ user: { id, email: "gus@acme.test" }, mustChangePassword: true });
      const oneTime = res.body.password as string;
      expect(oneTime).toMatch(/^[A-Za-z0-9]{20}$/);
      expect((await asUser(before, "GET", "/v1/me")).status).toBe(401);

      const forced = await signIn("gus@acme.test", oneTime);
      expect(forced.mustChangePassword).toBe(true);
      const me = await asUser(forced, "GET", "/v1/me");
      expect([me.status, me.body.principal.mustChangePassword]).toEqual([200, true]);
      for (const [method, path] of [
        ["GET", `${ACME}/keys`],
        ["POST", `${ACME}/keys`],
        ["GET", "/v1/resources"],
      ] as const) {
        const refused = await asUser(forced, method, path, method === "POST" ? { name: "x" } : undefined);
        expect([refused.status, refused.body.code], path).toEqual([403, "PASSWORD_CHANGE_REQUIRED"]);
      }
      const next = "gus chose this password";
      const changed = await asUser(forced, "POST", "/v1/me/password", {
        currentPassword: oneTime,
        newPassword: next,
      });
      expect(changed.status, changed.text).toBe(200);
      expect((await asUser(forced, "GET", "/v1/resources")).status).toBe(200);
      expect((await signIn("gus@acme.test", next)).mustChangePassword).toBe(false);

      const [event] = await events("user.password_reset");
      expect(event).toMatchObject({ actorType: "key", targetType: "user", targetId: id });
      expect(event?.data).toMatchObject({ email: "gus@acme.test", sessionsEnded: 1 });
      const changedEvent = (await events("user.password_changed")).find((e) => e.actorId === id);
      expect(changedEvent?.data).toMatchObject({ afterReset: true });
      const everything = JSON.stringify(await h.store.audit.list("acme", 500)) + h.logLines.join("");
      expect(everything).not.toContain(oneTime);
      // Not in the users list either.
      expect((await h.request("GET", `${ACME}/users`)).text).not.toContain(oneTime);
    });

    it("needs EditAdminUsers", async () => {
      const { id } = await addUser("hal@acme.test", []);
      const viewer = await h.createKey("user viewer", [OMS_READ]);
      const res = await resetOf(id, viewer);
      expect([res.status, res.body.code]).toEqual([403, "FORBIDDEN"]);
    });

    it("refuses a weaker caller acting on an Owner, or on a user holding more, and audits the refusal", async () => {
      const admin = await h.createKey("user admin", [USER_ADMIN]);
      const owner = await addUser("olga@acme.test", [OWNER_ROLE]);
      const reader = await addUser("rita@acme.test", [OMS_READ]);
      const peer = await addUser("pete@acme.test", [USER_ADMIN]);
      for (const target of [owner, reader]) {
        const res = await resetOf(target.id, admin);
        expect([res.status, res.body.code], res.text).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
        // Nothing changed: the password still signs in, with no forced change.
      }
      expect((await signIn("olga@acme.test", owner.password)).mustChangePassword).toBe(false);
      const refused = (await events("access.refused")).filter(
        (e) => e.data?.attempted === "user.password_reset",
      );
      expect(refused.length).toBeGreaterThanOrEqual(2);
      // A user holding no more than the caller may be reset.
      expect((await resetOf(peer.id, admin)).status).toBe(200);
    });

    it("refuses resetting oneself (409 PASSWORD_RESET_SELF)", async () => {
      const s = await signIn("owner@acme.test", OWNER_PASSWORD);
      const me = await asUser(s, "GET", "/v1/me");
      const res = await asUser(s, "POST", `${ACME}/users/${me.body.principal.id}/password-reset`);
      expect([res.status, res.body.code]).toEqual([409, "PASSWORD_RESET_SELF"]);
    });

    it("cannot reach a user of another account, nor one only invited here", async () => {
      const other = await h.services.accounts.init({
        account: `other-${kind}`,
        email: `boss@other-${kind}.test`,
      });
      const otherOwner = { appKey: other.appKey, appToken: other.appToken };
      const stranger = await addUser(`sam@other-${kind}.test`, [], otherOwner, `other-${kind}`);
      const res = await resetOf(stranger.id, h.owner);
      expect([res.status, res.body.code]).toEqual([404, "USER_NOT_FOUND"]);
      // Invited to acme (an existing sign-in): still not acme's to reset.
      const invited = await h.request("POST", `${ACME}/users`, { body: { email: `sam@other-${kind}.test` } });
      expect(invited.body.user.status).toBe("invited");
      const again = await resetOf(stranger.id, h.owner);
      expect([again.status, again.body.code]).toEqual([404, "USER_NOT_FOUND"]);
      // From the other account's own path, with acme's key: no access there.
      const cross = await resetOf(stranger.id, h.owner, `other-${kind}`);
      expect([cross.status, cross.body.code]).toEqual([403, "FORBIDDEN"]);
      await signIn(`sam@other-${kind}.test`, stranger.password);
    });

    it("refuses a user who holds, in another account, what the caller does not hold there", async () => {
      const name = `second-${kind}`;
      const second = await h.services.accounts.init({ account: name, email: `boss@${name}.test` });
      const secondOwner = { appKey: second.appKey, appToken: second.appToken };
      // Made by acme, then invited to the second account as its Owner, and accepted there.
      const both = await addUser(`both@${name}.test`, [OMS_READ]);
      const invited = await h.request("POST", `/v1/accounts/${name}/users`, {
        as: secondOwner,
        body: { email: `both@${name}.test`, roles: [OWNER_ROLE] },
      });
      const s = await signIn(`both@${name}.test`, both.password);
      const accepted = await asUser(s, "POST", `/v1/me/invitations/${name}`, {
        code: invited.body.invitation.code,
      });
      expect(accepted.status, accepted.text).toBe(200);
      // acme's Owner holds everything in acme, nothing in the second account: refused.
      const res = await resetOf(both.id, h.owner);
      expect([res.status, res.body.code], res.text).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
      expect(res.body.detail).toMatch(/also a member of another account/);
      expect((await asUser(s, "GET", "/v1/me")).status).toBe(200);
      // Nor the other way round: the second account's Owner key holds nothing in acme, where she reads orders.
      const fromSecond = await resetOf(both.id, secondOwner, name);
      expect([fromSecond.status, fromSecond.body.code]).toEqual([403, "TARGET_EXCEEDS_CALLER"]);
    });
  });
});
