import type { Catalog } from "../core/catalog.js";
import type { Clock } from "../core/time.js";
import type { RandomBytes } from "../core/tokens.js";
import type { TokenSlot } from "../core/verification.js";
import type { Store } from "../storage/store.js";
import type { ChangeBus } from "../verify/changes.js";

/** Everything a use case may touch; built once by the composition root (main.ts `composeLatchkey`). */
export interface ServiceDeps {
  store: Store;
  catalog: Catalog;
  clock: Clock;
  random: RandomBytes;
  newId: () => string;
  keyPrefix: string;
  tokenPrefix: string;
  /** LATCHKEY_SECRET: services derive their sealing keys from it (see crypto/sealing.ts). Never logged. */
  secret: string;
  /** External base URL, for share links and messages. */
  publicUrl: string;
  /** Publish every committed change that can alter a verification decision (see verify/changes.ts). */
  changes: ChangeBus;
  /** JWT_TTL: lifetime of app-token login JWTs, in seconds (60 to 86400). */
  jwtTtlSeconds: number;
  /** VTEX_JWT_TTL: lifetime of the JWTs from VTEX's app-token login, in seconds (60 to 86400). */
  vtexJwtTtlSeconds: number;
  /** SESSION_TTL: lifetime of admin sessions, in seconds. */
  sessionTtlSeconds: number;
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
      /** Which of the key's tokens authenticated (by slot, never the token), when known. */
      token?: TokenSlot;
    };
