/**
 * Whether an error means the database could not be reached (down, restarting, cut off), as opposed
 * to one that says something about the request, the data or the settings. The first kind heals by
 * itself: the server waits and retries at start (main.ts) and answers 503 meanwhile; the second
 * does not, and must be seen.
 *
 * A wrong password or an unknown database is not counted as unreachable: waiting would not fix it.
 */

/** Node's network errors: refused, reset, timed out, no route, no name (yet). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * PostgreSQL's SQLSTATEs of the same: shutting down (57P01, 57P02), starting up (57P03), out of
 * connection slots (53300); and class 08, connection exceptions.
 */
const PG_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** pg's own errors for a connection that ended or could not be made in time: they carry no code. */
const PG_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/**
 * The connection failure behind `error` (itself, a cause, or one of an AggregateError's errors),
 * described in one line for the log (no credentials: these messages name at most host and port);
 * null when the database was reached and the error is something else.
 */
export function connectionFailure(error: unknown, depth = 0): string | null {
  if (!(error instanceof Error) || depth > 4) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (NETWORK_CODES.has(code) || PG_CODES.has(code) || code.startsWith("08")))
    return error.message || code;
  if (PG_MESSAGES.test(error.message)) return error.message;
  const inner = error instanceof AggregateError ? [...error.errors, error.cause] : [error.cause];
  for (const candidate of inner) {
    const found = connectionFailure(candidate, depth + 1);
    if (found !== null) return found;
  }
  return null;
}
