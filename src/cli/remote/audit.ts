/**
 * `latchkey audit list|export|verify`: the account's audit log (/v1/accounts/{account}/audit).
 * `verify` asks the server to check the account's hash chain and exits 1 when it is broken.
 */
import type { Command } from "commander";
import type { AuditChainCheck, AuditEvent } from "../../client/client.js";
import { api, compact, ok } from "../client.js";
import { EXIT } from "../output.js";
import { cell, formatBytes, renderTable } from "../table.js";
import { type Registry, type Remote, remote } from "./context.js";
import { download } from "./download.js";
import { choice, instant, integer } from "./options.js";

interface Filters {
  action?: string;
  actor?: string;
  target?: string;
  from?: string;
  to?: string;
}

const MAX_PAGE = 200;

export function auditTable(events: readonly AuditEvent[]): string {
  return renderTable(events, [
    { header: "at", value: (event) => event.at },
    { header: "actor", value: (event) => event.actor.label || `${event.actor.type}:${event.actor.id}` },
    { header: "action", value: (event) => event.action },
    {
      header: "target",
      value: (event) => (event.target?.id ? `${event.target.type ?? "?"}:${event.target.id}` : "-"),
    },
    { header: "ip", value: (event) => event.ip ?? "-" },
  ]);
}

export function describeCheck(check: AuditChainCheck, account: string): string {
  if (check.ok) return `The audit chain of ${account} is intact: ${check.checked} event(s) checked.`;
  const broken = check.firstBroken;
  const where = broken ? `at event ${broken.id ?? "?"} (seq ${broken.seq ?? "?"}): ${broken.reason}` : "";
  const detail = broken?.detail ? ` - ${broken.detail}` : "";
  return cell(
    `The audit chain of ${account} is BROKEN ${where}${detail} (${check.checked} event(s) checked).`,
  );
}

function filterQuery(opts: Filters) {
  return compact({
    action: opts.action,
    actor: opts.actor,
    target: opts.target,
    from: opts.from,
    to: opts.to,
  });
}

function withFilters(command: Command): Command {
  return command
    .option("--action <action>", "exact action (key.created) or a prefix ending in a dot (key.)")
    .option("--actor <actor>", "actor: a user id or email, an appKey, or system")
    .option("--target <id>", "target id, e.g. an appKey")
    .option("--from <instant>", "events at or after this ISO 8601 date or date-time", instant)
    .option("--to <instant>", "events before this ISO 8601 date or date-time", instant);
}

async function listEvents(r: Remote, opts: Filters & { limit?: number; cursor?: string; all?: boolean }) {
  const query = compact({
    ...filterQuery(opts),
    limit: opts.limit ?? (opts.all ? MAX_PAGE : undefined),
    cursor: opts.cursor,
  });
  const page = (cursor: string | undefined) =>
    ok(
      r.client.api.GET("/v1/accounts/{account}/audit", {
        params: { path: { account: r.account }, query: cursor ? { ...query, cursor } : query },
      }),
    );
  let last = await page(undefined);
  const items = [...last.items];
  while (opts.all && last.nextCursor) {
    last = await page(last.nextCursor);
    items.push(...last.items);
  }
  const result = { items, nextCursor: last.nextCursor };
  r.result(result, () => {
    if (items.length === 0) return "No audit events.";
    const more = result.nextCursor ? `\nmore with --cursor ${result.nextCursor} (or --all)` : "";
    return `${auditTable(items)}${more}`;
  });
}

export function registerAudit(group: Command, registry: Registry): void {
  withFilters(group.command("list").description("list audit events, newest first"))
    .option("--limit <n>", "events per page (1-200; default 50, 200 with --all)", integer(1, MAX_PAGE))
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--all", "follow nextCursor and list every matching event")
    .action((opts: Filters & { limit?: number; cursor?: string; all?: boolean }, command: Command) =>
      remote(registry, command, (r) => listEvents(r, opts)),
    );

  withFilters(group.command("export").description("export audit events (oldest first) to a file"))
    .addOption(choice("--format <format>", "file format", ["csv", "json"]).default("csv"))
    .option("--output <file>", "file to write, `-` for stdout (default: the server's file name, here)")
    .action((opts: Filters & { format: string; output?: string }, command: Command) =>
      remote(registry, command, async (r) => {
        const done = await download(r, {
          path: api`/v1/accounts/${r.account}/audit/export`,
          query: { format: opts.format, ...filterQuery(opts) },
          output: opts.output,
          fallbackName: `latchkey-${r.account}-audit.${opts.format}`,
          label: `Exporting the audit log of ${r.account}`,
        });
        if (done.file === null) return;
        r.result({ file: done.file, format: opts.format, bytes: done.bytes }, () => {
          return `Exported the audit log of ${r.account} to ${done.file} (${formatBytes(done.bytes)}).`;
        });
      }),
    );

  group
    .command("verify")
    .description("check the account's audit hash chain; exit 1 when it is broken")
    .action((_opts: unknown, command: Command) =>
      remote(registry, command, async (r) => {
        const check = await ok(
          r.client.api.GET("/v1/accounts/{account}/audit/verify", {
            params: { path: { account: r.account } },
          }),
        );
        r.result(check, () => describeCheck(check, r.account));
        return check.ok ? EXIT.ok : EXIT.failed;
      }),
    );
}
