import { describe, expect, it } from "vitest";
import { flushReporter } from "../../src/main.js";
import { capturingLogger } from "../support/instances.js";

const messages = (lines: string[]) =>
  lines.map((line) => JSON.parse(line) as { level: string; msg: string; failures?: number; err?: unknown });

describe("usage write failures in the log", () => {
  it("warns at the first failure of a run, then at most once a minute, and says when writes work again", () => {
    const { logger, lines } = capturingLogger();
    const told: boolean[] = [];
    const report = flushReporter(logger, (ok) => told.push(ok));
    const down = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

    report(true, 0);
    expect(lines).toHaveLength(0);
    report(false, 5_000, down);
    report(false, 10_000, down);
    report(false, 60_000, down);
    report(false, 65_000, down);
    report(true, 70_000);
    report(true, 75_000);

    expect(told).toEqual([true, false, false, false, false, true, true]);
    const logged = messages(lines);
    expect(logged.map((m) => [m.level, m.failures ?? null])).toEqual([
      ["warn", 1],
      ["warn", 4],
      ["info", 4],
    ]);
    expect(logged[0]?.msg).toMatch(/usage counts could not be written/);
    expect(JSON.stringify(logged[0]?.err)).toContain("ECONNREFUSED");
    expect(logged[2]?.msg).toBe("usage counts are written again");
  });
});
