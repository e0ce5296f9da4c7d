/** The Generated tab over many keys: search, filters, sort and paging, kept in the address; phone width. */
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

const BULK = 120;
const lk = setUpAdmin();
let roleId: number;

beforeAll(async () => {
  const names = Array.from({ length: BULK }, (_, i) => `Paged ${String(i + 1).padStart(3, "0")}`);
  for (let i = 0; i < names.length; i += 10)
    await Promise.all(
      names.slice(i, i + 10).map((name) => lk.admin.api("POST", "/v1/accounts/acme/keys", { name })),
    );
  const { items } = await lk.admin.api<{ items: { appKey: string }[] }>(
    "GET",
    "/v1/accounts/acme/keys?q=Paged%20003",
  );
  const third = items[0];
  if (!third) throw new Error("Paged 003 was not created");
  await lk.admin.api("PATCH", `/v1/accounts/acme/keys/${third.appKey}`, { active: false });
  const role = await lk.admin.findRole("User Administrator");
  roleId = role.id;
  await lk.admin.api("PUT", `/v1/accounts/acme/keys/${third.appKey}/roles`, { roles: [role.id] });
}, 120_000);

const TOTAL = BULK + 1; // and the bootstrap key

const names = (page: Page) => page.locator("tbody tr .key-name").allTextContents();
const showing = (page: Page) => page.getByText(/^Showing /).textContent();
const query = (page: Page) => new URL(page.url()).searchParams;

describe("the Generated tab with many keys", () => {
  it("pages through the keys with Next and Previous", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    await expect.poll(() => showing(page)).toBe(`Showing 1–50 of ${TOTAL} keys`);
    expect(await page.locator("tbody tr").count()).toBe(50);
    const previous = page.getByRole("button", { name: "Previous" });
    const next = page.getByRole("button", { name: "Next" });
    expect(await previous.isDisabled()).toBe(true);
    const first = await names(page);

    await next.click();
    await expect.poll(() => showing(page)).toBe(`Showing 51–100 of ${TOTAL} keys`);
    const second = await names(page);
    expect(second.filter((name) => first.includes(name))).toEqual([]);
    await next.click();
    await expect.poll(() => showing(page)).toBe(`Showing 101–${TOTAL} of ${TOTAL} keys`);
    expect(await page.locator("tbody tr").count()).toBe(TOTAL - 100);
    expect(await next.isDisabled()).toBe(true);

    await previous.click();
    await expect.poll(() => showing(page)).toBe(`Showing 51–100 of ${TOTAL} keys`);
    expect(await names(page)).toEqual(second);
    await previous.click();
    await expect.poll(() => showing(page)).toBe(`Showing 1–50 of ${TOTAL} keys`);
    expect(await previous.isDisabled()).toBe(true);
    expect(await axeSerious(page)).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("searches, filters by status and sorts by name, and a reload keeps it all", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();

    await page.getByLabel("Search").fill("Paged 01");
    await expect.poll(() => query(page).get("q")).toBe("Paged 01");
    await expect.poll(() => names(page)).toHaveLength(10);
    expect((await names(page)).every((name) => name.startsWith("Paged 01"))).toBe(true);
    await page.reload();
    await page.getByRole("table").waitFor();
    expect(await page.getByLabel("Search").inputValue()).toBe("Paged 01");
    await expect.poll(() => names(page)).toHaveLength(10);

    await page.getByLabel("Search").fill("no such key anywhere");
    await page.getByText("No key matches").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).first().click();
    await expect.poll(() => query(page).get("q")).toBeNull();
    // The field follows the address once React has run its effect: a moment after the address.
    await expect.poll(() => page.getByLabel("Search").inputValue()).toBe("");
    await expect.poll(() => showing(page)).toBe(`Showing 1–50 of ${TOTAL} keys`);

    await page.getByLabel("Status").selectOption("inactive");
    await expect.poll(() => names(page)).toEqual(["Paged 003"]);
    expect(query(page).get("status")).toBe("inactive");
    await page.getByText("1 key matches").waitFor();
    await page.getByLabel("Status").selectOption("");
    await page.getByLabel("Role", { exact: true }).selectOption(String(roleId));
    await expect.poll(() => names(page)).toEqual(["Paged 003"]);
    expect(query(page).get("role")).toBe(String(roleId));
    await page.getByLabel("Role", { exact: true }).selectOption("");

    await page.getByRole("button", { name: "Sort by Key / Name" }).click();
    await expect.poll(() => query(page).get("sort")).toBe("name");
    expect(query(page).get("order")).toBe("asc");
    await expect.poll(async () => (await names(page))[1]).toBe("Paged 001");
    const ascending = await names(page);
    expect(ascending).toEqual([...ascending].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(await page.getByRole("columnheader", { name: /Key/ }).getAttribute("aria-sort")).toBe("ascending");

    await page.getByRole("button", { name: "Sort by Key / Name" }).click();
    await expect.poll(async () => (await names(page))[0]).toBe(`Paged ${BULK}`);
    expect(query(page).get("order")).toBe("desc");
    await page.reload();
    await page.getByRole("table").waitFor();
    await expect.poll(async () => (await names(page))[0]).toBe(`Paged ${BULK}`);
    expect(await page.getByLabel("Sort", { exact: true }).inputValue()).toBe("name:desc");
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("fits a phone width without sideways scrolling", async () => {
    const { context, page } = await lk.ownerPage(PHONE);
    await page.getByRole("table").waitFor();
    await expect.poll(() => showing(page)).toBe(`Showing 1–50 of ${TOTAL} keys`);
    await expectNoHorizontalScroll(page);
    expect(await axeSerious(page)).toEqual([]);
    // A short list keeps the full-page screenshot readable.
    await page.getByLabel("Search").fill("Paged 00");
    await expect.poll(() => names(page)).toHaveLength(9);
    await expectNoHorizontalScroll(page);
    await screenshot(page, "keys-generated-phone");
    await page.getByRole("button", { name: "Actions for Paged 001", exact: true }).click();
    await page.getByRole("menu").waitFor();
    await expectNoHorizontalScroll(page);
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Generate key" }).click();
    await page.getByRole("dialog", { name: "Generate key" }).getByLabel("Name", { exact: true }).waitFor();
    await expectNoHorizontalScroll(page);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
