import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_DOCS, ConfigError, loadConfig, parseDurationSeconds } from "../src/config.js";

const SECRET = "s".repeat(32);

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig defaults", () => {
  it("gives every default from an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      dataDir: resolve("data"),
      publicUrl: "http://localhost:8080",
      keyPrefix: "appkey",
      tokenPrefix: "lkt",
      jwtTtlSeconds: 3600,
      vtexJwtTtlSeconds: 86400,
      logLevel: "info",
      trustProxy: false,
      sessionTtlSeconds: 43200,
      webhookAllowPrivate: false,
      shutdownTimeoutSeconds: 10,
    });
    for (const optional of ["databaseUrl", "redisUrl", "secret", "smtpUrl"]) {
      expect(config).not.toHaveProperty(optional);
    }
  });

  it("defaults the catalog to the shipped commerce.yaml at the package root", () => {
    const { catalogFile } = loadConfig({});
    expect(catalogFile).toBe(resolve(import.meta.dirname, "..", "catalog", "commerce.yaml"));
    expect(existsSync(catalogFile)).toBe(true);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", LOG_LEVEL: " " }).port).toBe(8080);
  });

  it("derives PUBLIC_URL from PORT and drops a trailing slash from an explicit one", () => {
    expect(loadConfig({ PORT: "9000" }).publicUrl).toBe("http://localhost:9000");
    expect(loadConfig({ PUBLIC_URL: "https://keys.example.com/" }).publicUrl).toBe(
      "https://keys.example.com",
    );
    expect(loadConfig({ PUBLIC_URL: "https://example.com/lk//" }).publicUrl).toBe("https://example.com/lk");
  });

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "443",
      HOST: "::",
      DATA_DIR: "/var/lib/latchkey",
      DATABASE_URL: "postgresql://u:p@db/latchkey",
      REDIS_URL: "rediss://cache:6380",
      LATCHKEY_SECRET: SECRET,
      SMTP_URL: "smtps://mail.example.com",
      CATALOG_FILE: "my-catalog.json",
      KEY_PREFIX: "vtexappkey",
      TOKEN_PREFIX: "tk2",
      JWT_TTL: "15m",
      VTEX_JWT_TTL: "12h",
      LOG_LEVEL: "DEBUG",
      TRUST_PROXY: "1",
      SESSION_TTL: "7d",
      WEBHOOK_ALLOW_PRIVATE: "true",
    });
    expect(config).toMatchObject({
      port: 443,
      host: "::",
      dataDir: "/var/lib/latchkey",
      databaseUrl: "postgresql://u:p@db/latchkey",
      redisUrl: "rediss://cache:6380",
      secret: SECRET,
      smtpUrl: "smtps://mail.example.com",
      catalogFile: resolve("my-catalog.json"),
      keyPrefix: "vtexappkey",
      tokenPrefix: "tk2",
      jwtTtlSeconds: 900,
      vtexJwtTtlSeconds: 43200,
      logLevel: "debug",
      trustProxy: true,
      sessionTtlSeconds: 7 * 86400,
      webhookAllowPrivate: true,
    });
    expect(isAbsolute(config.catalogFile)).toBe(true);
  });
});

describe("loadConfig errors", () => {
  it.each([
    ["PORT", "abc", 'PORT: must be an integer 1-65535, got "abc"'],
    ["PORT", "70000", "PORT: must be an integer 1-65535"],
    ["PORT", "80.5", "PORT: must be an integer"],
    ["HOST", "bad host", "HOST: must be a host name"],
    [
      "DATABASE_URL",
      "mysql://db",
      'DATABASE_URL: must be a postgres:// or postgresql:// URL, got scheme "mysql"',
    ],
    ["DATABASE_URL", "not a url", "DATABASE_URL: must be a postgres:// or postgresql:// URL"],
    ["REDIS_URL", "http://cache", "REDIS_URL: must be a redis:// or rediss:// URL"],
    ["SMTP_URL", "mailto:a@b", "SMTP_URL: must be a smtp:// or smtps:// URL"],
    ["LATCHKEY_SECRET", "short", "LATCHKEY_SECRET: must be at least 32 characters, got 5"],
    ["PUBLIC_URL", "ftp://x", "PUBLIC_URL: must be an http:// or https:// URL"],
    ["PUBLIC_URL", "https://x/?a=1", "PUBLIC_URL: must be an http:// or https:// URL"],
    ["KEY_PREFIX", "App", "KEY_PREFIX: must be 2-20 lowercase letters or digits"],
    ["KEY_PREFIX", "a".repeat(21), "KEY_PREFIX:"],
    ["TOKEN_PREFIX", "tok_", "TOKEN_PREFIX: must be 2-10 lowercase letters or digits"],
    ["JWT_TTL", "30", "JWT_TTL: must be a duration of 60-86400 seconds"],
    ["JWT_TTL", "25h", "JWT_TTL: must be a duration"],
    ["JWT_TTL", "1 hour", "JWT_TTL: must be a duration"],
    ["VTEX_JWT_TTL", "25h", "VTEX_JWT_TTL: must be a duration"],
    [
      "LOG_LEVEL",
      "verbose",
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    ],
    ["TRUST_PROXY", "yes", 'TRUST_PROXY: must be true, false, 1 or 0, got "yes"'],
    ["SESSION_TTL", "31d", "SESSION_TTL: must be a duration"],
    ["SHUTDOWN_TIMEOUT", "0", "SHUTDOWN_TIMEOUT: must be a duration of 1-3600 seconds"],
    ["SHUTDOWN_TIMEOUT", "2h", "SHUTDOWN_TIMEOUT: must be a duration"],
    ["WEBHOOK_ALLOW_PRIVATE", "on", 'WEBHOOK_ALLOW_PRIVATE: must be true, false, 1 or 0, got "on"'],
    ["WORKERS", "0", 'WORKERS: must be "auto" or an integer 1-64, got "0"'],
    ["WORKERS", "65", 'WORKERS: must be "auto" or an integer 1-64, got "65"'],
    ["WORKERS", "2.5", 'WORKERS: must be "auto" or an integer 1-64, got "2.5"'],
    ["WORKERS", "-1", 'WORKERS: must be "auto" or an integer 1-64, got "-1"'],
    ["WORKERS", "many", 'WORKERS: must be "auto" or an integer 1-64, got "many"'],
  ])("names %s=%j", (name, value, message) => {
    const problems = problemsOf({ LATCHKEY_SECRET: SECRET, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it("reads SHUTDOWN_TIMEOUT as seconds or with a unit", () => {
    expect(loadConfig({ SHUTDOWN_TIMEOUT: "30" }).shutdownTimeoutSeconds).toBe(30);
    expect(loadConfig({ SHUTDOWN_TIMEOUT: "1m" }).shutdownTimeoutSeconds).toBe(60);
  });

  it("reads WORKERS: 1 by default, a count, or auto for one per core", () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ WORKERS: "" }).workers).toBe(1);
    expect(loadConfig({ WORKERS: "4" }).workers).toBe(4);
    expect(loadConfig({ WORKERS: "64" }).workers).toBe(64);
    expect(loadConfig({ WORKERS: "auto" }).workers).toBe(Math.min(availableParallelism(), 64));
    expect(loadConfig({ WORKERS: "AUTO" }).workers).toBe(Math.min(availableParallelism(), 64));
  });

  it("requires LATCHKEY_SECRET with DATABASE_URL", () => {
    expect(problemsOf({ DATABASE_URL: "postgres://db/x" })).toEqual([
      expect.stringMatching(/^LATCHKEY_SECRET: is required when DATABASE_URL is set/),
    ]);
    expect(loadConfig({ DATABASE_URL: "postgres://db/x", LATCHKEY_SECRET: SECRET }).secret).toBe(SECRET);
  });

  it("reports several bad variables at once, in one message", () => {
    const env = { PORT: "0", LOG_LEVEL: "loud", DATABASE_URL: "postgres://db", TRUST_PROXY: "maybe" };
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const { problems, message } = caught as ConfigError;
    expect(problems.map((p) => p.split(":")[0]).sort()).toEqual([
      "LATCHKEY_SECRET",
      "LOG_LEVEL",
      "PORT",
      "TRUST_PROXY",
    ]);
    for (const problem of problems) expect(message).toContain(problem);
  });

  it("never echoes secrets or URL credentials", () => {
    const problems = problemsOf({
      LATCHKEY_SECRET: "hunter2-hunter2",
      DATABASE_URL: "mysql://root:pa55word@db",
      REDIS_URL: "http://:pa55word@cache",
    });
    expect(problems.join("\n")).not.toMatch(/hunter2|pa55word/);
  });
});

describe("the result", () => {
  it("is frozen", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it("documents every variable once", () => {
    const names = CONFIG_DOCS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(["PORT", "HOST", "DATA_DIR", "LATCHKEY_SECRET", "SESSION_TTL"]),
    );
    expect(names).toHaveLength(23);
    expect(Object.isFrozen(CONFIG_DOCS)).toBe(true);
  });
});

describe("parseDurationSeconds", () => {
  it.each([
    ["3600", 3600],
    ["60", 60],
    ["45s", 45],
    ["15m", 900],
    ["1h", 3600],
    ["24h", 86400],
    ["2d", 172800],
    [" 1h ", 3600],
  ])("%j is %d seconds", (raw, seconds) => {
    expect(parseDurationSeconds(raw)).toBe(seconds);
  });

  it.each(["", "h", "1.5h", "-60", "1w", "1H0", "10 m"])("rejects %j", (raw) => {
    expect(parseDurationSeconds(raw)).toBeUndefined();
  });
});
