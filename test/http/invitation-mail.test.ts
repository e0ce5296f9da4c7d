/**
 * Invitation emails, through a real SMTP server on loopback, on SQLite and PostgreSQL: inviting (the
 * native add of an email that has a sign-in, and VTEX's create user) mails the link to the person;
 * the mailed link completes the sign-up; the answer still carries the link for the inviter; the code
 * reaches no log line or audit event. A mail server that is down fails nothing: the invitation is
 * made and answered, and the failure is logged without the link. Without SMTP_URL nothing is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SmtpPeer, startSmtp } from "../notify/peers.js";
import { createHarness, type Harness } from "../support/harness.js";
import { requestFrom } from "../support/limits.js";

const LINK = /^http:\/\/localhost\/admin\/invitation\/acme#code=([A-Za-z0-9_-]{43})$/m;
const VTEX_HOST = { host: "acme.vtexcommercestable.com.br" };

function vtexCreate(h: Harness, email: string, name?: string) {
  return h.request("POST", "/api/license-manager/users", {
    as: null,
    headers: {
      ...VTEX_HOST,
      "X-VTEX-API-AppKey": h.owner.appKey,
      "X-VTEX-API-AppToken": h.owner.appToken,
    },
    body: { email, ...(name ? { name } : {}) },
  });
}

describe("without SMTP_URL", () => {
  it("sends nothing, and the answer carries the link for the inviter", async () => {
    const h = await createHarness("sqlite");
    try {
      expect(h.services.invitations.emailEnabled).toBe(false);
      const res = await vtexCreate(h, "nomail@acme.test");
      expect(res.status, res.text).toBe(200);
      expect(res.body.invitation.url).toMatch(LINK);
      await h.services.invitations.settled();
      expect(h.logLines.join("")).not.toMatch(/invitation email/);
    } finally {
      await h.close();
    }
  });
});

describe("with SMTP_URL pointing at a mail server that is down", () => {
  it("still invites and answers; the failure is logged without the link", async () => {
    const down = await startSmtp();
    await down.close();
    const h = await createHarness("sqlite", { smtpUrl: down.url });
    try {
      const res = await vtexCreate(h, "unlucky@acme.test");
      expect(res.status, res.text).toBe(200);
      const code = LINK.exec(res.body.invitation.url)?.[1] as string;
      expect(code).toBeTruthy();
      await h.services.invitations.settled();
      const logs = h.logLines.join("");
      expect(logs).toMatch(/an invitation email was not sent/);
      expect(logs).not.toContain(code);
      // The invitation stands: the person can still sign up with the link given to the inviter.
      const signUp = await h.request("POST", "/v1/invitations/acme/sign-up", {
        as: null,
        body: { email: "unlucky@acme.test", code, password: "unlucky's password" },
      });
      expect(signUp.status, signUp.text).toBe(204);
    } finally {
      await h.close();
    }
  });
});

describe.each(["sqlite", "postgres"] as const)("invitation emails on %s", (kind) => {
  let h: Harness;
  let smtp: SmtpPeer;
  let ip = 0;
  const nextIp = () => `203.0.113.${++ip}`;

  beforeAll(async () => {
    smtp = await startSmtp();
    h = await createHarness(kind, { smtpUrl: smtp.url });
  });
  afterAll(async () => {
    await h.close();
    await smtp.close();
  });

  async function mailedCode(email: string): Promise<string> {
    await h.services.invitations.settled();
    const mail = smtp.mails.filter((m) => m.to.includes(email)).at(-1);
    const code = mail && LINK.exec(mail.text)?.[1];
    if (!code) throw new Error(`no invitation link mailed to ${email}`);
    return code;
  }

  it("mails a VTEX-created user their link, which completes the sign-up", async () => {
    const res = await vtexCreate(h, "newbie@acme.test", "New Bie");
    expect(res.status, res.text).toBe(200);
    const code = await mailedCode("newbie@acme.test");
    // The inviter still gets the same link in the answer.
    expect(res.body.invitation.code).toBe(code);
    const mail = smtp.mails.find((m) => m.to.includes("newbie@acme.test"));
    expect(mail?.subject).toBe("You are invited to acme on latchkey");
    expect(mail?.text).toMatch(/choose your password there/);

    const password = "newbie's first password";
    const signUp = await requestFrom(h, nextIp(), "POST", "/v1/invitations/acme/sign-up", {
      body: { email: "newbie@acme.test", code, password },
    });
    expect(signUp.status, signUp.text).toBe(204);
    const login = await requestFrom(h, nextIp(), "POST", "/v1/auth/login", {
      body: { email: "newbie@acme.test", password },
    });
    expect(login.status, login.text).toBe(200);
    const again = await requestFrom(h, nextIp(), "POST", "/v1/invitations/acme/sign-up", {
      body: { email: "newbie@acme.test", code, password: "another password here" },
    });
    expect([again.status, again.body.code]).toEqual([404, "INVITATION_NOT_FOUND"]);

    // The code is in no log line and no audit event.
    expect(h.logLines.join("")).not.toContain(code);
    const audit = JSON.stringify(await h.store.audit.list("acme", 500));
    expect(audit).toContain("user.invitation_accepted");
    expect(audit).not.toContain(code);
  });

  it("mails the native add's invitation to an existing sign-in, and nothing for a new sign-in", async () => {
    await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    const before = smtp.mails.length;
    const created = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "fresh@acme.test" },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.invitation).toBeUndefined();
    const invited = await h.request("POST", "/v1/accounts/acme/users", {
      body: { email: "owner@beta.test" },
    });
    expect(invited.status, invited.text).toBe(201);
    const code = await mailedCode("owner@beta.test");
    expect(invited.body.invitation.code).toBe(code);
    expect(smtp.mails.slice(before).map((m) => m.to)).toEqual([["owner@beta.test"]]);
    expect(h.logLines.join("")).not.toContain(code);
    expect(JSON.stringify(await h.store.audit.list("acme", 500))).not.toContain(code);
  });

  it("sends nothing when VTEX's create user names a member already there", async () => {
    await vtexCreate(h, "twice@acme.test");
    await h.services.invitations.settled();
    const before = smtp.mails.length;
    const again = await vtexCreate(h, "twice@acme.test");
    expect(again.status).toBe(200);
    expect(again.body.invitation).toBeUndefined();
    await h.services.invitations.settled();
    expect(smtp.mails.length).toBe(before);
  });
});
