/**
 * Password sign-in under the failure limiter (SPEC §6): unlike tokens, strict. Counted per client
 * address and per (normalized) email; while either is over the limit every attempt gets 429 before
 * the password hash is computed, the right password included; and an unknown email is counted and
 * answered exactly as a known one. Hash computations are counted through a wrapped verifyPassword.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createHarness, type Harness, OWNER_PASSWORD } from "../support/harness.js";
import { type Answer, requestFrom } from "../support/limits.js";
import { tamperedLast } from "../support/tampered.js";

const hashing = vi.hoisted(() => ({ count: 0 }));

vi.mock("../../src/services/passwords.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/services/passwords.js")>();
  return {
    ...actual,
    verifyPassword: (password: string, stored: string) => {
      hashing.count += 1;
      return actual.verifyPassword(password, stored);
    },
  };
});

const OWNER = "owner@acme.test";
const ADDRESS = "203.0.113.30";
let h: Harness;
afterEach(() => h.close());

const signIn = (ip: string, email: string, password: string) =>
  requestFrom(h, ip, "POST", "/v1/auth/login", { body: { email, password } });

/** What a client sees of a refusal, less what differs between any two requests. */
function seen(res: Answer) {
  const { requestId: _requestId, ...body } = res.body;
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body };
}

describe("password sign-in", () => {
  it("is refused with the right password from an address blocked by bad tokens, before hashing", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 30, windowSeconds: 60 } });
    expect((await requestFrom(h, "198.51.100.30", "GET", "/v1/me", { as: h.owner })).status).toBe(200);
    const wrong = { appKey: h.owner.appKey, appToken: tamperedLast(h.owner.appToken) };
    for (let i = 0; i < 100; i++) await requestFrom(h, ADDRESS, "GET", "/v1/me", { as: wrong });
    // The owner's key (in use, so cached) is still served from there: only sign-in is strict.
    expect((await requestFrom(h, ADDRESS, "GET", "/v1/me", { as: h.owner })).status).toBe(200);

    const before = hashing.count;
    const refused = await signIn(ADDRESS, OWNER, OWNER_PASSWORD);
    expect([refused.status, refused.body.code, refused.headers.get("retry-after")]).toEqual([
      429,
      "RATE_LIMITED",
      "60",
    ]);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(hashing.count).toBe(before);

    expect((await signIn("198.51.100.30", OWNER, OWNER_PASSWORD)).status).toBe(200);
    expect(hashing.count).toBe(before + 1);
  });

  it("is blocked per email, from any address, before hashing; normalized; other emails go on", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 3, windowSeconds: 60 } });
    const spellings = [OWNER, "OWNER@acme.test", " owner@ACME.TEST ", "Owner@Acme.Test"];
    for (const [i, email] of spellings.entries()) {
      expect((await signIn(`192.0.2.${i + 1}`, email, `wrong ${i}`)).status).toBe(401);
    }
    const before = hashing.count;
    // A fresh address, the right password: the email is over the limit.
    const refused = await signIn("192.0.2.100", OWNER, OWNER_PASSWORD);
    expect([refused.status, refused.body.code]).toEqual([429, "RATE_LIMITED"]);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(hashing.count).toBe(before);
    // Another email from the same fresh address is looked at (and hashed) as usual.
    expect((await signIn("192.0.2.100", "someone@acme.test", "whatever 123")).status).toBe(401);
    expect(hashing.count).toBe(before + 1);

    h.advance(60_000);
    expect((await signIn("192.0.2.100", OWNER, OWNER_PASSWORD)).status).toBe(200);
  });

  it("answers an unknown email exactly as a known one: the same failures, the same block", async () => {
    h = await createHarness("sqlite", { rateLimit: { failures: 2, windowSeconds: 60 } });
    const story = async (email: string, network: string) => {
      const answers: ReturnType<typeof seen>[] = [];
      const start = hashing.count;
      for (let i = 0; i < 3; i++)
        answers.push(seen(await signIn(`${network}.${i + 1}`, email, "not it at all")));
      const blocked = seen(await signIn(`${network}.50`, email, OWNER_PASSWORD));
      return { answers, blocked, hashed: hashing.count - start };
    };
    const known = await story(OWNER, "192.0.2");
    const unknown = await story("nobody@acme.test", "198.51.100");
    expect(known.answers.map((a) => a.status)).toEqual([401, 401, 401]);
    expect(unknown).toEqual(known);
    expect(known.blocked).toMatchObject({ status: 429, retryAfter: "60", body: { code: "RATE_LIMITED" } });
    expect(known.hashed).toBe(3);
  });
});
