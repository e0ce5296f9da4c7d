/**
 * What every remote command shares: where to connect and as whom, how results and errors are
 * printed, and the exit code. Results go to stdout (the API's JSON with --json); notes, warnings,
 * prompts, progress and errors go to stderr, so stdout stays parseable.
 *
 * The appToken comes from LATCHKEY_APPTOKEN or, on a terminal, from a prompt that does not echo;
 * a flag exists for completeness but shows the token in the process list and shell history.
 */
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { isAccountName } from "../../core/names.js";
import {
  ApiError,
  accountOfAppKey,
  type Client,
  createClient,
  type Fetch,
  isLoopback,
  parseBaseUrl,
  TransportError,
} from "../client.js";
import { EXIT, UsageError } from "../output.js";
import { Declined, promptHidden } from "./prompt.js";

export interface Input extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface Terminal extends Writable {
  isTTY?: boolean;
  columns?: number;
}

/** The process's streams, environment and fetch; replaced in tests. */
export interface RemoteIO {
  env: Record<string, string | undefined>;
  stdin: Input;
  stdout: Writable;
  stderr: Terminal;
  fetch: Fetch;
}

export function processIO(): RemoteIO {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    fetch: (input, init) => fetch(input, init),
  };
}

/** Runs a command's work and records its exit code (src/cli/index.ts awaits it). */
export type Schedule = (task: () => Promise<number>) => void;

export interface Registry {
  io: RemoteIO;
  schedule: Schedule;
}

export interface GlobalOptions {
  json?: boolean;
  url?: string;
  appKey?: string;
  appToken?: string;
  account?: string;
}

export interface Remote {
  client: Client;
  account: string;
  json: boolean;
  io: RemoteIO;
  /** Prints the result: `value` as JSON with --json, else the text `human` makes. */
  result(value: unknown, human: () => string): void;
  /** A line for the person at the terminal, on stderr (with --json too). */
  note(message: string): void;
}

function present(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Resolves the server, the credentials and the account; asks for the token on a terminal. */
export async function connect(options: GlobalOptions, io: RemoteIO): Promise<Remote> {
  const json = Boolean(options.json);
  const url = present(options.url) ?? present(io.env.LATCHKEY_URL);
  if (!url) throw new UsageError("no server URL: set LATCHKEY_URL or give --url");
  const base = parseBaseUrl(url);
  const appKey = present(options.appKey) ?? present(io.env.LATCHKEY_APPKEY);
  if (!appKey) throw new UsageError("no appKey: set LATCHKEY_APPKEY or give --app-key");
  const account = present(options.account) ?? present(io.env.LATCHKEY_ACCOUNT) ?? accountOfAppKey(appKey);
  if (!account)
    throw new UsageError(`cannot tell the account from ${appKey}: give --account or LATCHKEY_ACCOUNT`);
  if (!isAccountName(account)) throw new UsageError(`not an account name: ${account}`);
  let appToken = present(options.appToken) ?? present(io.env.LATCHKEY_APPTOKEN);
  if (!appToken && io.stdin.isTTY) appToken = present(await promptHidden(io, `appToken for ${appKey}: `));
  if (!appToken)
    throw new UsageError("no appToken: set LATCHKEY_APPTOKEN (or run in a terminal to be asked for it)");
  const note = (message: string) => io.stderr.write(`${message}\n`);
  if (base.protocol === "http:" && !isLoopback(base))
    note(`warning: the appToken is sent to ${base.host} over plain http; use https`);
  return {
    client: createClient({ url, appKey, appToken }, io.fetch),
    account,
    json,
    io,
    result(value, human) {
      io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    note,
  };
}

interface Described {
  code: string;
  detail: string;
  status: number | null;
  requestId?: string;
  exit: number;
}

function describe(error: unknown): Described {
  if (error instanceof ApiError) {
    const base = { code: error.code, detail: error.detail, status: error.status, exit: EXIT.failed };
    return error.requestId ? { ...base, requestId: error.requestId } : base;
  }
  if (error instanceof TransportError)
    return { code: error.code, detail: error.detail, status: null, exit: EXIT.failed };
  if (error instanceof UsageError)
    return { code: "USAGE", detail: error.message, status: null, exit: EXIT.usage };
  if (error instanceof Declined)
    return { code: "DECLINED", detail: error.message, status: null, exit: EXIT.failed };
  const detail = error instanceof Error ? error.message : String(error);
  return { code: "FAILED", detail, status: null, exit: EXIT.failed };
}

/** Prints an error on stderr (`{error:{code, detail, status}}` with --json); returns the exit code. */
export function reportError(io: RemoteIO, json: boolean, error: unknown): number {
  const { exit, ...problem } = describe(error);
  if (json) {
    io.stderr.write(`${JSON.stringify({ error: problem })}\n`);
  } else {
    const where = [
      problem.status === null ? "" : `HTTP ${problem.status}`,
      problem.requestId ? `request id ${problem.requestId}` : "",
    ].filter(Boolean);
    const suffix = where.length > 0 ? ` (${where.join(", ")})` : "";
    io.stderr.write(`latchkey: ${problem.code}: ${problem.detail}${suffix}\n`);
  }
  return exit;
}

/**
 * The action of a remote command: connects, runs `task`, and turns whatever it throws into a
 * message and an exit code. `task` may resolve to an exit code (else 0). `command` is the
 * commander command the action belongs to.
 */
export function remote(
  registry: Registry,
  command: Command,
  task: (remote: Remote) => Promise<unknown>,
): void {
  const options = command.optsWithGlobals<GlobalOptions>();
  registry.schedule(async () => {
    try {
      const connected = await connect(options, registry.io);
      const code = await task(connected);
      return typeof code === "number" ? code : EXIT.ok;
    } catch (error) {
      return reportError(registry.io, Boolean(options.json), error);
    }
  });
}
