/**
 * The admin with the keyboard alone: a skip link, a visible focus ring, dialogs that take focus to
 * their first field and give it back, and row menus that follow the menu-button pattern.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoConsoleErrors, setUpAdmin } from "./support.js";

const lk = setUpAdmin();

beforeAll(async () => {
  await lk.admin.api("POST", "/v1/accounts/acme/keys", { name: "Keyboard key" });
});

/** What has focus: its accessible-ish name and whether a focus ring is drawn around it. */
function focused(page: Page) {
  return page.evaluate(() => {
    const { document, getComputedStyle } = globalThis as unknown as {
      document: {
        activeElement: {
          textContent: string | null;
          getAttribute(n: string): string | null;
          id: string;
        } | null;
      };
      getComputedStyle(element: unknown): { outlineStyle: string; outlineWidth: string };
    };
    const element = document.activeElement;
    if (!element) return { name: "", ring: false };
    const style = getComputedStyle(element);
    return {
      name: (element.getAttribute("aria-label") ?? element.textContent ?? "").trim(),
      id: element.id,
      ring: style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) >= 2,
    };
  });
}

async function tabTo(page: Page, name: string | RegExp, limit = 40) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    if (typeof name === "string" ? now.name === name : name.test(now.name)) return now;
  }
  throw new Error(`Tab never reached ${name}`);
}

describe("the admin with the keyboard alone", () => {
  it("skips to the content, shows where focus is, and opens and closes a dialog without the mouse", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("button", { name: "Generate key" }).waitFor();

    await page.keyboard.press("Tab");
    const skip = await focused(page);
    expect(skip).toMatchObject({ name: "Skip to content", ring: true });
    expect(await page.getByRole("link", { name: "Skip to content" }).isVisible()).toBe(true);
    await page.keyboard.press("Enter");
    expect((await focused(page)).id).toBe("main");

    expect(await tabTo(page, "Generate key")).toMatchObject({ ring: true });
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.waitFor();
    // Focus starts in the first field, not on the close button.
    await expect
      .poll(async () =>
        page.evaluate(
          () =>
            (globalThis as unknown as { document: { activeElement: { tagName: string } } }).document
              .activeElement.tagName,
        ),
      )
      .toBe("INPUT");
    await page.keyboard.type("Typed without a mouse");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await focused(page)).toMatchObject({ name: "Generate key", ring: true });
    expect(await page.getByText("Typed without a mouse").count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("works a row menu with arrows and Escape, and returns focus to its button", async () => {
    const { context, page } = await lk.ownerPage();
    const row = page.getByRole("row").filter({ hasText: "Keyboard key" });
    await row.waitFor();
    const button = row.getByRole("button", { name: /actions|menu/i });
    await button.focus();
    await page.keyboard.press("Enter");
    const menu = page.getByRole("menu");
    await menu.waitFor();
    const items = await menu.getByRole("menuitem").allTextContents();
    expect(items.length).toBeGreaterThan(3);
    expect((await focused(page)).name).toBe(items[0]?.trim());
    await page.keyboard.press("ArrowDown");
    expect((await focused(page)).name).toBe(items[1]?.trim());
    await page.keyboard.press("End");
    expect((await focused(page)).name).toContain("Delete key");
    await page.keyboard.press("ArrowDown");
    expect((await focused(page)).name).toBe(items[0]?.trim());
    await page.keyboard.press("Escape");
    await menu.waitFor({ state: "detached" });
    expect(
      await button.evaluate(
        (element) =>
          element ===
          (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement,
      ),
    ).toBe(true);
    expectNoConsoleErrors(page);
    await context.close();
  });
});
