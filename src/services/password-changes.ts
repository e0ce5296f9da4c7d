/**
 * Password change and reset, three ways (docs/admin-ui.md, "Passwords"):
 * - a signed-in user changes their own, giving the current one: their other sessions end;
 * - an administrator of an account resets a member's: a one-time password is returned once, every
 *   session of the user ends, and the user must choose a new password at their next sign-in (until
 *   then their session may do nothing else: http/auth.ts);
 * - anyone asks for a reset link by email (only with SMTP_URL): the link carries a single-use code
 *   valid 30 minutes; completing it sets the password and ends every session.
 *
 * Who may reset whom: the administrator's grant must cover what the user holds in the account
 * (checkTarget, as for every action on a user), and in every *other* account where the user is an
 * active member, since a sign-in is installation-wide: an account must not take over a person who
 * is an Owner elsewhere. An invitation grants nothing, so a user only invited to the account is not
 * the account's to reset.
 *
 * Secrets: passwords are hashed (passwords.ts) before they reach the store; a one-time password
 * appears only in the reset's response. A reset code is 32 random bytes (base64url) in the mailed
 * link's fragment; only its SHA-256 is stored, and a presented code's hash is what is looked up.
 * No password or code reaches an audit event, a log line or an error.
 */
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import { fail } from "../core/errors.js";
import { normalizeEmail } from "../core/names.js";
import { grantOf } from "../core/permissions.js";
import { iso } from "../core/time.js";
import { hashToken } from "../crypto/token-hash.js";
import type { PlainMail } from "../notify/email.js";
import type { SendOutcome } from "../notify/outbox.js";
import type { MemberRecord, PasswordResetRecord, StoreOps } from "../storage/store.js";
import { type Authority, auditRefusals, checkTarget } from "./authority.js";
import type { Principal, ServiceDeps } from "./deps.js";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./passwords.js";
import type { RoleDirectory } from "./role-directory.js";
import { recordInUserAccounts } from "./sessions.js";
import { generatePassword } from "./users.js";

export const RESET_CODE_TTL_MS = 30 * 60 * 1000;
/** Reset links asked for, per client address and per email: every request counts, known email or not. */
export const RESET_LINK_RATE = { limit: 5, windowSeconds: 3600 } as const;
const CODE_BYTES = 32;
/** 32 bytes in unpadded base64url. Anything else is refused before any lookup. */
const CODE = /^[A-Za-z0-9_-]{43}$/;

/** Sends one plain-text mail; absent when SMTP_URL is not set. */
export type PlainMailer = (mail: PlainMail) => Promise<SendOutcome>;

type Meta = Pick<Actor, "ip" | "userAgent" | "requestId">;

export function checkNewPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    fail("VALIDATION_FAILED", `newPassword must be at least ${MIN_PASSWORD_LENGTH} characters`, {
      errors: [{ path: "newPassword", message: `at least ${MIN_PASSWORD_LENGTH} characters` }],
    });
  }
}

/** What a presented reset code is worth at `now`; pure, so each case is tested without a database. */
export function decideResetCode(
  record: PasswordResetRecord | undefined,
  now: number,
):
  | { ok: true; record: PasswordResetRecord }
  | { ok: false; code: "PASSWORD_RESET_INVALID" | "PASSWORD_RESET_USED" | "PASSWORD_RESET_EXPIRED" } {
  if (!record) return { ok: false, code: "PASSWORD_RESET_INVALID" };
  if (record.usedAt !== null) return { ok: false, code: "PASSWORD_RESET_USED" };
  if (now >= record.expiresAt) return { ok: false, code: "PASSWORD_RESET_EXPIRED" };
  return { ok: true, record };
}

export function createPasswordService(deps: ServiceDeps, roles: RoleDirectory, mail?: PlainMailer) {
  const { store, clock } = deps;

  /**
   * The signed-in user changes their own password. `wrong` when the current password does not match
   * (the route counts it as a failed sign-in); otherwise every other session of the user ends.
   */
  async function change(
    actor: Actor,
    sessionIdHash: string,
    input: { currentPassword: string; newPassword: string },
  ): Promise<{ ok: true; sessionsEnded: number } | { ok: false }> {
    checkNewPassword(input.newPassword);
    if (input.newPassword === input.currentPassword) {
      fail("VALIDATION_FAILED", "newPassword must differ from currentPassword", {
        errors: [{ path: "newPassword", message: "must differ from currentPassword" }],
      });
    }
    const user = await store.people.getUserById(actor.id);
    if (!user || !(await verifyPassword(input.currentPassword, user.passwordHash))) return { ok: false };
    const passwordHash = await hashPassword(input.newPassword);
    const sessionsEnded = await store.transaction(async (tx) => {
      await tx.people.setPassword(user.id, passwordHash, false);
      await tx.passwordResets.expireUnused(user.id, clock.now());
      const ended = await tx.sessions.deleteForUser(user.id, sessionIdHash);
      await recordInUserAccounts(tx, deps, user.id, actor, "user.password_changed", {
        email: user.email,
        sessionsEnded: ended,
        ...(user.mustChangePassword ? { afterReset: true } : {}),
      });
      return ended;
    });
    return { ok: true, sessionsEnded };
  }

  /** The caller's grant in another account, for the check on users active there too. */
  async function grantElsewhere(tx: StoreOps, actor: Actor, account: string) {
    let principal: Principal | undefined;
    if (actor.type === "user") principal = { type: "user", userId: actor.id, email: actor.label };
    if (actor.type === "key") {
      const key = await tx.keys.getByAppKey(actor.id);
      if (key) principal = { type: "key", keyId: key.id, appKey: key.appKey, account: key.account };
    }
    return principal ? (await roles.access(tx, principal, account)).roles : undefined;
  }

  /** Refuses unless the authority covers the user here and in every other account they are active in. */
  async function checkEverywhere(tx: StoreOps, authority: Authority, account: string, member: MemberRecord) {
    checkTarget(authority.grant, await roles.existing(tx, account, member.roleIds), `user ${member.email}`);
    if (authority.grant.all && authority.actor.type === "system") return;
    for (const other of await tx.people.listUserAccounts(member.id)) {
      if (other === account) continue;
      const target = await tx.people.getMember(other, member.id);
      const held = await roles.existing(tx, other, target?.roleIds ?? []);
      if (held.length === 0) continue;
      const callerRoles = (await grantElsewhere(tx, authority.actor, other)) ?? [];
      checkTarget(
        grantOf(callerRoles),
        held,
        `user ${member.email}, who is also a member of another account`,
      );
    }
  }

  /**
   * An administrator resets a member's password: a generated one-time password (returned once), to be
   * changed at the next sign-in; every session of the user ends. Audited in the account.
   */
  async function reset(authority: Authority, account: string, userId: string) {
    const { actor } = authority;
    const target = { type: "user", id: userId } as const;
    if (actor.type === "user" && actor.id === userId) {
      fail("PASSWORD_RESET_SELF", "You cannot reset your own password: change it with your current one");
    }
    const password = generatePassword();
    const passwordHash = await hashPassword(password);
    return auditRefusals(deps, authority, account, { action: "user.password_reset", target }, () =>
      store.transaction(async (tx) => {
        // The grants lock: a concurrent role change of the user or the caller is seen, not overtaken.
        await tx.accounts.lockGrants(account);
        const member = await tx.people.getMember(account, userId);
        if (member?.status !== "active") fail("USER_NOT_FOUND", `No user ${userId} in account ${account}`);
        await checkEverywhere(tx, authority, account, member);
        await tx.people.setPassword(userId, passwordHash, true);
        await tx.passwordResets.expireUnused(userId, clock.now());
        const sessionsEnded = await tx.sessions.deleteForUser(userId);
        await recordAudit(tx, deps, actor, {
          account,
          action: "user.password_reset",
          target,
          data: { email: member.email, method: "one-time password", sessionsEnded },
        });
        return { user: { id: member.id, email: member.email }, password, mustChangePassword: true as const };
      }),
    );
  }

  /** Whether reset links can be mailed (SMTP_URL is set). */
  const emailEnabled = mail !== undefined;

  /**
   * Mails a reset link to `email` if a user has it; nothing happens otherwise. The route answers the
   * same before this runs (no enumeration, same timing), so this never throws for an unknown email.
   */
  async function requestLink(email: string, meta: Meta): Promise<void> {
    if (!mail) fail("PASSWORD_RESET_EMAIL_OFF", noEmailDetail());
    const normalized = normalizeEmail(email);
    const user = normalized ? await store.people.getUserByEmail(normalized) : undefined;
    if (!user) return;
    const code = Buffer.from(deps.random(CODE_BYTES)).toString("base64url");
    const now = clock.now();
    const expiresAt = now + RESET_CODE_TTL_MS;
    const actor: Actor = { type: "user", id: user.id, label: user.email, ...meta };
    await store.transaction(async (tx) => {
      // Only the newest link works.
      await tx.passwordResets.expireUnused(user.id, now);
      await tx.passwordResets.create({
        codeHash: hashToken(code),
        userId: user.id,
        createdAt: now,
        expiresAt,
        usedAt: null,
      });
      await tx.passwordResets.deleteExpired(now - RESET_CODE_TTL_MS);
      await recordInUserAccounts(tx, deps, user.id, actor, "user.password_reset_requested", {
        email: user.email,
        expiresAt: iso(expiresAt),
      });
    });
    const url = `${deps.publicUrl}/admin/reset-password#code=${code}`;
    const outcome = await mail({
      to: user.email,
      subject: "Reset your latchkey password",
      text: resetText(url),
    });
    if (!outcome.ok) throw new Error(`the reset link could not be mailed: ${outcome.error}`);
  }

  /** Sets the password of the code's user; the code is spent, and every session of the user ends. */
  async function completeLink(code: string, newPassword: string, meta: Meta): Promise<void> {
    if (!CODE.test(code)) fail("PASSWORD_RESET_INVALID", "This is not a password reset code");
    checkNewPassword(newPassword);
    const passwordHash = await hashPassword(newPassword);
    const codeHash = hashToken(code);
    await store.transaction(async (tx) => {
      const now = clock.now();
      const decision = decideResetCode(await tx.passwordResets.get(codeHash), now);
      if (!decision.ok) fail(decision.code, resetRefusal(decision.code));
      // Of two completions at once, one marks the code: the other is refused as used.
      if (!(await tx.passwordResets.markUsed(codeHash, now))) {
        fail("PASSWORD_RESET_USED", resetRefusal("PASSWORD_RESET_USED"));
      }
      const user = await tx.people.getUserById(decision.record.userId);
      if (!user) fail("PASSWORD_RESET_INVALID", resetRefusal("PASSWORD_RESET_INVALID"));
      await tx.people.setPassword(user.id, passwordHash, false);
      await tx.passwordResets.expireUnused(user.id, now);
      const sessionsEnded = await tx.sessions.deleteForUser(user.id);
      const actor: Actor = { type: "user", id: user.id, label: user.email, ...meta };
      await recordInUserAccounts(tx, deps, user.id, actor, "user.password_reset", {
        email: user.email,
        method: "email link",
        sessionsEnded,
      });
    });
  }

  const inFlight = new Set<Promise<void>>();

  /**
   * Runs requestLink after the caller has answered, so that the answer takes the same time whether
   * the email has a sign-in or not. A failure (the mail server refused) goes to `onError`.
   */
  function requestLinkLater(email: string, meta: Meta, onError: (error: unknown) => void): void {
    // Not even the lookup starts before the caller has answered.
    const running: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(() => requestLink(email, meta))
      .catch(onError)
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  }

  /** Settles once every link asked for so far was handled (tests, shutdown). */
  async function settled(): Promise<void> {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  }

  return { change, reset, emailEnabled, requestLinkLater, completeLink, settled };
}

export type PasswordService = ReturnType<typeof createPasswordService>;

export function noEmailDetail(): string {
  return (
    "This server has no SMTP_URL, so it cannot mail a reset link: ask an administrator of your " +
    "account to reset your password (Users page, or `latchkey users reset-password`)"
  );
}

function resetRefusal(code: "PASSWORD_RESET_INVALID" | "PASSWORD_RESET_USED" | "PASSWORD_RESET_EXPIRED") {
  switch (code) {
    case "PASSWORD_RESET_USED":
      return "This reset link was already used; ask for a new one";
    case "PASSWORD_RESET_EXPIRED":
      return "This reset link has expired (links last 30 minutes and only the newest works); ask for a new one";
    default:
      return "This reset link is not valid; ask for a new one";
  }
}

function resetText(url: string): string {
  return [
    "Someone asked to reset the password of your latchkey sign-in.",
    "",
    "To choose a new password, open this link within 30 minutes (it works once):",
    url,
    "",
    "If you did not ask, ignore this mail: your password stays as it is.",
  ].join("\n");
}
