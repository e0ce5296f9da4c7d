/**
 * Least privilege in the use cases (SPEC §1.2): every service that acts on a principal (a key, an
 * external key's grant, a user) or a role takes the caller's `Authority` in that account and applies
 * the two checks below before it writes anything. Both rest on `covers` (core/permissions.ts).
 *
 * - `checkGive`: giving or taking a role, or putting resources in a role, needs every resource involved.
 * - `checkTarget`: acting on a target needs every resource the target holds there.
 *
 * A refusal is a 403 (ESCALATION_DENIED, TARGET_EXCEEDS_CALLER) and, through `auditRefusals`, an
 * `access.refused` event in the account's audit log, written after the refused transaction rolled back.
 */
import { recordAudit } from "../audit/audit.js";
import { type Actor, SYSTEM_ACTOR } from "../core/actor.js";
import { AppError, type ErrorCode } from "../core/errors.js";
import { covers, type Grant, grantOf, type RoleView } from "../core/permissions.js";
import type { ServiceDeps } from "./deps.js";

/** A caller acting in one account: who (for the audit) and what it holds there (for every check). */
export interface Authority {
  actor: Actor;
  grant: Grant;
}

/** latchkey itself (init, policies): holds everything. */
export const SYSTEM_AUTHORITY: Authority = { actor: SYSTEM_ACTOR, grant: { all: true } };

/** What a refused action was aimed at, as the audit log names targets. */
export interface TargetRef {
  type: "key" | "external_key" | "user" | "role" | "settings";
  id: string;
}

const AUDITED: ReadonlySet<ErrorCode> = new Set([
  "ESCALATION_DENIED",
  "TARGET_EXCEEDS_CALLER",
  "KEY_CONTROLS_EXCEED_CALLER",
  "SELF_APPROVAL_DENIED",
]);

/**
 * No escalation: the caller may give or take each of `roles` only if it holds every resource of it.
 * The first role refused fails with ESCALATION_DENIED naming it.
 */
export function checkGive(grant: Grant, roles: readonly RoleView[]): void {
  for (const role of roles) {
    const coverage = covers(grant, grantOf([role]));
    if (!coverage.ok) {
      throw new AppError(
        "ESCALATION_DENIED",
        `You cannot give or take role ${role.id} (${role.name}): it holds resources you lack`,
        { role: role.id, lacking: coverage.lacking, owner: coverage.owner },
      );
    }
  }
}

/**
 * No action on a stronger target: `held` are the roles the target holds in the account (or, for a
 * role, the role itself). `what` names the target for the message, e.g. "key appkey-shop-QWERTY".
 */
export function checkTarget(grant: Grant, held: readonly RoleView[], what: string): void {
  const coverage = covers(grant, grantOf(held));
  if (coverage.ok) return;
  const lacks = coverage.owner
    ? "it holds every resource (an Owner-like role) and you do not"
    : `it holds ${coverage.lacking.join(", ")}, which you lack`;
  throw new AppError("TARGET_EXCEEDS_CALLER", `You cannot act on ${what}: ${lacks}`, {
    lacking: coverage.lacking,
    owner: coverage.owner,
  });
}

/**
 * A key's token carries every grant other accounts gave the key, and the caller covers nothing there.
 * So issuing a token for such a key (renewal) or switching it back on is for the key itself or an
 * Owner-like caller of its own account. `grantedElsewhere`: whether any other account gave it a role.
 */
export function checkCredential(
  authority: Authority,
  key: { appKey: string; account: string },
  grantedElsewhere: boolean,
): void {
  if (!grantedElsewhere || authority.grant.all) return;
  if (authority.actor.type === "key" && authority.actor.id === key.appKey) return;
  throw new AppError(
    "TARGET_EXCEEDS_CALLER",
    `You cannot issue or restore the token of key ${key.appKey}: other accounts gave it roles, so only an Owner of ${key.account} or the key itself may`,
    { lacking: [], owner: true, grantedElsewhere: true },
  );
}

/**
 * Runs `work`; when it is refused by `checkGive` or `checkTarget`, records `access.refused` in the
 * account (`attempted` is the action that was refused) and rethrows. The refused work's own
 * transaction has rolled back by then, so the event is written in a transaction of its own.
 */
export async function auditRefusals<T>(
  deps: Pick<ServiceDeps, "store" | "clock" | "newId">,
  authority: Authority,
  account: string,
  attempted: { action: string; target?: TargetRef },
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError && AUDITED.has(error.code)) {
      const data = { attempted: attempted.action, code: error.code, ...error.extra };
      await deps.store.transaction((tx) =>
        recordAudit(tx, deps, authority.actor, {
          account,
          action: "access.refused",
          ...(attempted.target ? { target: attempted.target } : {}),
          data,
        }),
      );
    }
    throw error;
  }
}
