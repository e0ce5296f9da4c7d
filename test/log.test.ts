import { describe, expect, it } from "vitest";
import { closeLogs, createLogger, REDACTED } from "../src/log.js";

const SECRET = "lkt_TopSecretValue0123456789";

/** Logs `object` once and returns the emitted line, raw and parsed. */
function emit(object: object): { raw: string; line: Record<string, unknown> } {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (chunk: string) => lines.push(chunk) },
  });
  logger.info(object, "event");
  expect(lines).toHaveLength(1);
  const raw = lines[0] ?? "";
  return { raw, line: JSON.parse(raw) as Record<string, unknown> };
}

describe("createLogger", () => {
  it("emits one JSON line with level label, time and message", () => {
    const { raw, line } = emit({ appKey: "appkey-shop-ABCDEF" });
    expect(raw.endsWith("\n")).toBe(true);
    expect(line).toMatchObject({ level: "info", msg: "event", appKey: "appkey-shop-ABCDEF" });
    expect(typeof line.time).toBe("string");
  });

  it("respects the level", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "warn",
      destination: { write: (chunk: string) => lines.push(chunk) },
    });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines).toHaveLength(1);
  });

  it.each([
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-apptoken",
    "x-vtex-api-apptoken",
    "vtexidclientautcookie",
    "x-csrf-token",
  ])("redacts the %s request header", (header) => {
    const { raw, line } = emit({
      req: { method: "GET", headers: { [header]: SECRET, "x-api-appkey": "k" } },
    });
    expect(raw).not.toContain(SECRET);
    expect(line.req).toEqual({ method: "GET", headers: { [header]: REDACTED, "x-api-appkey": "k" } });
  });

  it("redacts set-cookie on responses", () => {
    const { raw } = emit({ res: { statusCode: 200, headers: { "set-cookie": SECRET } } });
    expect(raw).not.toContain(SECRET);
    expect(raw).toContain(REDACTED);
  });

  it.each(["appToken", "token", "password", "tokens"])(
    "redacts %s at the top level and one level down",
    (field) => {
      const { raw, line } = emit({ [field]: SECRET, body: { [field]: SECRET, name: "ok" } });
      expect(raw).not.toContain(SECRET);
      expect(line[field]).toBe(REDACTED);
      expect(line.body).toEqual({ [field]: REDACTED, name: "ok" });
    },
  );

  it("redacts a tokens array as a whole", () => {
    const { raw, line } = emit({ body: { tokens: [SECRET, `${SECRET}2`] } });
    expect(raw).not.toContain(SECRET);
    expect(line.body).toEqual({ tokens: REDACTED });
  });

  it("redacts VTEX login bodies", () => {
    const { raw } = emit({ body: { appkey: "vtexappkey-shop-ABCDEF", apptoken: SECRET } });
    expect(raw).not.toContain(SECRET);
    expect(raw).toContain("vtexappkey-shop-ABCDEF");
  });

  it("redacts in child loggers' bindings too", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      destination: { write: (chunk: string) => lines.push(chunk) },
    });
    logger.child({ requestId: "r1" }).info({ appToken: SECRET }, "child");
    expect(lines.join("")).not.toContain(SECRET);
    expect(lines.join("")).toContain('"requestId":"r1"');
  });
});

describe("closeLogs", () => {
  it("drops a line logged while or after stdout closes, instead of throwing", async () => {
    // What a connection's close event during shutdown does: logs after the logs were closed.
    const logger = createLogger({ level: "warn" });
    const closing = closeLogs(logger, 1_000);
    expect(() => logger.warn("a late line, while stdout closes")).not.toThrow();
    await closing;
    expect(() => logger.warn("a late line, after stdout closed")).not.toThrow();
  });
});
