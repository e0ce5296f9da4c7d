/**
 * One VTEX integration walked end to end, on VTEX's paths only (both databases): create a user and
 * give them a role, create an app key and give it a role, log in with it (a 24 h token), use the
 * token as the VtexIdclientAutCookie header and as both cookies, renew and finish the renewal,
 * deactivate the key, and see the token die.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USER_ADMIN_ROLE } from "../../src/core/catalog.js";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";

describe.each(["sqlite", "postgres"] as const)("a VTEX integration end to end on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind, { keyPrefix: "vtexappkey" });
  });
  afterAll(() => h.close());

  function vtex(
    method: string,
    path: string,
    auth: Credentials | Record<string, string> | null,
    body?: unknown,
  ) {
    const headers: Record<string, string> = { host: "acme.vtexcommercestable.com.br" };
    if (auth && "appKey" in auth) {
      headers["X-VTEX-API-AppKey"] = auth.appKey as string;
      headers["X-VTEX-API-AppToken"] = auth.appToken as string;
    } else if (auth) Object.assign(headers, auth);
    return h.request(method, path, { as: null, headers, ...(body === undefined ? {} : { body }) });
  }

  it("walks from a new user to a dead token", async () => {
    const user = await vtex("POST", "/api/license-manager/users", h.owner, {
      name: "Jane",
      email: "jane@mail.com",
    });
    expect(user.status).toBe(200);
    expect(
      (await vtex("PUT", `/api/license-manager/users/${user.body.id}/roles`, h.owner, [10])).status,
    ).toBe(204);
    const userRoles = await vtex("GET", `/api/license-manager/users/${user.body.id}/roles`, h.owner);
    expect(userRoles.body.map((role: { id: number }) => role.id)).toEqual([10]);

    const key = await vtex("POST", "/api/vlm/appkeys", h.owner, { label: "erp" });
    expect(key.status).toBe(200);
    const put = await vtex("PUT", `/api/license-manager/users/${key.body.appKey}/roles`, h.owner, [
      USER_ADMIN_ROLE.id,
    ]);
    expect(put.status).toBe(204);

    const login = await vtex("POST", "/api/vtexid/apptoken/login", null, {
      appkey: key.body.appKey,
      apptoken: key.body.appToken,
    });
    expect(login.status).toBe(200);
    expect(login.body.authStatus).toBe("Success");
    expect(login.body.expires - Date.parse("2026-11-26T10:00:00Z") / 1000).toBe(24 * 60 * 60);
    const jwt = login.body.token as string;

    const header = { VtexIdclientAutCookie: jwt };
    const ways: Record<string, string>[] = [
      header,
      { cookie: `VtexIdclientAutCookie=${jwt}` },
      { cookie: `VtexIdclientAutCookie_acme=${jwt}` },
    ];
    for (const way of ways) {
      const res = await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged", way);
      expect(res.status, JSON.stringify(Object.keys(way))).toBe(200);
      expect(res.body.items.map((item: { email: string }) => item.email)).toContain("jane@mail.com");
    }

    const renew = await vtex("PATCH", `/api/vtexid/apikey/${key.body.appKey}/apitoken/renew`, header);
    expect(renew.status, renew.text).toBe(200);
    const newToken = renew.body.newToken as string;
    const finish = await vtex(
      "PATCH",
      `/api/vtexid/apikey/${key.body.appKey}/apitoken/finish-renewal`,
      header,
    );
    expect(finish.status, finish.text).toBe(200);
    expect(finish.body.creationDateNewToken).toBeNull();
    const old = { appKey: key.body.appKey, appToken: key.body.appToken };
    expect((await vtex("GET", "/api/vlm/appkeys", old)).status).toBe(401);
    expect(
      (await vtex("GET", "/api/vlm/appkeys", { appKey: key.body.appKey, appToken: newToken })).status,
    ).toBe(200);

    const off = await vtex("PUT", `/api/vlm/appkeys/${key.body.id}`, h.owner, { isActive: false });
    expect(off.status).toBe(200);
    for (const way of ways) {
      expect((await vtex("GET", "/api/license-manager/site/pvt/logins/list/paged", way)).status).toBe(401);
    }
    const validate = await vtex("POST", "/api/vtexid/credential/validate", null, { token: jwt });
    expect(validate.body.authStatus).not.toBe("Success");
  });
});
