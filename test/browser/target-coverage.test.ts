/**
 * Least privilege in the admin (SPEC §1.2): actions on a key, user or role holding more than the
 * signed-in user are disabled with the reason when the UI can tell, and a refusal the UI could not
 * foresee shows the server's TARGET_EXCEEDS_CALLER detail in words.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  type Bootstrap,
  expectNoConsoleErrors,
  keyRow,
  problemsOf,
  type Role,
  screenshot,
  setUpAdmin,
} from "./support.js";

interface Issued {
  key: { appKey: string; name: string };
}

/** User Administrator - RESTRICTED: the API-key and user resources, ViewAdminUsers among them. */
const RESTRICTED = 2;
const OWNER_ONLY = "Only an Owner can change a key holding Owner";
const LACKS_ORDERS = "This key holds resources you lack: ViewOrders";

const lk = setUpAdmin();
let orders: Role;
let helper: Role;
let restricted: { email: string; password: string };
let globex: Bootstrap;
let willChange: string;
let ordersKey: string;

const createRole = (name: string, resources: string[]) =>
  lk.admin.api<Role>("POST", "/v1/accounts/acme/roles", { name, resources });
const createKey = async (name: string, roles: number[]) =>
  (await lk.admin.api<Issued>("POST", "/v1/accounts/acme/keys", { name, roles })).key.appKey;

beforeAll(async () => {
  orders = await createRole("Orders viewer", ["ViewOrders"]);
  helper = await createRole("Keys helper", ["ViewApiKeys"]);
  await createKey("Peer key", [RESTRICTED]);
  ordersKey = await createKey("Orders key", [orders.id]);
  willChange = await createKey("Changes later", [RESTRICTED]);
  restricted = await lk.admin.addUser("restricted@acme.test", [RESTRICTED]);
  await lk.admin.addUser("orders.person@acme.test", [orders.id]);
  await lk.admin.addUser("peer.admin@acme.test", [RESTRICTED]);
  globex = await lk.admin.addAccount("globex");
  await lk.admin.api("POST", "/v1/accounts/acme/external-keys", {
    appKey: globex.appKey,
    roles: [orders.id],
  });
});

async function openMenu(page: Page, name: string) {
  await keyRow(page, name).waitFor();
  await page.getByRole("button", { name: `Actions for ${name}`, exact: true }).click();
  return page.getByRole("menu");
}

/** The menu's items named `labels`: each disabled (or not) and, when disabled, saying `reason`. */
async function expectItems(page: Page, labels: string[], reason: string | null): Promise<void> {
  const menu = page.getByRole("menu");
  for (const label of labels) {
    const item = menu.getByRole("menuitem", { name: new RegExp(`^${label}`) });
    expect(await item.getAttribute("aria-disabled"), label).toBe(reason ? "true" : null);
    if (reason) expect(await item.textContent(), label).toBe(`${label}${reason}`);
  }
}

const ACTIONS = ["Edit", "Deactivate", "Renew token", "Delete key"];

describe("a User Administrator - RESTRICTED (who may read role resources)", () => {
  it("gets the Owner key's and a stronger key's actions disabled with the reason, a peer key's enabled", async () => {
    const { context, page } = await lk.userPage(restricted);
    await openMenu(page, "Bootstrap key");
    await expectItems(page, ACTIONS, OWNER_ONLY);
    await expectItems(page, ["View details"], null);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "generated-owner-key-menu");
    // A disabled item does nothing.
    await page.getByRole("menuitem", { name: /^Deactivate/ }).click({ force: true });
    expect(await page.getByRole("dialog").count()).toBe(0);
    await page.keyboard.press("Escape");

    await openMenu(page, "Orders key");
    await expectItems(page, ACTIONS, LACKS_ORDERS);
    await page.keyboard.press("Escape");

    await openMenu(page, "Peer key");
    await expectItems(page, ACTIONS, null);
    await page.getByRole("menuitem", { name: "Deactivate", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Deactivate “Peer key”?" });
    await dialog.getByRole("button", { name: "Deactivate" }).click();
    await dialog.waitFor({ state: "detached" });
    await keyRow(page, "Peer key").getByText("Inactive — deactivated", { exact: true }).waitFor();
    expect(problemsOf(page).failed).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("shows the server's TARGET_EXCEEDS_CALLER detail when the key grew stronger after the page loaded", async () => {
    const { context, page } = await lk.userPage(restricted);
    await openMenu(page, "Changes later");
    await expectItems(page, ACTIONS, null);
    await page.keyboard.press("Escape");

    await lk.admin.api("PUT", `/v1/accounts/acme/keys/${willChange}/roles`, {
      roles: [RESTRICTED, orders.id],
    });
    await openMenu(page, "Changes later");
    await page.getByRole("menuitem", { name: "Deactivate", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Deactivate “Changes later”?" });
    await dialog.getByRole("button", { name: "Deactivate" }).click();
    await expect
      .poll(() => dialog.getByRole("alert").textContent())
      .toBe(
        `You do not have permission to do this. You cannot act on key ${willChange}: it holds ViewOrders, which you lack`,
      );
    await screenshot(page, "generated-target-exceeds-caller");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });

    // Once the list is read again, the UI knows and says so before any call.
    await page.reload();
    await openMenu(page, "Changes later");
    await expectItems(page, ACTIONS, LACKS_ORDERS);
    await page.keyboard.press("Escape");
    expect(problemsOf(page).failed).toEqual([`403 PATCH /v1/accounts/acme/keys/${willChange}`]);
    expectNoConsoleErrors(page, [403]);
    await context.close();
  }, 60_000);

  it("gets the same rule on the External tab, the Users page and the Roles page", async () => {
    const { context, page } = await lk.userPage(restricted);
    await page.goto(`${lk.admin.url}/admin/acme/keys/external`);
    await page.getByRole("button", { name: `Actions for ${globex.appKey}`, exact: true }).click();
    await expectItems(page, ["Edit roles", "Remove"], LACKS_ORDERS);
    await page.keyboard.press("Escape");

    await page.goto(`${lk.admin.url}/admin/acme/users`);
    const reasonOf = (label: string) =>
      page.getByRole("button", { name: label, exact: true }).getAttribute("title");
    for (const [email, reason] of [
      [lk.admin.owner.email, "Only an Owner can change a user holding Owner"],
      ["orders.person@acme.test", "This user holds resources you lack: ViewOrders"],
      ["peer.admin@acme.test", null],
      // Oneself is always covered.
      [restricted.email, null],
    ] as const) {
      await expect.poll(() => reasonOf(`Set roles of ${email}`), { message: email }).toBe(reason);
      expect(await reasonOf(`Remove ${email}`), email).toBe(reason);
      expect(
        await page.getByRole("button", { name: `Remove ${email}`, exact: true }).isDisabled(),
        email,
      ).toBe(reason !== null);
    }

    await page.goto(`${lk.admin.url}/admin/acme/roles`);
    await expect
      .poll(() => reasonOf(`Edit ${orders.name}`))
      .toBe("This role holds resources you lack: ViewOrders");
    expect(await reasonOf(`Delete ${orders.name}`)).toBe("This role holds resources you lack: ViewOrders");
    // What it cannot change it can still look at.
    expect(await page.getByRole("button", { name: `View ${orders.name}` }).count()).toBe(1);
    expect(await page.getByRole("button", { name: `Edit ${helper.name}` }).isEnabled()).toBe(true);
    expect(await page.getByRole("button", { name: `Delete ${helper.name}` }).isEnabled()).toBe(true);
    expect(problemsOf(page).failed).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);

  it("shows in words why a deactivation policy is refused while an Owner key exists", async () => {
    const { context, page } = await lk.userPage(restricted);
    await page.goto(`${lk.admin.url}/admin/acme/keys/settings`);
    await page.getByRole("checkbox", { name: "Deactivate keys that go unused" }).check();
    await page.getByLabel("Days without use").fill("90");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect
      .poll(() => page.getByRole("alert").first().textContent())
      .toMatch(
        /^You do not have permission to do this\. You cannot act on every key of the account .*: it holds every resource \(an Owner-like role\) and you do not$/,
      );
    expectNoConsoleErrors(page, [403]);
    await context.close();
  }, 60_000);
});

describe("a key editor who cannot read roles (no ViewAdminUsers)", () => {
  it("keeps actions it cannot judge enabled, and shows the server's refusal in words", async () => {
    const editor = await createRole("Key editor", ["ViewApiKeys", "EditApiKeys", "RenewApiToken"]);
    const user = await lk.admin.addUser("key.editor@acme.test", [editor.id]);
    const { context, page } = await lk.userPage(user);
    // Owner is known from the role's id alone; what Orders viewer holds is not.
    await openMenu(page, "Bootstrap key");
    await expectItems(page, ACTIONS, OWNER_ONLY);
    await page.keyboard.press("Escape");
    await openMenu(page, "Orders key");
    await expectItems(page, ACTIONS, null);
    await page.getByRole("menuitem", { name: "Deactivate", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Deactivate “Orders key”?" });
    await dialog.getByRole("button", { name: "Deactivate" }).click();
    await expect
      .poll(() => dialog.getByRole("alert").textContent())
      .toBe(
        `You do not have permission to do this. You cannot act on key ${ordersKey}: it holds ViewOrders, which you lack`,
      );
    // The roles list is not asked for: the server would refuse it.
    expect(problemsOf(page).failed).toEqual([`403 PATCH /v1/accounts/acme/keys/${ordersKey}`]);
    expectNoConsoleErrors(page, [403]);
    await context.close();
  }, 60_000);
});
