/** The pure pieces of VTEX's naming: body fields in any case, numbered labels, paths, the cookie. */
import { describe, expect, it } from "vitest";
import { readCredentials } from "../../src/http/credentials.js";
import { VtexError } from "../../src/http/vtex/adapter.js";
import { foldFieldNames } from "../../src/http/vtex/fields.js";
import { withVtexHeaderNames } from "../../src/http/vtex/headers.js";
import { freeLabel, numberedLabel } from "../../src/http/vtex/labels.js";
import { createVtexPathResolver } from "../../src/http/vtex/paths.js";

describe("foldFieldNames", () => {
  it("renames properties onto the schema's names in any case and keeps unknown ones", () => {
    expect(foldFieldNames({ AppKey: "k", APPTOKEN: "t", extra: 1 }, ["appkey", "apptoken"])).toEqual({
      appkey: "k",
      apptoken: "t",
      extra: 1,
    });
    expect(foldFieldNames([1, 2], ["label"])).toEqual([1, 2]);
    expect(foldFieldNames(null, ["label"])).toBeNull();
  });

  it("refuses one field sent twice in different cases, without echoing values", () => {
    let thrown: unknown;
    try {
      foldFieldNames({ label: "a", Label: "secret-b" }, ["label"]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(VtexError);
    expect((thrown as VtexError).status).toBe(400);
    expect(JSON.stringify((thrown as VtexError).body)).not.toContain("secret-b");
  });
});

describe("numbered labels", () => {
  it("takes the first free number, case-insensitively, within 100 characters", () => {
    expect(freeLabel("erp", new Set())).toBe("erp");
    expect(freeLabel("ERP", new Set(["erp", "erp (2)"]))).toBe("ERP (3)");
    expect(numberedLabel("x".repeat(100), 12)).toBe(`${"x".repeat(95)} (12)`);
    expect(numberedLabel(`${"x".repeat(95)}    y`, 2)).toBe(`${"x".repeat(95)} (2)`);
  });
});

describe("VTEX path resolver", () => {
  const resolver = createVtexPathResolver();
  resolver.learn([
    "/api/*",
    "/api/vlm/appkeys",
    "/api/vlm/appkeys/:id",
    "/api/license-manager/users/:userId/roles",
    "/v1/accounts/:account/keys",
  ]);

  it("spells fixed segments as registered, drops one trailing slash, keeps parameters exact", () => {
    expect(resolver.resolve("/API/Vlm/APPKEYS/")).toBe("/api/vlm/appkeys");
    expect(resolver.resolve("/api/vlm/appkeys/AbC-1/")).toBe("/api/vlm/appkeys/AbC-1");
    expect(resolver.resolve("/API/LICENSE-MANAGER/USERS/MyKey/ROLES")).toBe(
      "/api/license-manager/users/MyKey/roles",
    );
  });

  it("leaves other paths, and VTEX paths no route takes, as they are", () => {
    expect(resolver.resolve("/V1/accounts/a/keys/")).toBe("/V1/accounts/a/keys/");
    expect(resolver.resolve("/api/vlm/other")).toBe("/api/vlm/other");
    expect(resolver.resolve("/api/license-manager/users//roles")).toBe("/api/license-manager/users//roles");
  });
});

describe("the JWT cookie", () => {
  const read = (cookie: string, account?: string) =>
    readCredentials((name) => (name === "cookie" ? cookie : undefined), account);

  it("reads VtexIdclientAutCookie_{account}, preferring the one for the account named", () => {
    expect(read("VtexIdclientAutCookie_acme=a.b.c")).toEqual({ kind: "jwt", token: "a.b.c", from: "cookie" });
    expect(read("VtexIdclientAutCookie_x=1; VtexIdclientAutCookie_acme=2", "acme")).toMatchObject({
      token: "2",
    });
    expect(read("VtexIdclientAutCookie_x=1; VtexIdclientAutCookie=2")).toMatchObject({ token: "2" });
    expect(read("vtexidclientautcookie_ACME=3", "acme")).toMatchObject({ token: "3" });
    expect(read("VtexIdclientAutCookie_=1; VtexIdclientAutCookie_acme=")).toEqual({ kind: "none" });
  });
});

describe("VTEX header names", () => {
  it("renames latchkey's credential headers once, and nothing else", () => {
    expect(withVtexHeaderNames("Send X-API-AppKey and X-API-AppToken")).toBe(
      "Send X-VTEX-API-AppKey and X-VTEX-API-AppToken",
    );
    expect(withVtexHeaderNames("Send X-VTEX-API-AppKey")).toBe("Send X-VTEX-API-AppKey");
  });
});
