/**
 * Users, their membership of accounts, and their sign-in sessions.
 *
 * Secrets: a user carries a password *hash*, and a session is known by the SHA-256 of the secret
 * held in its cookie; neither plaintext is stored.
 */

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: number;
  /** Set by an administrator's reset: until the user chooses a password, a session may do nothing else. */
  mustChangePassword?: boolean;
  /**
   * True for a sign-in an invitation created (VTEX's create user) whose person has not yet chosen a
   * password: its hash is of a random secret nobody was given, and only the invitation's code sets it.
   */
  passwordPending?: boolean;
}

/**
 * Active: the user holds `roleIds` in the account. Invited: the user already had a sign-in when added,
 * and `roleIds` are only offered until the user accepts; an invitation grants nothing.
 */
export type MemberStatus = "active" | "invited";

/** A user as seen from one account: membership plus the roles held (or, invited, offered) there. */
export interface MemberRecord {
  id: string;
  email: string;
  createdAt: number;
  addedAt: number;
  roleIds: number[];
  status: MemberStatus;
  /**
   * Who made the invitation, as its user may see it (an email or appKey of the inviting account);
   * null for a membership that was active at once, or an inviter that is not of the account.
   */
  invitedBy: string | null;
  /** The invitation's code, as its hash; null when active, or for an invitation made before codes. */
  invitationCode: InvitationCode | null;
  /** The name the account knows the member by (VTEX's user `name`); null when none was given. */
  name: string | null;
}

/** What is kept of an invitation's code: only its SHA-256 (the code itself is shown once). */
export interface InvitationCode {
  hash: string;
  expiresAt: number;
}

export interface SessionRecord {
  /** base64url SHA-256 of the session secret held in the cookie. */
  idHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface PeopleRepository {
  /** Throws StoreConflict("user_email") when the email is taken. */
  createUser(user: UserRecord): Promise<void>;
  getUserById(id: string): Promise<UserRecord | undefined>;
  /** Emails are stored and matched lower-cased. */
  getUserByEmail(email: string): Promise<UserRecord | undefined>;
  /**
   * An active membership, or with `invitation` an invited one (see MemberStatus). Idempotent: a
   * user who is already a member (active or invited) keeps that membership as it is.
   */
  addMember(
    account: string,
    userId: string,
    addedAt: number,
    invitation?: { invitedBy: string | null; code: InvitationCode },
  ): Promise<void>;
  /** Removes the membership and every role the user held in the account. False if not a member. */
  removeMember(account: string, userId: string): Promise<boolean>;
  /** Active or invited. */
  getMember(account: string, userId: string): Promise<MemberRecord | undefined>;
  /** Active and invited members, sorted by email. */
  listMembers(account: string): Promise<MemberRecord[]>;
  /** Accounts where the user's membership is active (invitations left out), by name, sorted. */
  listUserAccounts(userId: string): Promise<string[]>;
  /**
   * Makes the user's invitation to the account an active membership, its code erased. False when
   * there is none.
   */
  acceptInvitation(account: string, userId: string): Promise<boolean>;
  /**
   * Removes the user's invitation to the account, with its roles. False when there is none (an
   * active membership is left alone).
   */
  declineInvitation(account: string, userId: string): Promise<boolean>;
  /**
   * Replaces the user's password hash and whether they must change it at their next sign-in. False
   * when there is no such user.
   */
  setPassword(userId: string, passwordHash: string, mustChange: boolean): Promise<boolean>;
  /** Sets the name the account knows the member by. */
  setMemberName(account: string, userId: string, name: string | null): Promise<void>;
  /**
   * The person's first password, for a sign-in whose password is pending (it is then no longer
   * pending). False when the user has a password already: the condition is part of the update.
   */
  setPendingPassword(userId: string, passwordHash: string): Promise<boolean>;
  /** Replaces the user's roles (offered roles, for an invitation) in the account. */
  setUserRoles(account: string, userId: string, roleIds: number[]): Promise<void>;
  /** Active members of the account holding the role (invitations are not counted). */
  countUsersWithRole(account: string, roleId: number): Promise<number>;
}

export interface SessionRepository {
  create(session: SessionRecord): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  delete(idHash: string): Promise<void>;
  /** Ends the user's sessions, all of them or all but `keep` (an id hash); returns how many ended. */
  deleteForUser(userId: string, keep?: string): Promise<number>;
  /** A session is expired once `now` reaches its `expiresAt`; returns how many were deleted. */
  deleteExpired(now: number): Promise<number>;
}

/** An emailed password-reset code: only its SHA-256 (base64url) is kept. */
export interface PasswordResetRecord {
  codeHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  /** When it was used; a used code never works again. */
  usedAt: number | null;
}

export interface PasswordResetRepository {
  create(reset: PasswordResetRecord): Promise<void>;
  get(codeHash: string): Promise<PasswordResetRecord | undefined>;
  /**
   * Marks the code used at `at`, if it is still unused: of two completions at once, one gets true.
   */
  markUsed(codeHash: string, at: number): Promise<boolean>;
  /** Makes the user's unused codes expire at `at` (a newer link or a new password voids them). */
  expireUnused(userId: string, at: number): Promise<void>;
  /** Removes codes that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
