/**
 * The integrator's day one through the shipped nginx example (examples/nginx/latchkey.conf), with a
 * real `latchkey serve` behind it whose PUBLIC_URL is nginx's address, as docs/gateways.md says to
 * run it: the key arrives as a share link, which the integrator opens and reveals through nginx,
 * logs in for a JWT, reads /v1/me, calls the platform's API and renews its own token, all through
 * nginx. The operator's routes (management, /admin, /metrics, /readyz, sign-in) are not published:
 * through nginx they are the platform API's paths, refused by the forward auth before the API, and
 * latchkey's own handlers never see them.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoApi, NGINX, type Nginx, type Reply, send, startEchoApi, startNginx } from "./gateway.js";
import { callAs, freePort, runCli, type Served, serve } from "./process.js";

const OMS_READ = 10;

interface Key {
  appKey: string;
  appToken: string;
}

const credentials = (key: Key) => ({ "X-API-AppKey": key.appKey, "X-API-AppToken": key.appToken });
const json = (reply: Reply) => JSON.parse(reply.body);

describe("an integrator through nginx", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let server: Served;
  let api: EchoApi;
  let nginx: Nginx;
  let owner: Key;
  let renewRole: number;
  /** The integrator's key, as it has it: revealed from a share link through nginx. */
  let erp: Key;
  let jwt = "";

  const through = (options: Parameters<typeof send>[1]) => send(nginx.port, options);

  /** A key made by the operator, directly on latchkey (the private side). */
  async function operatorCreates(body: object) {
    const res = await callAs(server.url, owner, "POST", "/v1/accounts/acme/keys", body);
    expect(res.status, res.text).toBe(201);
    return res.json;
  }

  async function keyCount(): Promise<number> {
    return (await callAs(server.url, owner, "GET", "/v1/accounts/acme/keys")).json.total;
  }

  beforeAll(async () => {
    expect(existsSync(NGINX), `${NGINX} is missing: apt-get install nginx`).toBe(true);
    const dataDir = await mkdtemp(join(tmpdir(), "latchkey-e2e-integrator-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      LATCHKEY_SECRET: randomBytes(32).toString("hex"),
      TRUST_PROXY: "true",
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    const init = await runCli(["init", "--account", "acme", "--email", "owner@acme.test", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    owner = JSON.parse(init.stdout) as Key;
    server = await serve(env);
    cleanups.push(() => server.stop());
    api = await startEchoApi();
    cleanups.push(() => api.close());
    nginx = await startNginx({ latchkey: new URL(server.url).host, api: api.address, port });
    cleanups.push(() => nginx.stop());

    const role = await callAs(server.url, owner, "POST", "/v1/accounts/acme/roles", {
      name: "Renews its own token",
      resources: ["RenewApiToken"],
    });
    expect(role.status, role.text).toBe(201);
    renewRole = role.json.id;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it("opens the share link and reveals the key once, under the page's protections", async () => {
    const created = await operatorCreates({ name: "ERP", roles: [OMS_READ, renewRole], delivery: "link" });
    const shareUrl = new URL(created.shareUrl as string);
    expect(shareUrl.origin).toBe(`http://127.0.0.1:${nginx.port}`);

    const page = await through({ path: shareUrl.pathname });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.headers["cache-control"]).toBe("no-store");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");

    const id = shareUrl.pathname.split("/").pop() ?? "";
    const reveal = await through({ path: `/v1/shares/${id}/reveal`, method: "POST" });
    expect(reveal.status, reveal.body).toBe(200);
    erp = json(reveal) as Key;
    expect(erp.appKey).toBe(created.key.appKey);
    expect(api.seen).toHaveLength(0);

    const again = await through({ path: `/v1/shares/${id}/reveal`, method: "POST" });
    expect([again.status, json(again).code]).toEqual([410, "SHARE_LINK_GONE"]);
    // The link id, a capability, is not in latchkey's log: only the redacted path is.
    expect(server.log()).not.toContain(id);
    expect(server.log()).not.toContain(erp.appToken);
  });

  it("logs in for a JWT (native and VTEX), reads /v1/me with it and calls the platform's API", async () => {
    const login = await through({ path: "/v1/auth/apptoken", method: "POST", body: erp });
    expect(login.status, login.body).toBe(200);
    jwt = json(login).token;

    const vtex = await through({
      path: "/api/vtexid/apptoken/login",
      method: "POST",
      body: { appkey: erp.appKey, apptoken: erp.appToken },
    });
    expect(vtex.status, vtex.body).toBe(200);
    expect(json(vtex).authStatus).toBe("Success");

    for (const headers of [{ Authorization: `Bearer ${jwt}` }, credentials(erp)]) {
      const me = await through({ path: "/v1/me", headers });
      expect(me.status, me.body).toBe(200);
      expect(json(me).principal).toMatchObject({ type: "key", appKey: erp.appKey, account: "acme" });
    }

    const orders = await through({
      path: "/api/oms/pvt/orders/1001",
      headers: { Authorization: `Bearer ${jwt}` },
    });
    expect(orders.status).toBe(200);
    expect(api.seen.at(-1)?.headers["x-auth-appkey"]).toBe(erp.appKey);
  });

  it("renews its own token, and may not renew another key's", async () => {
    const other = (await operatorCreates({ name: "Marketing tool" })).key.appKey as string;
    const seen = api.seen.length;
    for (const [method, path] of [
      ["POST", `/v1/accounts/acme/keys/${other}/renewal`],
      ["DELETE", `/v1/accounts/acme/keys/${other}/renewal`],
      ["PATCH", `/api/vtexid/apikey/${other}/apitoken/renew`],
    ]) {
      const refused = await through({ path: path ?? "", method: method ?? "", headers: credentials(erp) });
      expect([method, refused.status], refused.body).toEqual([method, 403]);
    }
    const refused = await through({
      path: `/v1/accounts/acme/keys/${other}/renewal`,
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}` },
    });
    expect([refused.status, json(refused).code]).toEqual([403, "OWN_KEY_ONLY"]);
    const untouched = await callAs(server.url, owner, "GET", `/v1/accounts/acme/keys/${other}`);
    expect(untouched.json.creationDateNewToken).toBeNull();

    const path = `/v1/accounts/acme/keys/${erp.appKey}/renewal`;
    const started = await through({ path, method: "POST", headers: credentials(erp), body: {} });
    expect(started.status, started.body).toBe(201);
    const renewed = { appKey: erp.appKey, appToken: json(started).appToken as string };
    const completed = await through({
      path: `${path}/complete`,
      method: "POST",
      headers: credentials(renewed),
    });
    expect(completed.status, completed.body).toBe(200);
    expect((await through({ path: "/v1/me", headers: credentials(erp) })).status).toBe(401);
    expect((await through({ path: "/v1/me", headers: credentials(renewed) })).status).toBe(200);
    erp = renewed;

    const vtexRenew = await through({
      path: `/api/vtexid/apikey/${erp.appKey}/apitoken/renew`,
      method: "PATCH",
      headers: credentials(erp),
    });
    expect(vtexRenew.status, vtexRenew.body).toBe(200);
    expect(json(vtexRenew).newToken).toMatch(/^lkt_/);
    expect(api.seen.length).toBe(seen);
  });

  it("reads the API docs, the OpenAPI document and the JWKS", async () => {
    for (const path of ["/docs", "/docs/assets/swagger-ui.css", "/openapi.json", "/.well-known/jwks.json"]) {
      const reply = await through({ path });
      expect([path, reply.status]).toEqual([path, 200]);
    }
    expect(json(await through({ path: "/openapi.json" })).servers[0].url).toBe("/");
    expect(api.seen.filter((entry) => /docs|openapi|jwks/.test(entry.url))).toEqual([]);
  });

  it("does not publish the operator's routes: the forward auth refuses them and latchkey never serves them", async () => {
    const seen = api.seen.length;
    const before = await keyCount();
    const operatorOnly: [string, string][] = [
      ["GET", "/v1/accounts/acme/keys"],
      ["POST", "/v1/accounts/acme/keys"],
      ["PATCH", `/v1/accounts/acme/keys/${erp.appKey}`],
      ["GET", "/v1/accounts/acme/settings/api-keys"],
      ["GET", "/v1/accounts/acme/audit"],
      ["POST", "/v1/auth/login"],
      ["GET", "/v1/me/invitations/acme/preview"],
      ["POST", "/v1/verify"],
      ["GET", "/v1/authorize"],
      ["PATCH", "/api/vlm/appkeys/1"],
      ["POST", "/api/vtexid/credential/validate"],
      ["GET", "/admin/"],
      ["GET", "/metrics"],
      ["GET", "/readyz"],
      // Dot segments are resolved by nginx before it picks a location: this is /admin/.
      ["GET", "/v1/me/../../admin/"],
    ];
    for (const [method, path] of operatorOnly) {
      const body = method === "GET" ? undefined : { name: "through the gateway" };
      const asOwner = await through({ path, method, headers: credentials(owner), body });
      // The forward auth's answer: no catalog resource covers latchkey's own paths.
      expect([method, path, asOwner.status, asOwner.headers["x-auth-code"]]).toEqual([
        method,
        path,
        403,
        "ROUTE_NOT_MAPPED",
      ]);
      const anonymous = await through({ path, method, body });
      expect([method, path, anonymous.status]).toEqual([method, path, 401]);
      expect(anonymous.headers["set-cookie"]).toBeUndefined();
    }
    expect(api.seen.length).toBe(seen);
    expect(await keyCount()).toBe(before);

    // A published path with a method that is not: refused by nginx itself.
    const deleteMe = await through({ path: "/v1/me", method: "DELETE", headers: credentials(erp) });
    expect(deleteMe.status).toBe(403);
    expect(deleteMe.headers["x-auth-code"]).toBeUndefined();
    // latchkey gets the path nginx matched, never the raw target: nginx decodes %2F before it
    // resolves dot segments, so this is /v1/me to nginx; sent on as it came, it would be a path
    // under /admin to latchkey (which would answer with the admin's page).
    const dotted = await through({ path: "/admin/x%2F..%2F..%2Fv1/me", headers: credentials(erp) });
    expect(dotted.status).toBe(200);
    expect(json(dotted).principal.appKey).toBe(erp.appKey);
  });

  it("lets the integrator report its leaked token, which switches its key off", async () => {
    const leaked = await operatorCreates({ name: "Leaked" });
    const key = { appKey: leaked.key.appKey, appToken: leaked.appToken };
    const report = await through({
      path: "/v1/credentials/revoke",
      method: "POST",
      body: { tokens: [key.appToken] },
    });
    expect(report.status, report.body).toBe(202);
    expect((await through({ path: "/v1/me", headers: credentials(key) })).status).toBe(401);
  });
});
