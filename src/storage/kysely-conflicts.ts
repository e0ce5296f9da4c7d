/**
 * Unique violations of either database, mapped to the StoreConflict rule they break. The index and
 * constraint names are fixed by migrations.ts.
 */
import { type ConflictName, StoreConflict } from "./store.js";

/** SQLite names the table and columns of the violated unique index (or primary key). */
const SQLITE_UNIQUE = new Map<string, ConflictName>([
  ["accounts.name", "account"],
  ["users.email", "user_email"],
  ["roles.account, roles.name_lower", "role_name"],
  ["keys.account, keys.name_lower", "key_name"],
  ["keys.app_key", "app_key"],
  ["tokens.hash", "token_hash"],
  ["tokens.key_id, tokens.slot", "renewal_pending"],
  ["external_keys.account, external_keys.key_id", "external_key"],
]);

/** PostgreSQL names the constraint or unique index. */
const PG_UNIQUE = new Map<string, ConflictName>([
  ["accounts_pkey", "account"],
  ["users_email_key", "user_email"],
  ["roles_account_name", "role_name"],
  ["keys_account_name", "key_name"],
  ["keys_app_key", "app_key"],
  ["tokens_hash_key", "token_hash"],
  ["tokens_key_slot", "renewal_pending"],
  ["external_keys_pkey", "external_key"],
]);

function conflictOf(err: unknown): ConflictName | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, constraint } = err as Error & { code?: unknown; constraint?: unknown };
  if (code === "23505" && typeof constraint === "string") return PG_UNIQUE.get(constraint);
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    const columns = /constraint failed: (.+)$/.exec(err.message)?.[1];
    return columns === undefined ? undefined : SQLITE_UNIQUE.get(columns);
  }
  return undefined;
}

/** Other errors (including unique rules without a ConflictName, such as a reused id) pass unchanged. */
export async function guard<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const name = conflictOf(err);
    throw name === undefined ? err : new StoreConflict(name);
  }
}
