/**
 * `latchkey keys import FILE [--dry-run]`: imports keys by the SHA-256 of their tokens from a JSON
 * or CSV file (src/client/import-file.ts, docs/import.md). The server checks every entry in a dry
 * run first; when any fails, its problems are printed by line and nothing is imported (exit 1).
 * Otherwise the import is sent (all or nothing) and each key's appKey printed.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { KeyImportResult } from "../../client/client.js";
import { type ImportFileEntry, parseImportFile } from "../../client/import-file.js";
import { ok } from "../client.js";
import { EXIT, UsageError } from "../output.js";
import { renderTable } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";

async function readText(remote: Remote, file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of remote.io.stdin) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function render(result: KeyImportResult, verb: string): string {
  const table = renderTable(result.results, [
    { header: "#", value: (entry) => String(entry.index) },
    { header: "name", value: (entry) => entry.name },
    { header: "appKey", value: (entry) => entry.appKey ?? "" },
    {
      header: "result",
      value: (entry) => (entry.ok ? verb : `${entry.error.code}: ${entry.error.detail}`),
    },
  ]);
  const total = result.results.length;
  if (result.failed > 0) {
    return `${table}\n${result.failed} of ${total} key(s) cannot be imported; nothing was imported.`;
  }
  if (result.dryRun) return `${table}\nAll ${total} key(s) can be imported (dry run: nothing was written).`;
  return `${table}\n${result.imported} key(s) imported.`;
}

async function runImport(remote: Remote, keys: ImportFileEntry[], dryRunOnly: boolean): Promise<number> {
  const send = (dryRun: boolean) =>
    ok(
      remote.client.api.POST("/v1/accounts/{account}/keys/import", {
        params: { path: { account: remote.account } },
        body: { keys, dryRun },
      }),
    );
  const checked = await send(true);
  if (checked.failed > 0 || dryRunOnly) {
    remote.result(checked, () => render(checked, "would be imported"));
    return checked.failed > 0 ? EXIT.failed : EXIT.ok;
  }
  const imported = await send(false);
  remote.result(imported, () => render(imported, "imported"));
  return EXIT.ok;
}

export function registerKeysImport(group: Command, registry: Registry): void {
  group
    .command("import")
    .description(
      "import keys by the SHA-256 of their tokens from a JSON or CSV file (columns name, tokenHash, appKey, roles, createdAt, expiresAt): all or nothing",
    )
    .argument("<file>", "the file (- for stdin)")
    .option("--dry-run", "check every key and import nothing")
    .action((file: string, opts: { dryRun?: boolean }, command: Command) =>
      remote(registry, command, async (r) => {
        const parsed = parseImportFile(await readText(r, file));
        if (!parsed.ok) throw new UsageError(`${file}: ${parsed.error}`);
        if (parsed.keys.length === 0) throw new UsageError(`${file}: no keys to import`);
        return runImport(r, parsed.keys, opts.dryRun === true);
      }),
    );
}
