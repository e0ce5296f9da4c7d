/**
 * The `latchkey` command line. Local commands (serve, init, migrate) use the configuration from
 * the environment; every command takes --json and exits 0 on success, 1 on a failed operation,
 * 2 on bad usage.
 */
import { setFlagsFromString } from "node:v8";
import { Command, CommanderError } from "commander";
import type { WorkerLink } from "../cluster.js";
import { type Config, loadConfig } from "../config.js";
import { isAccountName } from "../core/names.js";
import { closeLogs, createLogger, type Logger } from "../log.js";
import type { PassSummary } from "../notify/notifier.js";
import type { RotationResult } from "../services/signing-keys.js";
import type { ChangeBus } from "../verify/changes.js";
import { copyCommand } from "./copy.js";
import { createOutput, EXIT, jsonError, type Output, UsageError } from "./output.js";
import { registerRemoteCommands } from "./remote/index.js";
import { databaseLocation, markServing, unservedWarning } from "./serving.js";

function config() {
  return loadConfig(process.env);
}

/** Warnings of local commands (database files tightened, fan-out trouble): JSON lines on stderr. */
function warnings() {
  return createLogger({ level: "warn", destination: process.stderr });
}

/**
 * The server's modules, loaded only by the local commands that need them: remote commands (most
 * of the CLI) then start in a fraction of the time.
 */
async function local() {
  const [main, server, audit, fanout, cluster] = await Promise.all([
    import("../main.js"),
    import("../server.js"),
    import("../services/audit-log.js"),
    import("../verify/change-fanout.js"),
    import("../cluster.js"),
  ]);
  return { ...main, ...server, ...audit, ...fanout, ...cluster };
}

async function serveCommand(): Promise<void> {
  const { runPrimary, workerLink } = await local();
  const cfg = config();
  const workers = workerLink();
  if (cfg.workers > 1 && workers === undefined) {
    // The primary of WORKERS (cluster.ts): it serves nothing itself, and exits when its workers have.
    const primaryLogger = createLogger({ level: cfg.logLevel }).child({ role: "primary" });
    const unmark =
      cfg.databaseUrl === undefined ? markServing(cfg.dataDir, `http://${cfg.host}:${cfg.port}`) : () => {};
    const code = await runPrimary(cfg, primaryLogger).finally(unmark);
    primaryLogger.info("latchkey stopped");
    await exitAfterLogs(primaryLogger, code);
  }
  const base = createLogger({ level: cfg.logLevel });
  if (workers === undefined) return serveProcess(cfg, base, undefined);
  // A worker's channel to its primary keeps it alive: a start that fails must end it explicitly.
  const logger = base.child({ worker: workers.worker });
  await serveProcess(cfg, logger, workers).catch(async (error: unknown) => {
    logger.error({ err: error }, "worker could not start");
    await exitAfterLogs(logger, EXIT.failed);
  });
}

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it
 * collects again: 25 %. By default V8 picks a factor of up to 4, so a server whose cache holds
 * 60 MB of live keys sat at 250-370 MB RSS, most of it garbage waiting for a collection that an
 * idle-ish server rarely triggers (a heap snapshot after 100,000 keys cached: 62 MB live, 300 MB
 * RSS). Requests die young (scavenges, untouched by this); what reaches the old generation is the
 * cache's entries, at the rate keys are read (bench/README.md, Size: RSS).
 */
export const HEAP_GROWING_PERCENT = 25;

/** One server process (alone, or one of WORKERS): serves until SIGTERM/SIGINT, then exits. */
async function serveProcess(cfg: Config, logger: Logger, workers: WorkerLink | undefined): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const { startServer } = await local();
  const server = await startServer(cfg, logger, workers);
  // Tells `latchkey init` that this SQLite database has a server (serving.ts); a worker's primary does.
  const unmark =
    cfg.databaseUrl === undefined && workers === undefined ? markServing(cfg.dataDir, server.url) : () => {};
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutSeconds: cfg.shutdownTimeoutSeconds }, "shutting down");
    // Whatever still runs at the deadline (a request that never ends, a database that does not
    // answer) does not keep the process alive. Not unref'd: the process ends here, with code 1.
    setTimeout(() => {
      logger.error(
        { timeoutSeconds: cfg.shutdownTimeoutSeconds },
        "shutdown deadline passed: exiting anyway",
      );
      void exitAfterLogs(logger, EXIT.failed);
    }, cfg.shutdownTimeoutSeconds * 1000);
    server.close().then(
      () => {
        unmark();
        return exitAfterLogs(logger, EXIT.ok);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        return exitAfterLogs(logger, EXIT.failed);
      },
    );
  };
  // Honoured from the moment the port is open, while the server still waits for its database too.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // A start that fails after the port opened (a migration, the secret) ends like one that failed
  // before: one line, exit 1. A stop while waiting settles it quietly.
  await server.started;
  workers?.serving();
}

/** The last log lines get a moment to be written; a stdout that cannot take them does not hold the exit. */
async function exitAfterLogs(logger: Logger, code: number): Promise<never> {
  await closeLogs(logger, LAST_LOGS_MS);
  process.exit(code);
}

const LAST_LOGS_MS = 1000;

async function initCommand(out: Output, opts: { account: string; email: string; password?: string }) {
  const { openConfiguredStore, composeLatchkey } = await local();
  const cfg = config();
  const database = databaseLocation(cfg);
  // Before the database is opened: this command's own connections must not count as a server's.
  const unserved = await unservedWarning(cfg);
  const store = await openConfiguredStore(cfg, warnings());
  try {
    const { services } = composeLatchkey(cfg, { store, logger: warnings() });
    const password = opts.password ?? process.env.LATCHKEY_INIT_PASSWORD;
    const result = await services.accounts.init({ account: opts.account, email: opts.email, password });
    out.result({ ...result, database }, () =>
      [
        `Account ${result.account} created.`,
        `  database: ${database.location} (${database.kind === "sqlite" ? "SQLite" : "PostgreSQL"})`,
        `  email:    ${result.email}`,
        `  password: ${result.password ?? "(unchanged: this user already existed)"}`,
        `  appKey:   ${result.appKey}`,
        `  appToken: ${result.appToken}`,
        "",
        "Store the password and the appToken now: they are not shown again. The key holds the Owner role.",
      ].join("\n"),
    );
  } finally {
    await store.close();
  }
  if (unserved !== null) process.stderr.write(`latchkey: warning: ${unserved}\n`);
}

async function migrateCommand(out: Output) {
  const { openConfiguredStore } = await local();
  const store = await openConfiguredStore(config(), warnings());
  await store.close();
  out.result({ migrated: true, database: store.dialect }, () => `Migrations applied (${store.dialect}).`);
}

/** Publishes this command's changes to running servers (PostgreSQL or Redis; none on SQLite). */
async function startCliFanout(cfg: Config, changes: ChangeBus) {
  const { startFanout } = await local();
  return startFanout({
    bus: changes,
    logger: warnings(),
    redisUrl: cfg.redisUrl,
    databaseUrl: cfg.databaseUrl,
    waitConnected: true,
  });
}

/** One notifier pass (alerts, policies, due deliveries); exit 1 when an account's scan failed. */
async function alertsRunCommand(out: Output): Promise<number> {
  const { openConfiguredStore, composeLatchkey } = await local();
  const cfg = config();
  const store = await openConfiguredStore(cfg, warnings());
  try {
    const { deps, notifier } = composeLatchkey(cfg, { store, logger: warnings() });
    // Keys deactivated by a policy must be refused at once by running servers too.
    const fanout = await startCliFanout(cfg, deps.changes);
    try {
      const summary = await notifier.runPass();
      out.result(summary, () => describePass(summary));
      return summary.errors.length > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      notifier.close();
      await fanout.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * Retires the current JWT signing key and makes a new one current; prints the new kid. Refused
 * (exit 1) when LATCHKEY_SECRET does not open the current key, unless told it changed on purpose.
 */
async function signingKeysRotateCommand(out: Output, opts: { secretChanged?: boolean }) {
  const { openConfiguredStore, composeLatchkey } = await local();
  const cfg = config();
  const store = await openConfiguredStore(cfg, warnings());
  try {
    const { deps, services } = composeLatchkey(cfg, { store, logger: warnings() });
    // Running servers hear of the rotation at once (else on an unknown kid, or within a minute).
    const fanout = await startCliFanout(cfg, deps.changes);
    let result: RotationResult;
    try {
      result = await services.jwt.rotate({ secretChanged: opts.secretChanged === true });
    } finally {
      await fanout.close();
    }
    out.result(result, () =>
      result.previousKid === null
        ? `Signing key created: ${result.kid}`
        : [
            `Signing key rotated: new kid ${result.kid}`,
            `  previous kid ${result.previousKid} stays in the JWKS until ${result.previousPublishedUntil}`,
          ].join("\n"),
    );
  } finally {
    await store.close();
  }
}

/** Checks the audit hash chains in the database itself (no server); exit 1 when one is broken. */
async function verifyAuditCommand(out: Output, opts: { account?: string }): Promise<number> {
  const { openConfiguredStore, verifyAuditChain } = await local();
  if (opts.account !== undefined && !isAccountName(opts.account)) {
    throw new UsageError(`--account: "${opts.account}" is not an account name`);
  }
  const store = await openConfiguredStore(config(), warnings());
  try {
    const report = await verifyAuditChain(store, opts.account);
    const broken = report.firstBroken;
    out.result(report, () =>
      broken === null
        ? `Audit log intact: ${report.checked} event(s) in ${report.accounts.length} account(s).`
        : `Audit log BROKEN in ${broken.account} at event ${broken.id ?? "(none left)"} (seq ${broken.seq ?? "-"}, ${broken.reason}): ${broken.detail}`,
    );
    return broken === null ? EXIT.ok : EXIT.failed;
  } finally {
    await store.close();
  }
}

function describePass(s: PassSummary): string {
  const { sent, retrying, failed } = s.deliveries;
  return [
    `Scanned ${s.accounts} account(s) in ${s.durationMs} ms.`,
    `  alerts raised:          ${s.alerts}`,
    `  keys deactivated:       ${s.deactivated}`,
    `  notifications queued:   ${s.enqueued}`,
    `  deliveries:             ${sent} sent, ${retrying} to retry, ${failed} given up`,
    `  share links purged:     ${s.shareLinksPurged}`,
    `  key requests expired:   ${s.requestsExpired}`,
    ...s.errors.map((e) => `  error in ${e.account}: ${e.error}`),
  ].join("\n");
}

export async function run(argv: string[]): Promise<number> {
  // With --json, bad usage is reported as JSON too (below), not as commander's text and help.
  const json = argv.includes("--json");
  const program = new Command("latchkey")
    .description("API keys for integrations, least privilege on every call")
    .option("--json", "machine-readable output")
    .exitOverride()
    .showHelpAfterError();
  if (json) program.configureOutput({ writeErr: () => {}, outputError: () => {} });
  const out = () => createOutput(Boolean(program.opts().json));
  let pending: Promise<void> = Promise.resolve();
  let exitCode: number = EXIT.ok;

  program
    .command("serve")
    .description("run the server")
    .action(() => {
      pending = serveCommand();
    });
  program
    .command("init")
    .description("create an account, its Owner user and a bootstrap key")
    .requiredOption("--account <name>", "account name (2-40 of a-z 0-9 -)")
    .requiredOption("--email <email>", "email of the Owner user")
    .option("--password <password>", "Owner password (else LATCHKEY_INIT_PASSWORD, else generated)")
    .action((opts: { account: string; email: string; password?: string }) => {
      pending = initCommand(out(), opts);
    });
  program
    .command("migrate")
    .description("apply database migrations")
    .action(() => {
      pending = migrateCommand(out());
    });

  program
    .command("copy")
    .description(
      "copy this server's database (SQLite in DATA_DIR, or DATABASE_URL) into an empty PostgreSQL database",
    )
    .requiredOption("--to <url>", "the target: postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    .action((opts: { to: string }) => {
      pending = copyCommand(config(), out(), opts);
    });

  program
    .command("alerts")
    .description("renewal alerts and notifications")
    .command("run")
    .description("run one pass: renewal alerts, policies, due email/webhook deliveries")
    .action(() => {
      pending = alertsRunCommand(out()).then((code) => {
        exitCode = code;
      });
    });

  program
    .command("signing-keys")
    .description("JWT signing keys")
    .command("rotate")
    .description("retire the current JWT signing key and make a new one; prints the new kid")
    .option(
      "--secret-changed",
      "LATCHKEY_SECRET was changed on purpose: retire the key sealed under the old one without opening it",
    )
    .action((opts: { secretChanged?: boolean }) => {
      pending = signingKeysRotateCommand(out(), opts);
    });

  program
    .command("verify-audit")
    .description("check the audit log's hash chains in the database; exit 1 naming the first broken event")
    .option("--account <name>", "only this account (default: every account)")
    .action((opts: { account?: string }) => {
      pending = verifyAuditCommand(out(), opts).then((code) => {
        exitCode = code;
      });
    });

  // Remote commands (keys, external, roles, users, settings, audit) go through the HTTP API.
  registerRemoteCommands(program, (task) => {
    pending = task().then((code) => {
      exitCode = code;
    });
  });

  try {
    await program.parseAsync(argv, { from: "user" });
    await pending;
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const helpShown = error.code === "commander.helpDisplayed" || error.code === "commander.version";
      if (helpShown) return EXIT.ok;
      if (json) process.stderr.write(jsonError("USAGE", error.message.replace(/^error: /, "")));
      return EXIT.usage;
    }
    return out().error(error);
  }
}
