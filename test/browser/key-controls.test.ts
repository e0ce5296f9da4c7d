/**
 * A key's controls in the admin (docs/key-controls.md): the Generate and Edit dialogs (expiry, IP
 * allowlist, metadata, browser use, bounded by the account's policies), a server refusal shown at
 * its field with what was typed kept, the badges in the table and on the key's page, the Expiry and
 * Controls filters, and the two policies on the Settings tab.
 */
import { describe, expect, it } from "vitest";
import {
  axeSerious,
  expectNoConsoleErrors,
  keyRow,
  openKeyEdit,
  patchBodies,
  screenshot,
  setUpAdmin,
} from "./support.js";

const DAY = 86_400_000;
const KEYS = "/v1/accounts/acme/keys";
const SETTINGS = "/v1/accounts/acme/settings/api-keys";

interface ApiKey {
  appKey: string;
  name: string;
  expiresAt: string | null;
  ipAllowlist: string[] | null;
  metadata: Record<string, unknown> | null;
  allowBrowser: boolean;
}

const lk = setUpAdmin();

/** yyyy-mm-dd, `days` from today (UTC): the key stops working at 00:00 UTC that day. */
const day = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
const getKey = (appKey: string) => lk.admin.api<ApiKey>("GET", `${KEYS}/${appKey}`);

async function setPolicies(policies: { maxKeyLifetimeDays?: number | null; allowBrowserKeys?: boolean }) {
  await lk.admin.api("PUT", SETTINGS, {
    renewalPeriodMonths: 3,
    notifications: { emails: [], webhooks: [] },
    policies: { deactivateUnusedDays: null, maxTokenAgeDays: null, ...policies },
  });
}

describe("key controls in the admin", () => {
  it("generates a key with all four controls, shown as badges in the table and on its page", async () => {
    await setPolicies({ allowBrowserKeys: true });
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    await page.getByRole("button", { name: "Generate key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.getByLabel("Name").fill("Controlled");
    expect(await dialog.getByText("The account sets no maximum key lifetime.").count()).toBe(1);
    await dialog.getByLabel("Expires on a date").check();
    await dialog.getByLabel("Expiry date").fill(day(10));
    await dialog.getByLabel("IP allowlist").fill("203.0.113.0/24\n\n2001:DB8::/32");
    expect(await dialog.getByText("Metadata is not a secret store.").count()).toBe(1);
    await dialog.getByLabel("Metadata (JSON object)").fill('{"customerId": "c-1"}');
    await dialog.getByText("20 of 4,096 bytes").waitFor();
    await dialog.getByLabel("Allow use from browser pages").check();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "key-controls-generate");
    await dialog.getByRole("button", { name: "Generate key" }).click();
    const done = page.getByRole("dialog", { name: "Key generated" });
    const appKey = await done.getByLabel("appKey").inputValue();
    await done.getByRole("button", { name: "Done" }).click();

    expect(await getKey(appKey)).toMatchObject({
      expiresAt: `${day(10)}T00:00:00.000Z`,
      ipAllowlist: ["203.0.113.0/24", "2001:db8::/32"],
      metadata: { customerId: "c-1" },
      allowBrowser: true,
    });
    const row = keyRow(page, "Controlled");
    for (const badge of ["Expires in 10 days", "IP allowlist", "Metadata", "Browser allowed"])
      await row.getByText(badge, { exact: true }).waitFor();

    await row.getByRole("link", { name: "Controlled", exact: true }).click();
    const controls = page.getByRole("region", { name: "Controls" });
    await controls.getByText("203.0.113.0/24, 2001:db8::/32").waitFor();
    expect(await controls.textContent()).toContain('"customerId": "c-1"');
    await page.getByRole("heading", { name: "Controlled", level: 1 }).waitFor();
    await page.getByText("Expires in 10 days", { exact: true }).first().waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("edits the controls with a PATCH of only what changed", async () => {
    await setPolicies({ allowBrowserKeys: true });
    const key = await lk.admin.api<{ key: ApiKey }>("POST", KEYS, {
      name: "Edit controls",
      expiresAt: `${day(40)}T12:34:56.000Z`,
      metadata: { plan: "gold" },
    });
    const { context, page } = await lk.ownerPage();
    const sent = patchBodies(page);
    let dialog = await openKeyEdit(page, "Edit controls");
    expect(await dialog.getByLabel("Expiry date").inputValue()).toBe(day(40));
    expect(await dialog.getByLabel("Expires on a date").isChecked()).toBe(true);
    await dialog.getByLabel("IP allowlist").fill("198.51.100.7");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    // The untouched expiry keeps its exact instant; metadata and browser use were not sent.
    expect(sent).toEqual([{ ipAllowlist: ["198.51.100.7"] }]);
    await keyRow(page, "Edit controls").getByText("IP allowlist", { exact: true }).waitFor();

    dialog = await openKeyEdit(page, "Edit controls");
    expect(await dialog.getByLabel("IP allowlist").inputValue()).toBe("198.51.100.7");
    await dialog.getByLabel("Never expires").check();
    await dialog.getByLabel("Metadata (JSON object)").fill("");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(sent[1]).toEqual({ expiresAt: null, metadata: null });
    expect(await getKey(key.key.appKey)).toMatchObject({
      expiresAt: null,
      metadata: null,
      ipAllowlist: ["198.51.100.7"],
      allowBrowser: false,
    });
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("shows refusals at their field, the client's and the server's, keeping what was typed", async () => {
    await setPolicies({ maxKeyLifetimeDays: null, allowBrowserKeys: false });
    await lk.admin.api("POST", KEYS, { name: "Refused edit" });
    const { context, page } = await lk.ownerPage();
    const sent = patchBodies(page);
    const dialog = await openKeyEdit(page, "Refused edit");
    // Browser use is off for the account: the box cannot be ticked, and says why.
    const browser = dialog.getByLabel("Allow use from browser pages");
    expect(await browser.isDisabled()).toBe(true);
    await dialog.getByText("The account's settings do not allow keys in browser pages").waitFor();

    // The client's own check, by the server's rules: the line the bad entry is on.
    const ip = dialog.getByLabel("IP allowlist");
    await ip.fill("203.0.113.0/24\n\n10.0.0.1/8");
    await dialog.getByLabel("Metadata (JSON object)").fill("{not json");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByText(/^Line 3: "10\.0\.0\.1\/8" has bits set after its prefix/).waitFor();
    await dialog.getByText("Not valid JSON: check quotes, commas and braces").waitFor();
    expect(await ip.getAttribute("aria-invalid")).toBe("true");
    expect(sent).toEqual([]);

    // The policy changes after the dialog opened: the server refuses, and says it at the expiry.
    await ip.fill("203.0.113.0/24\n\n10.0.0.0/8");
    await dialog.getByLabel("Metadata (JSON object)").fill('{"team": "ops"}');
    await setPolicies({ maxKeyLifetimeDays: 30, allowBrowserKeys: false });
    await dialog.getByLabel("Expires on a date").check();
    await dialog.getByLabel("Expiry date").fill(day(60));
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog
      .getByText(/The account allows keys at most 30 days from their creation: the latest allowed expiry is/)
      .waitFor();
    expect(await dialog.getByLabel("Expiry date").getAttribute("aria-invalid")).toBe("true");
    expect(sent).toHaveLength(1);
    // Nothing typed is lost, and nothing was written.
    expect(await ip.inputValue()).toBe("203.0.113.0/24\n\n10.0.0.0/8");
    expect(await dialog.getByLabel("Metadata (JSON object)").inputValue()).toBe('{"team": "ops"}');
    expect(await dialog.getByLabel("Expiry date").inputValue()).toBe(day(60));
    const key = (await lk.admin.api<{ items: ApiKey[] }>("GET", `${KEYS}?q=Refused`)).items[0];
    expect(key).toMatchObject({ expiresAt: null, ipAllowlist: null, metadata: null });

    await dialog.getByLabel("Expiry date").fill(day(20));
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    const saved = (await lk.admin.api<{ items: ApiKey[] }>("GET", `${KEYS}?q=Refused`)).items[0];
    expect(saved).toMatchObject({
      expiresAt: `${day(20)}T00:00:00.000Z`,
      ipAllowlist: ["203.0.113.0/24", "10.0.0.0/8"],
      metadata: { team: "ops" },
    });
    await setPolicies({ maxKeyLifetimeDays: null });
    expectNoConsoleErrors(page, [422]);
    await context.close();
  }, 60_000);

  it("filters the keys by expiry and by control, in the address", async () => {
    await setPolicies({ maxKeyLifetimeDays: null, allowBrowserKeys: true });
    await lk.admin.api("POST", KEYS, { name: "Filter soon", expiresAt: `${day(5)}T00:00:00Z` });
    await lk.admin.api("POST", KEYS, { name: "Filter later", expiresAt: `${day(90)}T00:00:00Z` });
    await lk.admin.api("POST", KEYS, { name: "Filter browser", allowBrowser: true });
    await lk.admin.api("POST", KEYS, { name: "Filter ip", ipAllowlist: ["192.0.2.0/24"] });
    const { context, page } = await lk.ownerPage();
    await page.getByLabel("Search").fill("Filter");
    // The search is applied (debounced) before the next filter, or that filter would start from an
    // unsearched list: the earlier tests' keys (expiring soon too) leave it.
    await page.waitForURL((url) => url.searchParams.get("q") === "Filter");
    await keyRow(page, "Controlled").waitFor({ state: "detached" });
    await keyRow(page, "Filter ip").waitFor();

    await page.getByLabel("Expiry", { exact: true }).selectOption("soon");
    await keyRow(page, "Filter later").waitFor({ state: "detached" });
    await keyRow(page, "Filter soon").getByText("Expires in 5 days").waitFor();
    expect(new URL(page.url()).searchParams.get("expiry")).toBe("soon");
    expect(await page.locator("tbody tr").count()).toBe(1);

    await page.getByLabel("Expiry", { exact: true }).selectOption("");
    await page.getByLabel("Controls", { exact: true }).selectOption("allowBrowser");
    await keyRow(page, "Filter soon").waitFor({ state: "detached" });
    await keyRow(page, "Filter browser").waitFor();
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect(new URL(page.url()).searchParams.get("control")).toBe("allowBrowser");

    await page.reload();
    expect(await page.getByLabel("Controls", { exact: true }).inputValue()).toBe("allowBrowser");
    await keyRow(page, "Filter browser").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).first().click();
    await keyRow(page, "Filter ip").waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("edits the maximum key lifetime and browser keys policies on the Settings tab", async () => {
    await setPolicies({ maxKeyLifetimeDays: null, allowBrowserKeys: false });
    const { context, page } = await lk.ownerPage();
    await page.goto(`${lk.admin.url}/admin/acme/keys/settings`);
    await page.getByRole("checkbox", { name: "Limit how long keys live" }).check();
    await page.getByLabel("Maximum key lifetime (days)").fill("90");
    await page.getByRole("checkbox", { name: "Allow keys to be used from browser pages" }).check();
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator(".toast", { hasText: "Settings saved" }).waitFor();
    const saved = await lk.admin.api<{ policies: Record<string, unknown> }>("GET", SETTINGS);
    expect(saved.policies).toMatchObject({ maxKeyLifetimeDays: 90, allowBrowserKeys: true });

    // The Generate dialog now offers the longest allowed expiry, and no "never".
    await page.goto(`${lk.admin.url}/admin/acme/keys`);
    await page.getByRole("button", { name: "Generate key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.getByText(/The account allows keys at most 90 days from their creation/).waitFor();
    expect(await dialog.getByLabel(/^Longest allowed: until/).isChecked()).toBe(true);
    expect(await dialog.getByLabel("Never expires").isDisabled()).toBe(true);
    expect(await dialog.getByLabel("Allow use from browser pages").isDisabled()).toBe(false);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await setPolicies({ maxKeyLifetimeDays: null, allowBrowserKeys: false });
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
