/**
 * The process logger: JSON lines on stdout (or a given stream).
 *
 * Secrets: credentials must never reach a log line. Request and response headers that carry them,
 * and fields named like tokens or passwords (at the top level of a log object and one level down),
 * are replaced by "[redacted]" before serialisation. Callers still must not put a plaintext token
 * under any other name; appKeys are public and may be logged.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger } from "pino";

export const REDACTED = "[redacted]";

/** Header names as Node presents them (lower case). */
const SECRET_HEADERS = [
  "authorization",
  "cookie",
  "set-cookie",
  "x-api-apptoken",
  "x-vtex-api-apptoken",
  "vtexidclientautcookie",
  "x-csrf-token",
];

/** Body and object fields: `apptoken` is the VTEX login body's spelling, `newToken` its renewal reply's. */
const SECRET_FIELDS = ["appToken", "apptoken", "newToken", "token", "tokens", "password", "secret"];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`]),
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
];

export interface LoggerOptions {
  level: LogLevel;
  /** Where JSON lines go; stdout when absent. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.destination) return pino(settings, options.destination);
  const stdout = pino.destination({ dest: 1, sync: false });
  // A stdout whose reader has gone (EPIPE) or that fails otherwise loses the log lines from then
  // on: the server keeps serving, and exiting never waits for a write that cannot succeed.
  stdout.on("error", () => dropLines(stdout));
  const logger = pino(settings, stdout);
  stdoutStreams.set(logger, stdout);
  return logger;
}

type SonicBoom = ReturnType<typeof pino.destination>;

const stdoutStreams = new WeakMap<Logger, SonicBoom>();

function dropLines(stream: SonicBoom): void {
  stream.write = () => true;
  // pino's exit hook calls flushSync, which retries a failing write every 100 ms, forever.
  stream.flushSync = () => {};
}

/**
 * Writes out the lines still buffered for stdout, waiting at most `ms`; what cannot be written by
 * then (a reader that has stopped reading or gone) is dropped, so that the process can exit.
 * Nothing may be logged afterwards.
 */
export function closeLogs(logger: Logger, ms: number): Promise<void> {
  const stream = stdoutStreams.get(logger);
  if (!stream) return Promise.resolve();
  stdoutStreams.delete(logger);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      dropLines(stream);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stream.once("close", done);
    stream.once("error", done);
    stream.end();
    // From here a write would throw ("SonicBoom destroyed" until the close event): a line logged
    // late (a connection's close event during shutdown) is dropped instead. `end` writes out what
    // is buffered without going through `write`.
    dropLines(stream);
  });
}
