/**
 * Admin sign-in sessions. The cookie holds a 256-bit random secret; the store holds only its
 * SHA-256. The CSRF token is derived from the secret (HMAC-free: SHA-256 of a fixed label and the
 * secret), so it needs no storage and cannot be computed without the cookie. Neither the secret
 * nor the password is ever logged or audited.
 */
import { createHash, randomBytes } from "node:crypto";
import { recordAuditsInOrder } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import { normalizeEmail } from "../core/names.js";
import { digestsEqual, hashToken } from "../crypto/token-hash.js";
import type { StoreOps } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import { DUMMY_HASH_PROMISE, verifyPassword } from "./passwords.js";

export function csrfTokenFor(sessionSecret: string): string {
  return createHash("sha256").update(`latchkey-csrf:${sessionSecret}`).digest("base64url");
}

export function csrfMatches(sessionSecret: string, presented: string): boolean {
  return digestsEqual(csrfTokenFor(sessionSecret), presented);
}

/**
 * Records `action` on the user in each account where they are an active member. Not where they are
 * only invited: otherwise any account could watch someone's sign-ins by inviting them.
 */
export async function recordInUserAccounts(
  tx: StoreOps,
  deps: Pick<ServiceDeps, "clock" | "newId">,
  userId: string,
  actor: Actor,
  action: string,
  data?: Record<string, unknown>,
): Promise<void> {
  const target = { type: "user", id: userId };
  const accounts = await tx.people.listUserAccounts(userId);
  await recordAuditsInOrder(
    tx,
    deps,
    accounts.map((account) => [actor, { account, action, target, ...(data ? { data } : {}) }] as const),
  );
}

export function createSessionService(deps: ServiceDeps) {
  const { store, clock } = deps;

  /**
   * Records a sign-in in each account where the user is an active member (recordInUserAccounts). One
   * transaction with `change` (the new session): a crash or a failed write leaves the session and
   * every account's event, or none of them.
   */
  function auditEverywhere(
    userId: string,
    actor: Actor,
    action: string,
    change?: (tx: StoreOps) => Promise<void>,
  ): Promise<void> {
    return store.transaction(async (tx) => {
      await change?.(tx);
      await recordInUserAccounts(tx, deps, userId, actor, action);
    });
  }

  /** The new session (its cookies last `maxAgeSeconds`), or undefined when the email or password is wrong. */
  async function login(email: string, password: string, meta: Omit<Actor, "type" | "id" | "label">) {
    const normalized = normalizeEmail(email);
    const user = normalized ? await store.people.getUserByEmail(normalized) : undefined;
    // Spend the same time on unknown emails as on known ones.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
    if (!user) return undefined;
    const actor: Actor = { type: "user", id: user.id, label: user.email, ...meta };
    if (!ok) {
      await auditEverywhere(user.id, actor, "user.sign_in_failed");
      return undefined;
    }
    const secret = randomBytes(32).toString("base64url");
    const now = clock.now();
    const expiresAt = now + deps.sessionTtlSeconds * 1000;
    const session = { idHash: hashToken(secret), userId: user.id, createdAt: now, expiresAt };
    await auditEverywhere(user.id, actor, "user.signed_in", (tx) => tx.sessions.create(session));
    return {
      secret,
      csrfToken: csrfTokenFor(secret),
      expiresAt,
      maxAgeSeconds: deps.sessionTtlSeconds,
      user: { id: user.id, email: user.email },
      /** Reset by an administrator: this session may only change the password (http/auth.ts). */
      mustChangePassword: user.mustChangePassword === true,
    };
  }

  async function authenticate(secret: string) {
    const session = await store.sessions.get(hashToken(secret));
    if (!session || session.expiresAt <= clock.now()) return undefined;
    const user = await store.people.getUserById(session.userId);
    return (
      user && {
        userId: user.id,
        email: user.email,
        expiresAt: session.expiresAt,
        idHash: session.idHash,
        mustChangePassword: user.mustChangePassword === true,
      }
    );
  }

  async function logout(secret: string): Promise<void> {
    await store.sessions.delete(hashToken(secret));
  }

  return { login, authenticate, logout };
}

export type SessionService = ReturnType<typeof createSessionService>;
