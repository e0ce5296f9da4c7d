/** The Generated tab: generating a key (the token shown once), validation, and what a viewer sees. */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  type Credentials,
  expectNoConsoleErrors,
  keyRow as row,
  screenshot,
  setUpAdmin,
} from "./support.js";

const lk = setUpAdmin();
let roleName: string;

beforeAll(async () => {
  roleName = (await lk.admin.findRole("User Administrator")).name;
});

async function signedIn(user: Credentials = lk.admin.owner) {
  const opened = await lk.userPage(user);
  await opened.page.getByRole("heading", { name: "API keys" }).waitFor();
  await opened.page.getByRole("table").waitFor();
  return opened;
}

describe("the Generated tab", () => {
  it("generates a key with a role and shows its token once", async () => {
    // A key in the middle of a renewal, so that the list shows its badge.
    const legacy = await lk.admin.api<{ key: { appKey: string } }>("POST", "/v1/accounts/acme/keys", {
      name: "Legacy CRM",
    });
    await lk.admin.api("POST", `/v1/accounts/acme/keys/${legacy.key.appKey}/renewal`, {});
    const { context, page } = await signedIn();
    await row(page, "Legacy CRM").getByText("Pending deletion – old token").waitFor();
    expect(await axeSerious(page)).toEqual([]);

    await page.getByRole("button", { name: "Generate key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.getByLabel("Name", { exact: true }).fill("ERP sync");
    await dialog.getByRole("checkbox", { name: roleName }).waitFor();
    // No role is pre-selected.
    expect(await dialog.getByRole("checkbox", { checked: true }).count()).toBe(0);
    await dialog.getByRole("checkbox", { name: roleName }).check();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "keys-generate-dialog");
    await dialog.getByRole("button", { name: "Generate key" }).click();

    const done = page.getByRole("dialog", { name: "Key generated" });
    const tokenField = done.getByLabel("appToken");
    await tokenField.waitFor();
    expect(await tokenField.isVisible()).toBe(true);
    const toast = page.locator(".toast", { hasText: "Key “ERP sync” generated" });
    await toast.waitFor();
    // The toast is above the open dialog and its backdrop: it is the last element of the top layer.
    // (Backdrops are listed too, with no class.)
    expect((await topLayerClasses(page)).filter(Boolean)).toEqual(["dialog dialog-normal", "toasts"]);
    expect(await page.getByRole("status").filter({ hasText: "Key “ERP sync” generated" }).count()).toBe(1);
    // The toast takes no click: what is under its middle is the page or the dialog, not the toast.
    const under = await toast.evaluate((element) => {
      const box = element.getBoundingClientRect();
      const hit = element.ownerDocument.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
      return hit === null || element.contains(hit) ? "toast" : "below";
    });
    expect(under).toBe("below");
    const token = await tokenField.inputValue();
    expect(token).toMatch(/^lkt_/);
    const appKey = await done.getByLabel("appKey").inputValue();
    expect(appKey).toMatch(/^appkey-acme-[A-Z]{6}$/);
    expect(await done.getByText("will not be shown again").count()).toBe(1);
    await done.getByRole("button", { name: "Copy" }).last().click();
    await done.getByRole("button", { name: "Copied" }).waitFor();
    await screenshot(page, "keys-token-once");

    await done.getByRole("button", { name: "Done" }).click();
    await done.waitFor({ state: "detached" });
    // and it leaves by itself.
    await toast.waitFor({ state: "detached", timeout: 10_000 });
    expect(await page.content()).not.toContain(token);
    const created = row(page, "ERP sync");
    await created.waitFor();
    expect(await created.textContent()).toContain(roleName);
    expect(await created.textContent()).toContain(appKey);
    expect(await created.getByText("Active", { exact: true }).count()).toBe(1);

    await page.reload();
    await row(page, "ERP sync").waitFor();
    expect(await page.content()).not.toContain(token);
    // The name leads to the key's own page.
    expect(await page.getByRole("link", { name: "ERP sync", exact: true }).getAttribute("href")).toBe(
      `/admin/acme/key/${appKey}`,
    );
    await screenshot(page, "keys-generated");
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("hands a new key over through a share link", async () => {
    const { context, page } = await signedIn();
    await page.getByRole("button", { name: "Generate key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.getByLabel("Name", { exact: true }).fill("Shared at birth");
    await dialog.getByLabel("Create a share link").check();
    await dialog.getByRole("button", { name: "Generate key" }).click();
    const link = page.getByRole("dialog", { name: "Key generated" }).getByLabel("Share link");
    expect(await link.inputValue()).toContain("/share/");
    expect(await page.getByRole("dialog").getByLabel("appToken").count()).toBe(0);
    await page.getByRole("button", { name: "Done" }).click();
    await row(page, "Shared at birth").waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("refuses an empty name before asking the server, and shows the server's duplicate-name refusal", async () => {
    await lk.admin.api("POST", "/v1/accounts/acme/keys", { name: "Taken name" });
    const { context, page } = await signedIn();
    const posts: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "POST" && request.url().endsWith("/v1/accounts/acme/keys"))
        posts.push(request.url());
    });
    await page.getByRole("button", { name: "Generate key" }).click();
    const dialog = page.getByRole("dialog", { name: "Generate key" });
    await dialog.getByLabel("Name", { exact: true }).fill("   ");
    await dialog.getByRole("button", { name: "Generate key" }).click();
    await dialog.getByText("Enter a name for the key").waitFor();
    expect(await dialog.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(posts).toEqual([]);

    await dialog.getByLabel("Name", { exact: true }).fill("taken NAME");
    await dialog.getByRole("button", { name: "Generate key" }).click();
    await dialog.getByText(/already exists/).waitFor();
    expect(posts).toHaveLength(1);
    expect(await dialog.isVisible()).toBe(true);
    // Fixing the name clears the refusal and goes through.
    await dialog.getByLabel("Name", { exact: true }).fill("Untaken name");
    expect(await dialog.getByText(/already exists/).count()).toBe(0);
    await dialog.getByRole("button", { name: "Generate key" }).click();
    await page.getByRole("dialog", { name: "Key generated" }).waitFor();
    await page.getByRole("button", { name: "Done" }).click();
    await row(page, "Untaken name").waitFor();
    expectNoConsoleErrors(page, [409]);
    await context.close();
  }, 60_000);

  it("shows a viewer no Generate button and no usable Edit or Delete", async () => {
    const role = await lk.admin.api<{ id: number }>("POST", "/v1/accounts/acme/roles", {
      name: "Key viewer",
      resources: ["ViewApiKeys"],
    });
    await lk.admin.api("POST", "/v1/accounts/acme/keys", { name: "Seen by viewer" });
    const viewer = await lk.admin.addUser("viewer@acme.test", [role.id]);
    const { context, page } = await signedIn(viewer);
    await row(page, "Seen by viewer").waitFor();
    expect(await page.getByRole("button", { name: "Generate key" }).count()).toBe(0);

    await page.getByRole("button", { name: "Actions for Seen by viewer", exact: true }).click();
    const menu = page.getByRole("menu");
    for (const label of ["Edit", "Deactivate", "Delete key"]) {
      const item = menu.getByRole("menuitem", { name: new RegExp(`^${label}`) });
      expect(await item.getAttribute("aria-disabled")).toBe("true");
      expect(await item.textContent()).toContain("You need the EditApiKeys permission");
    }
    const renew = menu.getByRole("menuitem", { name: /^Renew token/ });
    expect(await renew.textContent()).toContain("You need the RenewApiToken permission");
    // A disabled item does nothing.
    await menu.getByRole("menuitem", { name: /^Edit/ }).click({ force: true });
    expect(await page.getByRole("dialog").count()).toBe(0);
    await page.keyboard.press("Escape");
    expect(await axeSerious(page)).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});

/** Class names of the page's top-layer elements, bottom to top (through the DevTools protocol). */
async function topLayerClasses(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("DOM.getDocument");
  const { nodeIds } = await cdp.send("DOM.getTopLayerElements");
  const classes = [];
  for (const nodeId of nodeIds) {
    const { node } = await cdp.send("DOM.describeNode", { nodeId });
    const attributes = node.attributes ?? [];
    classes.push(attributes[attributes.indexOf("class") + 1] ?? "");
  }
  await cdp.detach();
  return classes;
}
