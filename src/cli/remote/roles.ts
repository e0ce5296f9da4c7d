/**
 * `latchkey roles …`: predefined and custom roles of the account (/v1/accounts/{account}/roles).
 * The server refuses a custom role holding a resource the caller does not hold (no escalation).
 */
import type { Command } from "commander";
import type { Role } from "../../client/client.js";
import { ok } from "../client.js";
import { renderTable } from "../table.js";
import { type Registry, remote } from "./context.js";
import { collect, integer } from "./options.js";
import { confirmOrRefuse } from "./prompt.js";

const SHOWN_RESOURCES = 4;

/** The first few resources, then how many more: Owner alone holds dozens. */
export function resourceSummary(resources: readonly string[]): string {
  if (resources.length === 0) return "none";
  const shown = resources.slice(0, SHOWN_RESOURCES).join(", ");
  const more = resources.length - SHOWN_RESOURCES;
  return more > 0 ? `${shown} +${more} more` : shown;
}

export function roleTable(roles: readonly Role[]): string {
  return renderTable(roles, [
    { header: "id", value: (role) => String(role.id), align: "right" },
    { header: "name", value: (role) => role.name },
    { header: "type", value: (role) => role.type },
    { header: "resources", value: (role) => resourceSummary(role.resources) },
  ]);
}

export function registerRoles(group: Command, registry: Registry): void {
  group
    .command("list")
    .description("list the account's roles (use --json for every resource of each)")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const page = await ok(
          r.client.api.GET("/v1/accounts/{account}/roles", { params: { path: { account: r.account } } }),
        );
        r.result(page, () => roleTable(page.items));
      }),
    );

  group
    .command("create")
    .description("create a custom role from resource keys (e.g. ViewApiKeys)")
    .argument("<name>", "the role's name, unique in the account")
    .requiredOption("--resource <key>", "resource the role grants (repeat)", collect)
    .action((name: string, opts: { resource: string[] }, command: Command) =>
      remote(registry, command, async (r) => {
        const body = { name, resources: opts.resource };
        const role = await ok(
          r.client.api.POST("/v1/accounts/{account}/roles", {
            params: { path: { account: r.account } },
            body,
          }),
        );
        r.result(role, () => `Role ${role.id} "${role.name}" created: ${role.resources.join(", ")}.`);
      }),
    );

  group
    .command("delete")
    .description("delete a custom role nobody holds (asks on a terminal; needs --yes elsewhere)")
    .argument("<id>", "the role id", integer(1, Number.MAX_SAFE_INTEGER))
    .option("--yes", "do not ask")
    .action((id: number, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await confirmOrRefuse(r.io, opts.yes, `Delete role ${id} from ${r.account}?`, "deleting a role");
        await r.client.api.DELETE("/v1/accounts/{account}/roles/{id}", {
          params: { path: { account: r.account, id } },
        });
        r.result({ id, deleted: true }, () => `Role ${id} deleted.`);
      }),
    );
}
