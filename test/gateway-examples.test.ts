/**
 * The two gateway examples publish the same latchkey routes: each file's rules are read as the
 * gateway would apply them (nginx's exact and regex locations with their limit_except methods,
 * Traefik's router rules) and asked about the same requests. The nginx example is also run for
 * real (test/e2e/nginx-integrator.test.ts); this keeps the Traefik one, which no test runs, in step.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const EXAMPLES = join(import.meta.dirname, "..", "examples");
const APPKEY = "appkey-acme-QWERTY";
const SHARE = "Abcdefghijklmnopqrstuvwxyz0123456789_-ABCDE";

/** What an integrator calls on latchkey through the gateway. */
const PUBLISHED: [string, string][] = [
  ["POST", "/v1/auth/apptoken"],
  ["POST", "/api/vtexid/apptoken/login"],
  ["GET", "/v1/me"],
  ["POST", `/v1/accounts/acme/keys/${APPKEY}/renewal`],
  ["POST", `/v1/accounts/acme/keys/${APPKEY}/renewal/complete`],
  ["DELETE", `/v1/accounts/acme/keys/${APPKEY}/renewal`],
  ["PATCH", `/api/vtexid/apikey/${APPKEY}/apitoken/renew`],
  ["PATCH", `/api/vtexid/apikey/${APPKEY}/apitoken/finish-renewal`],
  ["GET", `/share/${SHARE}`],
  ["POST", `/v1/shares/${SHARE}/reveal`],
  ["POST", "/v1/credentials/revoke"],
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
  ["GET", "/docs/assets/swagger-ui-bundle.js"],
  ["GET", "/.well-known/jwks.json"],
];

/** The operator's routes, and published paths with other methods: the platform API's, through the gateway. */
const NOT_PUBLISHED: [string, string][] = [
  ["GET", "/v1/accounts/acme/keys"],
  ["POST", "/v1/accounts/acme/keys"],
  ["GET", `/v1/accounts/acme/keys/${APPKEY}`],
  ["PATCH", `/v1/accounts/acme/keys/${APPKEY}`],
  ["PUT", `/v1/accounts/acme/keys/${APPKEY}/roles`],
  ["GET", `/v1/accounts/acme/keys/${APPKEY}/usage`],
  ["GET", `/v1/accounts/acme/keys/${APPKEY}/renewal`],
  ["DELETE", `/v1/accounts/acme/keys/${APPKEY}/renewal/complete`],
  ["GET", "/v1/accounts/acme/keys/export"],
  ["GET", "/v1/accounts/acme/external-keys"],
  ["GET", "/v1/accounts/acme/settings/api-keys"],
  ["GET", "/v1/accounts/acme/roles"],
  ["GET", "/v1/accounts/acme/users"],
  ["GET", "/v1/accounts/acme/audit"],
  ["POST", "/v1/auth/login"],
  ["POST", "/v1/auth/logout"],
  ["GET", "/v1/me/invitations/acme/preview"],
  ["DELETE", "/v1/me"],
  ["GET", "/v1/resources"],
  ["POST", "/v1/verify"],
  ["GET", "/v1/authorize"],
  ["GET", `/v1/shares/${SHARE}/reveal`],
  ["POST", `/share/${SHARE}`],
  ["POST", "/api/vlm/appkeys"],
  ["GET", "/api/license-manager/site/pvt/roles/list/paged"],
  ["POST", "/api/vtexid/credential/validate"],
  ["GET", `/api/vtexid/apikey/${APPKEY}/apitoken/renew`],
  ["GET", "/admin/"],
  ["GET", "/admin/keys"],
  ["GET", "/metrics"],
  ["GET", "/readyz"],
  ["GET", "/healthz"],
  ["GET", "/docs/assets/../../metrics"],
  ["GET", "/api/oms/pvt/orders/1001"],
];

interface Location {
  match: (path: string) => boolean;
  methods: string[];
}

/** nginx: the exact and regex locations that send to the latchkey upstream, with their methods. */
function nginxPublishes(): (method: string, path: string) => boolean {
  const text = readFileSync(join(EXAMPLES, "nginx", "latchkey.conf"), "utf8");
  const locations: Location[] = [];
  const block = /location (=|~) "?([^"\s]+)"? \{([^{}]*\{[^{}]*\}[^{}]*)\}/g;
  for (const [, kind, pattern, body] of text.matchAll(block)) {
    if (!body?.includes("proxy_pass http://latchkey$uri")) continue;
    const methods = /limit_except ([A-Z ]+) \{ deny all; \}/.exec(body ?? "")?.[1]?.split(" ") ?? [];
    const regex = new RegExp(pattern ?? "");
    locations.push({
      match: kind === "=" ? (path) => path === pattern : (path) => regex.test(path),
      methods,
    });
  }
  expect(locations.length).toBeGreaterThan(10);
  return (method, path) => {
    // Exact locations first, then regexes in order, as nginx picks them.
    const found = locations.find((l) => l.match(path));
    return !!found && found.methods.includes(method);
  };
}

/** Traefik: the routers to the latchkey service, their rules turned into predicates. */
function traefikPublishes(): (method: string, path: string) => boolean {
  const config = parse(readFileSync(join(EXAMPLES, "traefik", "latchkey.yml"), "utf8"));
  const routers = Object.values(config.http.routers as Record<string, Record<string, unknown>>);
  const toLatchkey = routers.filter((router) => router.service === "latchkey");
  expect(toLatchkey.length).toBeGreaterThan(0);
  const rules = toLatchkey.map((router) => {
    expect(router.middlewares).toEqual(["latchkey-integrator-headers"]);
    const source = String(router.rule)
      .replace(/Method\(`([A-Z]+)`\)/g, (_, m) => `(method === ${JSON.stringify(m)})`)
      .replace(/PathRegexp\(`([^`]+)`\)/g, (_, re) => `new RegExp(${JSON.stringify(re)}).test(path)`)
      .replace(/Path\(`([^`]+)`\)/g, (_, p) => `(path === ${JSON.stringify(p)})`);
    expect(source).not.toMatch(/`/);
    return new Function("method", "path", `return ${source};`) as (method: string, path: string) => boolean;
  });
  return (method, path) => rules.some((rule) => rule(method, path));
}

/** nginx resolves dot segments before matching; Traefik cleans the path too. */
const normalized = (path: string) => new URL(path, "http://gateway").pathname;

describe("the gateway examples", () => {
  const gateways = { nginx: nginxPublishes(), traefik: traefikPublishes() };

  for (const [name, publishes] of Object.entries(gateways)) {
    it(`${name} publishes each integrator route of latchkey, with its method`, () => {
      for (const [method, path] of PUBLISHED)
        expect([method, path, publishes(method, path)]).toEqual([method, path, true]);
    });

    it(`${name} publishes nothing else of latchkey`, () => {
      for (const [method, path] of NOT_PUBLISHED) {
        expect([method, path, publishes(method, normalized(path))]).toEqual([method, path, false]);
      }
    });
  }

  it("both make a key renew only its own token and keep cookies away from latchkey", () => {
    const nginx = readFileSync(join(EXAMPLES, "nginx", "latchkey.conf"), "utf8");
    expect(nginx).toMatch(/^ {4}proxy_set_header X-Latchkey-Own-Key-Only "true";$/m);
    expect(nginx).toMatch(/^ {4}proxy_set_header Cookie +"";$/m);
    const traefik = parse(readFileSync(join(EXAMPLES, "traefik", "latchkey.yml"), "utf8"));
    expect(traefik.http.middlewares["latchkey-integrator-headers"].headers.customRequestHeaders).toEqual({
      "X-Latchkey-Own-Key-Only": "true",
      Cookie: "",
    });
  });
});
