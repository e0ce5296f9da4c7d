/**
 * `latchkey copy --to DATABASE_URL`: copies the configured database (the SQLite file in DATA_DIR, or
 * DATABASE_URL) into an empty PostgreSQL database, so a deployment outgrows one machine with every
 * key, token hash, user and audit event (services/database-copy.ts, storage/copy.ts).
 *
 * Secrets: the target URL may hold a password. It is printed only as postgresLocation() shows it
 * (no password, no parameters), and scrubbed from any error message before that is printed. No
 * token passes through here: rows go from one database to the other as stored.
 */
import type { Config } from "../config.js";
import type { DatabaseCopyReport } from "../services/database-copy.js";
import { CommandError, type Output, UsageError } from "./output.js";
import { databaseLocation, postgresLocation, unservedWarning } from "./serving.js";

export async function copyCommand(cfg: Config, out: Output, opts: { to: string }): Promise<void> {
  const target = parseTarget(opts.to);
  const [{ configuredDatabase }, { copyDatabase, CopyRefused }] = await Promise.all([
    import("../main.js"),
    import("../services/database-copy.js"),
  ]);
  const source = databaseLocation(cfg);
  const to = { kind: "postgres" as const, location: postgresLocation(target) };
  if (source.kind === "postgres" && source.location === to.location) {
    throw new UsageError(`--to names the configured database itself (${to.location})`);
  }
  // A server still writing to the source would make changes after the copy's snapshot: not copied.
  if ((await unservedWarning(cfg)) === null) {
    process.stderr.write(
      `latchkey: warning: a latchkey server seems to use ${source.location}: what it changes from now on is not copied; stop it first\n`,
    );
  }
  let report: DatabaseCopyReport;
  try {
    report = await copyDatabase({
      source: configuredDatabase(cfg),
      target: { kind: "postgres", url: target },
    });
  } catch (error) {
    if (error instanceof CopyRefused) throw new CommandError(error.code, error.message);
    throw scrubbed(error, target);
  }
  const result = { source, target: to, ...report };
  out.result(result, () => describe(result));
  if (!report.auditChain.ok) {
    process.stderr.write(
      `latchkey: warning: the source's audit log was already broken (${report.auditChain.firstBroken?.detail}); it was copied as it is\n`,
    );
  }
}

function parseTarget(to: string): string {
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    // The value itself is not echoed: it may hold a password.
    throw new UsageError(
      "--to: not a URL; give a PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE",
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UsageError(
      `--to: ${url.protocol} is not PostgreSQL; give postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    );
  }
  return to;
}

/** The error with the URL's password (as written and decoded) taken out of its message. */
function scrubbed(error: unknown, url: string): unknown {
  if (!(error instanceof Error)) return error;
  const password = new URL(url).password;
  if (password === "") return error;
  let message = error.message;
  for (const secret of new Set([password, decodeURIComponent(password)])) {
    message = message.replaceAll(secret, "***");
  }
  if (message === error.message) return error;
  return new Error(message);
}

function describe(
  r: DatabaseCopyReport & { source: { location: string; kind: string }; target: { location: string } },
) {
  const width = Math.max(...r.tables.map((t) => t.name.length));
  const chain = r.auditChain.ok
    ? `intact, ${r.auditChain.checked} event(s) in ${r.auditChain.accounts} account(s)`
    : `BROKEN as in the source: ${r.auditChain.firstBroken?.detail}`;
  return [
    `Copied ${r.rows} row(s) in ${r.tables.length} table(s) in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  from ${r.source.location} (${r.source.kind === "sqlite" ? "SQLite" : "PostgreSQL"})`,
    `  to   ${r.target.location} (PostgreSQL)`,
    `  row counts checked per table; audit chain: ${chain}`,
    ...r.tables.map((t) => `    ${t.name.padEnd(width)}  ${t.rows}`),
    "",
    "Next: start latchkey with DATABASE_URL set to the target and the same LATCHKEY_SECRET; existing keys and tokens work as before.",
  ].join("\n");
}
