/**
 * Invitations. Adding an email that already has a sign-in (users.ts) does not make that person a
 * member: it offers them roles, and gives the inviting account a one-time code to pass on to them.
 * Until they accept, signed in as themselves and presenting the code, the membership grants nothing
 * and none of their sign-ins is recorded in that account. Accepting makes it active with the roles
 * offered at that moment; declining (with the code too) removes it. Both are audited in the inviting
 * account. Keys have no invitations.
 *
 * Why a code and not just the session: the account that created a sign-in knows its password, so a
 * session alone does not prove the person is answering. Whoever holds the password sees nothing of
 * later invitations either: they are not listed anywhere for the user (GET /v1/me has none).
 *
 * Secrets: the code is 32 random bytes (base64url), shown once in the response that made it; only
 * its SHA-256 is stored (as share links store their id, share-links.ts) and a presented code's hash
 * is compared with it in constant time. The code is never in an audit event, a log line, an error or
 * any list; the URL carrying it puts it in the fragment, which browsers do not send. A wrong code is
 * the same 404 as no invitation, and the route counts it as an authentication failure.
 *
 * Mail: with SMTP_URL, the routes that invite (native add, VTEX create user) also mail the link to
 * the person (`mailLater`), fire-and-log as reset links are (password-changes.ts): the send starts
 * after the answer, a failure is logged without the link and never undoes or fails the invitation,
 * and the answer still carries the code for the inviter. Without SMTP_URL nothing is sent.
 */
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import type { Invitation, IssuedInvitation } from "../core/api.js";
import { fail } from "../core/errors.js";
import { normalizeEmail } from "../core/names.js";
import { iso } from "../core/time.js";
import { digestsEqual, hashToken } from "../crypto/token-hash.js";
import type { InvitationCode, MemberRecord, StoreOps } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import type { PlainMailer } from "./password-changes.js";
import { hashPassword, MIN_PASSWORD_LENGTH } from "./passwords.js";
import type { RoleDirectory } from "./role-directory.js";

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const CODE_BYTES = 32;
/** 32 bytes in unpadded base64url. Anything else is refused before any lookup. */
const CODE = /^[A-Za-z0-9_-]{43}$/;

type IssuingDeps = Pick<ServiceDeps, "clock" | "random" | "publicUrl">;

/** A new code for an invitation to `account`: the plaintext for the inviter, the hash for the store. */
export function issueInvitationCode(
  deps: IssuingDeps,
  account: string,
): { issued: IssuedInvitation; stored: InvitationCode } {
  const code = Buffer.from(deps.random(CODE_BYTES)).toString("base64url");
  const expiresAt = deps.clock.now() + INVITATION_TTL_MS;
  const url = `${deps.publicUrl}/admin/invitation/${encodeURIComponent(account)}#code=${code}`;
  return {
    issued: { code, url, expiresAt: iso(expiresAt) },
    stored: { hash: hashToken(code), expiresAt },
  };
}

/**
 * Whether `code` answers the member's invitation at `now`. Not found covers every case the caller
 * must not tell apart: no membership, an active one, an invitation without a code, a wrong code.
 */
export function decideInvitation(
  member: MemberRecord | undefined,
  code: string,
  now: number,
): { ok: true; member: MemberRecord } | { ok: false; code: "INVITATION_NOT_FOUND" | "INVITATION_EXPIRED" } {
  const stored = member?.status === "invited" ? member.invitationCode : null;
  if (!member || !stored || !CODE.test(code) || !digestsEqual(hashToken(code), stored.hash)) {
    return { ok: false, code: "INVITATION_NOT_FOUND" };
  }
  if (now >= stored.expiresAt) return { ok: false, code: "INVITATION_EXPIRED" };
  return { ok: true, member };
}

export function createInvitationService(deps: ServiceDeps, roles: RoleDirectory, mail?: PlainMailer) {
  const { store, clock } = deps;

  /** The caller's own invitation to `account` that `code` answers, read under the grants lock. */
  async function invitationOf(tx: StoreOps, actor: Actor, account: string, code: string) {
    if (actor.type !== "user") fail("INVITATION_NOT_FOUND", "Only users have invitations; a key has none");
    // The lock every change of the account's grants takes: an acceptance and an admin's change of the
    // offered roles (or withdrawal) at once are serialized, so the roles accepted are the ones read.
    const member = (await tx.accounts.lockGrants(account))
      ? await tx.people.getMember(account, actor.id)
      : undefined;
    const decision = decideInvitation(member, code, clock.now());
    if (!decision.ok) {
      if (decision.code === "INVITATION_EXPIRED") {
        fail(decision.code, `The invitation to ${account} has expired; ask its administrators for a new one`);
      }
      fail(decision.code, `You have no invitation to ${account} with this code`);
    }
    return decision.member;
  }

  /** What the invitation offers, for the person to decide; changes nothing. */
  async function preview(actor: Actor, account: string, code: string): Promise<Invitation> {
    return store.transaction(async (tx) => {
      const member = await invitationOf(tx, actor, account, code);
      const offered = await roles.existing(tx, account, member.roleIds);
      return {
        account,
        roles: offered.map(({ id, name }) => ({ id, name })),
        invitedBy: member.invitedBy,
        invitedAt: iso(member.addedAt),
        expiresAt: iso((member.invitationCode as InvitationCode).expiresAt),
      };
    });
  }

  /** Makes the membership active: from now on the user holds the offered roles there. */
  async function accept(actor: Actor, account: string, code: string): Promise<void> {
    await store.transaction(async (tx) => {
      const member = await invitationOf(tx, actor, account, code);
      if (!(await tx.people.acceptInvitation(account, member.id))) {
        fail("INVITATION_NOT_FOUND", `You have no invitation to ${account} with this code`);
      }
      await recordAudit(tx, deps, actor, {
        account,
        action: "user.invitation_accepted",
        target: { type: "user", id: member.id },
        data: { email: member.email, after: { roles: member.roleIds }, invitedBy: member.invitedBy },
      });
    });
  }

  /** Removes the invitation and the roles it offered. */
  async function decline(actor: Actor, account: string, code: string): Promise<void> {
    await store.transaction(async (tx) => {
      const member = await invitationOf(tx, actor, account, code);
      if (!(await tx.people.declineInvitation(account, member.id))) {
        fail("INVITATION_NOT_FOUND", `You have no invitation to ${account} with this code`);
      }
      await recordAudit(tx, deps, actor, {
        account,
        action: "user.invitation_declined",
        target: { type: "user", id: member.id },
        data: { email: member.email, before: { roles: member.roleIds }, invitedBy: member.invitedBy },
      });
    });
  }

  /**
   * A person invited with no sign-in of their own (users.ts `invite`) chooses their password with the
   * invitation's code, and the invitation is accepted in the same transaction; they then sign in as
   * anyone does. Every refusal is the same INVITATION_NOT_FOUND (unknown email, a sign-in that has a
   * password, no invitation, a wrong code), so nothing is learned of which it was; a code given for
   * an existing sign-in can never set its password.
   */
  async function signUp(
    account: string,
    input: { email: string; code: string; password: string },
    meta: Omit<Actor, "type" | "id" | "label">,
  ) {
    if (input.password.length < MIN_PASSWORD_LENGTH) {
      fail("VALIDATION_FAILED", `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const notFound = () =>
      fail("INVITATION_NOT_FOUND", `You have no invitation to ${account} with this code`);
    // Hashed before anything is read: the time taken does not tell whether the email is known.
    const passwordHash = await hashPassword(input.password);
    await store.transaction(async (tx) => {
      const email = normalizeEmail(input.email);
      const user = email ? await tx.people.getUserByEmail(email) : undefined;
      const member =
        user?.passwordPending && (await tx.accounts.lockGrants(account))
          ? await tx.people.getMember(account, user.id)
          : undefined;
      const decision = decideInvitation(member, input.code, clock.now());
      if (!decision.ok) {
        if (decision.code === "INVITATION_EXPIRED") {
          fail(
            decision.code,
            `The invitation to ${account} has expired; ask its administrators for a new one`,
          );
        }
        return notFound();
      }
      const { id } = decision.member;
      if (!(await tx.people.setPendingPassword(id, passwordHash))) notFound();
      if (!(await tx.people.acceptInvitation(account, id))) notFound();
      const actor: Actor = { type: "user", id, label: decision.member.email, ...meta };
      await recordAudit(tx, deps, actor, {
        account,
        action: "user.invitation_accepted",
        target: { type: "user", id },
        data: {
          email: decision.member.email,
          after: { roles: decision.member.roleIds },
          invitedBy: decision.member.invitedBy,
          passwordChosen: true,
        },
      });
    });
  }

  const inFlight = new Set<Promise<void>>();

  /**
   * Mails the invitation's link to `to` once the caller has answered; nothing without SMTP_URL. A
   * failure goes to `onError` with a message that holds neither the link nor the code.
   */
  function mailLater(
    to: string,
    account: string,
    invitation: IssuedInvitation,
    onError: (error: unknown) => void,
  ): void {
    if (!mail) return;
    const send = mail;
    const running: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(async () => {
        const outcome = await send({
          to,
          subject: `You are invited to ${account} on latchkey`,
          text: invitationText(account, invitation),
        });
        if (!outcome.ok) {
          const reason = outcome.error.replaceAll(invitation.code, "[redacted]");
          throw new Error(`the invitation to ${account} could not be mailed: ${reason}`);
        }
      })
      .catch(onError)
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  }

  /** Settles once every invitation mail started so far was handled (tests, shutdown). */
  async function settled(): Promise<void> {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  }

  return { preview, accept, decline, signUp, mailLater, emailEnabled: mail !== undefined, settled };
}

function invitationText(account: string, invitation: IssuedInvitation): string {
  return [
    `You are invited to the account ${account} on latchkey.`,
    "",
    `To answer, open this link before ${invitation.expiresAt} (it works once):`,
    invitation.url,
    "",
    "If you have no latchkey sign-in yet, you choose your password there.",
    "If you did not expect this invitation, ignore this mail.",
  ].join("\n");
}

export type InvitationService = ReturnType<typeof createInvitationService>;
