/** Sign-in, sign-out, session expiry, the account switcher and the /admin bundle's headers. */
import { describe, expect, it } from "vitest";
import { callAs } from "../e2e/process.js";
import {
  axeSerious,
  DESKTOP,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  openPage,
  PHONE,
  screenshot,
  setUpAdmin,
  signIn,
} from "./support.js";

const lk = setUpAdmin();

describe("the admin shell", () => {
  it("serves the bundled UI under /admin with a strict CSP and no third-party origin", async () => {
    const page = await fetch(`${lk.admin.url}/admin/keys`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    expect(html).not.toMatch(/https?:\/\//);
    const script = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${lk.admin.url}${script}`);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${lk.admin.url}/admin/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${lk.admin.url}/`, { redirect: "manual" })).headers.get("location")).toBe("/admin/");
  });

  it("refuses a wrong password with a clear message, then signs in and out", async () => {
    const { context, page } = await openPage(lk.browser);
    await page.goto(`${lk.admin.url}/admin/`);
    await page.getByLabel("Email").fill(lk.admin.owner.email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/email or password/i);
    await screenshot(page, "sign-in-error");

    await page.getByLabel("Password").fill(lk.admin.owner.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/admin/${lk.admin.owner.account}/keys`);
    await expect.poll(() => page.getByText(lk.admin.owner.email).count()).toBe(1);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expectNoConsoleErrors(page, [401]);
    await context.close();
  });

  it("sends an expired session back to sign-in with a message, and returns to the same page", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(`${lk.admin.url}/admin/${lk.admin.owner.account}/audit`);
    await page.getByRole("heading", { name: /audit/i }).waitFor();
    // Let the page's own loads finish first: one still in flight would meet the 401 before the click.
    await page.waitForLoadState("networkidle");
    // The server forgets the session (as when it expires); the next call the page makes gets 401.
    await context.clearCookies({ name: "lk_session" });
    await page.getByRole("link", { name: "API keys" }).first().click();
    await page.getByText("Your session has expired").waitFor();
    await page.getByLabel("Email").fill(lk.admin.owner.email);
    await page.getByLabel("Password").fill(lk.admin.owner.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expectNoConsoleErrors(page, [401]);
    await context.close();
  });

  it("opens a page whose session the server no longer knows at sign-in, then at that same page", async () => {
    const { context, page } = await lk.ownerPage();
    const audit = `${lk.admin.url}/admin/${lk.admin.owner.account}/audit?action=key.created`;
    await context.clearCookies({ name: "lk_session" });
    await page.goto(audit);
    await page.getByText("Your session has expired").waitFor();
    await page.getByLabel("Email").fill(lk.admin.owner.email);
    await page.getByLabel("Password").fill(lk.admin.owner.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: /audit/i }).waitFor();
    expect(page.url()).toBe(audit);
    expectNoConsoleErrors(page, [401]);
    await context.close();
  });

  it("says so when the server cannot be reached, instead of a blank page", async () => {
    const { context, page } = await lk.ownerPage();
    await page.route("**/v1/me", (route) => route.abort("connectionrefused"));
    await page.reload();
    await page.getByText("The server could not be reached").waitFor();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await context.close();
  });

  it("switches between the accounts a user belongs to", async () => {
    await lk.admin.api("POST", "/v1/accounts/acme/users", {
      email: "two@acme.test",
      password: "two accounts pw",
      roles: [1],
    });
    // A second account whose owner adds the same person: an invitation, until they accept it.
    const globex = await lk.admin.addAccount("globex");
    const added = await callAs(lk.admin.url, globex, "POST", "/v1/accounts/globex/users", {
      email: "two@acme.test",
      roles: [1],
    });
    expect(added.status).toBe(201);
    const { url } = (added.json as { invitation: { url: string } }).invitation;
    const link = new URL(url);

    const { context, page } = await lk.userPage({ email: "two@acme.test", password: "two accounts pw" });
    // One account until the invitation's link is opened and accepted: no switcher yet.
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expect(await page.getByLabel("Account").count()).toBe(0);
    await page.goto(`${lk.admin.url}${link.pathname}${link.hash}`);
    await page.getByRole("button", { name: "Accept the invitation to globex" }).click();
    await page.waitForURL(/\/admin\/globex\/keys/);
    const switcher = page.getByLabel("Account");
    await expect.poll(() => switcher.inputValue()).toBe("globex");
    await switcher.selectOption("acme");
    await page.waitForURL(/\/admin\/acme\/keys/);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await switcher.selectOption("globex");
    await page.waitForURL(/\/admin\/globex\/keys/);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("fits a phone width and 1280×800 without sideways scrolling, with no serious accessibility issue", async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      const { context, page } = await openPage(lk.browser, { viewport });
      await page.goto(`${lk.admin.url}/admin/`);
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      await expectNoHorizontalScroll(page);
      expect(await axeSerious(page)).toEqual([]);
      await signIn(page, lk.admin.url, lk.admin.owner.email, lk.admin.owner.password);
      await expectNoHorizontalScroll(page);
      expect(await axeSerious(page)).toEqual([]);
      await screenshot(page, `shell-${viewport.width}`);
      expectNoConsoleErrors(page);
      await context.close();
    }
  });
});
