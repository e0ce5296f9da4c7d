/**
 * `latchkey external …`: keys other accounts generated, added to this account with roles here
 * (/v1/accounts/{account}/external-keys). Their tokens stay with their owner: nothing here shows,
 * renews or deletes one.
 */
import type { Command } from "commander";
import type { ExternalKey, ExternalKeyRequest } from "../../client/client.js";
import { ok } from "../client.js";
import { formatDate, renderTable, roleNames } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { chosenRoles, noneOption, roleOption } from "./options.js";
import { confirmOrRefuse } from "./prompt.js";

export function externalTable(keys: readonly ExternalKey[]): string {
  return renderTable(keys, [
    { header: "appKey", value: (key) => key.appKey },
    { header: "owner", value: (key) => key.account },
    { header: "status", value: (key) => key.status },
    { header: "roles", value: (key) => roleNames(key.roles) },
    { header: "added", value: (key) => formatDate(key.addedDate) },
    { header: "last used", value: (key) => formatDate(key.lastUsedAt) },
  ]);
}

/** Pending requests (requireExternalKeyApproval); "yes" in `yours` when the caller may not approve it. */
export function requestsTable(requests: readonly ExternalKeyRequest[]): string {
  return renderTable(requests, [
    { header: "appKey", value: (request) => request.appKey },
    { header: "owner", value: (request) => request.account },
    { header: "roles asked", value: (request) => roleNames(request.roles) },
    { header: "requested by", value: (request) => request.requestedBy.label },
    { header: "yours", value: (request) => (request.byYou ? "yes" : "") },
    { header: "requested", value: (request) => formatDate(request.requestedAt) },
    { header: "expires", value: (request) => formatDate(request.expiresAt) },
  ]);
}

/** The path parameters of one external key's routes. */
const externalPath = (r: Remote, appKey: string) => ({ path: { account: r.account, appKey } });

export function registerExternal(group: Command, registry: Registry): void {
  group
    .command("list")
    .description("list the external keys added to the account")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const page = await ok(
          r.client.api.GET("/v1/accounts/{account}/external-keys", {
            params: { path: { account: r.account } },
          }),
        );
        r.result(page, () => (page.items.length === 0 ? "No external keys." : externalTable(page.items)));
      }),
    );

  group
    .command("add")
    .description("add another account's key by its appKey, with roles in this account")
    .argument("<appKey>", "the key's appKey, as its owner gave it")
    .addOption(roleOption("role the key will hold in this account"))
    .action((appKey: string, opts: { role?: number[] }, command: Command) =>
      remote(registry, command, async (r) => {
        const body = { appKey, ...(opts.role ? { roles: opts.role } : {}) };
        const key = await ok(
          r.client.api.POST("/v1/accounts/{account}/external-keys", {
            params: { path: { account: r.account } },
            body,
          }),
        );
        r.result(key, () =>
          key.status === "pending"
            ? `Requested ${key.appKey} (owner ${key.account}) in ${r.account}: the account requires approval, so it grants nothing until someone else approves it (latchkey external approve ${key.appKey}).`
            : `Added ${key.appKey} (owner ${key.account}) to ${r.account}; roles: ${roleNames(key.roles)}.`,
        );
      }),
    );

  group
    .command("roles")
    .description("replace the roles an external key holds in this account")
    .argument("<appKey>")
    .addOption(roleOption("role the key will hold in this account"))
    .addOption(noneOption())
    .action((appKey: string, opts: { role?: number[]; none?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        const roles = chosenRoles(opts);
        const key = await ok(
          r.client.api.PUT("/v1/accounts/{account}/external-keys/{appKey}/roles", {
            params: externalPath(r, appKey),
            body: { roles },
          }),
        );
        r.result(key, () => `External key ${key.appKey} now holds in ${r.account}: ${roleNames(key.roles)}.`);
      }),
    );

  group
    .command("remove")
    .description("remove an external key from the account (its owner keeps it); asks on a terminal")
    .argument("<appKey>")
    .option("--yes", "do not ask")
    .action((appKey: string, opts: { yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        await confirmOrRefuse(
          r.io,
          opts.yes,
          `Remove external key ${appKey} from ${r.account}? Its calls to ${r.account} fail at once.`,
          "removing an external key",
        );
        await r.client.api.DELETE("/v1/accounts/{account}/external-keys/{appKey}", {
          params: externalPath(r, appKey),
        });
        r.result({ appKey, removed: true }, () => `External key ${appKey} removed from ${r.account}.`);
      }),
    );

  group
    .command("requests")
    .description("list pending requests to add external keys (the account requires approval)")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const page = await ok(
          r.client.api.GET("/v1/accounts/{account}/external-keys/requests", {
            params: { path: { account: r.account } },
          }),
        );
        r.result(page, () => (page.items.length === 0 ? "No pending requests." : requestsTable(page.items)));
      }),
    );

  group
    .command("approve")
    .description("approve a request to add an external key (not your own): it gets the roles asked for")
    .argument("<appKey>", "the requested key's appKey")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const key = await ok(
          r.client.api.POST("/v1/accounts/{account}/external-keys/requests/{appKey}/approve", {
            params: externalPath(r, appKey),
          }),
        );
        r.result(key, () => `Approved ${key.appKey} in ${r.account}; roles: ${roleNames(key.roles)}.`);
      }),
    );

  group
    .command("reject")
    .description("reject a request to add an external key (or withdraw your own)")
    .argument("<appKey>", "the requested key's appKey")
    .action((appKey: string, _opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        await r.client.api.POST("/v1/accounts/{account}/external-keys/requests/{appKey}/reject", {
          params: externalPath(r, appKey),
        });
        r.result({ appKey, rejected: true }, () => `Request to add ${appKey} to ${r.account} rejected.`);
      }),
    );
}
