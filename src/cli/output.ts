import { ConfigError } from "../config.js";
import { AppError } from "../core/errors.js";

/** Exit codes of every command (SPEC §8). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export class UsageError extends Error {}

/** A failed local command with a code of the command line's own (README, Command line): exit 1. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Output {
  json: boolean;
  result(value: unknown, human: () => string): void;
  error(error: unknown): number;
}

/**
 * The error of a local command in the shape the remote commands print (remote/context.ts):
 * `{"error":{"code","detail","status"}}` on stderr. No HTTP exchange took place, so `status` is
 * null and there is no `requestId`.
 */
export function jsonError(code: string, detail: string): string {
  return `${JSON.stringify({ error: { code, detail, status: null } })}\n`;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    error(error) {
      const usage = error instanceof UsageError || error instanceof ConfigError;
      const code =
        error instanceof AppError || error instanceof CommandError ? error.code : usage ? "USAGE" : "FAILED";
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(json ? jsonError(code, message) : `latchkey: ${message}\n`);
      return usage || (error instanceof AppError && error.code === "VALIDATION_FAILED")
        ? EXIT.usage
        : EXIT.failed;
    },
  };
}
