/**
 * The access review: which keys of an account hold more than they use, and what to do about it
 * (the findings: core/review.ts).
 *
 * It reads what the verification path recorded (last use of each key, and of each resource by
 * each key in each account) and reports the keys with findings. External keys added to the account
 * are reviewed for their grant in it.
 */
import type { AccessReview } from "../core/api.js";
import type { RoleView } from "../core/permissions.js";
import { type ReviewedKey, reviewFindings } from "../core/review.js";
import { readSettings } from "../core/settings.js";
import { DAY_MS, iso } from "../core/time.js";
import { forEachKey } from "../notify/alerts.js";
import type { KeyRecord } from "../storage/store.js";
import type { ServiceDeps } from "./deps.js";
import type { RoleDirectory } from "./role-directory.js";

export type Review = AccessReview;
export type ReviewItem = Review["items"][number];

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
    const period = { now, days, renewalPeriodMonths: readSettings(settingsDoc).renewalPeriodMonths };
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
      const subject: ReviewedKey = {
        type,
        active: key.active,
        createdAt: key.createdAt,
        lastUsedAt: key.lastUsedAt,
        tokenCreatedAt: key.tokenCreatedAt,
      };
      const findings = reviewFindings(subject, held, used, period);
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
