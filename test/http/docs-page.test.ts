/**
 * /docs: a strict CSP (no inline script or style, nothing from elsewhere), no framing, no sniffing;
 * every file the page loads is served with the same headers; and only those files are served:
 * Object.prototype names and traversal are 404, never a 500 or a file from the package.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, type TestResponse } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

function expectHardened(res: TestResponse, label: string) {
  expect(res.status, label).toBe(200);
  expect(res.headers.get("x-content-type-options"), label).toBe("nosniff");
  expect(res.headers.get("x-frame-options"), label).toBe("DENY");
  const csp = res.headers.get("content-security-policy") ?? "";
  for (const directive of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ]) {
    expect(csp.split("; "), label).toContain(directive);
  }
  expect(csp, label).not.toMatch(/unsafe-|\*|https?:\/\/(?!localhost)/);
}

describe("/docs", () => {
  it("answers with a strict CSP and frame protection, and has no inline script or style", async () => {
    const page = await h.request("GET", "/docs");
    expectHardened(page, "/docs");
    expect(page.headers.get("content-type")).toContain("text/html");
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(2);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/ src="\/docs\/assets\/[^"]+"/);
      expect(body).toBe("");
    }
    expect(page.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("serves every file the page loads, with the same headers and the right type", async () => {
    const page = await h.request("GET", "/docs");
    const urls = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(urls.sort()).toEqual([
      "/docs/assets/favicon-32x32.png",
      "/docs/assets/init.js",
      "/docs/assets/swagger-ui-bundle.js",
      "/docs/assets/swagger-ui.css",
    ]);
    for (const url of urls) {
      const res = await h.request("GET", url);
      expectHardened(res, url);
      const type = { css: /^text\/css/, js: /^text\/javascript/, png: /^image\/png$/ }[
        url.split(".").pop() as "css"
      ];
      expect(res.headers.get("content-type"), url).toMatch(type);
      expect(res.text.length, url).toBeGreaterThan(
        url.endsWith(".js") && !url.endsWith("init.js") ? 10_000 : 50,
      );
    }
    const init = await h.request("GET", "/docs/assets/init.js");
    expect(init.text).toContain('url: "/openapi.json"');
    expect(init.text).toContain("validatorUrl: null");
    expect((await h.request("GET", "/openapi.json")).status).toBe(200);
  });

  it("serves nothing else: prototype names, traversal and other package files are 404", async () => {
    for (const file of [
      "constructor",
      "__proto__",
      "toString",
      "hasOwnProperty",
      "valueOf",
      "isPrototypeOf",
      "..%2fpackage.json",
      "%2e%2e%2fpackage.json",
      "package.json",
      "index.html",
      "swagger-ui-bundle.js.map",
      "swagger-initializer.js",
      "%00",
      "%FF",
    ]) {
      const res = await h.request("GET", `/docs/assets/${file}`);
      expect([res.status, res.body?.code], file).toEqual([404, "NOT_FOUND"]);
    }
  });
});
