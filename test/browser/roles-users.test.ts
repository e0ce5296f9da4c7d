/** The Roles and Users pages: custom roles from the catalog, users with a generated password, permissions. */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  PHONE,
  problemsOf,
  type Role,
  screenshot,
  setUpAdmin,
} from "./support.js";

const lk = setUpAdmin();
let rolesUrl: string;
let usersUrl: string;

beforeAll(async () => {
  rolesUrl = `${lk.admin.url}/admin/${lk.admin.owner.account}/roles`;
  usersUrl = `${lk.admin.url}/admin/${lk.admin.owner.account}/users`;
});

function createRole(name: string, resources: string[]): Promise<Role> {
  return lk.admin.api<Role>("POST", "/v1/accounts/acme/roles", { name, resources });
}

const row = (page: Page, name: string | RegExp) => page.getByRole("row", { name });

describe("the Roles page", () => {
  it("creates a custom role from two products, edits and deletes it; predefined roles are read-only", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(rolesUrl);
    await row(page, /OMS - Read only/).waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "roles");

    // A predefined role can be looked at, not changed.
    const predefined = row(page, /OMS - Read only/);
    await expect.poll(() => predefined.getByText("Predefined").count()).toBe(1);
    expect(await predefined.getByRole("button", { name: /Edit|Delete/ }).count()).toBe(0);
    await predefined.getByRole("button", { name: "View OMS - Read only" }).click();
    const view = page.getByRole("dialog", { name: "Role “OMS - Read only”" });
    await view.getByText("View orders").waitFor();
    expect(await view.getByText("cannot be changed or deleted").count()).toBe(1);
    await view.getByRole("button", { name: "Close" }).first().click();
    await view.waitFor({ state: "hidden" });

    await page.getByRole("button", { name: "Create role" }).click();
    const dialog = page.getByRole("dialog", { name: "Create role" });
    await dialog.getByLabel("Filter resources").fill("inventory");
    await expect.poll(() => dialog.getByRole("group", { name: "Logistics" }).count()).toBe(1);
    expect(await dialog.getByRole("group", { name: "OMS" }).count()).toBe(0);
    await dialog.getByLabel("Filter resources").fill("");
    await dialog.getByLabel("View orders").check();
    await dialog.getByLabel("Select all in Products (Catalog)").check();
    expect(await dialog.getByLabel("Edit products").isChecked()).toBe(true);
    await dialog.getByLabel("Edit products").uncheck();
    await expect.poll(() => dialog.getByText("2 of 17 resources selected.").count()).toBe(1);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "role-dialog");

    // The server's validation is shown on the field: a predefined role's name is taken.
    await dialog.getByLabel("Name").fill("OMS - Read only");
    await dialog.getByRole("button", { name: "Create role" }).click();
    await dialog.getByText('"OMS - Read only" is the name of a predefined role').waitFor();
    expect(await dialog.getByLabel("Name").getAttribute("aria-invalid")).toBe("true");
    await dialog.getByLabel("Name").fill("Order desk");
    await dialog.getByRole("button", { name: "Create role" }).click();
    await dialog.waitFor({ state: "hidden" });

    const created = row(page, /Order desk/);
    await expect.poll(() => created.locator("td[data-label=Resources]").textContent()).toBe("2");
    expect(await created.getByText("Custom").count()).toBe(1);
    expect(await created.locator("td[data-label=Products]").textContent()).toBe("CatalogOMS");

    await created.getByRole("button", { name: "Edit Order desk" }).click();
    const edit = page.getByRole("dialog", { name: "Edit role “Order desk”" });
    expect(await edit.getByLabel("View orders").isChecked()).toBe(true);
    expect(await edit.getByLabel("View products").isChecked()).toBe(true);
    await edit.getByLabel("Name").fill("Order desk plus");
    await edit.getByLabel("View inventory").check();
    await edit.getByRole("button", { name: "Save role" }).click();
    await edit.waitFor({ state: "hidden" });
    const edited = row(page, /Order desk plus/);
    await expect.poll(() => edited.locator("td[data-label=Resources]").textContent()).toBe("3");
    expect(await edited.locator("td[data-label=Products]").textContent()).toContain("Logistics");
    const stored = await lk.admin.api<{ items: { name: string; resources: string[] }[] }>(
      "GET",
      "/v1/accounts/acme/roles",
    );
    expect(stored.items.find((role) => role.name === "Order desk plus")?.resources).toEqual([
      "ViewInventory",
      "ViewOrders",
      "ViewProducts",
    ]);

    await edited.getByRole("button", { name: "Delete Order desk plus" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete role “Order desk plus”?" });
    await confirm.getByRole("button", { name: "Delete role" }).click();
    await confirm.waitFor({ state: "hidden" });
    await expect.poll(() => row(page, /Order desk plus/).count()).toBe(0);
    expectNoConsoleErrors(page, [409]);
    await context.close();
  }, 90_000);

  it("shows the server's 409 when deleting a role someone holds", async () => {
    const held = await createRole("Held role", ["ViewPrices"]);
    await lk.admin.addUser("holder@acme.test", [held.id]);
    const { context, page } = await lk.ownerPage();
    await page.goto(rolesUrl);
    await row(page, /Held role/)
      .getByRole("button", { name: "Delete Held role" })
      .click();
    const confirm = page.getByRole("dialog", { name: "Delete role “Held role”?" });
    await confirm.getByRole("button", { name: "Delete role" }).click();
    await expect
      .poll(() => confirm.getByRole("alert").textContent())
      .toMatch(/held by 1 user or key; take it from them first/);
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await row(page, /Held role/).count()).toBe(1);
    expectNoConsoleErrors(page, [409]);
    await context.close();
  }, 60_000);
});

describe("the Users page", () => {
  it("adds a user with a generated password shown once, who can sign in; sets roles; removes", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(usersUrl);
    const me = row(page, new RegExp(lk.admin.owner.email));
    await me.getByText("You", { exact: true }).waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "users");

    await page.getByRole("button", { name: "Add user" }).click();
    const add = page.getByRole("dialog", { name: "Add user" });
    await add.getByLabel("Email").fill("new.person@acme.test");
    await add.getByLabel("OMS - Read only").check();
    expect(await axeSerious(page)).toEqual([]);
    await add.getByRole("button", { name: "Add user" }).click();
    const added = page.getByRole("dialog", { name: "User added" });
    const password = await added.getByLabel("Generated password").inputValue();
    expect(password.length).toBeGreaterThanOrEqual(12);
    expect(await added.getByText("shown only once").count()).toBe(1);
    await added.getByRole("button", { name: "Done" }).click();
    await added.waitFor({ state: "hidden" });
    expect(await page.content()).not.toContain(password);
    const person = row(page, /new\.person@acme\.test/);
    await expect.poll(() => person.getByText("OMS - Read only").count()).toBe(1);

    const other = await lk.userPage({ email: "new.person@acme.test", password });
    expect(await other.page.getByRole("link", { name: "Users" }).count()).toBe(0);
    expectNoConsoleErrors(other.page);
    await other.context.close();

    await person.getByRole("button", { name: "Set roles of new.person@acme.test" }).click();
    const roles = page.getByRole("dialog", { name: "Roles of new.person@acme.test" });
    expect(await roles.getByLabel("OMS - Read only").isChecked()).toBe(true);
    await roles.getByLabel("Catalog - Full access").check();
    await roles.getByRole("button", { name: "Save roles" }).click();
    await roles.waitFor({ state: "hidden" });
    await expect.poll(() => person.getByText("Catalog - Full access").count()).toBe(1);

    await person.getByRole("button", { name: "Remove new.person@acme.test" }).click();
    const confirm = page.getByRole("dialog", { name: "Remove new.person@acme.test?" });
    await confirm.getByRole("button", { name: "Remove user" }).click();
    await confirm.waitFor({ state: "hidden" });
    await expect.poll(() => row(page, /new\.person@acme\.test/).count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("explains why the last Owner cannot be removed", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(usersUrl);
    await row(page, new RegExp(lk.admin.owner.email))
      .getByRole("button", { name: `Remove ${lk.admin.owner.email}` })
      .click();
    const confirm = page.getByRole("dialog", { name: `Remove ${lk.admin.owner.email}?` });
    expect(await confirm.getByText("You are removing yourself").count()).toBe(1);
    await confirm.getByRole("button", { name: "Remove user" }).click();
    await expect.poll(() => confirm.getByRole("alert").textContent()).toMatch(/last Owner of acme/);
    expectNoConsoleErrors(page, [409]);
    await context.close();
  });
});

describe("permissions", () => {
  it("explains a missing view permission on Roles, Users and Audit log without calling the API", async () => {
    const keysOnly = await createRole("Keys viewer", ["ViewApiKeys"]);
    const user = await lk.admin.addUser("keys.viewer@acme.test", [keysOnly.id]);
    const { context, page } = await lk.userPage(user);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "API keys" }).waitFor();
    for (const name of ["Roles", "Users", "Audit log"])
      expect(await nav.getByRole("link", { name }).count()).toBe(0);

    const pages = [
      ["users", "Users", "ViewAdminUsers"],
      ["roles", "Roles", "ViewAdminUsers"],
      ["audit", "Audit log", "ViewAuditLog"],
    ] as const;
    for (const [path, title, resource] of pages) {
      await page.goto(`${lk.admin.url}/admin/acme/${path}`);
      await page.getByRole("heading", { name: title, exact: true }).waitFor();
      await page.getByText(`You need the ${resource} permission for this`).waitFor();
    }
    expect(problemsOf(page).failed).toEqual([]);
    expectNoConsoleErrors(page);
    await context.close();
  });

  it("shows the 403 in words when a permission is taken away while the page is open", async () => {
    const viewer = await createRole("Users viewer", ["ViewAdminUsers"]);
    const user = await lk.admin.addUser("users.viewer@acme.test", [viewer.id]);
    const { context, page } = await lk.userPage(user);
    await page.goto(usersUrl);
    await row(page, new RegExp(lk.admin.owner.email)).waitFor();
    // Without EditAdminUsers the changes are offered disabled, with the reason.
    const addButton = page.getByRole("button", { name: "Add user" });
    expect(await addButton.isDisabled()).toBe(true);
    expect(await addButton.getAttribute("title")).toBe("You need the EditAdminUsers permission for this");

    await lk.admin.api("PUT", `/v1/accounts/acme/roles/${viewer.id}`, {
      name: "Users viewer",
      resources: [],
    });
    await page.getByRole("button", { name: "Refresh" }).click();
    const message = page.getByRole("alert");
    await expect.poll(() => message.textContent()).toMatch(/You do not have permission.*ViewAdminUsers/);
    await screenshot(page, "users-403");
    expectNoConsoleErrors(page, [403]);
    await context.close();
  });
});

describe("at a phone's width", () => {
  it("fits Roles and Users without sideways scrolling", async () => {
    const { context, page } = await lk.ownerPage(PHONE);
    for (const url of [rolesUrl, usersUrl]) {
      await page.goto(url);
      await page.getByRole("table").waitFor();
      await expectNoHorizontalScroll(page);
      expect(await axeSerious(page)).toEqual([]);
    }
    await page.goto(rolesUrl);
    await page.getByRole("button", { name: "Create role" }).click();
    await page.getByRole("dialog", { name: "Create role" }).getByLabel("View orders").waitFor();
    await expectNoHorizontalScroll(page);
    await screenshot(page, "role-dialog-phone");
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
