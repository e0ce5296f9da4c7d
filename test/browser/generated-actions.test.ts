/** The Generated tab's row menu: edit, deactivate/activate, renew (later, undo, share link), delete. */
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, keyRow, setUpAdmin } from "./support.js";

interface Issued {
  key: { appKey: string; name: string; pendingRenewal: boolean; creationDateNewToken: string | null };
  appToken: string;
}

const lk = setUpAdmin();
let context: BrowserContext;
let page: Page;

async function keyPage(): Promise<void> {
  ({ context, page } = await lk.ownerPage());
  await page.getByRole("table").waitFor();
}

const createKey = (name: string, roles: number[] = []) =>
  lk.admin.api<Issued>("POST", "/v1/accounts/acme/keys", { name, roles });
const getKey = (appKey: string) => lk.admin.api<Issued["key"]>("GET", `/v1/accounts/acme/keys/${appKey}`);

function row(name: string) {
  return keyRow(page, name);
}

async function choose(name: string, item: string): Promise<void> {
  await row(name).waitFor();
  await page.getByRole("button", { name: `Actions for ${name}`, exact: true }).click();
  await page.getByRole("menu").getByRole("menuitem", { name: item, exact: true }).click();
}

async function verify(appKey: string, appToken: string): Promise<boolean> {
  return (await lk.admin.verify({ appKey, appToken })).valid;
}

/** Renews through the dialog with the given choices; returns what the dialog showed once. */
async function renew(name: string, options: { link?: boolean; now?: boolean } = {}): Promise<string> {
  await choose(name, "Renew token");
  const dialog = page.getByRole("dialog", { name: `Renew the token of “${name}”` });
  expect(await dialog.getByLabel("Keep the old token working until I delete it").isChecked()).toBe(true);
  expect(await dialog.getByLabel("Show the token here").isChecked()).toBe(true);
  if (options.now) await dialog.getByLabel("Delete the old token now").check();
  if (options.link) await dialog.getByLabel("Create a share link").check();
  await dialog.getByRole("button", { name: "Renew token" }).click();
  const done = page.getByRole("dialog", { name: "Token renewed" });
  const secret = await done.getByLabel(options.link ? "Share link" : "appToken").inputValue();
  expect(await done.getByText("will not be shown again").count()).toBe(1);
  await done.getByRole("button", { name: "Done" }).click();
  await done.waitFor({ state: "detached" });
  expect(await page.content()).not.toContain(secret);
  return secret;
}

const pendingBadge = (name: string) => row(name).getByText("Pending deletion – old token");

describe("the Generated tab's row menu", () => {
  it("edits a key's name and roles", async () => {
    const role = await lk.admin.findRole("User Administrator");
    await createKey("Edit me");
    await keyPage();
    await choose("Edit me", "Edit");
    const dialog = page.getByRole("dialog", { name: "Edit “Edit me”" });
    await dialog.getByLabel("Name", { exact: true }).fill("Edited key");
    await dialog.getByRole("checkbox", { name: role.name }).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await row("Edited key").getByText(role.name).waitFor();
    expect(await row("Edit me").count()).toBe(0);

    // Taking the role away again, and a rename onto a taken name is refused inside the dialog.
    await createKey("Someone else");
    await choose("Edited key", "Edit");
    const again = page.getByRole("dialog", { name: "Edit “Edited key”" });
    await again.getByRole("checkbox", { name: role.name }).uncheck();
    await again.getByLabel("Name", { exact: true }).fill("Someone else");
    await again.getByRole("button", { name: "Save" }).click();
    await again.getByText(/already exists/).waitFor();
    await again.getByLabel("Name", { exact: true }).fill("Edited key");
    await again.getByRole("button", { name: "Save" }).click();
    await again.waitFor({ state: "detached" });
    await row("Edited key").getByText("No roles").waitFor();
    expectNoConsoleErrors(page, [409]);
    await context.close();
  }, 60_000);

  it("deactivates after a confirmation, and activates again", async () => {
    await createKey("Switch me");
    await keyPage();
    await choose("Switch me", "Deactivate");
    const dialog = page.getByRole("dialog", { name: "Deactivate “Switch me”?" });
    expect(await dialog.textContent()).toMatch(/stop working at once/);
    await dialog.getByRole("button", { name: "Deactivate" }).click();
    await dialog.waitFor({ state: "detached" });
    await row("Switch me").getByText("Inactive — deactivated", { exact: true }).waitFor();

    // Back on by keyboard alone: the menu opens on Enter and arrow keys move through its items.
    await page.getByRole("button", { name: "Actions for Switch me", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    expect(await page.locator(":focus").textContent()).toBe("Activate");
    await page.keyboard.press("Enter");
    await row("Switch me").getByText("Active", { exact: true }).waitFor();
    await page.locator(".toast", { hasText: "Key “Switch me” activated" }).waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("renews for later, shows the pending badge, then deletes the old token", async () => {
    const issued = await createKey("Rotate later");
    await keyPage();
    const fresh = await renew("Rotate later");
    expect(fresh).toMatch(/^lkt_/);
    await pendingBadge("Rotate later").waitFor();
    const pending = await getKey(issued.key.appKey);
    expect(pending.pendingRenewal).toBe(true);
    expect(pending.creationDateNewToken).not.toBeNull();
    expect(await verify(issued.key.appKey, issued.appToken)).toBe(true);

    // Renewing again is not offered while a renewal is pending.
    await page.getByRole("button", { name: "Actions for Rotate later", exact: true }).click();
    const renewItem = page.getByRole("menuitem", { name: /^Renew token/ });
    expect(await renewItem.getAttribute("aria-disabled")).toBe("true");
    await page.keyboard.press("Escape");

    await choose("Rotate later", "Delete old token");
    const dialog = page.getByRole("dialog", { name: "Delete the old token of “Rotate later”?" });
    await dialog.getByRole("button", { name: "Delete old token" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => pendingBadge("Rotate later").count()).toBe(0);
    const completed = await getKey(issued.key.appKey);
    expect(completed.pendingRenewal).toBe(false);
    expect(completed.creationDateNewToken).toBeNull();
    expect(await verify(issued.key.appKey, issued.appToken)).toBe(false);
    expect(await verify(issued.key.appKey, fresh)).toBe(true);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("undoes a renewal: the old token still works and the new one does not", async () => {
    const issued = await createKey("Rotate undo");
    await keyPage();
    const fresh = await renew("Rotate undo");
    await pendingBadge("Rotate undo").waitFor();
    await choose("Rotate undo", "Undo renewal");
    const dialog = page.getByRole("dialog", { name: "Undo the renewal of “Rotate undo”?" });
    await dialog.getByRole("button", { name: "Undo renewal" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => pendingBadge("Rotate undo").count()).toBe(0);
    expect((await getKey(issued.key.appKey)).pendingRenewal).toBe(false);
    expect(await verify(issued.key.appKey, issued.appToken)).toBe(true);
    expect(await verify(issued.key.appKey, fresh)).toBe(false);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("renews with a share link that reveals the token once", async () => {
    const issued = await createKey("Rotate shared");
    await keyPage();
    const shareUrl = await renew("Rotate shared", { link: true, now: true });
    expect(shareUrl).toContain("/share/");
    // The link names the server's public address; open the same path on the test server.
    const path = new URL(shareUrl).pathname;
    const share = await context.newPage();
    await share.goto(`${lk.admin.url}${path}`);
    await share.getByRole("button", { name: "Reveal" }).click();
    await share.getByText("it will not be shown again").waitFor();
    const token = (await share.locator("#appToken").textContent()) ?? "";
    expect(token).toMatch(/^lkt_/);
    expect(await verify(issued.key.appKey, token)).toBe(true);
    expect(await verify(issued.key.appKey, issued.appToken)).toBe(false);

    await share.reload();
    await share.getByRole("button", { name: "Reveal" }).click();
    await share.getByText(/already used/).waitFor();
    const again = await fetch(`${lk.admin.url}/v1/shares/${path.split("/").pop()}/reveal`, {
      method: "POST",
    });
    expect(again.status).toBe(410);
    await share.close();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("deletes a key only once the cannot-be-undone box is ticked", async () => {
    await createKey("Delete me");
    await keyPage();
    await choose("Delete me", "Delete key");
    const dialog = page.getByRole("dialog", { name: "Delete “Delete me”?" });
    const confirm = dialog.getByRole("button", { name: "Delete key" });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel("I understand this cannot be undone").check();
    expect(await confirm.isEnabled()).toBe(true);
    await confirm.click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => row("Delete me").count()).toBe(0);
    await page.locator(".toast", { hasText: "Key “Delete me” deleted" }).waitFor();
    await page.reload();
    await page.getByRole("table").waitFor();
    expect(await row("Delete me").count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
