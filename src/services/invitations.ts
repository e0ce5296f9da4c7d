/**
 * Invitations, from the invited user's side. Adding an email that already has a sign-in (users.ts)
 * does not make that person a member: it offers them roles. Until they accept, signed in as
 * themselves, the membership grants nothing and none of their sign-ins is recorded in that account.
 * Accepting makes it active with the roles offered at that moment; declining removes it. Both are
 * audited in the inviting account. Keys have no invitations.
 */
import { recordAudit } from "../audit/audit.js";
import { fail } from "../core/errors.js";
import type { MemberRecord, StoreOps } from "../storage/store.js";
import { type Actor, iso, type ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

export interface InvitationDto {
  account: string;
  /** The roles the user would hold there on accepting. */
  roles: { id: number; name: string }[];
  /** Who invited them: an email, or an appKey when a key did. */
  invitedBy: string | null;
  invitedAt: string;
}

export function createInvitationService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store } = deps;

  async function list(userId: string): Promise<InvitationDto[]> {
    const invitations = await store.listInvitations(userId);
    return Promise.all(
      invitations.map(async (invitation) => ({
        account: invitation.account,
        roles: (await roles.existing(store, invitation.account, invitation.roleIds)).map(({ id, name }) => ({
          id,
          name,
        })),
        invitedBy: invitation.invitedBy,
        invitedAt: iso(invitation.invitedAt),
      })),
    );
  }

  /** The caller's own invitation to `account`, read under the account's grants lock. */
  async function invitationOf(tx: StoreOps, actor: Actor, account: string): Promise<MemberRecord> {
    if (actor.type !== "user") fail("INVITATION_NOT_FOUND", "Only users have invitations; a key has none");
    // The lock every change of the account's grants takes: an acceptance and an admin's change of the
    // offered roles (or withdrawal) at once are serialized, so the roles accepted are the ones read.
    const member = (await tx.lockGrants(account)) ? await tx.getMember(account, actor.id) : undefined;
    if (member?.status !== "invited") fail("INVITATION_NOT_FOUND", `You have no invitation to ${account}`);
    return member;
  }

  /** Makes the membership active: from now on the user holds the offered roles there. */
  async function accept(actor: Actor, account: string): Promise<void> {
    await store.transaction(async (tx) => {
      const member = await invitationOf(tx, actor, account);
      if (!(await tx.acceptInvitation(account, member.id))) {
        fail("INVITATION_NOT_FOUND", `You have no invitation to ${account}`);
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
  async function decline(actor: Actor, account: string): Promise<void> {
    await store.transaction(async (tx) => {
      const member = await invitationOf(tx, actor, account);
      if (!(await tx.declineInvitation(account, member.id))) {
        fail("INVITATION_NOT_FOUND", `You have no invitation to ${account}`);
      }
      await recordAudit(tx, deps, actor, {
        account,
        action: "user.invitation_declined",
        target: { type: "user", id: member.id },
        data: { email: member.email, before: { roles: member.roleIds }, invitedBy: member.invitedBy },
      });
    });
  }

  return { list, accept, decline };
}

export type InvitationService = ReturnType<typeof createInvitationService>;
