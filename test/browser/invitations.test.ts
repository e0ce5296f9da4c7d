/**
 * Invitations in the admin: adding an email that already has a sign-in shows the invitation's link
 * and code once, and the person as Invited on the Users page. The person opens the link, signed in
 * (before or after opening it), sees what is offered and accepts or declines it there. Invitations
 * are shown nowhere else: a wrong code shows nothing of them.
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

/** The invitation's link on this server (its path and fragment; PUBLIC_URL may name another origin). */
const onServer = (url: string) => {
  const parsed = new URL(url);
  return `${lk.admin.url}${parsed.pathname}${parsed.hash}`;
};

interface Issued {
  invitation: { code: string; url: string };
}

describe("invitations", () => {
  it("shows the link once to the inviter; the person opens it and accepts exactly the offered roles", async () => {
    const { context, page } = await lk.ownerPage();
    await page.goto(usersUrl);
    await page.getByRole("button", { name: "Add user" }).click();
    const add = page.getByRole("dialog", { name: "Add user" });
    await add.getByLabel("Email").fill(globex.email);
    await add.getByLabel("OMS - Read only").check();
    await add.getByRole("button", { name: "Add user" }).click();
    const shown = page.getByRole("dialog", { name: "User invited" });
    await shown.getByText("This code is shown only once").waitFor();
    const link = await shown.getByLabel("Invitation link").inputValue();
    const code = await shown.getByLabel("Invitation code").inputValue();
    expect(link).toMatch(new RegExp(`/admin/invitation/acme#code=${code}$`));
    await shown.getByRole("button", { name: "Copy" }).first().waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "users-invitation-code");
    await shown.getByRole("button", { name: "Done" }).click();
    await page.getByText(`${globex.email} invited: the roles apply once they accept`).waitFor();
    const invited = row(page, globex.email);
    await invited.getByText("Invited", { exact: true }).waitFor();

    // Signed in, the person sees no invitation anywhere until they open the link.
    const person = await lk.userPage({ email: globex.email, password: globex.password });
    expect(await person.page.getByText("acme invites you").count()).toBe(0);
    await person.page.goto(onServer(link));
    const answer = person.page.getByRole("region", { name: "Invitation to acme" });
    await answer
      .getByText(`acme invites you (from ${lk.admin.owner.email}), with the roles OMS - Read only`)
      .waitFor();
    expect(await axeSerious(person.page)).toEqual([]);
    await screenshot(person.page, "invitation-page");
    await answer.getByRole("button", { name: "Accept the invitation to acme" }).click();
    await person.page.waitForURL(/\/admin\/acme\/keys$/);
    await person.page.getByText("You are now a member of acme").waitFor();
    await expect.poll(() => person.page.getByLabel("Account").inputValue()).toBe("acme");
    const me = (await person.page.evaluate(async () => (await fetch("/v1/me")).json())) as {
      accounts: { account: string }[];
    };
    expect(me.accounts.find((entry) => entry.account === "acme")).toEqual({
      account: "acme",
      roles: [{ id: 10, name: "OMS - Read only" }],
      resources: ["ViewOrders"],
    });
    expect(me).not.toHaveProperty("invitations");
    expectNoConsoleErrors(person.page, [404]);
    await person.context.close();

    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => invited.getByText("Invited", { exact: true }).count()).toBe(0);
    expectNoConsoleErrors(page);
    await context.close();
  }, 90_000);

  it("declines through the link; a wrong code shows nothing", async () => {
    const issued = await lk.admin.api<Issued>("POST", "/v1/accounts/acme/users", {
      email: initech.email,
      roles: [],
    });
    const person = await lk.userPage({ email: initech.email, password: initech.password }, PHONE);
    const wrong = onServer(issued.invitation.url).replace(/#code=.*/, `#code=${"A".repeat(43)}`);
    await person.page.goto(wrong);
    await person.page.getByText("No invitation for you here").waitFor();
    expect(await person.page.getByRole("button", { name: /Accept/ }).count()).toBe(0);
    await person.page.goto(onServer(issued.invitation.url));
    const answer = person.page.getByRole("region", { name: "Invitation to acme" });
    await answer.getByText("acme invites you").waitFor();
    await expectNoHorizontalScroll(person.page);
    await answer.getByRole("button", { name: "Decline the invitation to acme" }).click();
    await person.page.getByText("Invitation to acme declined").waitFor();
    // Back to their own account.
    await person.page.waitForURL(/\/admin\/initech\/keys$/);
    expect(await answer.count()).toBe(0);
    expectNoConsoleErrors(person.page, [404]);
    await person.context.close();
    const { items } = await lk.admin.api<{ items: { email: string }[] }>("GET", "/v1/accounts/acme/users");
    expect(items.map((user) => user.email)).not.toContain(initech.email);
  }, 60_000);

  it("keeps the link through signing in, for a user who is in no account yet", async () => {
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
    const { invitation } = (await invited.json()) as Issued;

    const { context, page } = await openPage(lk.browser);
    await page.goto(onServer(invitation.url));
    // Signed out, the link offers a first password (for someone with no sign-in) or signing in.
    await page.getByRole("button", { name: "Sign in to answer the invitation" }).click();
    await page.getByLabel("Email").fill(solo.email);
    await page.getByLabel("Password").fill(solo.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    const answer = page.getByRole("region", { name: "Invitation to globex" });
    await answer.getByText("globex invites you").waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await answer.getByRole("button", { name: "Accept the invitation to globex" }).click();
    await page.waitForURL(/\/admin\/globex\/keys$/);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  }, 60_000);
});
