/**
 * Closing the change fan-out (a server's shutdown) is not a loss of the bus: closing its own
 * connections logs nothing and marks nothing down, since the logs may be closing at the same time
 * (a line written to a closed stdout stream used to throw and crash the exiting process).
 */
import { describe, expect, it, vi } from "vitest";
import { startFanout } from "../../src/verify/change-fanout.js";
import { createChangeBus } from "../../src/verify/changes.js";
import { capturingLogger } from "../support/instances.js";
import { TEST_PG_URL } from "../support/stores.js";

const BUSES = {
  redis: { redisUrl: "redis://127.0.0.1:6379" },
  postgres: { databaseUrl: TEST_PG_URL },
};

describe.each(["redis", "postgres"] as const)("closing the %s fan-out", (kind) => {
  it("logs nothing and reports no loss once closed", async () => {
    const { logger, lines } = capturingLogger();
    const bus = createChangeBus();
    const fanout = await startFanout({ bus, logger, ...BUSES[kind], waitConnected: true });
    // Up first (a beat heard back): a loss would now be reported.
    await vi.waitFor(() => expect(bus.fanoutDown()).toBeNull(), { timeout: 5_000, interval: 20 });
    const before = lines.length;
    await fanout.close();
    // The connections' close and end events come after `close` resolves.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.slice(before).filter((line) => /fan-out/.test(line))).toEqual([]);
    expect(bus.fanoutDown()).toBeNull();
  });
});
