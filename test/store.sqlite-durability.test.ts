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

it("writes usage without waiting for the disk, and leaves the connection syncing every other commit", async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-durability-"));
  // What the connection syncs when a usage statement is prepared; the first one fails. The store
  // binds `prepare` when it opens, so the spy goes first.
  const seen: number[] = [];
  let watching = false;
  const prepare = SqliteDatabase.prototype.prepare;
  vi.spyOn(SqliteDatabase.prototype, "prepare").mockImplementation(function (
    this: SqliteDatabase.Database,
    text: string,
  ) {
    if (watching && text.includes("key_usage")) {
      seen.push(this.pragma("synchronous", { simple: true }) as number);
      if (seen.length === 1) throw new Error("disk I/O error");
    }
    return prepare.call(this, text);
  } as typeof prepare);
  const pragma = vi.spyOn(SqliteDatabase.prototype, "pragma");
  const store = await openStore({ kind: "sqlite", file: join(dir, "latchkey.db") });
  try {
    const [connection] = [...new Set(pragma.mock.contexts as SqliteDatabase.Database[])] as [
      SqliteDatabase.Database,
    ];
    await store.migrate();
    watching = true;
    const batch = { counts: [{ keyId: "k1", day: 1, ok: 3, denied: 0 }], lastUsed: [], resources: [] };
    await expect(store.usage.record(batch)).rejects.toThrow();
    expect(connection.pragma("synchronous", { simple: true })).toBe(SYNCHRONOUS_FULL);
    await store.usage.record(batch);
    expect(seen).toEqual([1, 1]);
    expect(connection.pragma("synchronous", { simple: true })).toBe(SYNCHRONOUS_FULL);
  } finally {
    await store.close();
  }
});
