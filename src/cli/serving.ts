/**
 * Which database a local command works on, and whether a running latchkey server uses it: so that
 * `latchkey init` run from another directory (a second ./data) or with another DATABASE_URL says
 * so instead of reporting a success that no server will ever see.
 *
 * SQLite: `latchkey serve` writes DATA_DIR/serving.json ({pid, hostname, url, startedAt}) once it
 * listens and removes it when it stops. A server uses the database when that file names a live
 * process on this host (on Linux, one whose command line says latchkey, in case the pid of a server
 * killed without its shutdown was reused). A file written on another host (a volume shared with a
 * container) cannot be checked from here and is believed. No HTTP probe: the port in this shell's
 * environment may be another server's, on another database.
 * PostgreSQL: every connection latchkey opens is named `latchkey` (application_name, set in
 * storage/open.ts); a server keeps at least one open (it reads the change journal every 250 ms).
 * The check runs before the command opens its own.
 *
 * No secret here: the PostgreSQL location is printed without password or query parameters.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.js";

export interface DatabaseLocation {
  kind: "sqlite" | "postgres";
  /** The SQLite file's absolute path, or the PostgreSQL URL without password and parameters. */
  location: string;
}

export function databaseLocation(config: Config): DatabaseLocation {
  if (config.databaseUrl === undefined)
    return { kind: "sqlite", location: join(config.dataDir, "latchkey.db") };
  return { kind: "postgres", location: postgresLocation(config.databaseUrl) };
}

/** A PostgreSQL URL as it may be printed: without its password and parameters. */
export function postgresLocation(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const user = url.username === "" ? "" : `${url.username}@`;
  return `${url.protocol}//${user}${url.host}${url.pathname}`;
}

interface ServingRecord {
  pid: number;
  hostname: string;
  url: string;
  startedAt: string;
}

const SERVING_FILE = "serving.json";

/**
 * Writes DATA_DIR/serving.json for the server of this process; the returned function removes it
 * (if it is still this process's: a second server on the same directory may have replaced it).
 */
export function markServing(dataDir: string, url: string): () => void {
  const file = join(dataDir, SERVING_FILE);
  const record: ServingRecord = {
    pid: process.pid,
    hostname: hostname(),
    url,
    startedAt: new Date().toISOString(),
  };
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(draft, file);
  return () => {
    if (readRecord(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}

function readRecord(file: string): ServingRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, "utf8")) as Partial<ServingRecord>;
    if (typeof record.pid !== "number" || typeof record.hostname !== "string") return undefined;
    return {
      pid: record.pid,
      hostname: record.hostname,
      url: String(record.url),
      startedAt: String(record.startedAt),
    };
  } catch {
    return undefined;
  }
}

function isLatchkeyProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("latchkey");
  } catch {
    return true;
  }
}

/**
 * A warning when no running server uses the configured database, or null when one does (or it
 * cannot be told). Call it before the command opens the database.
 */
export async function unservedWarning(config: Config): Promise<string | null> {
  const { location } = databaseLocation(config);
  const tail = "if yours is running, it uses another database and will not see this account.";
  if (config.databaseUrl !== undefined) {
    if (!(await unservedPostgres(config.databaseUrl))) return null;
    return `no latchkey server is connected to ${location}: start yours with this DATABASE_URL; ${tail}`;
  }
  const record = readRecord(join(config.dataDir, SERVING_FILE));
  if (record !== undefined && (record.hostname !== hostname() || isLatchkeyProcess(record.pid))) return null;
  const gone = record === undefined ? "" : ` (the one that was, pid ${record.pid} at ${record.url}, is gone)`;
  return `no latchkey server is running on ${location}${gone}: start yours with DATA_DIR=${config.dataDir}; ${tail}`;
}

/** Whether no connection named latchkey, other than this one, is open to the database. */
async function unservedPostgres(url: string): Promise<boolean> {
  const { default: pg } = await import("pg");
  // A URL that names the application overrides latchkey's name, for the server's connections too.
  const name = new URL(url).searchParams.get("application_name") ?? "latchkey";
  const client = new pg.Client({ connectionString: url, application_name: "latchkey check" });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = $1 and pid <> pg_backend_pid()`,
      [name],
    );
    return rows[0]?.n === 0;
  } catch {
    // The command's own connection will report what is wrong.
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
