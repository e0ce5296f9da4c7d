/**
 * The access review: which keys of an account hold more than they use, and what to do about it.
 *
 * It reads what the verification path recorded (last use of each key, and of each resource by
 * each key in each account) and reports, per key, with a suggested action:
 * - `never_used`: never authenticated since it was created more than `days` ago → delete it;
 * - `unused`: not used in `days` → deactivate it;
 * - `unused_role`: a role none of whose resources the key used in `days` → take the role away;
 * - `owner`: holds Owner (every resource) → replace it with the roles it used;
 * - `token_age`: its token is older than the account's renewal period → renew it.
 * External keys added to the account are reviewed for their grant in it.
 */
import { alertLevel } from "../core/alerts.js";
import type { RoleView } from "../core/permissions.js";
import { readSettings } from "../core/settings.js";
import { DAY_MS, iso } from "../core/time.js";
import { forEachKey } from "../notify/alerts.js";
import type { KeyRecord } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

export type FindingKind = "never_used" | "unused" | "unused_role" | "owner" | "token_age";

export interface Finding {
  kind: FindingKind;
  detail: string;
  suggestion: string;
  /** For `unused_role`: the role to take away. */
  roleId?: number;
}

export interface ReviewItem {
  appKey: string;
  name: string;
  keyType: "generated" | "external";
  owner: string;
  status: "active" | "inactive";
  roles: { id: number; name: string }[];
  lastUsedAt: string | null;
  tokenCreatedAt: string | null;
  /** Resources the key used in the account within the period, sorted. */
  usedResources: string[];
  findings: Finding[];
}

export interface Review {
  account: string;
  days: number;
  generatedAt: string;
  keysReviewed: number;
  items: ReviewItem[];
}

export function createReviewService(deps: ServiceDeps, roles: RoleDirectory) {
  const { store, clock } = deps;

  async function review(account: string, days: number): Promise<Review> {
    const now = clock.now();
    const since = now - days * DAY_MS;
    const [settingsDoc, catalogRoles, uses, externals] = await Promise.all([
      store.settings.get(account),
      roles.list(store, account),
      store.usage.listResourceUse(account),
      store.externalKeys.list(account),
    ]);
    const settings = readSettings(settingsDoc);
    const roleById = new Map(catalogRoles.map((role) => [role.id, role]));
    const usedByKey = new Map<string, Set<string>>();
    for (const use of uses) {
      if (use.at < since) continue;
      let used = usedByKey.get(use.keyId);
      if (!used) {
        used = new Set();
        usedByKey.set(use.keyId, used);
      }
      used.add(use.resource);
    }

    const items: ReviewItem[] = [];
    let reviewed = 0;
    function consider(key: KeyRecord, type: "generated" | "external", roleIds: readonly number[]) {
      reviewed++;
      const held = roleIds
        .map((id) => roleById.get(id))
        .filter((role): role is RoleView => role !== undefined);
      const used = usedByKey.get(key.id) ?? new Set<string>();
      const findings = findingsFor(key, type, held, used);
      if (findings.length === 0) return;
      items.push({
        appKey: key.appKey,
        name: type === "generated" ? key.name : key.appKey,
        keyType: type,
        owner: key.account,
        status: key.active ? "active" : "inactive",
        roles: held.map((role) => ({ id: role.id, name: role.name })),
        lastUsedAt: key.lastUsedAt === null ? null : iso(key.lastUsedAt),
        tokenCreatedAt: type === "generated" ? iso(key.tokenCreatedAt) : null,
        usedResources: [...used].sort(),
        findings,
      });
    }

    function findingsFor(key: KeyRecord, type: string, held: RoleView[], used: Set<string>): Finding[] {
      const findings: Finding[] = [];
      const createdBefore = key.createdAt < since;
      if (key.active && key.lastUsedAt === null && createdBefore) {
        findings.push({
          kind: "never_used",
          detail: `Never used since it was ${type === "generated" ? "created" : "added"} on ${iso(key.createdAt).slice(0, 10)}`,
          suggestion: type === "generated" ? "Delete the key" : "Remove the external key",
        });
      } else if (key.active && key.lastUsedAt !== null && key.lastUsedAt < since) {
        findings.push({
          kind: "unused",
          detail: `Not used in ${days} days (last used ${iso(key.lastUsedAt).slice(0, 10)})`,
          suggestion: type === "generated" ? "Deactivate the key" : "Remove the external key",
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
      if (type === "generated" && key.active) {
        const level = alertLevel(key.tokenCreatedAt, settings.renewalPeriodMonths, now);
        if (level !== "none") {
          findings.push({
            kind: "token_age",
            detail: `Token created on ${iso(key.tokenCreatedAt).slice(0, 10)}, older than the ${settings.renewalPeriodMonths}-month renewal period`,
            suggestion: "Renew the token",
          });
        }
      }
      return findings;
    }

    await forEachKey({ store }, { account }, async (key) => consider(key, "generated", key.roleIds));
    // An external key is reviewed as this account knows it: added when it was added here, used when
    // it was last allowed here. Its owner's creation date and its use elsewhere are not this account's.
    for (const { key, addedAt, lastUsedAt, roleIds } of externals)
      consider({ ...key, createdAt: addedAt, lastUsedAt }, "external", roleIds);
    items.sort((a, b) => b.findings.length - a.findings.length || a.appKey.localeCompare(b.appKey));
    return { account, days, generatedAt: iso(now), keysReviewed: reviewed, items };
  }

  return { review };
}

export type ReviewService = ReturnType<typeof createReviewService>;
