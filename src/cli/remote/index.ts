/**
 * The remote commands (SPEC §8): each group talks to a running latchkey over its HTTP API, so the
 * caller's permissions and the audit trail apply as for any other client.
 */
import { type Command, Option } from "commander";
import { registerAudit } from "./audit.js";
import { processIO, type RemoteIO, type Schedule } from "./context.js";
import { registerExternal } from "./external.js";
import { registerKeys } from "./keys.js";
import { registerRoles } from "./roles.js";
import { registerSettings } from "./settings.js";
import { registerUsers } from "./users.js";

const CONNECTION_HELP = `
Connection: LATCHKEY_URL, LATCHKEY_APPKEY and LATCHKEY_APPTOKEN from the environment (or --url,
--app-key); without LATCHKEY_APPTOKEN a terminal asks for the token without echoing it. The account
is the appKey's own unless --account or LATCHKEY_ACCOUNT names another.`;

/** A command group with the connection options, shown in the help of each of its commands. */
function remoteGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .optionsGroup("Connection:")
    .option("--url <url>", "server URL (default: LATCHKEY_URL)")
    .option("--app-key <appKey>", "appKey to call with (default: LATCHKEY_APPKEY)")
    .addOption(
      new Option(
        "--app-token <appToken>",
        "prefer LATCHKEY_APPTOKEN or the prompt: a flag shows in the process list and shell history",
      ),
    )
    .option("--account <account>", "account to act in (default: LATCHKEY_ACCOUNT, else the appKey's)")
    .optionsGroup("Options:")
    .configureHelp({ showGlobalOptions: true })
    .addHelpText("after", CONNECTION_HELP);
}

export function registerRemoteCommands(
  program: Command,
  schedule: Schedule,
  io: RemoteIO = processIO(),
): void {
  const registry = { io, schedule };
  registerKeys(remoteGroup(program, "keys", "generated API keys of the account"), registry);
  registerExternal(remoteGroup(program, "external", "keys of other accounts added to this one"), registry);
  registerRoles(remoteGroup(program, "roles", "predefined and custom roles"), registry);
  registerUsers(remoteGroup(program, "users", "admin users and their roles"), registry);
  registerSettings(
    remoteGroup(program, "settings", "API key settings: renewal period, alerts, policies"),
    registry,
  );
  registerAudit(
    remoteGroup(program, "audit", "the audit log: list, export, verify the hash chain"),
    registry,
  );
}
