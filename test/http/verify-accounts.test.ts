/**
 * The account a verification is for (`X-API-Account` on /v1/authorize, `account` on /v1/verify)
 * costs no lookup when it cannot be an account (refused with 400 first), and one read per cached
 * key state when it is a name that never added the key: a valid key sending made-up account names
 * makes neither store reads nor cache entries grow with them.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Credentials, createHarness, type Harness } from "../support/harness.js";
import { countStoreCalls } from "../support/limits.js";

const ORDERS = "/api/oms/pvt/orders/1234";
const OMS_READ = 10;
let h: Harness;
let key: Credentials;

beforeEach(async () => {
  h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: 60 } });
  const created = await h.createKey("no roles");
  key = { appKey: created.appKey, appToken: created.appToken };
});
afterEach(() => h.close());

function authorize(account: string | undefined) {
  return h.request("GET", "/v1/authorize", {
    as: null,
    headers: {
      "x-api-appkey": key.appKey,
      "x-api-apptoken": key.appToken,
      "x-original-method": "GET",
      "x-original-uri": ORDERS,
      ...(account === undefined ? {} : { "x-api-account": account }),
    },
  });
}

const verify = (account: string) => h.request("POST", "/v1/verify", { as: null, body: { ...key, account } });

/** Runs `work` and returns how many store calls it made. */
async function storeCalls(work: () => Promise<unknown>): Promise<number> {
  const calls = countStoreCalls(h.store);
  try {
    await work();
    return calls.count();
  } finally {
    calls.restore();
  }
}

describe("made-up accounts", () => {
  it("that are not account names are a 400 before any lookup, on both endpoints", async () => {
    for (const account of ["x".repeat(8000), "Acme", "a", "acme_x", "-acme"]) {
      const calls = await storeCalls(async () => {
        const refused = await authorize(account);
        expect([refused.status, refused.headers.get("x-auth-code")]).toEqual([400, "MALFORMED_ACCOUNT"]);
        const invalid = await verify(account);
        expect([invalid.status, invalid.body.code]).toEqual([400, "VALIDATION_FAILED"]);
      });
      expect(calls).toBe(0);
    }
    // Not failed authentications: the address is not blocked by them.
    expect(h.services.limiter.blockedFor(null)).toBe(0);
    // An empty header is no account: the key's own.
    expect((await authorize("")).headers.get("x-auth-code")).toBe("RESOURCE_NOT_GRANTED");
  });

  it("that never added the key cost one read in all, and are not kept with the key", async () => {
    expect((await authorize(undefined)).status).toBe(403);
    const names = Array.from({ length: 300 }, (_, i) => `made-up-${i}`);
    const calls = await storeCalls(async () => {
      for (const name of names.slice(0, 150)) {
        const res = await authorize(name);
        expect([res.status, res.headers.get("x-auth-code")]).toEqual([403, "ACCOUNT_NOT_GRANTED"]);
      }
      await Promise.all(
        names.slice(150).map(async (name) => {
          const res = await verify(name);
          expect([res.status, res.body.code]).toEqual([200, "ACCOUNT_NOT_GRANTED"]);
        }),
      );
    });
    expect(calls).toBe(1);
    const cached = h.services.keyCache.peek(key.appKey);
    expect(cached?.peekOthers()?.cells?.size ?? 0).toBe(0);
  });

  it("do not stop an account that added the key from being served, nor hide a later addition", async () => {
    const beta = await h.services.accounts.init({ account: "beta", email: "owner@beta.test" });
    const betaOwner = { appKey: beta.appKey, appToken: beta.appToken };
    const add = () =>
      h.request("POST", "/v1/accounts/beta/external-keys", {
        as: betaOwner,
        body: { appKey: key.appKey, roles: [OMS_READ] },
      });
    expect((await authorize("made-up")).headers.get("x-auth-code")).toBe("ACCOUNT_NOT_GRANTED");
    expect((await authorize("beta")).headers.get("x-auth-code")).toBe("ACCOUNT_NOT_GRANTED");
    expect((await add()).status).toBe(201);
    const inBeta = await authorize("beta");
    expect([inBeta.status, inBeta.headers.get("x-auth-key-type")]).toEqual([200, "external"]);
    expect((await authorize("made-up")).headers.get("x-auth-code")).toBe("ACCOUNT_NOT_GRANTED");
  });
});
