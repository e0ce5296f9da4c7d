/**
 * The key page's actions (the row menu's, through the same dialogs and checks) and why a key is
 * inactive, in the list's status badge and on the key page, against a real server.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, keyRow, setUpAdmin } from "./support.js";

interface Issued {
  key: {
    appKey: string;
    name: string;
    active: boolean;
    pendingRenewal: boolean;
    inactiveReason: string | null;
  };
  appToken: string;
}

const lk = setUpAdmin();

const createKey = (name: string) => lk.admin.api<Issued>("POST", "/v1/accounts/acme/keys", { name });
const getKey = (appKey: string) => lk.admin.api<Issued["key"]>("GET", `/v1/accounts/acme/keys/${appKey}`);

async function openKey(page: Page, issued: Issued): Promise<void> {
  await page.goto(`${lk.admin.url}/admin/acme/key/${encodeURIComponent(issued.key.appKey)}`);
  await page.getByRole("heading", { name: issued.key.name, level: 1 }).waitFor();
}

const actions = (page: Page) => page.getByRole("group", { name: "Key actions" });
const renewalActions = (page: Page) => page.getByRole("group", { name: "Renewal actions" });

async function reportLeak(appToken: string): Promise<void> {
  const res = await fetch(`${lk.admin.url}/v1/credentials/revoke`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tokens: [appToken] }),
  });
  expect(res.status).toBe(202);
}

describe("the key page's actions", () => {
  it("edits, deactivates, activates, renews, completes and undoes renewals, and deletes", async () => {
    const issued = await createKey("Page actions");
    const { appKey } = issued.key;
    const { context, page } = await lk.ownerPage();
    await openKey(page, issued);
    const offered = await actions(page).getByRole("button").allTextContents();
    expect(offered).toEqual(["Edit", "Deactivate", "Renew token", "Delete key"]);

    await actions(page).getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit “Page actions”" });
    await edit.getByLabel("Name", { exact: true }).fill("Page actions 2");
    await edit.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Page actions 2", level: 1 }).waitFor();

    await actions(page).getByRole("button", { name: "Deactivate" }).click();
    const deactivate = page.getByRole("dialog", { name: "Deactivate “Page actions 2”?" });
    await deactivate.getByRole("button", { name: "Deactivate" }).click();
    await page.locator(".badges").getByText("Inactive — deactivated").waitFor();
    await page.getByRole("heading", { name: "Why this key is inactive" }).waitFor();
    expect(await getKey(appKey)).toMatchObject({ active: false, inactiveReason: "deactivated" });

    await actions(page).getByRole("button", { name: "Activate" }).click();
    await page.locator(".badges").getByText("Active", { exact: true }).waitFor();
    expect(await page.getByRole("heading", { name: "Why this key is inactive" }).count()).toBe(0);
    expect(await getKey(appKey)).toMatchObject({ active: true, inactiveReason: null });

    // Renew, keeping the old token: the token is shown once, then the renewal's steps sit beside
    // the last use of each token.
    await actions(page).getByRole("button", { name: "Renew token" }).click();
    const renew = page.getByRole("dialog", { name: "Renew the token of “Page actions 2”" });
    await renew.getByRole("button", { name: "Renew token" }).click();
    const done = page.getByRole("dialog", { name: "Token renewed" });
    const secret = await done.getByLabel("appToken").inputValue();
    await done.getByRole("button", { name: "Done" }).click();
    await done.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(secret);
    const token = page.locator("section", { has: page.getByRole("heading", { name: "Token" }) });
    await token.getByText("New token last used").waitFor();
    expect(await renewalActions(page).getByRole("button").allTextContents()).toEqual([
      "Undo renewal",
      "Delete old token",
    ]);
    expect(await actions(page).getByRole("button", { name: "Renew token" }).count()).toBe(0);

    await renewalActions(page).getByRole("button", { name: "Undo renewal" }).click();
    await page
      .getByRole("dialog", { name: "Undo the renewal of “Page actions 2”?" })
      .getByRole("button", { name: "Undo renewal" })
      .click();
    await renewalActions(page).waitFor({ state: "detached" });
    expect((await getKey(appKey)).pendingRenewal).toBe(false);
    expect((await lk.admin.verify({ appKey, appToken: secret })).valid).toBe(false);

    await actions(page).getByRole("button", { name: "Renew token" }).click();
    await renew.getByRole("button", { name: "Renew token" }).click();
    const second = await done.getByLabel("appToken").inputValue();
    await done.getByRole("button", { name: "Done" }).click();
    await renewalActions(page).getByRole("button", { name: "Delete old token" }).click();
    const complete = page.getByRole("dialog", { name: "Delete the old token of “Page actions 2”?" });
    await complete.getByText("Old token last used").waitFor();
    await complete.getByRole("button", { name: "Delete old token" }).click();
    await renewalActions(page).waitFor({ state: "detached" });
    expect((await lk.admin.verify({ appKey, appToken: issued.appToken })).valid).toBe(false);
    expect((await lk.admin.verify({ appKey, appToken: second })).valid).toBe(true);

    await actions(page).getByRole("button", { name: "Delete key" }).click();
    const del = page.getByRole("dialog", { name: "Delete “Page actions 2”?" });
    await del.getByLabel("I understand this cannot be undone").check();
    await del.getByRole("button", { name: "Delete key" }).click();
    await page.waitForURL(`${lk.admin.url}/admin/acme/keys`);
    expect(await keyRow(page, "Page actions 2").count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("offers a viewer no action, and says why", async () => {
    const role = await lk.admin.api<{ id: number }>("POST", "/v1/accounts/acme/roles", {
      name: "Key page viewer",
      resources: ["ViewApiKeys"],
    });
    const issued = await createKey("Viewed only");
    const viewer = await lk.admin.addUser("page-viewer@acme.test", [role.id]);
    const { context, page } = await lk.userPage(viewer);
    await openKey(page, issued);
    await actions(page).getByText("You cannot change this key").waitFor();
    expect(await actions(page).getByRole("button").count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});

describe("why a key is inactive", () => {
  it("says a leaked token in the list's badge and on the key page, and what to do", async () => {
    const issued = await createKey("Leaked one");
    await reportLeak(issued.appToken);
    const { context, page } = await lk.ownerPage();
    const badge = keyRow(page, "Leaked one").getByText("Inactive — token reported leaked");
    await badge.waitFor();

    await openKey(page, issued);
    await page.locator(".badges").getByText("Inactive — token reported leaked").waitFor();
    const why = page.locator("section", {
      has: page.getByRole("heading", { name: "Why this key is inactive" }),
    });
    expect(await why.textContent()).toContain("reported leaked");
    expect(await why.textContent()).toContain("Renew the token before activating the key again");
    expect(await page.locator("dl.facts").first().textContent()).toContain(
      "StatusInactive — token reported leaked",
    );

    // Renewing makes it safe; activating then clears the reason.
    await actions(page).getByRole("button", { name: "Renew token" }).click();
    const renew = page.getByRole("dialog", { name: "Renew the token of “Leaked one”" });
    await renew.getByLabel("Delete the old token now").check();
    await renew.getByRole("button", { name: "Renew token" }).click();
    const done = page.getByRole("dialog", { name: "Token renewed" });
    await done.getByRole("button", { name: "Done" }).click();
    await actions(page).getByRole("button", { name: "Activate" }).click();
    await page.locator(".badges").getByText("Active", { exact: true }).waitFor();
    expect(await getKey(issued.key.appKey)).toMatchObject({ active: true, inactiveReason: null });
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("shows a key deactivated before reasons were kept as plain Inactive", async () => {
    const issued = await createKey("Old inactive");
    await lk.admin.api("PATCH", `/v1/accounts/acme/keys/${issued.key.appKey}`, { active: false });
    // As a row from before migration 0016 looks: inactive, no reason (SQLite in WAL mode takes a
    // second writer beside the server).
    const db = new Database(join(lk.admin.dataDir, "latchkey.db"));
    db.prepare("update keys set inactive_reason = null where app_key = ?").run(issued.key.appKey);
    db.close();
    const { context, page } = await lk.ownerPage();
    const status = keyRow(page, "Old inactive").getByText(/^Inactive/);
    await status.waitFor();
    expect(await status.textContent()).toBe("Inactive");
    await openKey(page, issued);
    expect(await page.getByRole("heading", { name: "Why this key is inactive" }).count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
