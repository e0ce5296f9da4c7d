/**
 * Questions on the terminal, asked on stderr: a hidden entry for the appToken (nothing is echoed,
 * not even stars, so the token's length does not show either) and yes/no confirmations before an
 * operation that cannot be undone.
 */
import { createInterface } from "node:readline/promises";
import { UsageError } from "../output.js";
import type { Input, Terminal } from "./context.js";

/** A person answered no, or interrupted a question: nothing was done. */
export class Declined extends Error {}

interface Streams {
  stdin: Input;
  stderr: Terminal;
}

const ENTER = new Set(["\r", "\n", "\u0004"]);
const ERASE = new Set(["\u007f", "\b"]);
const INTERRUPT = "\u0003";

/** Reads one line from a terminal without echoing it. Ctrl-C gives up (a Declined error). */
export function promptHidden(io: Streams, question: string): Promise<string> {
  const { stdin, stderr } = io;
  // Echo goes off before the question shows: anything typed after it must never appear.
  stdin.setRawMode?.(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.removeListener("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write("\n");
    };
    function onData(chunk: string | Buffer) {
      for (const char of String(chunk)) {
        if (ENTER.has(char)) {
          finish();
          resolve(value);
          return;
        }
        if (char === INTERRUPT) {
          finish();
          reject(new Declined("interrupted"));
          return;
        }
        if (ERASE.has(char)) value = [...value].slice(0, -1).join("");
        else value += char;
      }
    }
    stdin.on("data", onData);
  });
}

/** Asks a yes/no question; only `y` or `yes` is a yes. */
export async function askYesNo(io: Streams, question: string): Promise<boolean> {
  const lines = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(`${question} [y/N] `);
    const answer = await new Promise<string>((resolve) => {
      lines.once("line", resolve);
      lines.once("close", () => resolve(""));
    });
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    lines.close();
  }
}

/**
 * The guard of an irreversible operation: passes with --yes; on a terminal asks; elsewhere
 * (a script, a pipe) refuses, since nobody is there to answer.
 */
export async function confirmOrRefuse(
  io: Streams,
  yes: boolean | undefined,
  question: string,
  what: string,
): Promise<void> {
  if (yes) return;
  if (!io.stdin.isTTY) throw new UsageError(`${what} needs --yes when stdin is not a terminal`);
  if (!(await askYesNo(io, question))) throw new Declined(`not confirmed: ${what} was not done`);
}
