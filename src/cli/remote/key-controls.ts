/**
 * The flags of a key's controls (docs/key-controls.md), shared by `keys create` and `keys update`:
 * `--expires`, `--ip` (repeatable), `--any-ip`, `--metadata`, `--no-metadata`, `--allow-browser`,
 * `--deny-browser`, `--rate-limit 100/60s`, `--no-rate-limit`, `--quota 10000`, `--quota-refill
 * 10000/month`, `--no-quota`. Values are checked as they are typed (a bad one is a usage error, exit 2); the
 * server checks the rest (CIDR blocks, the 4 KB limit, the account's policies).
 */
import { type Command, InvalidArgumentError } from "commander";
import {
  MAX_QUOTA,
  parseRateLimit,
  parseRefill,
  type Quota,
  type RateLimit,
  validateQuota,
  validateRateLimit,
} from "../../core/key-controls.js";
import { UsageError } from "../output.js";
import { collect } from "./options.js";

const DAY_MS = 86_400_000;

export interface ControlFlags {
  /** An ISO 8601 instant, or "never". */
  expires?: string;
  ip?: string[];
  anyIp?: boolean;
  metadata?: Record<string, unknown> | false;
  allowBrowser?: boolean;
  denyBrowser?: boolean;
  /** false: --no-rate-limit. */
  rateLimit?: RateLimit | false;
  /** false: --no-quota. */
  quota?: number | false;
  /** "none": --quota-refill none. */
  quotaRefill?: NonNullable<Quota["refill"]> | "none";
}

/** LIMIT/WINDOW: `100/60s`, `1000/1m`, `5000/1h`, `100000/1d`. */
export function rateLimitSpec(raw: string): RateLimit {
  const value = parseRateLimit(raw);
  const error = value === undefined ? null : validateRateLimit(value);
  if (value === undefined || error !== null) {
    throw new InvalidArgumentError(
      `must be LIMIT/WINDOW with the window in s, m, h or d (at most 1d), e.g. 100/60s or 5000/1h${error ? ` (${error.path} ${error.message})` : ""}.`,
    );
  }
  return value;
}

/** The calls a quota starts with. */
export function quotaCount(raw: string): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > MAX_QUOTA) {
    throw new InvalidArgumentError(`must be a whole number of calls from 0 to ${MAX_QUOTA}.`);
  }
  return value;
}

/** AMOUNT/day, AMOUNT/month, or "none". "none" stays a word (see `expiry`); `controlsBody` makes it null. */
export function refillSpec(raw: string): NonNullable<Quota["refill"]> | "none" {
  if (raw.trim().toLowerCase() === "none") return "none";
  const value = parseRefill(raw);
  const error = value === undefined ? null : validateQuota({ remaining: 0, refill: value });
  if (value === undefined || error !== null) {
    throw new InvalidArgumentError('must be AMOUNT/day or AMOUNT/month (e.g. 10000/month), or "none".');
  }
  return value;
}

/**
 * `never`, `30d` (days from now) or an ISO 8601 date or date-time. "never" stays a word here
 * (commander turns a parser's null into an empty string); `controlsBody` makes it null.
 */
export function expiry(raw: string): string {
  const text = raw.trim();
  if (text.toLowerCase() === "never") return "never";
  const days = /^(\d{1,5})d$/i.exec(text);
  if (days) return new Date(Date.now() + Number(days[1]) * DAY_MS).toISOString();
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(Date.parse(text))) {
    throw new InvalidArgumentError(
      'must be "never", a number of days such as 30d, or an ISO 8601 date (2027-01-31).',
    );
  }
  return new Date(Date.parse(text)).toISOString();
}

/** A JSON object. */
export function metadataObject(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"customerId":"c-1"}\'.');
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"customerId":"c-1"}\'.');
  }
  return value as Record<string, unknown>;
}

export function addControlOptions(command: Command): Command {
  return command
    .option("--expires <when>", 'expiry: a date (2027-01-31), days from now (30d), or "never"', expiry)
    .option("--ip <cidr>", "allow calls only from this address or CIDR block (repeat for more)", collect)
    .option("--any-ip", "remove the IP allowlist: any address may use the key")
    .option(
      "--metadata <json>",
      "a JSON object returned on verification (never secrets; at most 4 KB)",
      metadataObject,
    )
    .option("--no-metadata", "remove the key's metadata")
    .option("--allow-browser", "let the key be used from browser pages (the account must allow it)")
    .option("--deny-browser", "refuse the key on requests from browser pages (the default)")
    .option(
      "--rate-limit <limit/window>",
      "at most LIMIT calls per window, the window in s, m, h or d (100/60s, 5000/1h); 429 past it",
      rateLimitSpec,
    )
    .option("--no-rate-limit", "remove the key's rate limit")
    .option(
      "--quota <calls>",
      "calls the key may make (each allowed call spends one); sets what is left now",
      quotaCount,
    )
    .option(
      "--quota-refill <amount/period>",
      'with --quota: set what is left back to AMOUNT at each UTC day or month (10000/month), or "none"',
      refillSpec,
    )
    .option("--no-quota", "remove the key's quota");
}

/** The body fields the flags ask for (none when no flag was given). */
export function controlsBody(flags: ControlFlags): Record<string, unknown> {
  if (flags.ip && flags.anyIp) throw new UsageError("give --ip or --any-ip, not both.");
  if (flags.allowBrowser && flags.denyBrowser) {
    throw new UsageError("give --allow-browser or --deny-browser, not both.");
  }
  const body: Record<string, unknown> = {};
  if (flags.expires !== undefined) body.expiresAt = flags.expires === "never" ? null : flags.expires;
  if (flags.ip) body.ipAllowlist = flags.ip;
  if (flags.anyIp) body.ipAllowlist = null;
  if (flags.metadata === false) body.metadata = null;
  else if (flags.metadata !== undefined) body.metadata = flags.metadata;
  if (flags.allowBrowser) body.allowBrowser = true;
  if (flags.denyBrowser) body.allowBrowser = false;
  if (flags.rateLimit === false) body.rateLimit = null;
  else if (flags.rateLimit !== undefined) body.rateLimit = flags.rateLimit;
  if (flags.quotaRefill !== undefined && typeof flags.quota !== "number") {
    throw new UsageError("--quota-refill goes with --quota (the calls left now).");
  }
  if (flags.quota === false) body.quota = null;
  else if (flags.quota !== undefined) {
    const refill = flags.quotaRefill === undefined || flags.quotaRefill === "none" ? null : flags.quotaRefill;
    body.quota = { remaining: flags.quota, refill };
  }
  return body;
}
