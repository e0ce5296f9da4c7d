/**
 * X-Latchkey-Own-Key-Only, which the shipped gateways set on the renewal routes they publish: with
 * it, a key renews its own token (by appKey + appToken or by its JWT) and no other key's, on the
 * native and the VTEX paths; without it, the grant decides as always.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";

const ONLY = { "X-Latchkey-Own-Key-Only": "true" };
const renewal = (key: Credentials) => `/v1/accounts/acme/keys/${key.appKey}/renewal`;

let h: Harness;
let renewer: Credentials;
beforeAll(async () => {
  h = await createHarness();
  const role = await h.request("POST", "/v1/accounts/acme/roles", {
    body: { name: "Renewer", resources: ["RenewApiToken"] },
  });
  expect(role.status).toBe(201);
  renewer = await h.createKey("renewer", [role.body.id]);
});
afterAll(() => h.close());

async function jwtOf(key: Credentials): Promise<string> {
  const login = await h.request("POST", "/v1/auth/apptoken", {
    as: null,
    body: { appKey: key.appKey, appToken: key.appToken },
  });
  expect(login.status).toBe(200);
  return login.body.token as string;
}

async function tokenWorks(key: Credentials): Promise<boolean> {
  return (await h.request("GET", "/v1/me", { as: key })).status === 200;
}

describe("X-Latchkey-Own-Key-Only", () => {
  it("refuses renewing, completing or undoing another key's token, whatever the caller holds", async () => {
    const other = await h.createKey("other");
    const callers: [string, Credentials | null, Record<string, string>][] = [
      ["a key with RenewApiToken", renewer, {}],
      ["the Owner key", h.owner, {}],
      ["a key's JWT", null, { authorization: `Bearer ${await jwtOf(renewer)}` }],
    ];
    for (const [who, as, headers] of callers) {
      for (const [method, path] of [
        ["POST", renewal(other)],
        ["POST", `${renewal(other)}/complete`],
        ["DELETE", renewal(other)],
      ] as const) {
        const res = await h.request(method, path, { as, headers: { ...ONLY, ...headers } });
        expect([who, method, path, res.status, res.body.code]).toEqual([
          who,
          method,
          path,
          403,
          "OWN_KEY_ONLY",
        ]);
      }
    }
    expect(await tokenWorks(other)).toBe(true);
    expect(
      (await h.request("GET", `/v1/accounts/acme/keys/${other.appKey}`)).body.creationDateNewToken,
    ).toBeNull();
  });

  it("lets a key renew, complete and undo its own token, by appKey/appToken or by its JWT", async () => {
    const started = await h.request("POST", renewal(renewer), { as: renewer, headers: ONLY, body: {} });
    expect(started.status, started.text).toBe(201);
    const next = { appKey: renewer.appKey, appToken: started.body.appToken as string };
    const done = await h.request("POST", `${renewal(renewer)}/complete`, { as: next, headers: ONLY });
    expect(done.status, done.text).toBe(200);
    expect(await tokenWorks(renewer)).toBe(false);
    renewer = next;

    const bearer = { authorization: `Bearer ${await jwtOf(renewer)}` };
    const again = await h.request("POST", renewal(renewer), {
      as: null,
      headers: { ...ONLY, ...bearer },
      body: {},
    });
    expect(again.status, again.text).toBe(201);
    const undone = await h.request("DELETE", renewal(renewer), { as: null, headers: { ...ONLY, ...bearer } });
    expect(undone.status, undone.text).toBe(200);
    expect(await tokenWorks(renewer)).toBe(true);
  });

  it("applies to VTEX's renew and finish-renewal, answering in VTEX's shape", async () => {
    const other = await h.createKey("other for vtex");
    const refused = await h.request("PATCH", `/api/vtexid/apikey/${other.appKey}/apitoken/renew`, {
      as: renewer,
      headers: ONLY,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ Message: expect.stringContaining("only its own token") });

    const own = await h.request("PATCH", `/api/vtexid/apikey/${renewer.appKey}/apitoken/renew`, {
      as: renewer,
      headers: ONLY,
    });
    expect(own.status, own.text).toBe(200);
    const next = { appKey: renewer.appKey, appToken: own.body.newToken as string };
    const finished = await h.request(
      "PATCH",
      `/api/vtexid/apikey/${renewer.appKey}/apitoken/finish-renewal`,
      {
        as: next,
        headers: ONLY,
      },
    );
    expect(finished.status, finished.text).toBe(200);
    renewer = next;
  });

  it("refuses a signed-in user, and leaves a call without credentials to the guard's 401", async () => {
    const other = await h.createKey("other for sessions");
    const login = await h.request("POST", "/v1/auth/login", {
      as: null,
      body: { email: "owner@acme.test", password: OWNER_PASSWORD },
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.getSetCookie?.() ?? []).map((line) => line.split(";")[0]).join("; ");
    const session = await h.request("POST", renewal(other), {
      as: null,
      headers: { ...ONLY, cookie, "x-csrf-token": login.body.csrfToken },
      body: {},
    });
    expect([session.status, session.body.code]).toEqual([403, "OWN_KEY_ONLY"]);

    const anonymous = await h.request("POST", renewal(other), { as: null, headers: ONLY, body: {} });
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("restricts nothing without the header: the grant decides", async () => {
    const other = await h.createKey("renewed by another");
    const res = await h.request("POST", renewal(other), { as: renewer, body: {} });
    expect(res.status, res.text).toBe(201);
  });
});
