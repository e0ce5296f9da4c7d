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
  // Without a destination pino writes to stdout synchronously, so a fatal line is not lost on exit.
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
