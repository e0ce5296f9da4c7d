/**
 * An in-process latchkey for route tests: a real store (SQLite by default), the shipped catalog,
 * everything built by the production composition (main.ts `composeLatchkey`) from a configuration
 * read as production reads it, a clock the test moves, and a log captured in memory. Requests go through `app.request()`;
 * no port is opened.
 */
import { Writable } from "node:stream";
import type { Redis } from "ioredis";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { composeLatchkey } from "../../src/main.js";
import type { InitResult } from "../../src/services/accounts.js";
import { openTestStore } from "./stores.js";

export interface Credentials {
  appKey: string;
  appToken: string;
}

export interface RequestOptions {
  as?: Credentials | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON shapes
  body: any;
}

export const OWNER_PASSWORD = "correct horse battery staple";

export interface HarnessOptions {
  /**
   * Failed-authentication limit per client address, and per email for sign-ins; off unless given
   * (tests send bad credentials freely).
   */
  rateLimit?: { failures: number; windowSeconds: number };
  /** Failure counters shared through this Redis (under `prefix`), as with REDIS_URL. */
  limiterRedis?: { client: Redis; prefix: string };
  /** Leak reports per client address; the production rate (services/revoke.ts) unless given. */
  revokeRate?: { limit: number; windowSeconds: number };
  /** TRUST_PROXY: the client address comes from X-Forwarded-For. */
  trustProxy?: boolean;
  /** VERIFY_TRUSTED_PROXIES: callers whose `clientIp` on POST /v1/verify is believed. */
  verifyTrustedProxies?: string[];
  /** KEY_PREFIX: the prefix of generated appKeys ("appkey" unless given). */
  keyPrefix?: string;
  /** SMTP_URL: where test notifications sent from a request go (none unless given). */
  smtpUrl?: string;
  /** WEBHOOK_ALLOW_PRIVATE: webhooks may go to loopback receivers (refused unless given, as in production). */
  webhookAllowPrivate?: boolean;
}

export async function createHarness(kind: "sqlite" | "postgres" = "sqlite", options: HarnessOptions = {}) {
  const { store, raw, cleanup } = await openTestStore(kind);
  let now = Date.parse("2026-11-26T10:00:00Z");
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: "debug", destination });
  // The settings a test may change, as production reads them; the rest are the defaults.
  const config = loadConfig({
    LATCHKEY_SECRET: "test-secret-0123456789-0123456789-abcdef",
    PUBLIC_URL: "http://localhost",
    KEY_PREFIX: options.keyPrefix,
    SESSION_TTL: "3600",
    JWT_TTL: "3600",
    RATE_LIMIT_FAILURES: String(options.rateLimit?.failures ?? 0),
    RATE_LIMIT_WINDOW: String(options.rateLimit?.windowSeconds ?? 60),
    TRUST_PROXY: String(options.trustProxy ?? false),
    VERIFY_TRUSTED_PROXIES: options.verifyTrustedProxies?.join(","),
    SMTP_URL: options.smtpUrl,
    WEBHOOK_ALLOW_PRIVATE: String(options.webhookAllowPrivate ?? false),
  });
  const { deps, services, app } = composeLatchkey(config, {
    store,
    logger,
    clock: { now: () => now },
    ...(options.limiterRedis ? { limiterRedis: options.limiterRedis } : {}),
    ...(options.revokeRate ? { revokeRate: options.revokeRate } : {}),
  });
  /** Every response text the tests saw, for the secrets search. */
  const responses: string[] = [];

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...options.headers };
    const as = options.as === undefined ? owner : options.as;
    if (as) {
      headers["x-api-appkey"] = as.appKey;
      headers["x-api-apptoken"] = as.appToken;
    }
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    responses.push(text);
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  const init: InitResult = await services.accounts.init({
    account: "acme",
    email: "owner@acme.test",
    password: OWNER_PASSWORD,
  });
  const owner: Credentials = { appKey: init.appKey, appToken: init.appToken };

  /** Creates a key through the API as the owner and returns its credentials. */
  async function createKey(name: string, roles: number[] = [], account = "acme", as: Credentials = owner) {
    const res = await request("POST", `/v1/accounts/${account}/keys`, { as, body: { name, roles } });
    if (res.status !== 201) throw new Error(`createKey ${name}: ${res.status} ${res.text}`);
    return {
      appKey: res.body.key.appKey as string,
      appToken: res.body.appToken as string,
      key: res.body.key,
    };
  }

  return {
    app,
    store,
    /** A second connection to the same database, for checks below the Store port. */
    raw,
    services,
    /** What the services were built over (clock, catalog, change bus, secret), for checks below the API. */
    deps,
    init,
    owner,
    request,
    createKey,
    /** The app's logger (its lines are in `logLines`), for handlers built beside the app. */
    logger,
    logLines,
    responses,
    advance(ms: number) {
      now += ms;
    },
    close: cleanup,
  };
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;
