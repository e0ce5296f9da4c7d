/**
 * Named (server-side prepared) statements on PostgreSQL, for the few statements on a hot path.
 *
 * Kysely's PostgreSQL driver sends every statement unnamed, so PostgreSQL parses and plans it on
 * every execution. For the key cache's lookup (three tables joined on their indexes) planning was
 * about 0.19 ms against 0.03 ms of execution on a warm connection: most of the database's CPU
 * for the reads that keep every key in use fresh. A statement text given to `nameStatement` is
 * sent named instead: each pooled connection parses it once, and PostgreSQL keeps its plan
 * (a generic plan once it has seen that one serves every parameter as well as custom ones).
 *
 * SQLite's counterpart is `withStatementCache` (open.ts), which keeps every statement prepared:
 * on PostgreSQL a prepared statement holds memory on the server for each connection, and most of
 * latchkey's statements are multi-row or built from filters, so only named texts are kept.
 *
 * A connection where a named statement cannot be used sends its text unnamed from then on, and the
 * statement runs again at once, unnamed: a table changed under a prepared `select *` (a newer
 * instance migrating the database while this one runs: "cached plan must not change result
 * type", 0A000), or a pooler in transaction mode in front of PostgreSQL, which hands the session
 * another server connection where the statement was never prepared (26000) or already was (42P05).
 * Inside a transaction the failure has aborted it, so the retry fails too, and the transaction
 * with it, as for any error of a statement; the pool replaces idle connections within seconds.
 */
import type { PostgresPool, PostgresPoolClient } from "kysely";

/** Statement text → name. Bounded: only statements latchkey names itself, a handful. */
const names = new Map<string, string>();
const MAX_NAMED = 32;

/** Sends `sql` as a named statement on PostgreSQL from now on (a no-op for other texts beyond the bound). */
export function nameStatement(sql: string): void {
  if (names.has(sql) || names.size >= MAX_NAMED) return;
  names.set(sql, `latchkey_${names.size + 1}`);
}

/**
 * The named statement cannot be used on this connection: its result type changed (0A000), or the
 * server connection behind it is not the one it was prepared on (26000 missing, 42P05 duplicate).
 */
const UNUSABLE = new Set(["0A000", "26000", "42P05"]);
function isUnusable(error: unknown): boolean {
  return UNUSABLE.has(String((error as { code?: unknown } | null)?.code));
}

interface PgClient {
  query(...args: unknown[]): Promise<unknown>;
  release(error?: unknown): void;
}

interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

/**
 * The pool Kysely is given: its connections send named texts as prepared statements. Kysely uses
 * `query` (a text and parameters, or a cursor) and `release` of a connection only.
 */
export function withNamedStatements(pool: PgPool): PostgresPool {
  /** Names that could not be used on a connection: that connection sends their text unnamed. */
  const unusable = new WeakMap<PgClient, Set<string>>();
  return {
    async connect() {
      const client = await pool.connect();
      const wrapped = {
        query(sql: unknown, parameters?: readonly unknown[]) {
          const name = typeof sql === "string" ? names.get(sql) : undefined;
          if (name === undefined || unusable.get(client)?.has(name)) return client.query(sql, parameters);
          return client.query({ name, text: sql, values: parameters }).catch((error: unknown) => {
            if (!isUnusable(error)) throw error;
            const set = unusable.get(client) ?? new Set<string>();
            set.add(name);
            unusable.set(client, set);
            return client.query(sql, parameters);
          });
        },
        release() {
          client.release();
        },
      };
      return wrapped as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}
