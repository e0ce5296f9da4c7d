/**
 * The Generated tab when a filter matches more keys than latchkey counts (1,000: docs/scaling.md,
 * "total"): the summary and the pager say "1,000+", and paging still reaches every match.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoConsoleErrors, setUpAdmin } from "./support.js";

const MATCHING = 1001;
const lk = setUpAdmin();

beforeAll(async () => {
  const keys = Array.from({ length: MATCHING }, (_, i) => ({
    name: `Broad ${String(i).padStart(4, "0")}`,
    tokenHash: createHash("sha256").update(randomBytes(16)).digest("hex"),
    roles: [],
  }));
  await lk.admin.api("POST", "/v1/accounts/acme/keys/import", { keys });
}, 120_000);

const showing = (page: Page) => page.getByText(/^Showing /).textContent();

describe("the Generated tab with a broad filter", () => {
  it("says 1,000+ where the count stopped, and exact totals where latchkey keeps them", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    // No filter: the kept count, exact (the imported keys and the bootstrap key).
    await expect.poll(() => showing(page)).toBe(`Showing 1–50 of 1,002 keys`);

    await page.getByLabel("Search").fill("Broad");
    await page.getByText("1,000+ keys match").waitFor();
    await expect.poll(() => showing(page)).toBe("Showing 1–50 of 1,000+ keys");
    const next = page.getByRole("button", { name: "Next" });
    await next.click();
    await expect.poll(() => showing(page)).toBe("Showing 51–100 of 1,000+ keys");
    // Past the count: still "1,000+", then the exact count on the last page, which ends the list.
    for (let to = 150; to <= 1000; to += 50) {
      await next.click();
      await expect
        .poll(() => showing(page))
        .toBe(`Showing ${(to - 49).toLocaleString("en")}–${to.toLocaleString("en")} of 1,000+ keys`);
    }
    await next.click();
    await expect.poll(() => showing(page)).toBe("Showing 1,001–1,001 of 1,001 keys");
    expect(await next.isDisabled()).toBe(true);

    // A narrower search is counted exactly.
    await page.getByLabel("Search").fill("Broad 09");
    await page.getByText("100 keys match").waitFor();
    await expect.poll(() => showing(page)).toBe("Showing 1–50 of 100 keys");
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);
});
