/** The Generated tab's row selection and its bulk toolbar: Activate, Deactivate, Delete. */
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, keyRow, setUpAdmin } from "./support.js";

interface Issued {
  key: { appKey: string; name: string };
  appToken: string;
}

const lk = setUpAdmin();

const createKey = (name: string, roles: number[] = []) =>
  lk.admin.api<Issued>("POST", "/v1/accounts/acme/keys", { name, roles });
const valid = async (issued: Issued) =>
  (await lk.admin.verify({ appKey: issued.key.appKey, appToken: issued.appToken })).valid;

describe("bulk actions on the Generated tab", () => {
  it("selects rows and deactivates them after a confirmation, then activates them again", async () => {
    const [one, two, other] = [
      await createKey("Bulk one"),
      await createKey("Bulk two"),
      await createKey("Bulk untouched"),
    ];
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    expect(await page.getByRole("toolbar", { name: "Selected keys" }).count()).toBe(0);
    await page.getByRole("checkbox", { name: "Select Bulk one", exact: true }).check();
    await page.getByRole("checkbox", { name: "Select Bulk two", exact: true }).check();
    const bar = page.getByRole("toolbar", { name: "Selected keys" });
    await bar.getByText("2 keys selected").waitFor();

    await bar.getByRole("button", { name: "Deactivate", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Deactivate 2 keys?" });
    expect(await dialog.textContent()).toMatch(/stop working at once/);
    await dialog.getByRole("button", { name: "Deactivate 2 keys" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.locator(".toast", { hasText: "2 keys deactivated" }).waitFor();
    await keyRow(page, "Bulk one").getByText("Inactive — deactivated", { exact: true }).waitFor();
    await keyRow(page, "Bulk two").getByText("Inactive — deactivated", { exact: true }).waitFor();
    expect(await keyRow(page, "Bulk untouched").getByText("Active", { exact: true }).count()).toBe(1);
    // The selection is cleared once done.
    expect(await bar.count()).toBe(0);
    expect([await valid(one as Issued), await valid(two as Issued), await valid(other as Issued)]).toEqual([
      false,
      false,
      true,
    ]);

    // Activating breaks nothing: no dialog.
    await page.getByRole("checkbox", { name: "Select Bulk one", exact: true }).check();
    await page.getByRole("checkbox", { name: "Select Bulk two", exact: true }).check();
    await bar.getByRole("button", { name: "Activate", exact: true }).click();
    await page.locator(".toast", { hasText: "2 keys activated" }).waitFor();
    await keyRow(page, "Bulk one").getByText("Active", { exact: true }).waitFor();
    expect(await valid(one as Issued)).toBe(true);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("selects every key on the page and deletes them after the tick", async () => {
    const keys = [await createKey("Purge alpha"), await createKey("Purge beta")];
    const { context, page } = await lk.ownerPage();
    await page.getByLabel("Search").fill("Purge");
    await keyRow(page, "Purge beta").waitFor();
    await page.locator("tbody tr").nth(2).waitFor({ state: "detached" });
    await page.getByRole("checkbox", { name: "Select every key on this page" }).check();
    const bar = page.getByRole("toolbar", { name: "Selected keys" });
    await bar.getByText("2 keys selected").waitFor();
    await bar.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete 2 keys?" });
    const confirm = dialog.getByRole("button", { name: "Delete 2 keys" });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel("I understand this cannot be undone").check();
    await confirm.click();
    await page.locator(".toast", { hasText: "2 keys deleted" }).waitFor();
    await keyRow(page, "Purge alpha").waitFor({ state: "detached" });
    for (const key of keys) expect(await valid(key)).toBe(false);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("lists each key the signed-in user may not act on, with the reason", async () => {
    const restricted = await lk.admin.findRole("User Administrator");
    const user = await lk.admin.addUser("bulk-restricted@acme.test", [restricted.id]);
    const weak = await createKey("Mixed weak");
    const strong = await createKey("Mixed owner-like", [1]);
    const { context, page } = await lk.userPage({ email: user.email, password: user.password });
    await page.getByRole("checkbox", { name: "Select Mixed weak", exact: true }).check();
    await page.getByRole("checkbox", { name: "Select Mixed owner-like", exact: true }).check();
    await page
      .getByRole("toolbar", { name: "Selected keys" })
      .getByRole("button", { name: "Deactivate", exact: true })
      .click();
    await page
      .getByRole("dialog", { name: "Deactivate 2 keys?" })
      .getByRole("button", { name: "Deactivate 2 keys" })
      .click();
    const failures = page.getByRole("dialog", { name: "Not deactivated: 1 key" });
    await failures.getByText(/1 of 2 keys deactivated; 1 could not be/).waitFor();
    expect(await failures.textContent()).toContain(strong.key.appKey);
    expect(await failures.textContent()).toMatch(/You cannot act on key/);
    await failures.getByRole("button", { name: "Close" }).last().click();
    await keyRow(page, "Mixed weak").getByText("Inactive — deactivated", { exact: true }).waitFor();
    expect([await valid(weak), await valid(strong)]).toEqual([false, true]);
    await context.close();
  }, 60_000);
});
