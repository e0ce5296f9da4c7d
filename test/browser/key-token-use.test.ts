/**
 * The key page against a real server: while a renewal is pending, the last use of the old and of the
 * new token (each written by the batched usage path after real verifications), and a share link that
 * blocks renewal, cancelled with its button (after which the link answers 410 and renewal works).
 */
import { describe, expect, it } from "vitest";
import { expectNoConsoleErrors, setUpAdmin } from "./support.js";

const lk = setUpAdmin();

const detailUrl = (appKey: string) => `${lk.admin.url}/admin/acme/key/${encodeURIComponent(appKey)}`;

describe("the key page's tokens and share link", () => {
  it("shows the last use of the old and the new token while a renewal is pending", async () => {
    const created = await lk.admin.api<{ key: { appKey: string }; appToken: string }>(
      "POST",
      "/v1/accounts/acme/keys",
      { name: "Switching ERP", roles: [10] },
    );
    const { appKey } = created.key;
    expect(
      (await lk.admin.verify({ appKey, appToken: created.appToken, resource: "ViewOrders" })).valid,
    ).toBe(true);
    const renewed = await lk.admin.api<{ appToken: string }>(
      "POST",
      `/v1/accounts/acme/keys/${appKey}/renewal`,
      {},
    );
    expect(
      (await lk.admin.verify({ appKey, appToken: renewed.appToken, resource: "ViewOrders" })).valid,
    ).toBe(true);

    const { page } = await lk.ownerPage();
    expectNoConsoleErrors(page);
    const token = page.getByRole("region", { name: "Token" });
    // Uses are written every few seconds: reload until both show.
    await expect
      .poll(
        async () => {
          await page.goto(detailUrl(appKey));
          await page.getByRole("heading", { name: "Switching ERP", level: 1 }).waitFor();
          return (await token.textContent()) ?? "";
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toMatch(/Old token last used\d{2} \w{3} \d{4}.*New token last used\d{2} \w{3} \d{4}/);
    await page.getByRole("region", { name: "Share link" }).getByText("never sent by share link").waitFor();
  });

  it("cancels an unopened share link with its button; the link then answers 410 and renewal works", async () => {
    const created = await lk.admin.api<{ key: { appKey: string }; shareUrl: string }>(
      "POST",
      "/v1/accounts/acme/keys",
      { name: "Linked partner", roles: [10], delivery: "link" },
    );
    const { appKey } = created.key;
    const { page } = await lk.ownerPage();
    expectNoConsoleErrors(page);
    await page.goto(detailUrl(appKey));
    const share = page.getByRole("region", { name: "Share link" });
    await share.getByText("Not opened yet").waitFor();
    expect(await share.textContent()).toContain("cannot be renewed");
    await share.getByRole("button", { name: "Cancel share link" }).click();
    await share.getByText("Cancelled").waitFor();
    expect(await share.getByRole("button", { name: "Cancel share link" }).count()).toBe(0);

    const id = created.shareUrl.split("/").at(-1) as string;
    const reveal = await fetch(`${lk.admin.url}/v1/shares/${id}/reveal`, { method: "POST" });
    expect(reveal.status).toBe(410);
    const renewed = await lk.admin.api<{ key: { pendingRenewal: boolean } }>(
      "POST",
      `/v1/accounts/acme/keys/${appKey}/renewal`,
      {},
    );
    expect(renewed.key.pendingRenewal).toBe(true);
  });
});
