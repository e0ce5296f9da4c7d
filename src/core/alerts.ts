/**
 * Renewal alert levels (SPEC §2.3). A generated key whose newest token is older than the account's
 * renewal period is `orange`; three or more months past the period it is `red`. Alerts never
 * disable a key. Months are calendar months in UTC, counted back from now, so that the level of one
 * key and the store's `alert=` filter (a range on token creation time) always agree.
 */

export type AlertLevel = "none" | "orange" | "red";
export const RED_AFTER_PERIOD_MONTHS = 3;

/** `ms` moved by whole calendar months in UTC; the day is clamped (31 Mar - 1 month = 28/29 Feb). */
export function addMonthsUtc(ms: number, months: number): number {
  const date = new Date(ms);
  const day = date.getUTCDate();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  date.setUTCDate(Math.min(day, lastDay));
  return date.getTime();
}

/** Tokens created before this instant are at least at `level`. */
export function alertThreshold(
  level: Exclude<AlertLevel, "none">,
  renewalPeriodMonths: number,
  now: number,
): number {
  const months = renewalPeriodMonths + (level === "red" ? RED_AFTER_PERIOD_MONTHS : 0);
  return addMonthsUtc(now, -months);
}

export function alertLevel(tokenCreatedAt: number, renewalPeriodMonths: number, now: number): AlertLevel {
  if (tokenCreatedAt < alertThreshold("red", renewalPeriodMonths, now)) return "red";
  if (tokenCreatedAt < alertThreshold("orange", renewalPeriodMonths, now)) return "orange";
  return "none";
}
