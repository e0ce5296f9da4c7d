/**
 * The access review's findings for one key (SPEC: access review), a pure decision over what the
 * verification path recorded. Per key, with a suggested action:
 * - `never_used`: never authenticated since it was created (or added) more than `days` ago → delete it;
 * - `unused`: not used in `days` → deactivate it (an external key: remove it);
 * - `unused_role`: a role none of whose resources the key used in `days` → take the role away;
 * - `owner`: holds a role with every resource → replace it with the roles it used;
 * - `token_age`: its token is older than the account's renewal period → renew it.
 */
import { alertLevel } from "./alerts.js";
import type { RoleView } from "./permissions.js";
import { DAY_MS, iso } from "./time.js";

export type FindingKind = "never_used" | "unused" | "unused_role" | "owner" | "token_age";

export interface Finding {
  kind: FindingKind;
  detail: string;
  suggestion: string;
  /** For `unused_role` and `owner`: the role concerned. */
  roleId?: number;
}

/** A key as the reviewing account knows it: an external key's dates are those of that account. */
export interface ReviewedKey {
  type: "generated" | "external";
  active: boolean;
  /** Created, or for an external key added to the account. */
  createdAt: number;
  lastUsedAt: number | null;
  tokenCreatedAt: number;
}

export interface ReviewPeriod {
  now: number;
  /** The period reviewed, in days back from `now`. */
  days: number;
  renewalPeriodMonths: number;
}

/** `held`: the key's roles in the account; `used`: resources it used there within the period. */
export function reviewFindings(
  key: ReviewedKey,
  held: readonly RoleView[],
  used: ReadonlySet<string>,
  period: ReviewPeriod,
): Finding[] {
  const { now, days, renewalPeriodMonths } = period;
  const since = now - days * DAY_MS;
  const generated = key.type === "generated";
  const findings: Finding[] = [];
  const createdBefore = key.createdAt < since;
  if (key.active && key.lastUsedAt === null && createdBefore) {
    findings.push({
      kind: "never_used",
      detail: `Never used since it was ${generated ? "created" : "added"} on ${day(key.createdAt)}`,
      suggestion: generated ? "Delete the key" : "Remove the external key",
    });
  } else if (key.active && key.lastUsedAt !== null && key.lastUsedAt < since) {
    findings.push({
      kind: "unused",
      detail: `Not used in ${days} days (last used ${day(key.lastUsedAt)})`,
      suggestion: generated ? "Deactivate the key" : "Remove the external key",
    });
  }
  const recentlyUsed = key.lastUsedAt !== null && key.lastUsedAt >= since;
  for (const role of held) {
    if (role.allResources) {
      const usedList = [...used].sort();
      findings.push({
        kind: "owner",
        detail: `Holds ${role.name}: every resource, present and future`,
        suggestion:
          usedList.length > 0
            ? `Replace ${role.name} with roles covering only what it used: ${usedList.join(", ")}`
            : `Replace ${role.name} with the roles the integration needs`,
        roleId: role.id,
      });
    } else if (recentlyUsed && createdBefore && !role.resources.some((resource) => used.has(resource))) {
      findings.push({
        kind: "unused_role",
        detail: `None of the resources of ${role.name} (${role.resources.join(", ")}) used in ${days} days`,
        suggestion: `Take the role ${role.name} away`,
        roleId: role.id,
      });
    }
  }
  if (generated && key.active && alertLevel(key.tokenCreatedAt, renewalPeriodMonths, now) !== "none") {
    findings.push({
      kind: "token_age",
      detail: `Token created on ${day(key.tokenCreatedAt)}, older than the ${renewalPeriodMonths}-month renewal period`,
      suggestion: "Renew the token",
    });
  }
  return findings;
}

function day(ms: number): string {
  return iso(ms).slice(0, 10);
}
