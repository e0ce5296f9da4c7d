/**
 * better-auth 1.7.5 with its API-key plugin (@better-auth/api-key 1.7.5) on SQLite through
 * better-sqlite3: the peer latchkey's verification is compared with. Used by the seed and the
 * server of this folder. The secret below signs nothing outside a throwaway benchmark database.
 */
import { apiKey } from "@better-auth/api-key";
import { betterAuth } from "better-auth";
import Database from "better-sqlite3";

/** What every benchmark request must hold; the seeded keys hold it, the control key does not. */
export const REQUIRED_PERMISSIONS = { orders: ["read"] };
export const SEED_PERMISSIONS = { orders: ["read", "write"], invoices: ["read"] };
export const CONTROL_PERMISSIONS = { invoices: ["read"] };

/**
 * SQLite durability settings:
 * - `default`: better-sqlite3's own (journal_mode=DELETE, synchronous=FULL: an fsync per write);
 * - `wal-normal`: journal_mode=WAL, synchronous=NORMAL, the usual production tuning and what the
 *   benchmark runs. It favours better-auth: latchkey's SQLite store syncs every commit
 *   (synchronous=FULL), and better-auth writes on every verification where latchkey does not.
 */
const JOURNALS = {
  default: [],
  "wal-normal": ["journal_mode = WAL", "synchronous = NORMAL"],
};

/**
 * @param {{ dbPath: string, rateLimit?: boolean, journal?: string }} options `rateLimit` true keeps
 *   the plugin's default per-key limit (10 requests per key per day); the benchmark turns it off,
 *   since latchkey's verification has no per-key limit to match it.
 */
export function makeAuth({ dbPath, rateLimit = false, journal = "default" }) {
  const pragmas = JOURNALS[journal];
  if (!pragmas) throw new Error(`unknown journal ${journal} (one of ${Object.keys(JOURNALS).join(", ")})`);
  const db = new Database(dbPath);
  for (const pragma of pragmas) db.pragma(pragma);
  const auth = betterAuth({
    database: db,
    secret: "bench-only-secret-0123456789abcdef0123456789abcdef",
    baseURL: "http://127.0.0.1:3000",
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    // The plugin logs every failed verification at error level: without this the checks of
    // refused keys would measure console output.
    logger: { disabled: true },
    plugins: [apiKey(rateLimit ? {} : { rateLimit: { enabled: false } })],
  });
  return { auth, db };
}
