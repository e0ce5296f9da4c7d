import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KyselyAudit } from "../../src/storage/kysely-audit.js";
import { createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";
import { tamperedLast } from "../support/tampered.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

function cookiesOf(setCookie: string[]): { header: string; session: string; attrs: string } {
  const session = setCookie.find((c) => c.startsWith("lk_session=")) as string;
  const csrf = setCookie.find((c) => c.startsWith("lk_csrf=")) as string;
  const value = (c: string) => c.split(";")[0] as string;
  return {
    header: `${value(session)}; ${value(csrf)}`,
    session: value(session).split("=")[1] as string,
    attrs: session,
  };
}

async function signIn() {
  const res = await h.request("POST", "/v1/auth/login", {
    as: null,
    body: { email: "OWNER@acme.test", password: OWNER_PASSWORD },
  });
  expect(res.status).toBe(200);
  return { ...cookiesOf(res.headers.getSetCookie()), csrf: res.body.csrfToken as string };
}

describe("admin sessions", () => {
  it("signs in with an HttpOnly SameSite=Lax cookie and works as that user", async () => {
    const s = await signIn();
    expect(s.attrs).toMatch(/HttpOnly/);
    expect(s.attrs).toMatch(/SameSite=Lax/);
    const me = await h.request("GET", "/v1/me", { as: null, headers: { cookie: s.header } });
    expect(me.body.principal).toMatchObject({ type: "user", email: "owner@acme.test" });
    expect(me.body.accounts[0]).toMatchObject({
      account: "acme",
      roles: [{ id: 1, name: "Owner (Admin Super)" }],
    });
    const actions = (await h.store.audit.list("acme", 5)).map((e) => e.action);
    expect(actions).toContain("user.signed_in");
  });

  it("needs the CSRF token on state-changing calls, not on reads", async () => {
    const s = await signIn();
    const body = { name: "via session" };
    const without = await h.request("POST", "/v1/accounts/acme/keys", {
      as: null,
      body,
      headers: { cookie: s.header },
    });
    expect([without.status, without.body.code]).toEqual([403, "CSRF_FAILED"]);
    const wrong = await h.request("POST", "/v1/accounts/acme/keys", {
      as: null,
      body,
      headers: { cookie: s.header, "x-csrf-token": "nope" },
    });
    expect(wrong.status).toBe(403);
    const ok = await h.request("POST", "/v1/accounts/acme/keys", {
      as: null,
      body,
      headers: { cookie: s.header, "x-csrf-token": s.csrf },
    });
    expect(ok.status).toBe(201);
    const audit = (await h.store.audit.list("acme", 1))[0];
    expect(audit).toMatchObject({ action: "key.created", actorType: "user", actorLabel: "owner@acme.test" });
    expect(
      (await h.request("GET", "/v1/accounts/acme/keys", { as: null, headers: { cookie: s.header } })).status,
    ).toBe(200);
  });

  it("refuses a wrong password or unknown email with the same 401, and audits the failure", async () => {
    const wrong = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: "wrong password!" },
    });
    const unknown = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "nobody@acme.test", password: "wrong password!" },
    });
    expect([wrong.status, wrong.body.code]).toEqual([401, "INVALID_LOGIN"]);
    expect([unknown.status, unknown.body.detail]).toEqual([401, wrong.body.detail]);
    expect((await h.store.audit.list("acme", 3)).map((e) => e.action)).toContain("user.sign_in_failed");
  });

  it("needs the CSRF token to sign out, like every other change made with the cookie", async () => {
    const s = await signIn();
    for (const token of [undefined, "nope", tamperedLast(s.csrf)]) {
      const headers = { cookie: s.header, ...(token === undefined ? {} : { "x-csrf-token": token }) };
      const out = await h.request("POST", "/v1/auth/logout", { as: null, headers });
      expect([out.status, out.body.code], String(token)).toEqual([403, "CSRF_FAILED"]);
      expect(out.headers.getSetCookie()).toEqual([]);
    }
    expect((await h.request("GET", "/v1/me", { as: null, headers: { cookie: s.header } })).status).toBe(200);
    // Without a session cookie there is nothing to forge: the cookies are cleared.
    const anonymous = await h.request("POST", "/v1/auth/logout", { as: null });
    expect(anonymous.status).toBe(204);
  });

  it("ends the session at logout and at expiry", async () => {
    const s = await signIn();
    const out = await h.request("POST", "/v1/auth/logout", {
      as: null,
      headers: { cookie: s.header, "x-csrf-token": s.csrf },
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().join("\n")).toMatch(/lk_session=;/);
    expect((await h.request("GET", "/v1/me", { as: null, headers: { cookie: s.header } })).status).toBe(401);
    const t = await signIn();
    h.advance(3601 * 1000);
    const expired = await h.request("GET", "/v1/me", { as: null, headers: { cookie: t.header } });
    expect([expired.status, expired.body.code]).toEqual([401, "UNAUTHENTICATED"]);
  });
});

describe("a sign-in across accounts", () => {
  it("commits the session with its event in every account, or none of them when one write fails", async () => {
    await h.services.accounts.init({ account: "beta", email: "owner@acme.test" });
    const sessions = async () =>
      Number(
        (
          await h
            .raw()
            .selectFrom("sessions")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirst()
        )?.n,
      );
    const signIns = async (account: string) =>
      (await h.store.audit.list(account, 100)).filter((e) => e.action === "user.signed_in").length;
    const before = [await sessions(), await signIns("acme"), await signIns("beta")];
    // acme's event is appended first (accounts in order), then beta's fails.
    const append = KyselyAudit.prototype.append;
    const failing = vi.spyOn(KyselyAudit.prototype, "append").mockImplementation(function (
      this: KyselyAudit,
      e,
    ) {
      return e.account === "beta" ? Promise.reject(new Error("disk full")) : append.call(this, e);
    });
    const refused = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: OWNER_PASSWORD },
    });
    failing.mockRestore();
    expect(refused.status).toBe(500);
    expect([await sessions(), await signIns("acme"), await signIns("beta")]).toEqual(before);
    await signIn();
    expect([await sessions(), await signIns("acme"), await signIns("beta")]).toEqual(
      before.map((n) => n + 1),
    );
  });
});
