/**
 * Emailed password-reset links, through a real SMTP server on loopback, on SQLite and PostgreSQL: the
 * request answers the same 202 for known and unknown emails before looking anything up; the mail's
 * link completes the reset once (ending every session), then never again; the code is stored only
 * as a hash and reaches no log or audit event; links expire after 30 minutes and a newer link voids
 * an older one; requests are limited per address and per email. Without SMTP_URL the request is
 * refused with a message that sends the user to an administrator.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SmtpPeer, startSmtp } from "../notify/peers.js";
import { createHarness, type Harness } from "../support/harness.js";
import { countStoreCalls, requestFrom } from "../support/limits.js";

const LINK = /^http:\/\/localhost\/admin\/reset-password#code=([A-Za-z0-9_-]{43})$/m;

describe("without SMTP_URL", () => {
  it("says an administrator must reset the password", async () => {
    const h = await createHarness("sqlite");
    try {
      const status = await h.request("GET", "/v1/auth/password-reset", { as: null });
      expect(status.body).toMatchObject({ email: false });
      expect(status.body.detail).toMatch(/administrator/);
      const res = await h.request("POST", "/v1/auth/password-reset", {
        as: null,
        body: { email: "owner@acme.test" },
      });
      expect([res.status, res.body.code]).toEqual([501, "PASSWORD_RESET_EMAIL_OFF"]);
      expect(res.body.detail).toMatch(/ask an administrator/);
    } finally {
      await h.close();
    }
  });
});

describe.each(["sqlite", "postgres"] as const)("reset links on %s", (kind) => {
  let h: Harness;
  let smtp: SmtpPeer;
  let ip = 0;
  const nextIp = () => `203.0.113.${++ip}`;

  beforeAll(async () => {
    smtp = await startSmtp();
    h = await createHarness(kind, { smtpUrl: smtp.url, rateLimit: { failures: 3, windowSeconds: 60 } });
  });
  afterAll(async () => {
    await h.close();
    await smtp.close();
  });

  const ask = (email: string, from = nextIp()) =>
    requestFrom(h, from, "POST", "/v1/auth/password-reset", { body: { email } });
  const complete = (code: string, newPassword: string, from = nextIp()) =>
    requestFrom(h, from, "POST", "/v1/auth/password-reset/complete", { body: { code, newPassword } });

  async function userWith(email: string) {
    const res = await h.request("POST", "/v1/accounts/acme/users", { body: { email } });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.user.id as string, password: res.body.password as string };
  }

  /** The code of the newest mail to `email`, once the link asked for has been mailed. */
  async function mailedCode(email: string): Promise<string> {
    await h.services.passwords.settled();
    const mail = smtp.mails.filter((m) => m.to.includes(email)).at(-1);
    const code = mail && LINK.exec(mail.text)?.[1];
    if (!code) throw new Error(`no reset link mailed to ${email}`);
    return code;
  }

  async function signIn(email: string, password: string) {
    return requestFrom(h, nextIp(), "POST", "/v1/auth/login", { body: { email, password } });
  }

  /** Every text cell of every table, to search for a secret. */
  async function everyStoredValue(): Promise<string> {
    const db = h.raw();
    const tables =
      kind === "sqlite"
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows
        : (
            await sql<{ name: string }>`select table_name as name from information_schema.tables
              where table_schema = current_schema()`.execute(db)
          ).rows;
    const dumps = await Promise.all(
      tables.map(async ({ name }) =>
        JSON.stringify((await sql`select * from ${sql.table(name)}`.execute(db)).rows),
      ),
    );
    return dumps.join("\n");
  }

  it("answers known and unknown emails alike, before any lookup, and mails only a known one", async () => {
    await userWith("kim@acme.test");
    const counting = countStoreCalls(h.store);
    let known: Awaited<ReturnType<typeof ask>>;
    let unknown: Awaited<ReturnType<typeof ask>>;
    try {
      known = await ask("kim@acme.test");
      const afterKnown = counting.count();
      unknown = await ask("nobody@acme.test");
      // The answer went before the work began: nothing was looked up for either.
      expect([afterKnown, counting.count()]).toEqual([0, 0]);
    } finally {
      counting.restore();
    }
    expect(known.status).toBe(202);
    expect([unknown.status, unknown.text]).toEqual([known.status, known.text]);
    await h.services.passwords.settled();
    expect(smtp.mails.map((m) => m.to)).toEqual([["kim@acme.test"]]);
    expect(smtp.mails[0]?.subject).toBe("Reset your latchkey password");
    expect(smtp.mails[0]?.text).toMatch(LINK);
  });

  it("completes once with the mailed link: the password is set, every session ends, the code is spent", async () => {
    const { id, password } = await userWith("lee@acme.test");
    const session = await signIn("lee@acme.test", password);
    const cookie = session.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    expect((await ask("lee@acme.test")).status).toBe(202);
    const code = await mailedCode("lee@acme.test");

    const next = "lee's brand new password";
    const done = await complete(code, next);
    expect(done.status, done.text).toBe(204);
    const me = await requestFrom(h, nextIp(), "GET", "/v1/me", { headers: { cookie } });
    expect(me.status).toBe(401);
    expect((await signIn("lee@acme.test", password)).status).toBe(401);
    const fresh = await signIn("lee@acme.test", next);
    expect([fresh.status, fresh.body.mustChangePassword]).toEqual([200, false]);

    const again = await complete(code, "yet another password");
    expect([again.status, again.body.code]).toEqual([410, "PASSWORD_RESET_USED"]);
    expect((await signIn("lee@acme.test", next)).status).toBe(200);

    const audit = (await h.store.audit.list("acme", 200)).filter((e) => e.targetId === id);
    const actions = audit.map((e) => e.action);
    expect(actions).toContain("user.password_reset_requested");
    expect(actions).toContain("user.password_reset");
    expect(audit.find((e) => e.action === "user.password_reset")?.data).toMatchObject({
      method: "email link",
      sessionsEnded: 1,
    });

    // Stored only as a hash: no table, log line, audit event or answer holds the code or the password.
    const stored = await everyStoredValue();
    expect(stored).toContain("password_resets");
    for (const secret of [code, next]) {
      expect(stored).not.toContain(secret);
      expect(h.logLines.join("")).not.toContain(secret);
      expect(h.responses.join("")).not.toContain(secret);
    }
  });

  it("refuses an expired link, a link a newer one replaced, and a made-up code, precisely", async () => {
    await userWith("max@acme.test");
    await ask("max@acme.test");
    const first = await mailedCode("max@acme.test");
    await ask("max@acme.test");
    const second = await mailedCode("max@acme.test");
    expect(second).not.toBe(first);
    const replaced = await complete(first, "max's new password");
    expect([replaced.status, replaced.body.code]).toEqual([410, "PASSWORD_RESET_EXPIRED"]);

    h.advance(30 * 60 * 1000);
    const late = await complete(second, "max's new password");
    expect([late.status, late.body.code]).toEqual([410, "PASSWORD_RESET_EXPIRED"]);

    for (const code of ["A".repeat(43), "not a code", ""]) {
      const res = await complete(code, "max's new password");
      expect([res.status, res.body.code], code).toEqual([400, "PASSWORD_RESET_INVALID"]);
    }
    await ask("max@acme.test");
    const third = await mailedCode("max@acme.test");
    const short = await complete(third, "short");
    expect([short.status, short.body.code]).toEqual([400, "VALIDATION_FAILED"]);
    // A refused password does not spend the code.
    expect((await complete(third, "max's new password")).status).toBe(204);
  });

  it("counts made-up codes against the address", async () => {
    const from = "198.51.100.77";
    for (let i = 0; i < 4; i++) await complete("B".repeat(43), "whatever password", from);
    const blocked = await complete("B".repeat(43), "whatever password", from);
    expect([blocked.status, blocked.body.code]).toEqual([429, "RATE_LIMITED"]);
    expect(blocked.headers.get("retry-after")).not.toBeNull();
  });

  it("limits requests per email from any address, and per address for any email", async () => {
    await userWith("ned@acme.test");
    for (let i = 0; i < 5; i++) expect((await ask("ned@acme.test")).status).toBe(202);
    const perEmail = await ask(" NED@acme.test ");
    expect([perEmail.status, perEmail.body.code]).toEqual([429, "RATE_LIMITED"]);
    await h.services.passwords.settled();
    expect(smtp.mails.filter((m) => m.to.includes("ned@acme.test"))).toHaveLength(5);

    const from = "192.0.2.99";
    for (let i = 0; i < 5; i++) expect((await ask(`someone${i}@acme.test`, from)).status).toBe(202);
    const perAddress = await ask("someone-else@acme.test", from);
    expect([perAddress.status, perAddress.body.code]).toEqual([429, "RATE_LIMITED"]);
    // The limit ends with its window.
    h.advance(60 * 60 * 1000 + 1000);
    expect((await ask("ned@acme.test")).status).toBe(202);
    await h.services.passwords.settled();
  });
});
