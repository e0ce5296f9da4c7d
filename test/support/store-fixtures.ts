/**
 * Builders shared by the store contract files: every test works in fresh accounts with random ids,
 * so files and tests can share one migrated store per dialect without seeing each other's rows.
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, expect } from "vitest";
import type { Database } from "../../src/storage/schema.js";
import type { AuditEventInput, NewKey, Store, TokenRecord } from "../../src/storage/store.js";
import { StoreConflict } from "../../src/storage/store.js";
import { openTestStore, type TestStore } from "./stores.js";

export const T0 = 1_700_000_000_000;
export const DAY = 86_400_000;
export const hex = (n = 6) => randomBytes(n).toString("hex");
export const accountName = () => `acct-${hex()}`;

export function newToken(createdAt = T0): TokenRecord {
  return { id: `t${hex(8)}`, hash: `h${hex(16)}`, createdAt };
}

export function newKey(account: string, name: string, over: Partial<NewKey> = {}): NewKey {
  const suffix = hex();
  return {
    id: `k${hex(8)}`,
    appKey: `appkey-${account}-${suffix.toUpperCase()}`,
    account,
    name,
    active: true,
    createdAt: T0,
    token: newToken(),
    roleIds: [],
    ...over,
  };
}

export function auditEvent(
  account: string,
  action: string,
  data: Record<string, unknown> | null = null,
): AuditEventInput {
  return {
    id: `e${hex(8)}`,
    account,
    at: T0,
    actorType: "system",
    actorId: "system",
    actorLabel: "system",
    action,
    targetType: null,
    targetId: null,
    ip: null,
    userAgent: null,
    requestId: null,
    data,
  };
}

/** The rule named by the StoreConflict `work` fails with (the test fails on any other outcome). */
export async function conflictOf(work: Promise<unknown>): Promise<string> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreConflict);
  return (err as StoreConflict).constraint;
}

/** One migrated store of the dialect for the enclosing describe, and fresh accounts in it. */
export function useStore(kind: "sqlite" | "postgres") {
  const ctx = {} as TestStore;
  beforeAll(async () => {
    Object.assign(ctx, await openTestStore(kind));
  });
  afterAll(async () => {
    await ctx.cleanup();
  });
  return {
    get store(): Store {
      return ctx.store;
    },
    /** The same database below the Store port. */
    raw(): Kysely<Database> {
      return ctx.raw();
    },
    async account(): Promise<string> {
      const name = accountName();
      await ctx.store.accounts.create({ name, createdAt: T0 });
      return name;
    },
  };
}

/**
 * A store of its own, for methods that act on the whole installation (purges, the outbox) and
 * would otherwise see rows of other tests.
 */
export async function withOwnStore(
  kind: "sqlite" | "postgres",
  run: (store: Store, account: () => Promise<string>) => Promise<void>,
): Promise<void> {
  const { store, cleanup } = await openTestStore(kind);
  try {
    await run(store, async () => {
      const name = accountName();
      await store.accounts.create({ name, createdAt: T0 });
      return name;
    });
  } finally {
    await cleanup();
  }
}
