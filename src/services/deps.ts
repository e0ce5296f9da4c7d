import type { Catalog } from "../core/catalog.js";
import type { RandomBytes } from "../core/tokens.js";
import type { Store } from "../storage/store.js";
import type { ChangeBus } from "../verify/changes.js";

export interface Clock {
  now(): number;
}

/** Everything a use case may touch; built once in main.ts, replaced piecemeal in tests. */
export interface ServiceDeps {
  store: Store;
  catalog: Catalog;
  clock: Clock;
  random: RandomBytes;
  newId: () => string;
  keyPrefix: string;
  tokenPrefix: string;
  /** LATCHKEY_SECRET: services derive their sealing keys from it (see sealing.ts). Never logged. */
  secret: string;
  /** External base URL, for share links and messages. */
  publicUrl: string;
  /** Publish every committed change that can alter a verification decision (see verify/changes.ts). */
  changes: ChangeBus;
  /** JWT_TTL: lifetime of app-token login JWTs, in seconds (60 to 86400). */
  jwtTtlSeconds: number;
}

/** Who performs a use case, and from where: recorded in every audit event. */
export interface Actor {
  type: "user" | "key" | "system";
  /** User id, appKey, or "system". */
  id: string;
  /** Email, appKey, or "system". */
  label: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export const SYSTEM_ACTOR: Actor = {
  type: "system",
  id: "system",
  label: "system",
  ip: null,
  userAgent: null,
  requestId: null,
};

/**
 * Another account, as it appears in a log it does not own (external keys: the adding account in the
 * owner's log, the owner in the adder's), by name only: never its users, keys or addresses.
 */
export function accountActor(account: string): Actor {
  return { ...SYSTEM_ACTOR, id: "account", label: account };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** An authenticated caller. */
export type Principal =
  | { type: "user"; userId: string; email: string }
  | {
      type: "key";
      keyId: string;
      appKey: string;
      account: string;
      /** Roles in its own account, as read when the key authenticated (saves a lookup per request). */
      ownRoleIds?: readonly number[];
    };
