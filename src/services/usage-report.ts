/**
 * A key's daily verification counts (GET …/keys/{appKey}/usage), as the usage recorder wrote them
 * (verify/usage.ts): UTC days, oldest first, days without a verification counted as zero.
 */
import { fail } from "../core/errors.js";
import { DAY_MS, iso } from "../core/time.js";
import type { ServiceDeps } from "./deps.js";

export interface KeyUsageReport {
  appKey: string;
  lastUsedAt: string | null;
  /** `date` is YYYY-MM-DD. */
  days: { date: string; ok: number; denied: number }[];
  total: { ok: number; denied: number };
}

export function createUsageReportService(deps: Pick<ServiceDeps, "store" | "clock">) {
  const { store, clock } = deps;

  /** The last `days` days, today included; KEY_NOT_FOUND unless the key belongs to `account`. */
  async function daily(account: string, appKey: string, days: number): Promise<KeyUsageReport> {
    const key = await store.keys.getByAppKey(appKey);
    if (!key || key.account !== account) fail("KEY_NOT_FOUND", `No key ${appKey} in account ${account}`);
    const today = Math.floor(clock.now() / DAY_MS);
    const first = today - days + 1;
    const byDay = new Map((await store.usage.get(key.id, first, today)).map((row) => [row.day, row]));
    const total = { ok: 0, denied: 0 };
    const list: KeyUsageReport["days"] = [];
    for (let day = first; day <= today; day++) {
      const row = byDay.get(day);
      const ok = row?.ok ?? 0;
      const denied = row?.denied ?? 0;
      total.ok += ok;
      total.denied += denied;
      list.push({ date: iso(day * DAY_MS).slice(0, 10), ok, denied });
    }
    const lastUsedAt = key.lastUsedAt === null ? null : iso(key.lastUsedAt);
    return { appKey, lastUsedAt, days: list, total };
  }

  return { daily };
}
