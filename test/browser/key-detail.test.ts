/**
 * The key detail page against a real server: facts and token dates, the usage chart fed by real
 * verifications (ok and denied), the audit trail (or why it is hidden), "No such key", and the
 * layout at 1280 px and 390 px.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  openPage,
  PHONE,
  screenshot,
  setUpAdmin,
  signIn,
} from "./support.js";

const lk = setUpAdmin();
let key: { appKey: string; name: string; creationDate: string };

const OK_CALLS = 3;
const DENIED_CALLS = 2;

beforeAll(async () => {
  // "OMS - Read only" (id 10) holds ViewOrders, not EditOrders.
  const created = await lk.admin.api<{ key: typeof key; appToken: string }>(
    "POST",
    "/v1/accounts/acme/keys",
    { name: "Order sync", roles: [10] },
  );
  key = created.key;
  const verify = async (resource: string) =>
    (await lk.admin.verify({ appKey: key.appKey, appToken: created.appToken, resource })).allowed;
  for (let i = 0; i < OK_CALLS; i++) expect(await verify("ViewOrders")).toBe(true);
  for (let i = 0; i < DENIED_CALLS; i++) expect(await verify("EditOrders")).toBe(false);
});

function detailUrl(appKey: string) {
  return `${lk.admin.url}/admin/acme/key/${encodeURIComponent(appKey)}`;
}

/** Usage is written in batches every 5 s (src/verify/usage.ts): refresh until today's counts show. */
async function waitForUsage(page: Page) {
  const chart = page.getByRole("img", { name: /^Verifications per day/ });
  await expect
    .poll(
      async () => {
        const name = (await chart.getAttribute("aria-label")) ?? "";
        if (!name.includes(`${OK_CALLS} ok`))
          await page.getByRole("button", { name: "Refresh usage" }).click();
        return name;
      },
      { timeout: 30_000, interval: 1_000 },
    )
    .toContain(
      `${OK_CALLS + DENIED_CALLS} verifications in the last 30 days: ${OK_CALLS} ok, ${DENIED_CALLS} denied`,
    );
}

describe("the key detail page", () => {
  it("shows the key, its token dates, a usage chart of ok and denied calls, and its audit trail", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(detailUrl(key.appKey));
    await page.getByRole("heading", { name: "Order sync", level: 1 }).waitFor();

    const facts = (await page.locator("dl.facts").allTextContents()).join(" ");
    expect(facts).toContain(key.appKey);
    expect(facts).toContain("OMS - Read only");
    expect(facts).toMatch(/StatusActive/);
    expect(facts).toMatch(/Token created\d{2} \w{3} \d{4}/);
    expect(facts).toContain("New token createdNo renewal pending");

    await waitForUsage(page);
    // The usage answer also brings the key's last use, which the facts then show.
    expect(await page.locator("dl.facts").first().textContent()).toMatch(/Last used\d{2} \w{3} \d{4}/);
    const chart = page.locator("svg.usage-chart");
    expect(await chart.locator("rect.bar-ok").count()).toBe(1);
    expect(await chart.locator("rect.bar-denied").count()).toBe(1);
    expect(await chart.locator("text").count()).toBeGreaterThan(5);
    expect(await page.locator(".legend").textContent()).toMatch(/Ok \(allowed\).*Denied/);
    // The text alternative: one row per day, today's with the counts.
    const rows = page.locator("figure.usage table tbody tr");
    expect(await rows.count()).toBe(30);
    expect(await rows.last().locator("td").allTextContents()).toEqual([
      String(OK_CALLS),
      String(DENIED_CALLS),
    ]);

    const trail = page.getByRole("table", { name: `Audit trail of ${key.appKey}, newest first` });
    const created = trail.locator("tbody tr", { hasText: "key.created" });
    expect(await created.textContent()).toContain(lk.admin.owner.appKey);
    expect(await created.textContent()).toContain("Created");

    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "key-detail");

    await page.getByRole("link", { name: "← Back to API keys" }).click();
    await page.waitForURL(`${lk.admin.url}/admin/acme/keys`);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("shows a key's rate limit and quota, read-only", async () => {
    const limited = await lk.admin.api<{ key: { appKey: string } }>("POST", "/v1/accounts/acme/keys", {
      name: "Metered partner",
      roles: [10],
      rateLimit: { limit: 100, windowSeconds: 60 },
      quota: { remaining: 10000, refill: { amount: 10000, every: "month" } },
    });
    const { context, page } = await lk.ownerPage();
    await page.goto(detailUrl(limited.key.appKey));
    const limits = page.getByRole("region", { name: "Limits" });
    await limits.waitFor();
    const text = (await limits.textContent()) ?? "";
    expect(text).toContain("Rate limit100 calls per 1 min");
    expect(text).toContain("Quota10,000 calls left");
    expect(text).toMatch(/Quota refill10,000 every month, next \d{2} \w{3} \d{4}/);
    expect(await limits.locator("input, button").count()).toBe(0);
    // A key without them says so.
    await page.goto(detailUrl(key.appKey));
    const none = page.getByRole("region", { name: "Limits" });
    await none.waitFor();
    expect(await none.textContent()).toContain("Rate limitNoneQuotaNone");
    expect(await axeSerious(page)).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("fits a phone width", async () => {
    const { context, page } = await lk.ownerPage(PHONE);
    await page.goto(detailUrl(key.appKey));
    await waitForUsage(page);
    await page.getByRole("table", { name: /^Audit trail of/ }).waitFor();
    await expectNoHorizontalScroll(page);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "key-detail-phone");
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("says why the audit trail is hidden from a user without ViewAuditLog, without asking for it", async () => {
    // User Administrator - RESTRICTED (id 2): the API-key and user resources, not ViewAuditLog.
    const user = await lk.admin.addUser("keys-admin@acme.test", [2]);
    const { context, page } = await openPage(lk.browser);
    const audits: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.endsWith("/audit")) audits.push(request.url());
    });
    await signIn(page, lk.admin.url, user.email, user.password);
    await page.goto(detailUrl(key.appKey));
    await page
      .getByText("You need the ViewAuditLog permission for this: the key's audit trail is hidden")
      .waitFor();
    expect(audits).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it('answers an unknown appKey with "No such key"', async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(detailUrl("appkey-acme-NOSUCH"));
    await page.getByText("No such key").waitFor();
    expect(await page.getByRole("link", { name: "← Back to API keys" }).count()).toBe(1);
    expectNoConsoleErrors(page, [404]);
    await context.close();
  }, 60_000);
});
