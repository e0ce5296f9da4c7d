import { randomBytes } from "node:crypto";
import { recordAudit } from "../audit/audit.js";
import type { Actor } from "../core/actor.js";
import type { IssuedInvitation, User } from "../core/api.js";
import { AppError, fail } from "../core/errors.js";
import { normalizeEmail } from "../core/names.js";
import { changedRoleIds } from "../core/permissions.js";
import { iso } from "../core/time.js";
import { BASE62, randomString } from "../core/tokens.js";
import { type MemberRecord, type MemberStatus, StoreConflict, type StoreOps } from "../storage/store.js";
import { type Authority, auditRefusals, checkGive, checkTarget } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import { issueInvitationCode } from "./invitations.js";
import { hashPassword, MIN_PASSWORD_LENGTH } from "./passwords.js";
import type { RoleDirectory } from "./role-directory.js";

/**
 * Users of an account: membership and roles. Passwords are hashed before they reach the store.
 *
 * Users are installation-wide, so adding an email that already has a sign-in (someone of another
 * account, say) only invites that person: the membership is "invited", grants nothing, and records
 * none of their sign-ins here until they accept it themselves with the one-time code the inviter
 * was given (invitations.ts). The code is in the add's response only, never in its audit event.
 */

export const OWNER_ROLE_ID = 1;

export function generatePassword(): string {
  return randomString((size) => randomBytes(size), BASE62, 20);
}

export function createUserService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;

  async function dto(tx: StoreOps, account: string, member: MemberRecord): Promise<User> {
    const held = await roles.existing(tx, account, member.roleIds);
    return {
      id: member.id,
      email: member.email,
      roles: held.map((role) => ({ id: role.id, name: role.name })),
      addedAt: iso(member.addedAt),
      status: member.status,
    };
  }

  async function memberOrFail(tx: StoreOps, account: string, userId: string): Promise<MemberRecord> {
    return (
      (await tx.people.getMember(account, userId)) ??
      fail("USER_NOT_FOUND", `No user ${userId} in account ${account}`)
    );
  }

  /**
   * Refuses a change that would leave the account without any active Owner user. An invitation holds
   * nothing yet: changing or removing one never takes an Owner away, and invited Owners do not count.
   */
  async function keepAnOwner(tx: StoreOps, account: string, member: MemberRecord, rolesAfter: number[]) {
    if (member.status !== "active") return;
    if (!member.roleIds.includes(OWNER_ROLE_ID) || rolesAfter.includes(OWNER_ROLE_ID)) return;
    if ((await tx.people.countUsersWithRole(account, OWNER_ROLE_ID)) <= 1) {
      fail("LAST_OWNER", `${member.email} is the last Owner of ${account}`);
    }
  }

  /**
   * How the invitee will see who invited them: the actor's label only when the actor is of the
   * inviting account (its active user or its own key). An external key's appKey belongs to another
   * account, and is not that account's to show.
   */
  async function inviterLabel(tx: StoreOps, actor: Actor, account: string): Promise<string | null> {
    if (actor.type === "user") {
      return (await tx.people.getMember(account, actor.id))?.status === "active" ? actor.label : null;
    }
    if (actor.type === "key")
      return (await tx.keys.getByAppKey(actor.id))?.account === account ? actor.label : null;
    return null;
  }

  async function list(account: string): Promise<User[]> {
    const members = await store.people.listMembers(account);
    return Promise.all(members.map((member) => dto(store, account, member)));
  }

  /** Refuses `authority` acting on the member unless it covers every resource they hold here. */
  async function checkMember(tx: StoreOps, authority: Authority, account: string, member: MemberRecord) {
    checkTarget(authority.grant, await roles.existing(tx, account, member.roleIds), `user ${member.email}`);
  }

  async function add(
    authority: Authority,
    account: string,
    input: { email: string; password?: string | undefined; roles?: number[] | undefined },
  ): Promise<{ user: User; password?: string; invitation?: IssuedInvitation }> {
    const email = normalizeEmail(input.email) ?? fail("VALIDATION_FAILED", "email is not a valid address");
    if (input.password !== undefined && input.password.length < MIN_PASSWORD_LENGTH) {
      fail("VALIDATION_FAILED", `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const { actor, grant } = authority;
    // Hashed whether or not the email has a sign-in: the time taken does not tell either.
    const generated = input.password === undefined ? generatePassword() : undefined;
    const passwordHash = await hashPassword(input.password ?? (generated as string));
    try {
      return await auditRefusals(deps, authority, account, { action: "user.added" }, () =>
        store.transaction(async (tx) => {
          // The lock setRoles and remove take, before any read: a concurrent add of the same email
          // (with weaker roles, say) then sees this one's membership instead of overwriting its roles.
          await tx.accounts.lockGrants(account);
          const given = await roles.resolve(tx, account, input.roles ?? []);
          checkGive(grant, given);
          const now = clock.now();
          let user = await tx.people.getUserByEmail(email);
          const created = !user;
          let invitation: IssuedInvitation | undefined;
          if (!user) {
            user = { id: deps.newId(), email, passwordHash, createdAt: now };
            await tx.people.createUser(user);
            await tx.people.addMember(account, user.id, now);
          } else {
            const member = await tx.people.getMember(account, user.id);
            if (member) {
              const as = member.status === "invited" ? "already invited to" : "already a member of";
              fail("USER_ALREADY_MEMBER", `${email} is ${as} ${account}`);
            }
            // Someone's existing sign-in: an invitation they accept or decline themselves, with the
            // code given here. A password sent along is dropped unused, so the request's shape does
            // not tell whether they exist.
            const { issued, stored } = issueInvitationCode(deps, account);
            const invitedBy = await inviterLabel(tx, actor, account);
            await tx.people.addMember(account, user.id, now, { invitedBy, code: stored });
            invitation = issued;
          }
          const roleIds = given.map((role) => role.id);
          await tx.people.setUserRoles(account, user.id, roleIds);
          const status: MemberStatus = created ? "active" : "invited";
          await recordAudit(tx, deps, actor, {
            account,
            action: "user.added",
            target: { type: "user", id: user.id },
            data: {
              after: { email, roles: roleIds, status },
              newSignIn: created,
              ...(invitation ? { invitationExpiresAt: invitation.expiresAt } : {}),
            },
          });
          const result = { user: await dto(tx, account, await memberOrFail(tx, account, user.id)) };
          if (invitation) return { ...result, invitation };
          return created && generated ? { ...result, password: generated } : result;
        }),
      );
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "user_email") {
        throw new AppError("USER_EXISTS", `${email} was created meanwhile; try again`);
      }
      throw error;
    }
  }

  /**
   * Invites a person by email with no roles (VTEX's create user): the membership is an invitation
   * whose code the caller gets once. An email without a sign-in gets one with no password: the code
   * is then also how its person chooses one (invitations.ts `signUp`); the password hash is of a
   * random secret nobody is given. A member already there is returned as is, with no invitation, so
   * creating the same user twice is harmless. `name` is what this account calls them.
   */
  async function invite(
    authority: Authority,
    account: string,
    input: { email: string; name?: string | undefined },
  ): Promise<{ member: MemberRecord; invitation?: IssuedInvitation }> {
    const email = normalizeEmail(input.email) ?? fail("VALIDATION_FAILED", "email is not a valid address");
    const name = input.name?.trim() || null;
    if (name !== null && name.length > 100) fail("VALIDATION_FAILED", "name must be at most 100 characters");
    const passwordHash = await hashPassword(generatePassword());
    const { actor } = authority;
    try {
      return await auditRefusals(deps, authority, account, { action: "user.added" }, () =>
        store.transaction(async (tx) => {
          await tx.accounts.lockGrants(account);
          const now = clock.now();
          let user = await tx.people.getUserByEmail(email);
          const present = user && (await tx.people.getMember(account, user.id));
          if (present) return { member: present };
          const created = !user;
          if (!user) {
            user = { id: deps.newId(), email, passwordHash, createdAt: now, passwordPending: true };
            await tx.people.createUser(user);
          }
          const { issued, stored } = issueInvitationCode(deps, account);
          const invitedBy = await inviterLabel(tx, actor, account);
          await tx.people.addMember(account, user.id, now, { invitedBy, code: stored });
          await tx.people.setMemberName(account, user.id, name);
          await recordAudit(tx, deps, actor, {
            account,
            action: "user.added",
            target: { type: "user", id: user.id },
            data: {
              after: { email, name, roles: [], status: "invited" },
              newSignIn: created,
              invitationExpiresAt: issued.expiresAt,
            },
          });
          return { member: await memberOrFail(tx, account, user.id), invitation: issued };
        }),
      );
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "user_email") {
        throw new AppError("USER_EXISTS", `${email} was created meanwhile; try again`);
      }
      throw error;
    }
  }

  /** One member (active or invited), with the name the account gave them; undefined when none. */
  function member(account: string, userId: string): Promise<MemberRecord | undefined> {
    return store.people.getMember(account, userId);
  }

  /** Every member (active and invited) with their names, sorted by email. */
  function members(account: string): Promise<MemberRecord[]> {
    return store.people.listMembers(account);
  }

  /** `roleIds` may be a function of the current roles, applied in the same transaction (add, remove). */
  async function setRoles(
    authority: Authority,
    account: string,
    userId: string,
    roleIds: number[] | ((current: readonly number[]) => number[]),
  ) {
    const { actor, grant } = authority;
    const target = { type: "user", id: userId } as const;
    return auditRefusals(deps, authority, account, { action: "user.roles_set", target }, () =>
      store.transaction(async (tx) => {
        // Locked before the read: a function of the current roles, and the last-Owner check, then
        // see a concurrent change instead of overwriting it.
        await tx.accounts.lockGrants(account);
        const member = await memberOrFail(tx, account, userId);
        await checkMember(tx, authority, account, member);
        const wanted = typeof roleIds === "function" ? roleIds(member.roleIds) : roleIds;
        const after = (await roles.resolve(tx, account, wanted)).map((role) => role.id);
        checkGive(grant, await roles.existing(tx, account, changedRoleIds(member.roleIds, after)));
        await keepAnOwner(tx, account, member, after);
        await tx.people.setUserRoles(account, userId, after);
        await recordAudit(tx, deps, actor, {
          account,
          action: "user.roles_set",
          target: { type: "user", id: userId },
          data: { email: member.email, before: { roles: member.roleIds }, after: { roles: after } },
        });
        return dto(tx, account, { ...member, roleIds: after });
      }),
    );
  }

  async function remove(authority: Authority, account: string, userId: string): Promise<void> {
    const { actor } = authority;
    const target = { type: "user", id: userId } as const;
    await auditRefusals(deps, authority, account, { action: "user.removed", target }, () =>
      store.transaction(async (tx) => {
        // The same lock as a role change: a removal and a demotion at once cannot both pass keepAnOwner.
        await tx.accounts.lockGrants(account);
        const member = await memberOrFail(tx, account, userId);
        await checkMember(tx, authority, account, member);
        await keepAnOwner(tx, account, member, []);
        await tx.people.removeMember(account, userId);
        await recordAudit(tx, deps, actor, {
          account,
          action: "user.removed",
          target: { type: "user", id: userId },
          data: { before: { email: member.email, roles: member.roleIds, status: member.status } },
        });
      }),
    );
  }

  /**
   * The signed-in user leaves the account: their membership and roles there go. The account keeps an
   * Owner user as ever (LAST_OWNER). Audited in that account.
   */
  async function leave(actor: Actor, account: string): Promise<void> {
    await store.transaction(async (tx) => {
      const notMember = () => fail("MEMBERSHIP_NOT_FOUND", `You are not a member of ${account}`);
      if (actor.type !== "user") notMember();
      const member = (await tx.accounts.lockGrants(account))
        ? await tx.people.getMember(account, actor.id)
        : undefined;
      // An invitation is answered with its code (decline), not left.
      if (member?.status !== "active") return notMember();
      await keepAnOwner(tx, account, member, []);
      await tx.people.removeMember(account, member.id);
      await recordAudit(tx, deps, actor, {
        account,
        action: "user.left",
        target: { type: "user", id: member.id },
        data: { before: { email: member.email, roles: member.roleIds } },
      });
    });
  }

  return { list, add, invite, member, members, setRoles, remove, leave };
}

export type UserService = ReturnType<typeof createUserService>;
/** A member of an account as the store keeps it (the VTEX user routes present it in VTEX's shape). */
export type { MemberRecord } from "../storage/store.js";
