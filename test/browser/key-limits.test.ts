/**
 * A key's rate limit and quota in the admin (docs/key-controls.md): set in the Generate dialog,
 * changed and cleared in Edit with a PATCH of only what changed, shown as markers in the table and
 * selected by the Controls filter; refusals, the client's and the server's, at their input with
 * what was typed kept and nothing written.
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

const KEYS = "/v1/accounts/acme/keys";

interface ApiKey {
  appKey: string;
  rateLimit: { limit: number; windowSeconds: number } | null;
  quota: {
    remaining: number;
    refill: { amount: number; every: "day" | "month" } | null;
    refillsAt: string | null;
  } | null;
}

const lk = setUpAdmin();
const getKey = (appKey: string) => lk.admin.api<ApiKey>("GET", `${KEYS}/${appKey}`);

describe("rate limit and quota in the admin", () => {
  it("generates a key with a rate limit and a quota, then changes and clears them", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    await page.getByRole("button", { name: "Generate key" }).click();
    const create = page.getByRole("dialog", { name: "Generate key" });
    await create.getByLabel("Name").fill("Metered");
    // Without a number of calls there is no rate limit, and its window waits.
    expect(await create.getByLabel("Window (seconds)").isDisabled()).toBe(true);
    await create.getByLabel("Calls per window").fill("100");
    expect(await create.getByLabel("Window (seconds)").inputValue()).toBe("60");
    await create.getByText("100 calls per 1 min.", { exact: true }).waitFor();
    await create.getByLabel("Calls left").fill("10000");
    await create.getByLabel("Refill", { exact: true }).selectOption("month");
    // The first refill starts from the calls left.
    expect(await create.getByLabel("Refill to (calls)").inputValue()).toBe("10000");
    await create.getByLabel("Refill to (calls)").fill("20000");
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "key-limits-generate");
    await create.getByRole("button", { name: "Generate key" }).click();
    const done = page.getByRole("dialog", { name: "Key generated" });
    const appKey = await done.getByLabel("appKey").inputValue();
    await done.getByRole("button", { name: "Done" }).click();

    expect(await getKey(appKey)).toMatchObject({
      rateLimit: { limit: 100, windowSeconds: 60 },
      quota: { remaining: 10000, refill: { amount: 20000, every: "month" }, refillsAt: expect.any(String) },
    });
    const row = keyRow(page, "Metered");
    await row.getByText("Rate limit", { exact: true }).waitFor();
    await row.getByText("Quota", { exact: true }).waitFor();

    const sent = patchBodies(page);
    // A longer window only: the quota, untouched, is not sent (sending it would reset its calls left).
    let dialog = await openKeyEdit(page, "Metered");
    expect(await dialog.getByLabel("Calls per window").inputValue()).toBe("100");
    expect(await dialog.getByLabel("Calls left").inputValue()).toBe("10000");
    expect(await dialog.getByLabel("Refill", { exact: true }).inputValue()).toBe("month");
    expect(await dialog.getByLabel("Refill to (calls)").inputValue()).toBe("20000");
    await dialog.getByText(/The key has 10,000 calls left as last counted/).waitFor();
    await dialog.getByLabel("Window (seconds)").fill("3600");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(sent).toEqual([{ rateLimit: { limit: 100, windowSeconds: 3600 } }]);

    // A quota without refill, with fewer calls: sent whole.
    dialog = await openKeyEdit(page, "Metered");
    expect(await dialog.getByLabel("Window (seconds)").inputValue()).toBe("3600");
    await dialog.getByLabel("Calls left").fill("50");
    await dialog.getByLabel("Refill", { exact: true }).selectOption("never");
    expect(await dialog.getByLabel("Refill to (calls)").isDisabled()).toBe(true);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(sent[1]).toEqual({ quota: { remaining: 50, refill: null } });
    expect(await getKey(appKey)).toMatchObject({
      rateLimit: { limit: 100, windowSeconds: 3600 },
      quota: { remaining: 50, refill: null, refillsAt: null },
    });

    // The Controls filter finds it by either.
    await page.getByLabel("Controls", { exact: true }).selectOption("quota");
    await page.waitForURL((url) => url.searchParams.get("control") === "quota");
    // The rows of the unfiltered list leave once the filtered one is loaded.
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    await keyRow(page, "Metered").waitFor();
    await page.getByLabel("Controls", { exact: true }).selectOption("rateLimit");
    await page.waitForURL((url) => url.searchParams.get("control") === "rateLimit");
    await keyRow(page, "Metered").waitFor();

    // Emptied: both removed (null), and the markers go.
    dialog = await openKeyEdit(page, "Metered");
    await dialog.getByLabel("Calls per window").fill("");
    await dialog.getByLabel("Calls left").fill("");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(sent[2]).toEqual({ rateLimit: null, quota: null });
    expect(await getKey(appKey)).toMatchObject({ rateLimit: null, quota: null });
    await keyRow(page, "Metered").waitFor({ state: "detached" });
    await page.getByLabel("Controls", { exact: true }).selectOption("");
    await keyRow(page, "Metered").waitFor();
    expect(await keyRow(page, "Metered").getByText("Quota", { exact: true }).count()).toBe(0);
    expect(await keyRow(page, "Metered").getByText("Rate limit", { exact: true }).count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("shows refusals at their input, the client's and the server's, keeping what was typed", async () => {
    const made = await lk.admin.api<{ key: ApiKey }>("POST", KEYS, { name: "Refused limits" });
    const { context, page } = await lk.ownerPage();
    const sent = patchBodies(page);
    const dialog = await openKeyEdit(page, "Refused limits");
    const calls = dialog.getByLabel("Calls per window");
    const window = dialog.getByLabel("Window (seconds)");
    const left = dialog.getByLabel("Calls left");

    // The client's own check, by the server's rules: nothing is sent.
    await calls.fill("0");
    await left.fill("1.5");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByText("The number of calls must be a whole number from 1 to 1000000000").waitFor();
    await dialog.getByText("The calls left must be a whole number from 0 to 1000000000000").waitFor();
    expect(await calls.getAttribute("aria-invalid")).toBe("true");
    expect(await left.getAttribute("aria-invalid")).toBe("true");
    await calls.fill("10");
    await window.fill("86401");
    await left.fill("100");
    await dialog.getByText(/^The window must be a whole number of seconds from 1 to 86400/).waitFor();
    expect(await window.getAttribute("aria-invalid")).toBe("true");
    expect(await left.getAttribute("aria-invalid")).toBe(null);
    expect(sent).toEqual([]);

    // The server decides: a client whose rules are behind the server's sends a window it refuses.
    // The request is changed on its way to stand for that client; the refusal is the server's own.
    await window.fill("60");
    await page.route(`**${KEYS}/${made.key.appKey}`, async (route) => {
      const request = route.request();
      if (request.method() !== "PATCH") return route.continue();
      const body = request.postDataJSON() as { rateLimit: { limit: number } };
      const postData = JSON.stringify({ ...body, rateLimit: { ...body.rateLimit, windowSeconds: 86_401 } });
      return route.continue({ postData });
    });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.locator(".field-error", { hasText: "86400" }).waitFor();
    expect(await window.getAttribute("aria-invalid")).toBe("true");
    expect(await calls.getAttribute("aria-invalid")).toBe(null);
    expect(sent).toHaveLength(1);
    // Nothing typed is lost, and nothing was written.
    expect([await calls.inputValue(), await window.inputValue(), await left.inputValue()]).toEqual([
      "10",
      "60",
      "100",
    ]);
    expect(await getKey(made.key.appKey)).toMatchObject({ rateLimit: null, quota: null });

    // Editing the input clears the server's refusal; saved as typed.
    await page.unrouteAll();
    await window.fill("30");
    expect(await window.getAttribute("aria-invalid")).toBe(null);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(sent[1]).toEqual({
      rateLimit: { limit: 10, windowSeconds: 30 },
      quota: { remaining: 100, refill: null },
    });
    expect(await getKey(made.key.appKey)).toMatchObject({
      rateLimit: { limit: 10, windowSeconds: 30 },
      quota: { remaining: 100, refill: null },
    });
    expectNoConsoleErrors(page, [400]);
    await context.close();
  }, 60_000);
});
