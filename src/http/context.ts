import type { Logger } from "pino";
import type { Actor } from "../core/actor.js";
import type { Grant } from "../core/permissions.js";
import type { Authority } from "../services/authority.js";
import type { Principal } from "../services/deps.js";

/** What an authenticated request carries from the auth middleware to the handlers. */
export interface Caller {
  principal: Principal;
  actor: Actor;
  via: "key" | "session";
  /**
   * A key's grant in the account it was verified for (the one the request names, else its own), from
   * the verifier's decision; a session user's grant is read per account instead (auth.ts `grantIn`).
   */
  keyGrant?: { account: string; grant: Grant };
  /** A session caller's session, by the hash of its secret (a password change keeps this one). */
  sessionIdHash?: string;
  /** A session of a user an administrator reset: it may only change the password (auth.ts). */
  mustChangePassword?: boolean;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    clientIp: string | null;
    caller: Caller;
    /**
     * Set by the resource guard for routes under /v1/accounts/{account}: the caller and its grant
     * there, as every use case that acts on a principal or role takes it.
     */
    authority: Authority;
  };
}

/** Who may call a route: recorded in the OpenAPI document as `x-latchkey-access`. */
export type Access = "public" | "authenticated" | { resource: string };
