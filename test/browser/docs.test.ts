/**
 * /docs renders in a real browser under its CSP: Swagger UI loads the document, lists the
 * operations and expands one (highlighted examples included) with no console error, so nothing the
 * page needs was refused by the policy. Its Authorize button takes a key, and "Try it out" sends
 * it to the origin the page came from (127.0.0.1 here, while PUBLIC_URL says localhost). The app
 * runs in process on a loopback port.
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../support/harness.js";
import { expectNoConsoleErrors, launchBrowser, openPage, problemsOf } from "./support.js";

let h: Harness;
let server: ServerType;
let browser: Browser;
let url = "";

beforeAll(async () => {
  h = await createHarness();
  server = await new Promise<ServerType>((resolve) => {
    const started = serve({ fetch: h.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await h?.close();
});

describe("/docs in a browser", () => {
  it("renders Swagger UI under its CSP without a single refusal", async () => {
    const { context, page } = await openPage(browser);
    await page.goto(`${url}/docs`);
    await expect.poll(() => page.locator(".swagger-ui .info .title").textContent()).toContain("latchkey");
    const operation = page.locator(".opblock-summary", { hasText: "/v1/auth/apptoken" }).first();
    await operation.click();
    await page.locator(".opblock-body .highlight-code").first().waitFor();
    expect(await page.locator(".opblock").count()).toBeGreaterThan(30);
    expect(problemsOf(page).failed).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("authorizes with an appKey and appToken, and Try it out calls this origin with them", {
    timeout: 120_000,
  }, async () => {
    const { context, page } = await openPage(browser);
    await page.goto(`${url}/docs`);
    // Swagger UI's bundle is large: on a loaded machine it can take a while to render.
    await page.locator("button.btn.authorize").first().click({ timeout: 60_000 });
    const dialog = page.locator(".modal-ux");
    for (const [scheme, value] of [
      ["appKey", h.owner.appKey],
      ["appToken", h.owner.appToken],
    ] as const) {
      const container = dialog.locator(".auth-container", {
        has: page.locator("h4 code", { hasText: new RegExp(`^${scheme}$`) }),
      });
      await container.locator("input").fill(value);
      await container.getByRole("button", { name: "Apply credentials" }).click();
      await container.getByRole("button", { name: "Remove authorization" }).waitFor();
    }
    await dialog.locator(".close-modal").click();

    const operation = page.locator("#operations-Session-get_v1_me");
    await operation.locator(".opblock-summary").click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    const sent = page.waitForRequest((request) => request.url().endsWith("/v1/me"));
    await operation.getByRole("button", { name: "Execute" }).click();
    const request = await sent;
    expect(request.url()).toBe(`${url}/v1/me`);
    const headers = await request.allHeaders();
    expect(headers["x-api-appkey"]).toBe(h.owner.appKey);
    expect(headers["x-api-apptoken"]).toBe(h.owner.appToken);
    const status = operation.locator(".live-responses-table .response .response-col_status").first();
    await expect.poll(() => status.textContent()).toContain("200");
    await expect
      .poll(() => operation.locator(".live-responses-table .microlight").first().textContent())
      .toContain(h.owner.appKey);
    expect(problemsOf(page).failed).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  });
});
