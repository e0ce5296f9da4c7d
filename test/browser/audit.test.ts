/** The Audit log page: events of the owner's changes, filters in the address, details, export, chain check. */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  PHONE,
  screenshot,
  setUpAdmin,
} from "./support.js";

const lk = setUpAdmin();
let auditUrl: string;
/** The token of a key created for the test: it must never reach the page. */
let token: string;
let appKey: string;

beforeAll(async () => {
  auditUrl = `${lk.admin.url}/admin/${lk.admin.owner.account}/audit`;
  const issued = await lk.admin.api<{ key: { appKey: string }; appToken: string }>(
    "POST",
    "/v1/accounts/acme/keys",
    { name: "Audit probe", roles: [10] },
  );
  token = issued.appToken;
  appKey = issued.key.appKey;
  await lk.admin.api("PATCH", `/v1/accounts/acme/keys/${appKey}`, { active: false });
  await lk.admin.api("POST", "/v1/accounts/acme/roles", { name: "Audited role", resources: ["ViewOrders"] });
});

const eventRows = (page: Page) => page.locator("tr.audit-row");
const actionRow = (page: Page, action: string) =>
  eventRows(page).filter({ has: page.locator("code", { hasText: new RegExp(`^${action}$`) }) });

describe("the Audit log page", () => {
  it("lists the owner's changes with actor and action, filters by action, and shows an event's data", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(auditUrl);
    await actionRow(page, "role.created").waitFor();
    for (const action of ["key.created", "key.deactivated", "account.created"])
      expect(await actionRow(page, action).count()).toBeGreaterThan(0);
    // Newest first: the role came after the deactivation.
    const actions = await eventRows(page).locator("code").allTextContents();
    expect(actions.indexOf("role.created")).toBeLessThan(actions.indexOf("key.deactivated"));
    const deactivated = actionRow(page, "key.deactivated");
    expect(await deactivated.locator("td[data-label=Actor]").textContent()).toBe(
      `${lk.admin.owner.appKey}key`,
    );
    expect(await deactivated.locator("td[data-label=Target]").textContent()).toBe(`${appKey}key`);
    expect(await deactivated.locator("td[data-label='When (UTC)']").textContent()).toMatch(/UTC$/);
    // Users and roles are shown by email and name, not by their stored ids.
    await expect
      .poll(() => actionRow(page, "role.created").locator("td[data-label=Target]").textContent())
      .toBe("Audited rolerole");
    await expect
      .poll(() => actionRow(page, "account.created").locator("td[data-label=Target]").textContent())
      .toBe("acmeaccount");
    expect(await actionRow(page, "user.added").first().locator("td[data-label=Target]").textContent()).toBe(
      `${lk.admin.owner.email}user`,
    );
    expect(await page.content()).not.toContain(token);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "audit");

    await page.getByLabel("Action").selectOption("key.deactivated");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("action")).toBe("key.deactivated");
    await expect.poll(() => eventRows(page).count()).toBe(1);
    expect(await eventRows(page).locator("code").textContent()).toBe("key.deactivated");

    const toggle = page.getByRole("button", { name: /^Details of key\.deactivated/ });
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    const detail = page.locator("tr.audit-detail");
    const data = JSON.parse((await detail.locator("pre").textContent()) ?? "null");
    expect(data).toMatchObject({ before: { active: true }, after: { active: false } });
    expect(await detail.getByText("Request id").count()).toBe(1);
    expect(await detail.getByText("node", { exact: true }).count()).toBe(1);
    expect(await axeSerious(page)).toEqual([]);

    // The filters come back with the address.
    await page.reload();
    await expect.poll(() => page.getByLabel("Action").inputValue()).toBe("key.deactivated");
    await expect.poll(() => eventRows(page).count()).toBe(1);
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => eventRows(page).count()).toBeGreaterThan(3);
    expect(new URL(page.url()).search).toBe("");
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("filters by day and actor, sending ISO instants to the API", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(auditUrl);
    await actionRow(page, "role.created").waitFor();
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

    await page.getByLabel("From (UTC)").fill(today);
    await page.getByLabel("To (UTC, inclusive)").fill(today);
    await page.getByLabel("Actor").fill(lk.admin.owner.appKey);
    const request = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith("/audit"));
    await page.getByRole("button", { name: "Apply filters" }).click();
    const sent = new URL((await request).url()).searchParams;
    expect(sent.get("from")).toBe(`${today}T00:00:00Z`);
    expect(sent.get("to")).toBe(`${tomorrow}T00:00:00Z`);
    expect(new URL(page.url()).searchParams.get("from")).toBe(today);
    await expect.poll(() => eventRows(page).count()).toBe(3);
    expect(await actionRow(page, "account.created").count()).toBe(0);

    await page.getByLabel("From (UTC)").fill(today);
    await page.getByLabel("To (UTC, inclusive)").fill(yesterday);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByText("The “From” day must not be after the “To” day.").waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("exports the filtered events as csv, and verifies the hash chain", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(`${auditUrl}?action=key.`);
    await actionRow(page, "key.deactivated").waitFor();
    expect(await actionRow(page, "role.created").count()).toBe(0);

    await page.getByRole("button", { name: "Export audit log" }).click();
    const downloading = page.waitForEvent("download");
    await page.getByRole("menuitem", { name: "CSV (.csv)" }).click();
    const file = await downloading;
    expect(file.suggestedFilename()).toMatch(/^latchkey-acme-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await file.path()) as string, "utf8");
    expect(csv.split("\r\n")[0]).toContain("actorLabel");
    expect(csv).toContain("key.created");
    expect(csv).toContain("key.deactivated");
    expect(csv).not.toContain("role.created");
    expect(csv).not.toContain(token);

    // Another account's events take event numbers too: this account's chain then skips them.
    await lk.admin.addAccount(`gap${Date.now()}`);
    await lk.admin.api("POST", "/v1/accounts/acme/keys", { name: "After the other account" });
    await page.getByRole("button", { name: "Verify chain" }).click();
    const result = page.getByRole("status").filter({ hasText: "Chain intact" });
    await expect
      .poll(() => result.textContent())
      .toMatch(/Chain intact\. \d+ events of this account checked/);
    expect(await result.textContent()).toContain(
      "Event numbers are counted across every account of this server, so the numbers that other accounts' events took are not in this chain.",
    );
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("loads older events with Load more", async () => {
    for (let i = 1; i <= 55; i++)
      await lk.admin.api("PATCH", `/v1/accounts/acme/keys/${appKey}`, { name: `Audit probe ${i}` });
    const { context, page } = await lk.ownerPage();
    await page.goto(`${auditUrl}?action=key.renamed`);
    await expect.poll(() => eventRows(page).count()).toBe(50);
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => eventRows(page).count()).toBe(55);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
    expect(await page.getByText("55 events shown.").count()).toBe(1);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("fits a phone's width, with an event's details open, and a narrow desktop", async () => {
    const { context, page } = await lk.ownerPage(PHONE);
    await page.goto(`${auditUrl}?action=role.`);
    await page.getByRole("button", { name: /^Details of role\.created/ }).click();
    await page.locator("tr.audit-detail pre").waitFor();
    await expectNoHorizontalScroll(page);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "audit-phone");
    // Just above the phone layout the table keeps its columns and must still fit.
    await page.setViewportSize({ width: 740, height: 800 });
    await page.goto(auditUrl);
    await eventRows(page).first().waitFor();
    await expectNoHorizontalScroll(page);
    expectNoConsoleErrors(page);
    await context.close();
  });
});
