/**
 * Invitations in the admin: adding an email that already has a sign-in shows the person as Invited on
 * the Users page; that person sees the invitation above their pages (or, in no account yet, on the
 * page that says so) and accepts or declines it there.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  type Bootstrap,
  expectNoConsoleErrors,
  expectNoHorizontalScroll,
  openPage,
  PHONE,
  screenshot,
  setUpAdmin,
} from "./support.js";

const lk = setUpAdmin();
let globex: Bootstrap;
let initech: Bootstrap;
let usersUrl: string;

beforeAll(async () => {
  usersUrl = `${lk.admin.url}/admin/acme/users`;
  [globex, initech] = [await lk.admin.addAccount("globex"), await lk.admin.addAccount("initech")];
});

const row = (page: Page, email: string) =>
  page.getByRole("row", { name: new RegExp(email.replace(/[.]/g, "\\.")) });

describe("invitations", () => {
  it("shows an added existing user as Invited until they accept, with exactly the offered roles", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(usersUrl);
    await page.getByRole("button", { name: "Add user" }).click();
    const add = page.getByRole("dialog", { name: "Add user" });
    await add.getByLabel("Email").fill(globex.email);
    await add.getByLabel("OMS - Read only").check();
    await add.getByRole("button", { name: "Add user" }).click();
    // No password to show: the person keeps their own sign-in.
    await add.waitFor({ state: "hidden" });
    expect(await page.getByRole("dialog", { name: "User added" }).count()).toBe(0);
    await page.getByText(`${globex.email} invited: the roles apply once they accept`).waitFor();
    const invited = row(page, globex.email);
    await invited.getByText("Invited", { exact: true }).waitFor();
    expect(await row(page, lk.admin.owner.email).getByText("Invited", { exact: true }).count()).toBe(0);
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "users-invited");

    const person = await lk.userPage({ email: globex.email, password: globex.password });
    const banner = person.page.getByRole("region", { name: "Invitations" });
    await banner
      .getByText(`acme invites you (from ${lk.admin.owner.email}), with the roles OMS - Read only`)
      .waitFor();
    expect(await person.page.getByLabel("Account").count()).toBe(0);
    expect(await axeSerious(person.page)).toEqual([]);
    await screenshot(person.page, "invitation-banner");
    await banner.getByRole("button", { name: "Accept the invitation to acme" }).click();
    await person.page.waitForURL(/\/admin\/acme\/keys/);
    await person.page.getByText("You are now a member of acme").waitFor();
    await expect.poll(() => banner.count()).toBe(0);
    await expect.poll(() => person.page.getByLabel("Account").inputValue()).toBe("acme");
    const me = (await person.page.evaluate(async () => (await fetch("/v1/me")).json())) as {
      accounts: { account: string }[];
    };
    expect(me.accounts.find((entry) => entry.account === "acme")).toEqual({
      account: "acme",
      roles: [{ id: 10, name: "OMS - Read only" }],
      resources: ["ViewOrders"],
    });
    expectNoConsoleErrors(person.page);
    await person.context.close();

    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => invited.getByText("Invited", { exact: true }).count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("declines an invitation: it is gone from the person's page and from the account's users", async () => {
    await lk.admin.api("POST", "/v1/accounts/acme/users", { email: initech.email, roles: [] });
    const person = await lk.userPage({ email: initech.email, password: initech.password }, PHONE);
    const banner = person.page.getByRole("region", { name: "Invitations" });
    await banner.getByText("acme invites you").waitFor();
    await expectNoHorizontalScroll(person.page);
    await banner.getByRole("button", { name: "Decline the invitation to acme" }).click();
    await person.page.getByText("Invitation to acme declined").waitFor();
    await expect.poll(() => banner.count()).toBe(0);
    expect(await person.page.getByLabel("Account").count()).toBe(0);
    expectNoConsoleErrors(person.page);
    await person.context.close();
    const { items } = await lk.admin.api<{ items: { email: string }[] }>("GET", "/v1/accounts/acme/users");
    expect(items.map((user) => user.email)).not.toContain(initech.email);
  }, 60_000);

  it("offers the invitations to a user who is in no account yet", async () => {
    const solo = await lk.admin.addUser("solo@acme.test", []);
    await lk.admin.api("DELETE", `/v1/accounts/acme/users/${solo.id}`);
    const invited = await fetch(`${lk.admin.url}/v1/accounts/globex/users`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-appkey": globex.appKey,
        "x-api-apptoken": globex.appToken,
      },
      body: JSON.stringify({ email: solo.email, roles: [1] }),
    });
    expect(invited.status).toBe(201);

    const { context, page } = await openPage(lk.browser);
    await page.goto(`${lk.admin.url}/admin/`);
    await page.getByLabel("Email").fill(solo.email);
    await page.getByLabel("Password").fill(solo.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("You are not a member of any account").waitFor();
    await page.getByText("Accept an invitation above").waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await page.getByRole("button", { name: "Accept the invitation to globex" }).click();
    await page.waitForURL(/\/admin\/globex\/keys/);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
