/**
 * `latchkey keys export`: the account's keys (GET /v1/accounts/{account}/keys/export) streamed to
 * a file. The server sends no count, so for the progress bar the total is asked beforehand (only
 * when a bar is drawn) and keys are counted in the csv and json as they arrive.
 */
import type { Command } from "commander";
import { api, ok } from "../client.js";
import { formatBytes } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { download, patternCounter } from "./download.js";
import { choice } from "./options.js";

async function exportKeys(remote: Remote, opts: { format: string; output?: string }): Promise<void> {
  const counters: Record<string, () => (chunk: Uint8Array) => number> = {
    csv: () => withoutHeader(patternCounter("\r\n")),
    json: () => patternCounter('{"id":'),
  };
  const counter = counters[opts.format]?.();
  const total = counter ? await exportTotal(remote) : undefined;
  const done = await download(remote, {
    path: api`/v1/accounts/${remote.account}/keys/export`,
    query: { format: opts.format },
    output: opts.output,
    fallbackName: `latchkey-${remote.account}-keys.${opts.format}`,
    label: `Exporting keys of ${remote.account}`,
    ...(counter ? { rows: { count: counter, total, noun: "keys" } } : {}),
  });
  if (done.file === null) return;
  remote.result({ file: done.file, format: opts.format, bytes: done.bytes }, () => {
    return `Exported the keys of ${remote.account} to ${done.file} (${formatBytes(done.bytes)}).`;
  });
}

/** The csv's first line is its header, not a key. */
function withoutHeader(lines: (chunk: Uint8Array) => number): (chunk: Uint8Array) => number {
  let header = 1;
  return (chunk) => {
    const count = lines(chunk);
    const skipped = Math.min(header, count);
    header -= skipped;
    return count - skipped;
  };
}

/** How many keys the export holds, for the progress bar: asked only when a bar is drawn. */
async function exportTotal(remote: Remote): Promise<number | undefined> {
  if (!remote.io.stderr.isTTY) return undefined;
  try {
    const [generated, external] = await Promise.all([
      ok(
        remote.client.api.GET("/v1/accounts/{account}/keys", {
          params: { path: { account: remote.account }, query: { limit: 1 } },
        }),
      ),
      ok(
        remote.client.api.GET("/v1/accounts/{account}/external-keys", {
          params: { path: { account: remote.account } },
        }),
      ),
    ]);
    return generated.total + external.items.length;
  } catch {
    return undefined;
  }
}

export function registerKeysExport(group: Command, registry: Registry): void {
  group
    .command("export")
    .description("export generated and external keys to a file (never a token); progress on a terminal")
    .addOption(choice("--format <format>", "file format", ["csv", "json", "xlsx"]).default("csv"))
    .option("--output <file>", "file to write, `-` for stdout (default: the server's file name, here)")
    .action((opts: { format: string; output?: string }, command: Command) =>
      remote(registry, command, (r) => exportKeys(r, opts)),
    );
}
