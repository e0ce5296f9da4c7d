/**
 * Approval of external keys in the admin, against a real server: the Settings tab's policy toggle,
 * an external key added while it is on shown as pending, the Approvals tab with the requester's own
 * request not approvable (and why), approval by another person, and rejection.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { callAs } from "../e2e/process.js";
import { axeSerious, expectNoConsoleErrors, screenshot, setUpAdmin } from "./support.js";

const SETTINGS = "/v1/accounts/acme/settings/api-keys";

const lk = setUpAdmin();
let globex: { appKey: string; appToken: string };
/** Two keys of globex that acme will ask to add. */
const asked: string[] = [];
let erpToken = "";
/** A second person of acme holding Owner. */
let second: { email: string; password: string };

beforeAll(async () => {
  globex = await lk.admin.addAccount("globex");
  for (const name of ["Globex ERP", "Globex CRM"]) {
    const created = await callAs(lk.admin.url, globex, "POST", "/v1/accounts/globex/keys", { name });
    expect(created.status).toBe(201);
    const issued = created.json as { key: { appKey: string }; appToken: string };
    asked.push(issued.key.appKey);
    erpToken ||= issued.appToken;
  }
  second = await lk.admin.addUser("second@acme.test", [1]);
});

describe("the Approvals tab", () => {
  it("the policy is a Settings toggle; a request is pending, not approvable by its requester, approved by another person", async () => {
    const { context, page } = await lk.ownerPage();
    const tabs = page.getByRole("navigation", { name: "API keys" });
    await page.goto(`${lk.admin.url}/admin/acme/keys/settings`);
    const toggle = page.getByRole("checkbox", { name: "Require approval of external keys" });
    expect(await toggle.isChecked()).toBe(false);
    await toggle.check();
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved").waitFor();
    const saved = await lk.admin.api<{ policies: { requireExternalKeyApproval: boolean } }>("GET", SETTINGS);
    expect(saved.policies.requireExternalKeyApproval).toBe(true);

    await tabs.getByRole("link", { name: "External" }).click();
    for (const appKey of asked) {
      await page.getByRole("button", { name: "Add key" }).click();
      const add = page.getByRole("dialog", { name: "Add an external key" });
      await add.getByLabel("appKey").fill(appKey);
      await add.getByRole("checkbox", { name: /^OMS - Read only/ }).check();
      await add.getByRole("button", { name: "Add key" }).click();
      await add.waitFor({ state: "detached" });
      await page.locator("tbody tr", { hasText: appKey }).getByText("Pending approval").waitFor();
    }
    // Asked for, granted nothing yet.
    const erpInAcme = { appKey: asked[0] as string, appToken: erpToken, account: "acme" };
    expect(await lk.admin.verify(erpInAcme)).toMatchObject({ valid: false, code: "EXTERNAL_KEY_PENDING" });

    await tabs.getByRole("link", { name: "Approvals" }).click();
    const first = page.locator("tbody tr", { hasText: asked[0] as string });
    await first.waitFor();
    expect(await first.textContent()).toMatch(/OMS - Read only.*owner@acme\.test.*You/);
    const ownApprove = first.getByRole("button", { name: `Approve ${asked[0]}` });
    expect(await ownApprove.isDisabled()).toBe(true);
    expect(await ownApprove.getAttribute("title")).toMatch(/someone else must approve it/);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "keys-approvals");
    // The requester may withdraw their own request.
    const secondRow = page.locator("tbody tr", { hasText: asked[1] as string });
    await secondRow.getByRole("button", { name: `Withdraw ${asked[1]}` }).click();
    await secondRow.waitFor({ state: "detached" });
    expectNoConsoleErrors(page);
    await context.close();

    const other = await lk.userPage(second);
    await other.page.goto(`${lk.admin.url}/admin/acme/keys/approvals`);
    const row = other.page.locator("tbody tr", { hasText: asked[0] as string });
    await row.waitFor();
    expect(await row.textContent()).not.toMatch(/You/);
    await row.getByRole("button", { name: `Approve ${asked[0]}` }).click();
    await other.page.getByText("No pending requests").waitFor();
    await other.page
      .getByRole("navigation", { name: "API keys" })
      .getByRole("link", { name: "External" })
      .click();
    const added = other.page.locator("tbody tr", { hasText: asked[0] as string });
    await added.getByText("Active").waitFor();
    expect(await added.textContent()).toContain("OMS - Read only");
    expect(await other.page.locator("tbody tr", { hasText: asked[1] as string }).count()).toBe(0);
    expect(await lk.admin.verify(erpInAcme)).toMatchObject({ valid: true, code: "OK" });
    const audit = await lk.admin.api<{ items: { action: string; actor: { label: string } }[] }>(
      "GET",
      "/v1/accounts/acme/audit?limit=10",
    );
    expect(audit.items.find((event) => event.action === "external_key.approved")?.actor.label).toBe(
      "second@acme.test",
    );
    expectNoConsoleErrors(other.page);
    await other.context.close();
  });
});
