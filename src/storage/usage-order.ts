/**
 * The order in which a usage batch's rows are written: by key (then by the rest of each row's
 * key). Every write takes its row locks in this order, so two instances' flushes wait for each
 * other instead of deadlocking (kysely-usage.ts); and the usage recorder sorts a whole batch
 * before cutting it into slices, so that each slice covers a run of neighbouring keys and touches
 * few pages of each index (on SQLite every page a transaction touches is written to the WAL).
 */
import type { QuotaSpend, UsageBatch } from "./store.js";

const byKey = <T extends { keyId: string }>(a: T, b: T) =>
  a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The batch with every list in lock order. */
export function inLockOrder(batch: UsageBatch): UsageBatch {
  return {
    counts: [...batch.counts].sort((a, b) => byKey(a, b) || a.day - b.day),
    resources: [...batch.resources].sort(
      (a, b) => byKey(a, b) || byText(a.account, b.account) || byText(a.resource, b.resource),
    ),
    lastUsed: [...batch.lastUsed].sort(byKey),
    accounts: [...(batch.accounts ?? [])].sort((a, b) => byKey(a, b) || byText(a.account, b.account)),
    tokens: [...(batch.tokens ?? [])].sort((a, b) => byText(a.tokenId, b.tokenId)),
    quotas: latestPeriods(batch.quotas ?? []).sort(byKey),
  };
}

/**
 * One spend per key (an update touches a row once): of two settings of the quota, the later one
 * (an earlier setting's spends no longer count); of two periods, the later one (the earlier period
 * has ended and was refilled; its spends no longer count); the same setting and period's summed.
 */
function latestPeriods(spends: readonly QuotaSpend[]): QuotaSpend[] {
  const byId = new Map<string, QuotaSpend>();
  for (const spend of spends) {
    const seen = byId.get(spend.keyId);
    if (
      seen === undefined ||
      spend.setAt > seen.setAt ||
      (spend.setAt === seen.setAt && spend.period > seen.period)
    ) {
      byId.set(spend.keyId, { ...spend });
    } else if (spend.setAt === seen.setAt && spend.period === seen.period) seen.spent += spend.spent;
  }
  return [...byId.values()];
}
