/** Time as the domain counts it: instants are milliseconds since the epoch, days are UTC days. */

export interface Clock {
  now(): number;
}

export const DAY_MS = 86_400_000;

/** An instant as the API shows it: ISO 8601 UTC with milliseconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
