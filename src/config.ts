/**
 * Every setting of latchkey: one schema over the environment, validated once at start, frozen.
 * Every default lives here. A bad environment fails with one ConfigError naming every bad variable.
 *
 * Secrets: LATCHKEY_SECRET and the credentials that may sit inside DATABASE_URL, REDIS_URL and
 * SMTP_URL are never echoed in error messages (only their length or URL scheme is).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseAddressBlock } from "./core/addresses.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute. */
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  readonly secret?: string;
  readonly smtpUrl?: string;
  /** http(s) URL without a trailing slash. */
  readonly publicUrl: string;
  /** Absolute. */
  readonly catalogFile: string;
  readonly keyPrefix: string;
  readonly tokenPrefix: string;
  readonly jwtTtlSeconds: number;
  /** Lifetime of the JWTs from VTEX's app-token login (`POST /api/vtexid/apptoken/login`). */
  readonly vtexJwtTtlSeconds: number;
  readonly logLevel: LogLevel;
  /** Whether X-Forwarded-For is believed for the client address. */
  readonly trustProxy: boolean;
  readonly sessionTtlSeconds: number;
  /** Pause between two passes of the alert/policy/notification scheduler in the server. */
  readonly alertsIntervalSeconds: number;
  /** Failed authentications allowed per window and client address; 0 turns limiting off. */
  readonly rateLimitFailures: number;
  readonly rateLimitWindowSeconds: number;
  /** Whether webhooks may go to loopback, private, link-local and other non-public addresses. */
  readonly webhookAllowPrivate: boolean;
  /** Address blocks (CIDR) of callers whose `clientIp` on POST /v1/verify is believed; none by default. */
  readonly verifyTrustedProxies: readonly string[];
  /** After SIGTERM/SIGINT, the process exits by then even if requests or closes have not ended. */
  readonly shutdownTimeoutSeconds: number;
  /** Server processes behind the one port (cluster.ts); 1 is a single process without a primary. */
  readonly workers: number;
}

/** The most server processes WORKERS may ask for. */
export const MAX_WORKERS = 64;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** A parser's verdict on a bad value: the reason, without the variable's name. */
class Bad {
  constructor(readonly reason: string) {}
}

function got(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw);
}

/**
 * An optional environment variable. Unset and empty both mean "use the default" (compose files
 * often pass `VAR=` through).
 */
function setting<T>(fallback: () => T, parse: (raw: string) => T | Bad) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      const value = raw?.trim();
      if (value === undefined || value === "") return fallback();
      const parsed = parse(value);
      if (parsed instanceof Bad) {
        ctx.addIssue({ code: "custom", message: parsed.reason });
        return z.NEVER;
      }
      return parsed;
    });
}

const none = (): undefined => undefined;

function integer(min: number, max: number) {
  return (raw: string): number | Bad => {
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    return n >= min && n <= max ? n : new Bad(`must be an integer ${min}-${max}, got ${got(raw)}`);
  };
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "3600", "45s", "15m", "1h", "2d" → seconds; undefined when malformed. */
export function parseDurationSeconds(raw: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!match) return undefined;
  const unit = (match[2] || "s") as keyof typeof UNIT_SECONDS;
  return Number(match[1]) * UNIT_SECONDS[unit];
}

function duration(min: number, max: number) {
  return (raw: string): number | Bad => {
    const seconds = parseDurationSeconds(raw);
    if (seconds !== undefined && seconds >= min && seconds <= max) return seconds;
    return new Bad(
      `must be a duration of ${min}-${max} seconds, as seconds or with a unit s/m/h/d ("15m", "1h"), got ${got(raw)}`,
    );
  };
}

/** A URL with one of `schemes`; the value itself is not echoed since it may carry a password. */
function serviceUrl(...schemes: string[]) {
  const expected = schemes.map((s) => `${s}://`).join(" or ");
  return (raw: string): string | Bad => {
    if (!URL.canParse(raw)) return new Bad(`must be a ${expected} URL, got an unparseable URL`);
    const scheme = new URL(raw).protocol.slice(0, -1);
    return schemes.includes(scheme) ? raw : new Bad(`must be a ${expected} URL, got scheme "${scheme}"`);
  };
}

function matching(pattern: RegExp, what: string) {
  return (raw: string): string | Bad =>
    pattern.test(raw) ? raw : new Bad(`must be ${what} (${pattern.source}), got ${got(raw)}`);
}

function publicUrl(raw: string): string | Bad {
  const bad = new Bad(
    `must be an http:// or https:// URL without query, fragment or credentials, got ${got(raw)}`,
  );
  if (!URL.canParse(raw)) return bad;
  const url = new URL(raw);
  const plain = url.search === "" && url.hash === "" && url.username === "" && url.password === "";
  if (!plain || (url.protocol !== "http:" && url.protocol !== "https:")) return bad;
  return url.href.replace(/\/+$/, "");
}

/**
 * The one rule for LATCHKEY_SECRET, from the environment or from DATA_DIR/secret: why `raw` is
 * refused, or undefined. Only the length is ever echoed.
 */
export function secretProblem(raw: string): string | undefined {
  return raw.length >= 32 ? undefined : `must be at least 32 characters, got ${raw.length}`;
}

function secret(raw: string): string | Bad {
  const problem = secretProblem(raw);
  return problem === undefined ? raw : new Bad(problem);
}

/** "10.0.0.0/8, fd00::/8, 192.0.2.7": comma- or space-separated addresses and CIDR blocks. */
function addressBlocks(raw: string): string[] | Bad {
  const entries = raw.split(/[\s,]+/).filter((entry) => entry !== "");
  const bad = entries.filter((entry) => parseAddressBlock(entry) === undefined);
  if (bad.length === 0) return entries;
  return new Bad(
    `must be IP addresses or CIDR blocks (10.0.0.0/8, fd00::/8) separated by commas, got ${bad.map(got).join(", ")}`,
  );
}

/** WORKERS: a count, or `auto` for one per core (as many as the machine offers, up to MAX_WORKERS). */
function workers(raw: string): number | Bad {
  if (raw.toLowerCase() === "auto") return Math.min(availableParallelism(), MAX_WORKERS);
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 1 && n <= MAX_WORKERS
    ? n
    : new Bad(`must be "auto" or an integer 1-${MAX_WORKERS}, got ${got(raw)}`);
}

function logLevel(raw: string): LogLevel | Bad {
  const level = LOG_LEVELS.find((l) => l === raw.toLowerCase());
  return level ?? new Bad(`must be one of ${LOG_LEVELS.join(", ")}, got ${got(raw)}`);
}

function boolean(raw: string): boolean | Bad {
  const value = raw.toLowerCase();
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  return new Bad(`must be true, false, 1 or 0, got ${got(raw)}`);
}

/**
 * The directory holding package.json: above src/ (tsx, vitest), dist/ (tsc) and dist/bundle/ (what
 * bin/latchkey.mjs runs). Paths to the package's own files start here, never from the depth of the
 * file that asks (bundled code does not live where tsc put it).
 */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export function defaultCatalogFile(): string {
  return join(packageRoot(), "catalog", "commerce.yaml");
}

/** The admin UI as `npm run build` leaves it (served at /admin). */
export function adminUiDir(): string {
  return join(packageRoot(), "web", "dist");
}

const shape = {
  PORT: setting(() => 8080, integer(1, 65535)),
  HOST: setting(() => "0.0.0.0", matching(/^[A-Za-z0-9.:%[\]-]+$/, "a host name or IP address")),
  DATA_DIR: setting(
    () => resolve("./data"),
    (raw) => resolve(raw),
  ),
  DATABASE_URL: setting(none, serviceUrl("postgres", "postgresql")),
  REDIS_URL: setting(none, serviceUrl("redis", "rediss")),
  LATCHKEY_SECRET: setting(none, secret),
  SMTP_URL: setting(none, serviceUrl("smtp", "smtps")),
  PUBLIC_URL: setting(none, publicUrl),
  CATALOG_FILE: setting(defaultCatalogFile, (raw) => resolve(raw)),
  KEY_PREFIX: setting(() => "appkey", matching(/^[a-z][a-z0-9]{1,19}$/, "2-20 lowercase letters or digits")),
  TOKEN_PREFIX: setting(() => "lkt", matching(/^[a-z][a-z0-9]{1,9}$/, "2-10 lowercase letters or digits")),
  JWT_TTL: setting(() => 3600, duration(60, 86400)),
  VTEX_JWT_TTL: setting(() => 86400, duration(60, 86400)),
  LOG_LEVEL: setting((): LogLevel => "info", logLevel),
  TRUST_PROXY: setting(() => false, boolean),
  SESSION_TTL: setting(() => 43200, duration(60, 30 * 86400)),
  ALERTS_INTERVAL: setting(() => 60, duration(5, 86400)),
  RATE_LIMIT_FAILURES: setting(() => 30, integer(0, 1_000_000)),
  RATE_LIMIT_WINDOW: setting(() => 60, duration(1, 86400)),
  WEBHOOK_ALLOW_PRIVATE: setting(() => false, boolean),
  VERIFY_TRUSTED_PROXIES: setting((): string[] => [], addressBlocks),
  SHUTDOWN_TIMEOUT: setting(() => 10, duration(1, 3600)),
  WORKERS: setting(() => 1, workers),
};

type EnvName = keyof typeof shape;

const schema = z
  .object(shape)
  .refine((env) => env.DATABASE_URL === undefined || env.LATCHKEY_SECRET !== undefined, {
    path: ["LATCHKEY_SECRET"],
    message: "is required when DATABASE_URL is set (PostgreSQL mode keeps no local secret file)",
    when: () => true,
  })
  .transform(
    (env): Config => ({
      port: env.PORT,
      host: env.HOST,
      dataDir: env.DATA_DIR,
      ...(env.DATABASE_URL === undefined ? {} : { databaseUrl: env.DATABASE_URL }),
      ...(env.REDIS_URL === undefined ? {} : { redisUrl: env.REDIS_URL }),
      ...(env.LATCHKEY_SECRET === undefined ? {} : { secret: env.LATCHKEY_SECRET }),
      ...(env.SMTP_URL === undefined ? {} : { smtpUrl: env.SMTP_URL }),
      publicUrl: env.PUBLIC_URL ?? `http://localhost:${env.PORT}`,
      catalogFile: env.CATALOG_FILE,
      keyPrefix: env.KEY_PREFIX,
      tokenPrefix: env.TOKEN_PREFIX,
      jwtTtlSeconds: env.JWT_TTL,
      vtexJwtTtlSeconds: env.VTEX_JWT_TTL,
      logLevel: env.LOG_LEVEL,
      trustProxy: env.TRUST_PROXY,
      sessionTtlSeconds: env.SESSION_TTL,
      alertsIntervalSeconds: env.ALERTS_INTERVAL,
      rateLimitFailures: env.RATE_LIMIT_FAILURES,
      rateLimitWindowSeconds: env.RATE_LIMIT_WINDOW,
      webhookAllowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      verifyTrustedProxies: env.VERIFY_TRUSTED_PROXIES,
      shutdownTimeoutSeconds: env.SHUTDOWN_TIMEOUT,
      workers: env.WORKERS,
    }),
  );

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates the whole environment at once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`));
  }
  return deepFreeze(result.data);
}

const DOCS: Record<EnvName, { default: string; description: string }> = {
  PORT: { default: "8080", description: "TCP port the HTTP server listens on (1-65535)." },
  HOST: { default: "0.0.0.0", description: "Interface address the HTTP server binds to." },
  DATA_DIR: {
    default: "./data",
    description:
      "Directory for the embedded SQLite database and the generated secret; resolved to an absolute path.",
  },
  DATABASE_URL: {
    default: "(unset: embedded SQLite)",
    description:
      "`postgres://` or `postgresql://` URL; switches storage to PostgreSQL. Requires `LATCHKEY_SECRET`. Unreachable at start, it is waited for: the server is alive but not ready meanwhile (see Operations).",
  },
  REDIS_URL: {
    default: "(unset)",
    description: "`redis://` or `rediss://` URL for change notifications and shared rate-limit counters.",
  },
  LATCHKEY_SECRET: {
    default: "(generated into DATA_DIR)",
    description:
      "At least 32 characters; encrypts share-link tokens and JWT signing keys at rest. Required with `DATABASE_URL`.",
  },
  SMTP_URL: {
    default: "(unset: no email)",
    description: "`smtp://` or `smtps://` URL for renewal alert emails and password reset links.",
  },
  PUBLIC_URL: {
    default: "http://localhost:<PORT>",
    description: "External http(s) base URL, used in share links and emails; a trailing slash is dropped.",
  },
  CATALOG_FILE: {
    default: "catalog/commerce.yaml (shipped)",
    description: "YAML or JSON resource catalog: products, resources, routes and predefined roles.",
  },
  KEY_PREFIX: { default: "appkey", description: "Prefix of generated appKeys (`^[a-z][a-z0-9]{1,19}$`)." },
  TOKEN_PREFIX: { default: "lkt", description: "Prefix of generated appTokens (`^[a-z][a-z0-9]{1,9}$`)." },
  JWT_TTL: {
    default: "3600",
    description:
      "Lifetime of the JWTs from the native app-token login (`POST /v1/auth/apptoken`): seconds or `15m`/`1h`/`24h` forms, 60 s to 24 h.",
  },
  VTEX_JWT_TTL: {
    default: "86400",
    description:
      "Lifetime of the JWTs from VTEX's app-token login (`POST /api/vtexid/apptoken/login`), 24 h as VTEX documents: seconds or `15m`/`1h`/`24h` forms, 60 s to 24 h.",
  },
  LOG_LEVEL: { default: "info", description: "One of fatal, error, warn, info, debug, trace, silent." },
  TRUST_PROXY: {
    default: "false",
    description:
      "`true`/`1`: the client address is the last one in X-Forwarded-For (the one your proxy appended) instead of the connection's peer. Only behind a proxy that sets or appends that header; see Rate limits.",
  },
  SESSION_TTL: {
    default: "43200",
    description: "Lifetime of admin sessions: seconds or `30m`/`12h`/`7d` forms, 60 s to 30 days.",
  },
  ALERTS_INTERVAL: {
    default: "60",
    description:
      "Pause between two passes of the in-server notifier (renewal alerts, policies, email/webhook deliveries): seconds or `30s`/`5m`/`1h` forms, 5 s to 24 h.",
  },
  RATE_LIMIT_FAILURES: {
    default: "30",
    description:
      "Failed authentications (sign-ins, appKey/appToken, JWTs) allowed per window and client address (sign-ins also per email) before the address gets 429; a blocked address is still served for valid tokens, never for sign-ins (see Rate limits). `0` turns limiting off.",
  },
  RATE_LIMIT_WINDOW: {
    default: "60",
    description: "Length of the failed-authentication window: seconds or `30s`/`5m`/`1h` forms, 1 s to 24 h.",
  },
  WEBHOOK_ALLOW_PRIVATE: {
    default: "false",
    description:
      "`true`/`1`: webhooks may go to loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT and other non-public addresses. Off, so an account admin cannot make the server call cloud metadata, its own ports or your internal network; turn on only for receivers inside your network.",
  },
  VERIFY_TRUSTED_PROXIES: {
    default: "(unset: none)",
    description:
      "Comma-separated IP addresses and CIDR blocks (`10.0.0.0/8, fd00::/8`) of services allowed to send `clientIp` to `POST /v1/verify`: the end client's address, then counted by the failure limiter instead of the service's. From any other caller `clientIp` is refused (400 `CLIENT_IP_NOT_TRUSTED`). The caller's address is the one `TRUST_PROXY` gives.",
  },
  SHUTDOWN_TIMEOUT: {
    default: "10",
    description:
      "On SIGTERM/SIGINT the server stops accepting, lets in-flight requests finish, sends the invitation and reset mails already started, writes the usage counters and closes; after this long it exits anyway (code 1), whatever is still running: seconds or `30s`/`1m` forms, 1 s to 1 h.",
  },
  WORKERS: {
    default: "1",
    description:
      "Server processes sharing the port, 1-64, or `auto` for one per core: a primary process supervises them (restarts a crashed one, relays changes and holds the failure counters when there is no Redis). See [Workers](docs/scaling.md#workers).",
  },
};

export interface ConfigDoc {
  readonly name: string;
  readonly default: string;
  readonly description: string;
}

/** Source of the README's configuration table; a test keeps the two in step. */
export const CONFIG_DOCS: readonly ConfigDoc[] = deepFreeze(
  Object.entries(DOCS).map(([name, doc]) => ({ name, default: doc.default, description: doc.description })),
);
