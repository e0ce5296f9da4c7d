import { recordAudit } from "../audit/audit.js";
import { type Actor, SYSTEM_ACTOR } from "../core/actor.js";
import type { AccountProfile } from "../core/api.js";
import { AppError, fail } from "../core/errors.js";
import { isAccountName, MAX_HOSTS, MAX_LABEL_LENGTH, normalizeEmail, normalizeHost } from "../core/names.js";
import { iso } from "../core/time.js";
import { generateAppKey, generateAppToken } from "../core/tokens.js";
import { hashToken } from "../crypto/token-hash.js";
import { StoreConflict } from "../storage/store.js";
import { type Authority, auditRefusals } from "./authority.js";
import type { ServiceDeps } from "./deps.js";
import { hashPassword, MIN_PASSWORD_LENGTH } from "./passwords.js";
import { generatePassword, OWNER_ROLE_ID } from "./users.js";

/**
 * Account bootstrap (`latchkey init`): the account, its first user holding Owner, and a bootstrap
 * key holding Owner, in one transaction. The generated password and the token are returned once.
 */
export interface InitResult {
  account: string;
  email: string;
  /** Null when the email already had a sign-in (its password is unchanged). */
  password: string | null;
  appKey: string;
  appToken: string;
}

export const BOOTSTRAP_KEY_NAME = "Bootstrap key";

export function createAccountService(deps: ServiceDeps) {
  const { store, clock } = deps;

  async function init(
    input: { account: string; email: string; password?: string | undefined },
    actor: Actor = SYSTEM_ACTOR,
  ): Promise<InitResult> {
    const account = input.account;
    if (!isAccountName(account)) {
      fail("VALIDATION_FAILED", "account must be 2-40 characters of a-z, 0-9 and -, starting with a letter");
    }
    const email = normalizeEmail(input.email) ?? fail("VALIDATION_FAILED", "email is not a valid address");
    if (input.password !== undefined && input.password.length < MIN_PASSWORD_LENGTH) {
      fail("VALIDATION_FAILED", `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const password = input.password ?? generatePassword();
    const passwordHash = await hashPassword(password);
    const appKey = generateAppKey(deps.random, deps.keyPrefix, account);
    const appToken = generateAppToken(deps.random, deps.tokenPrefix);
    const now = clock.now();
    try {
      const created = await store.transaction(async (tx) => {
        if (await tx.accounts.get(account)) fail("ACCOUNT_EXISTS", `Account ${account} already exists`);
        await tx.accounts.create({ name: account, createdAt: now });
        let user = await tx.people.getUserByEmail(email);
        const isNew = !user;
        if (!user) {
          user = { id: deps.newId(), email, passwordHash, createdAt: now };
          await tx.people.createUser(user);
        }
        await tx.people.addMember(account, user.id, now);
        await tx.people.setUserRoles(account, user.id, [OWNER_ROLE_ID]);
        const token = { id: deps.newId(), hash: hashToken(appToken), createdAt: now };
        const key = {
          id: deps.newId(),
          appKey,
          account,
          name: BOOTSTRAP_KEY_NAME,
          active: true,
          createdAt: now,
        };
        await tx.keys.create({ ...key, token, roleIds: [OWNER_ROLE_ID] });
        const audit = (action: string, target: { type: string; id: string }, data: Record<string, unknown>) =>
          recordAudit(tx, deps, actor, { account, action, target, data });
        await audit("account.created", { type: "account", id: account }, { after: { name: account } });
        await audit(
          "user.added",
          { type: "user", id: user.id },
          { after: { email, roles: [OWNER_ROLE_ID] } },
        );
        await audit(
          "key.created",
          { type: "key", id: appKey },
          { after: { name: key.name, roles: [OWNER_ROLE_ID] } },
        );
        return isNew;
      });
      return { account, email, password: created ? password : null, appKey, appToken };
    } catch (error) {
      if (error instanceof StoreConflict && error.constraint === "account") {
        throw new AppError("ACCOUNT_EXISTS", `Account ${account} already exists`);
      }
      throw error;
    }
  }

  /** The account's display name, hosts and creation date. */
  async function profile(account: string): Promise<AccountProfile> {
    const [record, stored] = await Promise.all([
      store.accounts.get(account),
      store.accounts.getProfile(account),
    ]);
    if (!record || !stored) return fail("ACCOUNT_NOT_FOUND", `No account ${account}`);
    return {
      account,
      displayName: stored.displayName,
      hosts: stored.hosts,
      createdAt: iso(record.createdAt),
    };
  }

  /** Replaces the display name and hosts; hosts are lower-cased and deduplicated. Audited. */
  async function setProfile(
    authority: Authority,
    account: string,
    input: { displayName: string | null; hosts: string[] },
  ): Promise<AccountProfile> {
    const displayName = input.displayName?.trim() || null;
    if (displayName !== null && displayName.length > MAX_LABEL_LENGTH) {
      fail("VALIDATION_FAILED", `displayName must be at most ${MAX_LABEL_LENGTH} characters`);
    }
    if (input.hosts.length > MAX_HOSTS) fail("VALIDATION_FAILED", `at most ${MAX_HOSTS} hosts`);
    const hosts: string[] = [];
    for (const raw of input.hosts) {
      const host =
        normalizeHost(raw) ??
        fail("VALIDATION_FAILED", `hosts: ${JSON.stringify(raw.slice(0, 260))} is not a host name`);
      if (!hosts.includes(host)) hosts.push(host);
    }
    const action = "account.profile_set";
    await auditRefusals(deps, authority, account, { action }, () =>
      store.transaction(async (tx) => {
        const before = await tx.accounts.getProfile(account);
        if (!before || !(await tx.accounts.setProfile(account, { displayName, hosts }))) {
          fail("ACCOUNT_NOT_FOUND", `No account ${account}`);
        }
        await recordAudit(tx, deps, authority.actor, {
          account,
          action,
          target: { type: "account", id: account },
          data: { before, after: { displayName, hosts } },
        });
      }),
    );
    return profile(account);
  }

  return { init, profile, setProfile };
}
