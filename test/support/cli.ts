/**
 * The remote CLI commands run in process against a harness's in-process app: the commands' fetch
 * is routed to `app.request()` (or to the given fetch), their streams are captured, and the
 * credentials default to the harness's Owner key.
 */
import { PassThrough, Writable } from "node:stream";
import { Command, CommanderError } from "commander";
import type { Fetch } from "../../src/cli/client.js";
import type { RemoteIO } from "../../src/cli/remote/context.js";
import { registerRemoteCommands } from "../../src/cli/remote/index.js";
import type { Harness } from "./harness.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  fetch?: Fetch;
  /** Whether stderr claims to be a terminal (progress lines are drawn only then). */
  terminal?: boolean;
}

function sink() {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

export async function runCli(h: Harness, args: string[], options: CliOptions = {}): Promise<CliRun> {
  const stdout = sink();
  const stderr = sink();
  Object.assign(stderr.stream, { isTTY: options.terminal ?? false, columns: 200 });
  const io: RemoteIO = {
    env: {
      LATCHKEY_URL: "http://127.0.0.1:8080",
      LATCHKEY_APPKEY: h.owner.appKey,
      LATCHKEY_APPTOKEN: h.owner.appToken,
      ...options.env,
    },
    stdin: Object.assign(new PassThrough(), { isTTY: false }),
    stdout: stdout.stream,
    stderr: stderr.stream,
    fetch: options.fetch ?? ((input, init) => Promise.resolve(h.app.request(input, init))),
  };
  const program = new Command("latchkey")
    .option("--json")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.stream.write(text),
      writeErr: (text) => stderr.stream.write(text),
    });
  let pending: Promise<number> = Promise.resolve(0);
  registerRemoteCommands(
    program,
    (task) => {
      pending = task();
    },
    io,
  );
  let code: number;
  try {
    await program.parseAsync(args, { from: "user" });
    code = await pending;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = error.code === "commander.helpDisplayed" ? 0 : 2;
  }
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
