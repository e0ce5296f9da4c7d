/**
 * /docs renders in a real browser under its CSP: Swagger UI loads the document, lists the
 * operations and expands one (highlighted examples included) with no console error, so nothing the
 * page needs was refused by the policy. The app runs in process on a loopback port.
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
});
