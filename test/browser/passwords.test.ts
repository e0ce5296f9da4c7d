/**
 * Passwords in the admin: a user changes their own from the top bar (the old one stops working); an
 * Owner resets a user's password from the Users page and sees the one-time password once, with
 * Copy; signing in with it leads only to "Choose a new password", and after that to the admin. The
 * sign-in page's "Forgot password?" says, on a server without SMTP_URL, that an administrator resets it.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, openPage, setUpAdmin } from "./support.js";

const lk = setUpAdmin();
const OMS_READ = 10;

async function typeSignIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${lk.admin.url}/admin/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signInWorks(email: string, password: string): Promise<boolean> {
  const res = await fetch(`${lk.admin.url}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  return res.status === 200;
}

describe("passwords in the admin", () => {
  it("changes one's own password from the top bar", async () => {
    const user = await lk.admin.addUser("paula@acme.test", [OMS_READ]);
    const { context, page } = await lk.userPage(user);
    await page.getByRole("button", { name: "Change password" }).click();
    const dialog = page.getByRole("dialog", { name: "Change password" });
    await dialog.getByLabel("Current password").fill(user.password);
    await dialog.getByLabel("New password", { exact: true }).fill("paula's own password");
    await dialog.getByLabel("New password again").fill("paula's other password");
    await dialog.getByRole("button", { name: "Change password" }).click();
    await dialog.getByText("The two new passwords differ").waitFor();
    await dialog.getByLabel("New password again").fill("paula's own password");
    await dialog.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed; your other sessions were signed out").waitFor();
    await dialog.waitFor({ state: "detached" });
    // Still signed in here; the old password is gone, the new one works.
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(await signInWorks(user.email, user.password)).toBe(false);
    expect(await signInWorks(user.email, "paula's own password")).toBe(true);
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("resets a user's password once, and the user must choose a new one at sign-in", async () => {
    const user = await lk.admin.addUser("quinn@acme.test", [OMS_READ]);
    const owner = await lk.ownerPage();
    await owner.page.goto(`${lk.admin.url}/admin/acme/users`);
    await owner.page.getByRole("button", { name: "Reset password of quinn@acme.test" }).click();
    await owner.page.getByRole("button", { name: "Reset password", exact: true }).click();
    const shown = owner.page.getByRole("dialog", { name: "Password reset" });
    await shown.getByText("This password is shown only once").waitFor();
    await shown.getByRole("button", { name: "Copy" }).waitFor();
    const oneTime = await shown.getByLabel("One-time password").inputValue();
    expect(oneTime).toMatch(/^[A-Za-z0-9]{20}$/);
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    expect(await owner.page.getByText(oneTime).count()).toBe(0);
    expectNoConsoleErrors(owner.page);
    await owner.context.close();

    expect(await signInWorks(user.email, user.password)).toBe(false);
    const { context, page } = await openPage(lk.browser);
    await typeSignIn(page, user.email, oneTime);
    await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
    expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(0);
    await page.getByLabel("One-time password").fill(oneTime);
    await page.getByLabel("New password", { exact: true }).fill("quinn's chosen password");
    await page.getByLabel("New password again").fill("quinn's chosen password");
    await page.getByRole("button", { name: "Set password" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(await signInWorks(user.email, "quinn's chosen password")).toBe(true);
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("explains, without SMTP_URL, that an administrator resets a forgotten password", async () => {
    const { context, page } = await openPage(lk.browser);
    await page.goto(`${lk.admin.url}/admin/`);
    await page.getByRole("link", { name: "Forgot password?" }).click();
    await page.getByText("This server sends no email").waitFor();
    await page.getByText("Ask an administrator of your account").waitFor();
    await page.getByRole("link", { name: "Back to sign in" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  });
});
