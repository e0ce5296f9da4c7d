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
 * A table changed under a prepared `select *` (a newer instance migrating the database while this
 * one runs) makes PostgreSQL refuse the statement ("cached plan must not change result type",
 * 0A000): that connection then sends the text unnamed from there on (the pool replaces idle
 * connections within seconds), and the statement runs again at once, unnamed (inside a transaction,
 * which the failure has aborted, the retry fails too and the transaction with it, as for any error
 * of a statement). Needs a session (not a transaction-mode pooler), as LISTEN already does
 * (docs/scaling.md).
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

/** PostgreSQL's feature_not_supported, which a prepared statement gets when its result type changed. */
function isStalePlan(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "0A000";
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
  /** Names that failed as stale on a connection: that connection sends their text unnamed. */
  const stale = new WeakMap<PgClient, Set<string>>();
  return {
    async connect() {
      const client = await pool.connect();
      const wrapped = {
        query(sql: unknown, parameters?: readonly unknown[]) {
          const name = typeof sql === "string" ? names.get(sql) : undefined;
          if (name === undefined || stale.get(client)?.has(name)) return client.query(sql, parameters);
          return client.query({ name, text: sql, values: parameters }).catch((error: unknown) => {
            if (!isStalePlan(error)) throw error;
            const set = stale.get(client) ?? new Set<string>();
            set.add(name);
            stale.set(client, set);
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
