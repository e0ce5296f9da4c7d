/**
 * Failed-authentication rate limits (SPEC §6). Failures are counted per subject in fixed windows:
 * per client address for every kind of authentication, and per email for password sign-ins (a
 * second limiter whose buckets come from `emailKey`). Past the limit a subject is blocked until
 * its window ends. What a block refuses depends on the credential, and is decided by the callers:
 *
 * - Tokens (appKey/appToken, app-token JWTs: verifier.ts, and app-token login through it): a
 *   blocked address is still served when its credentials are valid; only failures get 429 (+
 *   Retry-After). A token is 238 random bits, so this limiter is not what stops guessing: it sheds
 *   load. A blocked address gets a storage lookup for an appKey the key cache cannot answer for
 *   only within a small lookup allowance (a second limiter, `blockedLookups`, see verifier.ts);
 *   past it, 429 at once. Its failures are not counted any more (the block lasts to the window's
 *   end whatever it sends), so a flood from it costs at most the allowance in I/O.
 * - Password sign-in (routes/session.ts): while the address or the email is blocked, every attempt
 *   is refused with 429 before the password hash is computed, the right password included. Emails
 *   are counted whether or not a user has them, so a block tells nothing about who exists.
 *
 * Counting is never per appKey, so wrong tokens sent from elsewhere cannot lock a key's rightful
 * caller out; and since valid tokens pass, neither can a misconfigured client that shares the
 * caller's egress address (or a gateway's address with TRUST_PROXY off).
 *
 * The check is synchronous and local (`blockedFor`), so the hot path never waits on the network.
 * Only failures reach the shared counter (`recordFailure`, when one is given: Redis between
 * instances, or the primary process between the workers of one server, `WORKERS`): the counter
 * is incremented there, and a process that learns a count over the limit marks the subject
 * blocked locally until the window's end. Every process blocks on its own first failure past the
 * limit, so with N processes an address gets at most N - 1 answers beyond the limit before all of
 * them refuse it. A fault of the shared counter never fails a request: it is reported once, and
 * failures are counted locally until it answers again.
 *
 * Buckets: IPv4-mapped IPv6 counts as its IPv4 address, and other IPv6 addresses by their /64 (one
 * host usually holds a whole /64); an email by the SHA-256 of its normalized form, so neither this
 * process nor Redis holds it. Memory is bounded: expired entries are dropped as new ones arrive,
 * and past `maxAddresses` the oldest entry goes. Nothing here sees a token or a password.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { fail } from "../core/errors.js";
import { normalizeEmail } from "../core/names.js";

/** A subject is a client address, or what `bucketOf` reads (an email for the sign-in limiter). */
export interface FailureLimiter {
  /** Seconds the subject stays blocked; 0 when it is not blocked. */
  blockedFor(subject: string | null): number;
  /** Counts one failure of the subject (or one request, for limiters that count every request). Never throws. */
  recordFailure(subject: string | null): Promise<void>;
  /** Forgets local state. A Redis client given in the options stays open: its owner closes it. */
  close(): void;
}

/**
 * Counters shared between processes, in fixed windows: adds one to `key`, starting its window of
 * `windowMs` on first use; returns [count, ms left in the window]. Rejects when unreachable.
 */
export interface SharedCounter {
  increment(key: string, windowMs: number): Promise<[count: number, msLeft: number]>;
}

export interface FailureLimiterOptions {
  /** Failures allowed per window and address; 0 turns limiting off. */
  limit: number;
  windowSeconds: number;
  clock: { now(): number };
  /** Shared counters between instances in Redis; local counting when neither this nor `shared` is given. */
  redis?: Redis | undefined;
  /** Shared counters of another kind (the primary of `WORKERS`); `redis` takes precedence. */
  shared?: SharedCounter | undefined;
  /** Shared counter key prefix: limiters sharing counters must each have their own. */
  prefix?: string;
  /** Most subjects tracked at once in this process. */
  maxAddresses?: number;
  /** The bucket a subject counts in; `addressKey` unless given (`emailKey` for sign-ins). */
  bucketOf?: (subject: string | null) => string;
  /** Called once when Redis starts failing (counting goes local), and once when it answers again. */
  onRedisError?: (error: unknown) => void;
  onRedisRecovered?: () => void;
}

export const DEFAULT_MAX_ADDRESSES = 100_000;
const UNKNOWN_ADDRESS = "unknown";
const MAX_ADDRESS_LENGTH = 64;

/** INCR with the window set on first use (or repaired if lost); returns [count, ms left in window]. */
const INCREMENT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

interface Entry {
  count: number;
  /** Insertion order follows windowEnd, which lets expired entries be dropped from the front. */
  windowEnd: number;
  blockedUntil: number;
}

const OFF: FailureLimiter = {
  blockedFor: () => 0,
  recordFailure: async () => {},
  close() {},
};

export function createFailureLimiter(options: FailureLimiterOptions): FailureLimiter {
  if (options.limit <= 0) return OFF;
  const { limit, clock } = options;
  const shared = options.redis ? redisCounter(options.redis) : options.shared;
  const windowMs = options.windowSeconds * 1000;
  const max = Math.max(1, options.maxAddresses ?? DEFAULT_MAX_ADDRESSES);
  const prefix = options.prefix ?? "latchkey:failures:";
  const bucketOf = options.bucketOf ?? addressKey;
  const entries = new Map<string, Entry>();
  let redisFailing = false;

  function blockedFor(subject: string | null): number {
    if (entries.size === 0) return 0;
    const entry = entries.get(bucketOf(subject));
    if (entry === undefined) return 0;
    const left = entry.blockedUntil - clock.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Drops expired entries from the front, then the oldest ones while over the cap. */
  function makeRoom(now: number): void {
    for (const [key, entry] of entries) {
      const expired = entry.windowEnd <= now && entry.blockedUntil <= now;
      if (!expired && entries.size < max) return;
      entries.delete(key);
    }
  }

  /** Starts a fresh window for the address, at the back of the insertion order. */
  function freshEntry(key: string, now: number, windowEnd: number): Entry {
    entries.delete(key);
    makeRoom(now);
    const entry: Entry = { count: 0, windowEnd, blockedUntil: 0 };
    entries.set(key, entry);
    return entry;
  }

  function countLocally(key: string, now: number): void {
    const current = entries.get(key);
    const entry = current && current.windowEnd > now ? current : freshEntry(key, now, now + windowMs);
    entry.count += 1;
    if (entry.count > limit) entry.blockedUntil = entry.windowEnd;
  }

  async function countShared(counter: SharedCounter, key: string): Promise<boolean> {
    try {
      const [count, ttl] = await counter.increment(prefix + key, windowMs);
      if (redisFailing) {
        redisFailing = false;
        options.onRedisRecovered?.();
      }
      if (count > limit) {
        const now = clock.now();
        const until = now + Math.min(Math.max(ttl, 1), windowMs);
        const entry = freshEntry(key, now, until);
        entry.count = count;
        entry.blockedUntil = until;
      }
      return true;
    } catch (error) {
      if (!redisFailing) {
        redisFailing = true;
        options.onRedisError?.(error);
      }
      return false;
    }
  }

  async function recordFailure(subject: string | null): Promise<void> {
    const key = bucketOf(subject);
    if (shared && (await countShared(shared, key))) return;
    countLocally(key, clock.now());
  }

  return { blockedFor, recordFailure, close: () => entries.clear() };
}

/** Redis as a shared counter: one script call per failure. */
function redisCounter(client: Redis): SharedCounter {
  return {
    increment: async (key, windowMs) =>
      (await client.eval(INCREMENT_SCRIPT, 1, key, windowMs)) as [number, number],
  };
}

/**
 * Shared counters held in this process (the primary of `WORKERS`, for its workers): the same
 * windows as Redis's script. Memory is bounded like a limiter's: expired windows are dropped as new
 * ones start, and past `maxKeys` the oldest goes.
 */
export function createCounterTable(
  clock: { now(): number },
  maxKeys = DEFAULT_MAX_ADDRESSES,
): { increment(key: string, windowMs: number): [count: number, msLeft: number] } {
  const windows = new Map<string, { count: number; end: number }>();
  return {
    increment(key, windowMs) {
      const now = clock.now();
      let window = windows.get(key);
      if (window === undefined || window.end <= now) {
        windows.delete(key);
        for (const [oldKey, old] of windows) {
          if (old.end > now && windows.size < maxKeys) break;
          windows.delete(oldKey);
        }
        window = { count: 0, end: now + windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      return [window.count, window.end - now];
    },
  };
}

/** Throws RATE_LIMITED, with `retryAfter` seconds (also sent as Retry-After), while `ip` is blocked. */
export function refuseIfBlocked(limiter: FailureLimiter, ip: string | null, what: string): void {
  const wait = limiter.blockedFor(ip);
  if (wait > 0)
    fail("RATE_LIMITED", `Too many ${what} from this address; retry in ${wait} s`, { retryAfter: wait });
}

/**
 * A Redis connection for shared counters: commands fail fast instead of queueing while Redis is
 * away (the limiter then counts locally), and connection errors are left to the limiter to report.
 */
export async function connectLimiterRedis(url: string): Promise<Redis> {
  // Loaded only when REDIS_URL is set: the embedded set-up never pays for the client.
  const { Redis } = await import("ioredis");
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    connectTimeout: 2000,
  });
  client.on("error", () => {});
  return client;
}

/** The per-email limiter of password sign-ins: `blockedFor(email)`, `recordFailure(email)`. */
export function createEmailLimiter(options: Omit<FailureLimiterOptions, "bucketOf">): FailureLimiter {
  return createFailureLimiter({ ...options, bucketOf: emailKey });
}

/** The bucket an email counts in: a digest of its normalized form (see the header). */
export function emailKey(email: string | null): string {
  const normalized = email === null ? "" : (normalizeEmail(email) ?? email.trim().toLowerCase());
  return `email:${createHash("sha256").update(normalized).digest("base64url")}`;
}

/** The bucket an address counts in (see the header). */
export function addressKey(ip: string | null): string {
  if (!ip) return UNKNOWN_ADDRESS;
  let address = ip.trim().toLowerCase();
  const zone = address.indexOf("%");
  if (zone >= 0) address = address.slice(0, zone);
  if (address.length > MAX_ADDRESS_LENGTH) address = address.slice(0, MAX_ADDRESS_LENGTH);
  if (!address.includes(":")) return address || UNKNOWN_ADDRESS;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped?.[1]) return mapped[1];
  return ipv6Prefix64(address) ?? address;
}

const HEXTET = /^[0-9a-f]{1,4}$/;

/** "2001:db8:1:2:3:4:5:6" → "2001:db8:1:2::/64"; undefined when not an IPv6 address. */
function ipv6Prefix64(address: string): string | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const groups = (text: string | undefined) => (text ? text.split(":") : []);
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  // An embedded IPv4 tail ("64:ff9b::192.0.2.1") stands for two groups.
  const width = (list: string[]) => list.length + (list.at(-1)?.includes(".") ? 1 : 0);
  const zeros = 8 - width(left) - width(right);
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  const full = [...left, ...Array<string>(zeros).fill("0"), ...right];
  const head = full.slice(0, 4);
  if (!head.every((group) => HEXTET.test(group))) return undefined;
  return `${head.map((group) => Number.parseInt(group, 16).toString(16)).join(":")}::/64`;
}
