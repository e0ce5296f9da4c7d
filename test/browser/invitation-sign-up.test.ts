/**
 * A person invited with no sign-in (VTEX's create user, called with an app key) opens the invitation
 * link signed out, chooses a password there, is signed in and lands in the account; later they sign
 * out and sign in with that password. A wrong or used link says so clearly; a person who already has
 * a sign-in chooses "Sign in" on the same page and answers the invitation as before.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  axeSerious,
  type Bootstrap,
  expectNoConsoleErrors,
  openPage,
  screenshot,
  setUpAdmin,
} from "./support.js";

const lk = setUpAdmin();
let globex: Bootstrap;

beforeAll(async () => {
  globex = await lk.admin.addAccount("globex");
});

/** VTEX's create user, as an integration sends it: the account in `an`, the app key in VTEX's headers. */
async function vtexCreateUser(email: string, name: string) {
  const response = await fetch(`${lk.admin.url}/api/license-manager/users?an=acme`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "X-VTEX-API-AppKey": lk.admin.owner.appKey,
      "X-VTEX-API-AppToken": lk.admin.owner.appToken,
    },
    body: JSON.stringify({ email, name }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { id: string; invitation: { code: string; url: string } };
}

/** The invitation's link on this server (its path and fragment; PUBLIC_URL may name another origin). */
const onServer = (url: string) => {
  const parsed = new URL(url);
  return `${lk.admin.url}${parsed.pathname}${parsed.hash}`;
};

describe("signing up from an invitation", () => {
  it("sets the password on the invitation page, signs in and lands in the account; the password works later", async () => {
    const created = await vtexCreateUser("new.person@acme.test", "New Person");
    const { page, context } = await openPage(lk.browser);
    await page.goto(onServer(created.invitation.url));
    await page.getByRole("heading", { name: "Invitation to acme" }).waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, "invitation-sign-up");

    // Too short a password is refused before anything is sent.
    await page.getByLabel("Email").fill("new.person@acme.test");
    await page.getByLabel("New password", { exact: true }).fill("short");
    await page.getByLabel("New password again").fill("short");
    await page.getByRole("button", { name: "Set password and join" }).click();
    await page.getByText("Use at least 12 characters").waitFor();

    const password = "new person's password";
    await page.getByLabel("New password", { exact: true }).fill(password);
    await page.getByLabel("New password again").fill(password);
    await page.getByRole("button", { name: "Set password and join" }).click();
    await page.waitForURL(/\/admin\/acme\/keys$/);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    // Signed in as that person, a member of acme now.
    const me = (await page.evaluate(async () => (await fetch("/v1/me")).json())) as {
      principal: { email: string };
      accounts: { account: string }[];
    };
    expect(me.principal.email).toBe("new.person@acme.test");
    expect(me.accounts.map((entry) => entry.account)).toEqual(["acme"]);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await page.getByLabel("Email").fill("new.person@acme.test");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/admin\/acme\/keys$/);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    expectNoConsoleErrors(page);

    // The link is spent: opened again, signed out, it says so.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await page.goto(onServer(created.invitation.url));
    await page.getByLabel("Email").fill("new.person@acme.test");
    await page.getByLabel("New password", { exact: true }).fill("another password 123");
    await page.getByLabel("New password again").fill("another password 123");
    await page.getByRole("button", { name: "Set password and join" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toMatch(/holds no invitation to acme for this email.*used already/);
    await context.close();
  });

  it("says clearly when the code is wrong", async () => {
    await vtexCreateUser("wrong.code@acme.test", "Wrong Code");
    const { page, context } = await openPage(lk.browser);
    await page.goto(`${lk.admin.url}/admin/invitation/acme#code=${"A".repeat(43)}`);
    await page.getByLabel("Email").fill("wrong.code@acme.test");
    await page.getByLabel("New password", { exact: true }).fill("wrong code password");
    await page.getByLabel("New password again").fill("wrong code password");
    await page.getByRole("button", { name: "Set password and join" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toMatch(/This link holds no invitation to acme/);
    expectNoConsoleErrors(page, [404]);
    await context.close();
  });

  it("lets a person who already has a sign-in sign in from the link and accept", async () => {
    const added = await lk.admin.api<{ invitation: { url: string } }>("POST", "/v1/accounts/acme/users", {
      email: globex.email,
    });
    const { page, context } = await openPage(lk.browser);
    await page.goto(onServer(added.invitation.url));
    await page.getByRole("button", { name: "Sign in to answer the invitation" }).click();
    await page.getByLabel("Email").fill(globex.email);
    await page.getByLabel("Password").fill(globex.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Accept the invitation to acme" }).click();
    await page.waitForURL(/\/admin\/acme\/keys$/);
    await page.getByText("You are now a member of acme").waitFor();
    expectNoConsoleErrors(page);
    await context.close();
  });
});
