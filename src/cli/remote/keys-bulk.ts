/**
 * `latchkey keys bulk activate|deactivate|delete APPKEY… [--from FILE]`: one request to
 * /v1/accounts/{account}/keys/bulk per 1,000 appKeys, each key judged as its single command would
 * be. Prints a line per key and exits 1 when any key failed, so a script notices a partial result.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { BulkKeyResults } from "../../client/client.js";
import { ok } from "../client.js";
import { EXIT, UsageError } from "../output.js";
import { renderTable } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { confirmOrRefuse } from "./prompt.js";

/** The server's limit per request (MAX_BULK_KEYS): longer lists go in several requests. */
const PER_REQUEST = 1000;
const ACTIONS = ["activate", "deactivate", "delete"] as const;
type Action = (typeof ACTIONS)[number];
const DONE: Record<Action, string> = { activate: "activated", deactivate: "deactivated", delete: "deleted" };

/** appKeys from a file (or `-`, stdin): one or more a line, split on spaces or commas; `#` starts a comment. */
async function readAppKeys(remote: Remote, from: string): Promise<string[]> {
  let text: string;
  if (from === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of remote.io.stdin) chunks.push(Buffer.from(chunk));
    text = Buffer.concat(chunks).toString("utf8");
  } else {
    try {
      text = await readFile(from, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read ${from}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  return text.split(/\r?\n/).flatMap((line) =>
    line
      .replace(/#.*/, "")
      .split(/[\s,]+/)
      .filter(Boolean),
  );
}

function checkList(appKeys: readonly string[]): void {
  if (appKeys.length === 0) throw new UsageError("name at least one appKey (as arguments or with --from)");
  const seen = new Set<string>();
  for (const appKey of appKeys) {
    if (seen.has(appKey)) throw new UsageError(`${appKey} is named more than once`);
    seen.add(appKey);
  }
}

function render(results: BulkKeyResults): string {
  const table = renderTable(results.results, [
    { header: "appKey", value: (result) => result.appKey },
    {
      header: "result",
      value: (result) => (result.ok ? DONE[results.action] : `${result.error.code}: ${result.error.detail}`),
    },
  ]);
  const total = results.results.length;
  const failed = results.failed > 0 ? `; ${results.failed} failed` : "";
  return `${table}\n${results.succeeded} of ${total} key(s) ${DONE[results.action]}${failed}.`;
}

async function runBulk(remote: Remote, action: Action, appKeys: string[]): Promise<number> {
  const merged: BulkKeyResults = { action, results: [], succeeded: 0, failed: 0 };
  for (let start = 0; start < appKeys.length; start += PER_REQUEST) {
    const part = await ok(
      remote.client.api.POST("/v1/accounts/{account}/keys/bulk", {
        params: { path: { account: remote.account } },
        body: { action, appKeys: appKeys.slice(start, start + PER_REQUEST) },
      }),
    );
    merged.results.push(...part.results);
    merged.succeeded += part.succeeded;
    merged.failed += part.failed;
  }
  remote.result(merged, () => render(merged));
  return merged.failed > 0 ? EXIT.failed : EXIT.ok;
}

export function registerKeysBulk(group: Command, registry: Registry): void {
  group
    .command("bulk")
    .description(
      "activate, deactivate or delete many keys: a result per key; exit 1 if any failed (delete asks; --yes)",
    )
    .argument("<action>", `one of ${ACTIONS.join(", ")}`)
    .argument("[appKeys...]", "the keys to act on")
    .option("--from <file>", "read appKeys from a file (one a line; - for stdin)")
    .option("--yes", "do not ask before deleting")
    .action((action: string, args: string[], opts: { from?: string; yes?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        if (!(ACTIONS as readonly string[]).includes(action))
          throw new UsageError(`unknown action ${action}: use ${ACTIONS.join(", ")}`);
        const appKeys = [...args, ...(opts.from ? await readAppKeys(r, opts.from) : [])];
        checkList(appKeys);
        if (action === "delete") {
          await confirmOrRefuse(
            r.io,
            opts.yes,
            `Delete ${appKeys.length} key(s) for good? Their tokens stop working at once; this cannot be undone.`,
            "deleting keys",
          );
        }
        return runBulk(r, action as Action, appKeys);
      }),
    );
}
