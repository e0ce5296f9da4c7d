/**
 * What the embedded database promises about an acknowledged change (README, Durability): the store's
 * own SQLite connection runs in WAL mode with `synchronous = FULL`, so each commit has synced the WAL
 * before latchkey answers and survives a power loss, not only a killed process (which
 * test/e2e/crash-durability.test.ts covers on both databases). The settings are read back from
 * the connection the store opened, since SQLite keeps them per connection.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { afterEach, expect, it, vi } from "vitest";
import { openStore } from "../src/storage/open.js";

const SYNCHRONOUS_FULL = 2;

let dir: string | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("opens its SQLite connection in WAL mode with synchronous FULL and foreign keys on", async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-durability-"));
  const pragma = vi.spyOn(SqliteDatabase.prototype, "pragma");
  const store = await openStore({ kind: "sqlite", file: join(dir, "latchkey.db") });
  try {
    const connections = new Set(pragma.mock.contexts as SqliteDatabase.Database[]);
    expect(connections.size).toBe(1);
    const [connection] = [...connections] as [SqliteDatabase.Database];
    expect(connection.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(connection.pragma("synchronous", { simple: true })).toBe(SYNCHRONOUS_FULL);
    expect(connection.pragma("foreign_keys", { simple: true })).toBe(1);
    await store.migrate();
    await store.accounts.create({ name: "acme", createdAt: 0 });
    // Still the same connection, still FULL, after migrations and a first write.
    expect(connection.pragma("synchronous", { simple: true })).toBe(SYNCHRONOUS_FULL);
  } finally {
    await store.close();
  }
});
