/** The one credential reader (src/http/credentials.ts), on headers as node:http and Fetch give them. */
import { describe, expect, it } from "vitest";
import { type PresentedCredentials, readCredentials, verifiable } from "../../src/http/credentials.js";

const KEY = "appkey-acme-QWERTY";
const TOKEN = "lkt_token";
const JWT = "eyJ.payload.sig";

function read(headers: Record<string, string>): PresentedCredentials {
  return readCredentials((name) => headers[name]);
}

describe("readCredentials", () => {
  it.each<[string, Record<string, string>, PresentedCredentials]>([
    ["nothing", {}, { kind: "none" }],
    [
      "an appKey and appToken",
      { "x-api-appkey": KEY, "x-api-apptoken": TOKEN },
      { kind: "key", appKey: KEY, appToken: TOKEN },
    ],
    [
      "the VTEX names",
      { "x-vtex-api-appkey": KEY, "x-vtex-api-apptoken": TOKEN },
      { kind: "key", appKey: KEY, appToken: TOKEN },
    ],
    [
      "an appKey alone (malformed later)",
      { "x-api-appkey": KEY },
      { kind: "key", appKey: KEY, appToken: "" },
    ],
    ["an appToken alone", { "x-vtex-api-apptoken": TOKEN }, { kind: "key", appKey: "", appToken: TOKEN }],
    [
      "a key before a JWT and a session",
      {
        "x-api-appkey": KEY,
        "x-api-apptoken": TOKEN,
        authorization: `Bearer ${JWT}`,
        cookie: "lk_session=s",
      },
      { kind: "key", appKey: KEY, appToken: TOKEN },
    ],
    ["a Bearer JWT", { authorization: `Bearer ${JWT}` }, { kind: "jwt", token: JWT, from: "authorization" }],
    [
      "a lower-case scheme",
      { authorization: `bearer \t${JWT} ` },
      { kind: "jwt", token: JWT, from: "authorization" },
    ],
    ["Bearer with no token", { authorization: "Bearer" }, { kind: "jwt", token: "", from: "authorization" }],
    [
      "Bearer with two tokens",
      { authorization: `Bearer ${JWT} x` },
      { kind: "jwt", token: "", from: "authorization" },
    ],
    [
      "Bearer before the VTEX header",
      { authorization: `Bearer ${JWT}`, vtexidclientautcookie: "other" },
      { kind: "jwt", token: JWT, from: "authorization" },
    ],
    ["the VTEX header", { vtexidclientautcookie: ` ${JWT} ` }, { kind: "jwt", token: JWT, from: "header" }],
    [
      "an empty VTEX header (malformed later)",
      { vtexidclientautcookie: "" },
      { kind: "jwt", token: "", from: "header" },
    ],
    [
      "the VTEX cookie among others",
      { cookie: `a=1; VtexIdclientAutCookie=${JWT}; lk_session=s` },
      { kind: "jwt", token: JWT, from: "cookie" },
    ],
    [
      "Basic, then the VTEX header",
      { authorization: "Basic dXNlcjpwYXNz", vtexidclientautcookie: JWT },
      { kind: "jwt", token: JWT, from: "header" },
    ],
    [
      "Basic, then the VTEX cookie",
      { authorization: "Basic dXNlcjpwYXNz", cookie: `VtexIdclientAutCookie=${JWT}` },
      { kind: "jwt", token: JWT, from: "cookie" },
    ],
    ["Basic alone", { authorization: "Basic dXNlcjpwYXNz" }, { kind: "none" }],
    ["a scheme that only starts like Bearer", { authorization: `Bearerx ${JWT}` }, { kind: "none" }],
    ["the session cookie", { cookie: "lk_csrf=c; lk_session=secret" }, { kind: "session", secret: "secret" }],
    [
      "an empty VTEX cookie, then the session",
      { cookie: "VtexIdclientAutCookie=; lk_session=s" },
      { kind: "session", secret: "s" },
    ],
    ["an empty session cookie", { cookie: "lk_session=" }, { kind: "none" }],
    ["a cookie whose name only contains the session's", { cookie: "xlk_session=s" }, { kind: "none" }],
  ])("%s", (_name, headers, expected) => {
    expect(read(headers)).toEqual(expected);
  });
});

describe("verifiable", () => {
  it("hands keys and JWTs to the verifier, and nothing else", () => {
    expect(verifiable({ kind: "key", appKey: KEY, appToken: TOKEN })).toMatchObject({
      kind: "key",
      appKey: KEY,
    });
    expect(verifiable({ kind: "jwt", token: JWT, from: "cookie" })).toMatchObject({
      kind: "jwt",
      token: JWT,
    });
    expect(verifiable({ kind: "session", secret: "s" })).toBeNull();
    expect(verifiable({ kind: "none" })).toBeNull();
  });
});
