/**
 * The share-link page in a browser, as the integrator who receives the link sees it: after Reveal
 * it shows the key, the token, the headers to send and where, and a curl line whose copy, run as
 * it is, makes a first call that works. The page keeps its protections, and the token reaches
 * neither the server's log nor anything but the page.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { axeSerious, expectNoConsoleErrors, openPage, PHONE, screenshot, setUpAdmin } from "./support.js";

const run = promisify(execFile);
const lk = setUpAdmin();

describe("the share-link page", () => {
  it("shows the headers, the address and a curl line that makes a first call", async () => {
    const created = await lk.admin.api<{ key: { appKey: string }; shareUrl: string }>(
      "POST",
      "/v1/accounts/acme/keys",
      { name: "ERP first call", delivery: "link" },
    );
    const appKey = created.key.appKey;
    const { context, page } = await openPage(lk.browser);
    // The link names PUBLIC_URL (localhost); open the same path on the test server's address.
    const opened = await page.goto(`${lk.admin.url}${new URL(created.shareUrl).pathname}`);
    expect(opened?.headers()["cache-control"]).toBe("no-store");
    expect(opened?.headers()["referrer-policy"]).toBe("no-referrer");
    await page.getByRole("button", { name: "Reveal" }).click();
    await page.getByRole("heading", { name: "Your first call" }).waitFor();

    const token = (await page.locator("#appToken").textContent()) ?? "";
    expect(token).toMatch(/^lkt_/);
    const base = `${lk.admin.url}/`;
    expect(await page.locator("#base").textContent()).toBe(base);
    expect(await page.locator("#headers").textContent()).toBe(
      `X-API-AppKey: ${appKey}\nX-API-AppToken: ${token}`,
    );
    await page.getByText("X-VTEX-API-AppKey").waitFor();
    const curl = `curl -H 'X-API-AppKey: ${appKey}' -H 'X-API-AppToken: ${token}' ${base}v1/me`;
    expect(await page.locator("#curl").textContent()).toBe(curl);
    expect(await page.getByRole("link", { name: `${base}docs` }).getAttribute("href")).toBe(`${base}docs`);

    // The copy is the line shown, and it runs as it is.
    await page.locator("#curl + button").click();
    const copied = await page.evaluate(() =>
      (
        globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
      ).navigator.clipboard.readText(),
    );
    expect(copied).toBe(curl);
    const { stdout } = await run("sh", ["-c", `${copied} --silent --show-error --fail`]);
    expect(JSON.parse(stdout).principal).toMatchObject({ type: "key", appKey, account: "acme" });

    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "share-page");
    await page.setViewportSize(PHONE);
    await screenshot(page, "share-page-phone");
    expectNoConsoleErrors(page);
    await context.close();
    expect(lk.admin.server.log()).not.toContain(token);
  }, 60_000);
});
