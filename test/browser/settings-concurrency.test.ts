/**
 * The Settings tab when someone else saves the settings while it is open: Save is refused (the page
 * sends If-Match with the ETag it loaded), the form says so and keeps the user's edits, and Reload
 * shows what the other person saved; a save after the reload goes through.
 */
import { describe, expect, it } from "vitest";
import { axeSerious, expectNoConsoleErrors, screenshot, setUpAdmin } from "./support.js";

const SETTINGS = "/v1/accounts/acme/settings/api-keys";
const CONFLICT =
  /^These settings were changed by someone else.*Reload to see them; your edits are kept until you reload\.$/;

interface Settings {
  renewalPeriodMonths: number;
  notifications: { emails: string[] };
}

const lk = setUpAdmin();

describe("the Settings tab, saved meanwhile by someone else", () => {
  it("refuses to overwrite, keeps the edits until Reload, then shows the other save", async () => {
    const { context, page } = await lk.ownerPage();
    const puts: (string | undefined)[] = [];
    page.on("request", (request) => {
      if (request.method() === "PUT") puts.push(request.headers()["if-match"]);
    });
    await page.goto(`${lk.admin.url}/admin/acme/keys/settings`);
    await page.getByRole("heading", { name: "Token renewal" }).waitFor();
    const loaded = await page.evaluate(async (path) => (await fetch(path)).headers.get("etag"), SETTINGS);

    // The user edits…
    await page.getByRole("radio", { name: "6 months" }).check();
    await page.getByLabel("Add an email address").fill("mine@acme.test");
    await page.getByRole("button", { name: "Add email" }).click();
    // …while the owner's script saves other settings through the API.
    await lk.admin.api("PUT", SETTINGS, {
      renewalPeriodMonths: 3,
      notifications: { emails: ["theirs@acme.test"], webhooks: [] },
      policies: { deactivateUnusedDays: 30, maxTokenAgeDays: null },
    });

    await page.getByRole("button", { name: "Save settings" }).click();
    const conflict = page.getByRole("alert").filter({ hasText: "changed by someone else" });
    await conflict.waitFor();
    expect((await conflict.locator("p").textContent())?.replace(/\s+/g, " ").trim()).toMatch(CONFLICT);
    expect(puts).toEqual([loaded]);
    // Nothing of the user's was written, and the edits are still in the form.
    const stored = await lk.admin.api<Settings>("GET", SETTINGS);
    expect(stored).toMatchObject({ renewalPeriodMonths: 3, notifications: { emails: ["theirs@acme.test"] } });
    expect(await page.getByRole("radio", { name: "6 months" }).isChecked()).toBe(true);
    expect(await page.locator(".settings-list li", { hasText: "mine@acme.test" }).count()).toBe(1);
    await page.getByText("Unsaved changes").waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "keys-settings-conflict");

    await conflict.getByRole("button", { name: "Reload settings" }).click();
    await conflict.waitFor({ state: "detached" });
    await page.locator(".settings-list li", { hasText: "theirs@acme.test" }).waitFor();
    expect(await page.locator(".settings-list li", { hasText: "mine@acme.test" }).count()).toBe(0);
    expect(await page.getByRole("radio", { name: "3 months" }).isChecked()).toBe(true);
    expect(await page.getByRole("checkbox", { name: "Deactivate keys that go unused" }).isChecked()).toBe(
      true,
    );

    // Based on the reloaded version, the next save goes through, and so does one after it.
    const storedPeriod = async () => (await lk.admin.api<Settings>("GET", SETTINGS)).renewalPeriodMonths;
    await page.getByRole("radio", { name: "6 months" }).check();
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(storedPeriod).toBe(6);
    await page.getByText(/^Last saved:/).waitFor();
    await page.getByRole("radio", { name: "3 months" }).check();
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(storedPeriod).toBe(3);
    expect(puts).toHaveLength(3);
    expect(new Set(puts).size).toBe(3);

    await page.reload();
    await page.locator(".settings-list li", { hasText: "theirs@acme.test" }).waitFor();
    expect(await page.getByRole("radio", { name: "3 months" }).isChecked()).toBe(true);
    expectNoConsoleErrors(page, [412]);
    await context.close();
  }, 90_000);
});
