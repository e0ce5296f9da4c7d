/** The Generated tab's import dialog: a CSV or JSON file, a preview from a dry run, then the import. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, keyRow, setUpAdmin } from "./support.js";

const lk = setUpAdmin();
const sha256 = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");
const VTEX_TOKEN = "IMPORTEDTOKEN".padEnd(110, "X");

describe("importing keys from the admin", () => {
  it("refuses a file with a bad key in the preview, then imports a good one; its token verifies", async () => {
    const { context, page } = await lk.ownerPage();
    await page.getByRole("table").waitFor();
    const before = await lk.admin.api<{ total: number }>("GET", "/v1/accounts/acme/keys");

    await page.getByRole("button", { name: "Import keys" }).click();
    const dialog = page.getByRole("dialog", { name: "Import keys" });
    const input = dialog.getByLabel("CSV or JSON file");
    const submit = dialog.getByRole("button", { name: /^Import/ });

    const bad = ["name,tokenHash,roles", `Bad one,not-a-hash,`, `Good one,${sha256("g")},`].join("\n");
    await input.setInputFiles({ name: "keys.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
    await dialog.getByText("1 of 2 keys cannot be imported", { exact: false }).waitFor();
    expect(await dialog.getByText("tokenHash must be the SHA-256", { exact: false }).count()).toBe(1);
    expect(await submit.isDisabled()).toBe(true);

    const good = JSON.stringify([
      { name: "Imported ERP", appKey: "vtexappkey-acme-IMPERP", tokenHash: sha256(VTEX_TOKEN), roles: [] },
      { name: "Imported CRM", tokenHash: sha256("crm-token"), roles: [] },
    ]);
    await input.setInputFiles({ name: "keys.json", mimeType: "application/json", buffer: Buffer.from(good) });
    await dialog.getByText("All 2 keys can be imported.").waitFor();
    await dialog.getByText("vtexappkey-acme-IMPERP").waitFor();
    // The preview wrote nothing.
    const afterPreview = await lk.admin.api<{ total: number }>("GET", "/v1/accounts/acme/keys");
    expect(afterPreview.total).toBe(before.total);
    expect(await dialog.textContent()).not.toContain(sha256(VTEX_TOKEN));

    await dialog.getByRole("button", { name: "Import 2 keys" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.locator(".toast", { hasText: "2 keys imported" }).waitFor();
    await keyRow(page, "Imported ERP").waitFor();
    expect((await lk.admin.verify({ appKey: "vtexappkey-acme-IMPERP", appToken: VTEX_TOKEN })).valid).toBe(
      true,
    );
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
