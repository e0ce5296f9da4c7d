/**
 * `latchkey users …`: people who sign in to the admin, and their roles in the account
 * (/v1/accounts/{account}/users). A user is named by id or by email. A generated password, or an
 * invitation's code and URL, or a reset's one-time password, is printed once, with a warning on stderr.
 */
import type { Command } from "commander";
import type { User } from "../../client/client.js";
import { ok } from "../client.js";
import { UsageError } from "../output.js";
import { formatDate, renderFields, renderTable, roleNames } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { chosenRoles, noneOption, roleOption } from "./options.js";
import { confirmOrRefuse } from "./prompt.js";

export function userTable(users: readonly User[]): string {
  return renderTable(users, [
    { header: "id", value: (user) => user.id },
    { header: "email", value: (user) => user.email },
    { header: "roles", value: (user) => roleNames(user.roles) },
    { header: "status", value: (user) => user.status },
    { header: "added", value: (user) => formatDate(user.addedAt) },
  ]);
}

const listUsers = (r: Remote) =>
  ok(r.client.api.GET("/v1/accounts/{account}/users", { params: { path: { account: r.account } } }));

/** A user id as given, or the id of the account's user with that email. */
async function userId(r: Remote, user: string): Promise<string> {
  if (!user.includes("@")) return user;
  const { items } = await listUsers(r);
  const found = items.find((item) => item.email.toLowerCase() === user.trim().toLowerCase());
  if (!found) throw new UsageError(`no user with email ${user} in ${r.account}`);
  return found.id;
}

export function registerUsers(group: Command, registry: Registry): void {
  group
    .command("list")
    .description("list the account's users and their roles")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const page = await listUsers(r);
        r.result(page, () => (page.items.length === 0 ? "No users." : userTable(page.items)));
      }),
    );

  group
    .command("create")
    .description(
      "add a user by email (created when new, with a generated password printed once; an email that already has a sign-in is invited)",
    )
    .argument("<email>")
    .addOption(roleOption("role the user will hold in the account"))
    .action((email: string, opts: { role?: number[] }, command: Command) =>
      remote(registry, command, async (r) => {
        const body = { email, ...(opts.role ? { roles: opts.role } : {}) };
        const added = await ok(
          r.client.api.POST("/v1/accounts/{account}/users", {
            params: { path: { account: r.account } },
            body,
          }),
        );
        r.result(added, () => {
          const fields: [string, string][] = [
            ["id", added.user.id],
            ["email", added.user.email],
            ["roles", roleNames(added.user.roles)],
            ["status", added.user.status],
          ];
          if (added.password) fields.push(["password", added.password]);
          if (added.invitation) {
            fields.push(["invitation code", added.invitation.code]);
            fields.push(["invitation url", added.invitation.url]);
            fields.push(["code expires", formatDate(added.invitation.expiresAt)]);
          }
          const what = added.user.status === "invited" ? "invited to" : "added to";
          return `User ${what} ${r.account}.\n${renderFields(fields)}`;
        });
        if (added.password)
          r.note(
            "warning: this is the only time the password is shown; hand it over safely. To change it, the user signs in and uses Change password (the admin's user menu); `latchkey users reset-password` makes a new one.",
          );
        else if (added.invitation)
          r.note(
            "note: this email already has a sign-in, so the user is invited: the roles apply once they accept, signed in to the admin, with this code. It is shown only this once: give the URL (or the code) to them yourself, through a channel you trust.",
          );
      }),
    );

  group
    .command("reset-password")
    .description(
      "reset a user's password: a one-time password is printed once, every session of the user ends, and they must choose a new one at their next sign-in",
    )
    .argument("<user>", "user id or email")
    .action((user: string, _opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const id = await userId(r, user);
        const reset = await ok(
          r.client.api.POST("/v1/accounts/{account}/users/{id}/password-reset", {
            params: { path: { account: r.account, id } },
          }),
        );
        r.result(
          reset,
          () =>
            `Password of ${reset.user.email} reset.\n${renderFields([
              ["email", reset.user.email],
              ["one-time password", reset.password],
            ])}`,
        );
        r.note(
          "warning: this is the only time the password is shown; hand it over safely. The user must choose a new password at their next sign-in.",
        );
      }),
    );

  group
    .command("roles")
    .description("replace a user's roles in the account")
    .argument("<user>", "user id or email")
    .addOption(roleOption("role the user will hold"))
    .addOption(noneOption())
    .action((user: string, opts: { role?: number[]; none?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        const roles = chosenRoles(opts);
        const id = await userId(r, user);
        const updated = await ok(
          r.client.api.PUT("/v1/accounts/{account}/users/{id}/roles", {
            params: { path: { account: r.account, id } },
            body: { roles },
          }),
        );
        r.result(updated, () => `User ${updated.email} now holds: ${roleNames(updated.roles)}.`);
      }),
    );

  group
    .command("delete")
    .description("remove a user from the account (asks on a terminal; needs --yes elsewhere)")
    .argument("<user>", "user id or email")
    .option("--yes", "do not ask")
    .action((user: string, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await confirmOrRefuse(r.io, opts.yes, `Remove user ${user} from ${r.account}?`, "removing a user");
        const id = await userId(r, user);
        await r.client.api.DELETE("/v1/accounts/{account}/users/{id}", {
          params: { path: { account: r.account, id } },
        });
        r.result({ id, deleted: true }, () => `User ${user} removed from ${r.account}.`);
      }),
    );
}
