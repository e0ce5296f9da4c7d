/**
 * App-token login over HTTP: `POST /v1/auth/apptoken`, `/.well-known/jwks.json`, and JWTs as caller
 * credentials on the management API (Bearer, the VtexIdclientAutCookie header and cookie). The JWT
 * is checked by an independent ES256 verifier (node:crypto, not jose) against the published JWKS.
 */
import { createHmac, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { tamperedLast } from "../support/tampered.js";

let h: Harness;
let other: Harness;
let reader: Credentials;
/** A custom role of acme holding ViewApiKeys only. */
let viewer: number;

beforeAll(async () => {
  [h, other] = await Promise.all([createHarness(), createHarness()]);
  const role = await h.request("POST", "/v1/accounts/acme/roles", {
    body: { name: "Key viewer", resources: ["ViewApiKeys"] },
  });
  viewer = role.body.id;
  reader = await h.createKey("reader", [viewer]);
});

afterAll(async () => {
  await Promise.all([h.close(), other.close()]);
});

type Jwt = { token: string; expires: number; expiresAt: string };

async function login(as: Credentials, account?: string, on: Harness = h): Promise<Jwt> {
  const body = { appKey: as.appKey, appToken: as.appToken, ...(account ? { account } : {}) };
  const res = await on.request("POST", "/v1/auth/apptoken", { as: null, body });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
  return res.body as Jwt;
}

function bearer(token: string) {
  return { as: null, headers: { authorization: `Bearer ${token}` } };
}

function parts(token: string) {
  const [header = "", payload = "", signature = ""] = token.split(".");
  const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  return { header: decode(header), payload: decode(payload), signature, signed: `${header}.${payload}` };
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function expect401(
  res: Promise<{ status: number; body: { code: string }; text: string }>,
  token?: string,
) {
  const { status, body, text } = await res;
  expect(status).toBe(401);
  expect(body.code).toBe("UNAUTHENTICATED");
  if (token) expect(text).not.toContain(token);
}

describe("POST /v1/auth/apptoken", () => {
  it("answers a JWT with its expiry in Unix seconds and ISO 8601, never cached", async () => {
    const res = await h.request("POST", "/v1/auth/apptoken", {
      as: null,
      body: { appKey: h.owner.appKey, appToken: h.owner.appToken },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const now = h.deps.clock.now() / 1000;
    expect(res.body).toEqual({
      token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      expires: Math.floor(now) + 3600,
      expiresAt: new Date((Math.floor(now) + 3600) * 1000).toISOString(),
    });
    const { header, payload } = parts(res.body.token);
    expect(header).toEqual({ alg: "ES256", kid: expect.any(String), typ: "JWT" });
    // One format for both logins: VTEX's claims (audience, userId, iss) are in native JWTs too.
    expect(payload).toEqual({
      sub: h.owner.appKey,
      account: "acme",
      audience: "admin",
      userId: expect.any(String),
      iss: "token-emitter",
      iat: Math.floor(now),
      exp: Math.floor(now) + 3600,
      jti: expect.stringMatching(/^[\w-]{22}$/),
      tfp: expect.stringMatching(/^[\w-]{22}$/),
    });
  });

  it("refuses unknown, wrong, malformed and inactive credentials with one and the same 401", async () => {
    const inactive = await h.createKey("switched off");
    await h.request("PATCH", `/v1/accounts/acme/keys/${inactive.appKey}`, { body: { active: false } });
    const attempts = [
      { appKey: h.owner.appKey, appToken: reader.appToken },
      { appKey: "appkey-acme-ZZZZZZ", appToken: h.owner.appToken },
      {
        appKey: h.owner.appKey,
        appToken: tamperedLast(h.owner.appToken),
      },
      { appKey: "not a key", appToken: "x" },
      inactive,
    ].map((body) => ({ appKey: body.appKey, appToken: body.appToken }));
    const details = new Set<string>();
    for (const body of attempts) {
      const res = await h.request("POST", "/v1/auth/apptoken", { as: null, body });
      expect(res.status, JSON.stringify(body)).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.body.code).toBe("UNAUTHENTICATED");
      expect(res.text).not.toContain(body.appToken);
      details.add(res.body.detail);
    }
    expect(details.size).toBe(1);
  });

  it("rejects bad bodies with a precise 400", async () => {
    const cases: [unknown, string][] = [
      [{ appKey: h.owner.appKey, appToken: h.owner.appToken, extra: 1 }, "extra"],
      [{ appKey: h.owner.appKey }, "appToken"],
      [{ appKey: h.owner.appKey, appToken: h.owner.appToken, account: "Not An Account" }, "account"],
      [{ appKey: h.owner.appKey, appToken: "x".repeat(600) }, "appToken"],
      [[], "body"],
    ];
    for (const [body, field] of cases) {
      const res = await h.request("POST", "/v1/auth/apptoken", { as: null, body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
      expect(res.body.detail).toContain(field);
      expect(res.text).not.toContain(h.owner.appToken);
    }
    const text = await h.request("POST", "/v1/auth/apptoken", { as: null, rawBody: "appKey=x" });
    expect(text.status).toBe(400);
  });

  it("mints for another account only where the key was added as an external key", async () => {
    const partner = await h.services.accounts.init({ account: "partner", email: "p@partner.test" });
    const key = { appKey: partner.appKey, appToken: partner.appToken };
    const denied = await h.request("POST", "/v1/auth/apptoken", {
      as: null,
      body: { ...key, account: "acme" },
    });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe("APPTOKEN_ACCOUNT_DENIED");
    const add = await h.request("POST", "/v1/accounts/acme/external-keys", {
      body: { appKey: key.appKey, roles: [viewer] },
    });
    expect(add.status).toBe(201);
    const jwt = await login(key, "acme");
    expect(parts(jwt.token).payload.account).toBe("acme");
    // The key acts with its grants: View in acme through the external grant, Owner in partner.
    expect((await h.request("GET", "/v1/accounts/acme/keys", bearer(jwt.token))).status).toBe(200);
    expect(
      (await h.request("POST", "/v1/accounts/acme/keys", { ...bearer(jwt.token), body: { name: "x" } }))
        .status,
    ).toBe(403);
    expect((await h.request("GET", "/v1/accounts/partner/keys", bearer(jwt.token))).status).toBe(200);
  });
});

describe("JWT as a caller credential", () => {
  it("authenticates as Bearer, as the VtexIdclientAutCookie header and as that cookie", async () => {
    const { token } = await login(h.owner);
    const me = await h.request("GET", "/v1/me", bearer(token));
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ type: "key", appKey: h.owner.appKey, account: "acme" });
    expect((await h.request("GET", "/v1/accounts/acme/keys", bearer(token))).status).toBe(200);
    expect((await h.request("GET", `/v1/accounts/acme/keys/${reader.appKey}`, bearer(token))).status).toBe(
      200,
    );
    const lowercase = { as: null, headers: { authorization: `bearer ${token}` } };
    expect((await h.request("GET", "/v1/me", lowercase)).status).toBe(200);
    const header = { as: null, headers: { VtexIdclientAutCookie: token } };
    expect((await h.request("GET", "/v1/accounts/acme/keys", header)).status).toBe(200);
    const cookie = { as: null, headers: { cookie: `VtexIdclientAutCookie=${token}` } };
    expect((await h.request("GET", "/v1/me", cookie)).status).toBe(200);
    // A change made with a JWT is audited as the key.
    const created = await h.request("POST", "/v1/accounts/acme/keys", {
      ...bearer(token),
      body: { name: "via jwt" },
    });
    expect(created.status).toBe(201);
    const event = (await h.store.audit.list("acme", 5)).find((e) => e.action === "key.created");
    expect(event).toMatchObject({ actorType: "key", actorId: h.owner.appKey });
    expect(JSON.stringify(await h.store.audit.list("acme", 100))).not.toContain(token);
  });

  it("passes over an Authorization header of another scheme, on /v1 and /v1/authorize alike", async () => {
    const { token } = await login(h.owner);
    const basic = "Basic dXNlcjpwYXNz";
    const gateway = { "x-original-method": "GET", "x-original-uri": "/api/oms/pvt/orders/1" };
    for (const jwt of [{ VtexIdclientAutCookie: token }, { cookie: `VtexIdclientAutCookie=${token}` }]) {
      const headers = { authorization: basic, ...jwt };
      const me = await h.request("GET", "/v1/me", { as: null, headers });
      expect(me.status).toBe(200);
      expect(me.body.principal.appKey).toBe(h.owner.appKey);
      const authorized = await h.request("GET", "/v1/authorize", {
        as: null,
        headers: { ...headers, ...gateway },
      });
      expect(authorized.status).toBe(200);
      expect(authorized.headers.get("x-auth-appkey")).toBe(h.owner.appKey);
    }
    // Alone, it presents no credentials to either.
    await expect401(h.request("GET", "/v1/me", { as: null, headers: { authorization: basic } }));
    const alone = await h.request("GET", "/v1/authorize", {
      as: null,
      headers: { authorization: basic, ...gateway },
    });
    expect(alone.status).toBe(401);
    expect(alone.headers.get("x-auth-code")).toBe("MISSING_CREDENTIALS");
    // A Bearer header without exactly one token is a malformed credential, whatever else is sent.
    for (const authorization of ["Bearer", "Bearer ", `Bearer ${token} ${token}`]) {
      const headers = { authorization, VtexIdclientAutCookie: token };
      await expect401(h.request("GET", "/v1/me", { as: null, headers }));
      const refused = await h.request("GET", "/v1/authorize", {
        as: null,
        headers: { ...headers, ...gateway },
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("x-auth-code")).toBe("MALFORMED_CREDENTIALS");
    }
  });

  it("grants what the key's roles allow, nothing more", async () => {
    const { token } = await login(reader);
    expect((await h.request("GET", "/v1/accounts/acme/keys", bearer(token))).status).toBe(200);
    const create = await h.request("POST", "/v1/accounts/acme/keys", {
      ...bearer(token),
      body: { name: "no" },
    });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe("FORBIDDEN");
    expect((await h.request("GET", "/v1/accounts/other/keys", bearer(token))).status).toBe(403);
  });

  it("refuses the cookie on a state-changing call from a browser page", async () => {
    const { token } = await login(h.owner);
    const fromPage = {
      as: null,
      headers: { cookie: `VtexIdclientAutCookie=${token}`, origin: "https://evil.example" },
      body: { name: "forged" },
    };
    const res = await h.request("POST", "/v1/accounts/acme/keys", fromPage);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("CSRF_FAILED");
    const fetchSite = {
      ...fromPage,
      headers: { cookie: `VtexIdclientAutCookie=${token}`, "sec-fetch-site": "cross-site" },
    };
    expect((await h.request("POST", "/v1/accounts/acme/keys", fetchSite)).status).toBe(403);
    const list = await h.request("GET", "/v1/accounts/acme/keys?q=forged", {
      as: null,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(list.body.total).toBe(0);
    // An integration (no Origin) may send the cookie on any call.
    const server = {
      as: null,
      headers: { cookie: `VtexIdclientAutCookie=${token}` },
      body: { name: "from server" },
    };
    expect((await h.request("POST", "/v1/accounts/acme/keys", server)).status).toBe(201);
  });

  it("refuses tampered, expired, foreign, unsigned and confused tokens (401)", async () => {
    const { token } = await login(h.owner);
    const { header, payload, signature, signed } = parts(token);
    const flipped = `${signature[0] === "A" ? "B" : "A"}${signature.slice(1)}`;
    const jwks = (await h.request("GET", "/.well-known/jwks.json", { as: null })).body.keys;
    const { privateKey: strangerKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signWith = (data: string) =>
      sign("sha256", Buffer.from(data), { key: strangerKey, dsaEncoding: "ieee-p1363" }).toString(
        "base64url",
      );
    const escalated = `${encode(header)}.${encode({ ...payload, sub: reader.appKey })}`;
    const hsHeader = encode({ alg: "HS256", kid: header.kid, typ: "JWT" });
    const hmac = createHmac("sha256", JSON.stringify(jwks[0])).update(`${hsHeader}.${encode(payload)}`);
    const foreign = (await login(other.owner, undefined, other)).token;
    const bad = [
      `${signed}.${flipped}`,
      `${signed}.`,
      `${escalated}.${signature}`,
      `${encode({ ...header, kid: "not-a-kid" })}.${encode(payload)}.${signature}`,
      // Same kid, signed by a key that is not latchkey's.
      `${signed}.${signWith(signed)}`,
      `${encode({ alg: "none", kid: header.kid })}.${encode(payload)}.`,
      `${encode({ alg: "none" })}.${encode(payload)}.`,
      `${hsHeader}.${encode(payload)}.${hmac.digest("base64url")}`,
      // Another installation's JWT (another LATCHKEY_SECRET, other signing keys), for a key with the same account name.
      foreign,
      "not.a.jwt",
      "garbage",
      `${token}x`,
    ];
    for (const jwt of bad) {
      await expect401(h.request("GET", "/v1/me", bearer(jwt)), jwt);
      await expect401(
        h.request("GET", "/v1/accounts/acme/keys", { as: null, headers: { VtexIdclientAutCookie: jwt } }),
        jwt,
      );
    }
    await expect401(h.request("GET", "/v1/me", { as: null, headers: { authorization: "Bearer" } }));
    await expect401(h.request("GET", "/v1/me", { as: null, headers: { VtexIdclientAutCookie: "" } }));
    // Expiry, on the injected clock: valid to the last second, refused from `exp` on.
    h.advance(3599_000);
    expect((await h.request("GET", "/v1/me", bearer(token))).status).toBe(200);
    h.advance(1000);
    await expect401(h.request("GET", "/v1/me", bearer(token)), token);
  });

  it("is verified by an independent ES256 verifier with the published JWKS", async () => {
    const res = await h.request("GET", "/.well-known/jwks.json", { as: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("content-type")).toContain("application/json");
    const { token } = await login(h.owner);
    const { header, signed, signature } = parts(token);
    const jwk = res.body.keys.find((key: { kid: string }) => key.kid === header.kid);
    expect(jwk).toEqual({
      kty: "EC",
      crv: "P-256",
      x: expect.any(String),
      y: expect.any(String),
      kid: header.kid,
      alg: "ES256",
      use: "sig",
    });
    const key = createPublicKey({ key: jwk, format: "jwk" });
    const check = (data: string, sig: string) =>
      verify("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(sig, "base64url"));
    expect(check(signed, signature)).toBe(true);
    expect(check(`${signed}x`, signature)).toBe(false);
    expect(res.text).not.toMatch(/"d"/);
  });

  it("stops working at once when the key is deactivated, and again when it is reactivated", async () => {
    const key = await h.createKey("toggled", [viewer]);
    const { token } = await login(key);
    expect((await h.request("GET", "/v1/me", bearer(token))).status).toBe(200);
    await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: false } });
    await expect401(h.request("GET", "/v1/me", bearer(token)), token);
    await h.request("PATCH", `/v1/accounts/acme/keys/${key.appKey}`, { body: { active: true } });
    expect((await h.request("GET", "/v1/me", bearer(token))).status).toBe(200);
  });

  it("stops working at once when the key is deleted", async () => {
    const key = await h.createKey("deleted soon", [viewer]);
    const { token } = await login(key);
    expect((await h.request("DELETE", `/v1/accounts/acme/keys/${key.appKey}`)).status).toBe(204);
    await expect401(h.request("GET", "/v1/me", bearer(token)), token);
  });

  it("stops working when its token is removed by a renewal, while the new token's JWTs work", async () => {
    const key = await h.createKey("renewed now", [viewer]);
    const { token: old } = await login(key);
    const renewal = await h.request("POST", `/v1/accounts/acme/keys/${key.appKey}/renewal`, {
      body: { deleteOldToken: "now" },
    });
    expect(renewal.status).toBe(201);
    await expect401(h.request("GET", "/v1/me", bearer(old)), old);
    const { token: fresh } = await login({ appKey: key.appKey, appToken: renewal.body.appToken });
    expect((await h.request("GET", "/v1/me", bearer(fresh))).status).toBe(200);
  });

  it("follows a two-step renewal: both work while pending, complete keeps the new, undo keeps the old", async () => {
    const key = await h.createKey("renewed later", [viewer]);
    const path = `/v1/accounts/acme/keys/${key.appKey}/renewal`;
    const { token: old } = await login(key);
    const started = await h.request("POST", path, { body: {} });
    const { token: fresh } = await login({ appKey: key.appKey, appToken: started.body.appToken });
    expect((await h.request("GET", "/v1/me", bearer(old))).status).toBe(200);
    expect((await h.request("GET", "/v1/me", bearer(fresh))).status).toBe(200);
    expect((await h.request("POST", `${path}/complete`)).status).toBe(200);
    await expect401(h.request("GET", "/v1/me", bearer(old)), old);
    expect((await h.request("GET", "/v1/me", bearer(fresh))).status).toBe(200);
    // Undo: the pending token's JWTs go, the current token's stay.
    const again = await h.request("POST", path, { body: {} });
    const { token: pending } = await login({ appKey: key.appKey, appToken: again.body.appToken });
    expect((await h.request("DELETE", path)).status).toBe(200);
    await expect401(h.request("GET", "/v1/me", bearer(pending)), pending);
    expect((await h.request("GET", "/v1/me", bearer(fresh))).status).toBe(200);
  });

  it("keeps old JWTs working across a rotation, with both kids published", async () => {
    const { token: before } = await login(reader);
    const oldKid = parts(before).header.kid;
    const rotated = await h.services.jwt.rotate();
    const { token: after } = await login(reader);
    expect(parts(after).header.kid).toBe(rotated.kid);
    for (const token of [before, after])
      expect((await h.request("GET", "/v1/me", bearer(token))).status).toBe(200);
    const kids = (await h.request("GET", "/.well-known/jwks.json", { as: null })).body.keys.map(
      (k: { kid: string }) => k.kid,
    );
    expect(kids).toEqual([rotated.kid, oldKid]);
  });

  it("never writes a JWT, a token or a private key to the log or a response", async () => {
    const { token } = await login(reader);
    await h.request("GET", "/v1/me", bearer(token));
    const log = h.logLines.join("\n");
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.split(".")[viewer]);
    expect(log).not.toContain(reader.appToken);
    const everything = h.responses.join("\n");
    expect(everything).not.toMatch(/"d":/);
    expect(everything).not.toContain(h.deps.secret);
  });
});

describe("failed attempts", () => {
  it("are rate limited per client address, for logins and for presented JWTs alike; valid ones pass", async () => {
    const limited = await createHarness("sqlite", {
      rateLimit: { failures: 2, windowSeconds: 60 },
      trustProxy: true,
    });
    try {
      const from = (ip: string) => ({ "x-forwarded-for": ip });
      // The key is in use (so its state is cached): a blocked address is served for it.
      const warm = await limited.request("GET", "/v1/me", { headers: from("198.51.100.9") });
      expect(warm.status).toBe(200);
      const wrong = { appKey: limited.owner.appKey, appToken: tamperedLast(limited.owner.appToken) };
      for (let i = 0; i < 3; i++) {
        const res = await limited.request("POST", "/v1/auth/apptoken", {
          as: null,
          body: wrong,
          headers: from("203.0.113.7"),
        });
        expect(res.status).toBe(401);
      }
      const right = { appKey: limited.owner.appKey, appToken: limited.owner.appToken };
      const blocked = await limited.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: wrong,
        headers: from("203.0.113.7"),
      });
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe("RATE_LIMITED");
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
      // The right credentials still get their JWT from the blocked address.
      const served = await limited.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: right,
        headers: from("203.0.113.7"),
      });
      expect(served.status).toBe(200);
      // Another address is not affected: the key's rightful caller still gets its JWT.
      const elsewhere = await limited.request("POST", "/v1/auth/apptoken", {
        as: null,
        body: right,
        headers: from("198.51.100.9"),
      });
      expect(elsewhere.status).toBe(200);
      const jwt = elsewhere.body.token as string;
      // Bad JWTs count too: more than `failures` in the window blocks the address.
      for (let i = 0; i < 3; i++) {
        const res = await limited.request("GET", "/v1/me", {
          as: null,
          headers: { ...from("192.0.2.5"), authorization: `Bearer ${jwt}x` },
        });
        expect(res.status).toBe(401);
      }
      const bad = await limited.request("GET", "/v1/me", {
        as: null,
        headers: { ...from("192.0.2.5"), authorization: `Bearer ${jwt}x` },
      });
      expect(bad.status).toBe(429);
      // The valid JWT is still served from that address.
      const me = await limited.request("GET", "/v1/me", {
        as: null,
        headers: { ...from("192.0.2.5"), authorization: `Bearer ${jwt}` },
      });
      expect(me.status).toBe(200);
      limited.advance(60_000);
      const later = await limited.request("GET", "/v1/me", {
        as: null,
        headers: { ...from("192.0.2.5"), authorization: `Bearer ${jwt}x` },
      });
      expect(later.status).toBe(401);
    } finally {
      await limited.close();
    }
  });
});
