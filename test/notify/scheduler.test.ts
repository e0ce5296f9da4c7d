import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import type { PassSummary } from "../../src/notify/notifier.js";
import { startScheduler } from "../../src/notify/scheduler.js";

const logger = createLogger({ level: "silent" });

const summary: PassSummary = {
  accounts: 0,
  alerts: 0,
  deactivated: 0,
  enqueued: 0,
  deliveries: { sent: 0, retrying: 0, failed: 0 },
  shareLinksPurged: 0,
  requestsExpired: 0,
  errors: [],
  durationMs: 0,
};

/** A pass the test finishes by hand. */
function controllablePasses() {
  const finish: (() => void)[] = [];
  const signals: AbortSignal[] = [];
  const run = vi.fn((signal: AbortSignal) => {
    signals.push(signal);
    return new Promise<PassSummary>((resolve) => finish.push(() => resolve(summary)));
  });
  return { run, finish, signals };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("scheduler", () => {
  it("runs a pass after the first delay, then one per interval after the previous ends", async () => {
    const passes = controllablePasses();
    const scheduler = startScheduler({ intervalMs: 60_000, run: passes.run, logger });
    await vi.advanceTimersByTimeAsync(999);
    expect(passes.run).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes.run).toHaveBeenCalledTimes(1);

    // A slow pass is never overlapped.
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(passes.run).toHaveBeenCalledTimes(1);
    passes.finish[0]?.();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(passes.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes.run).toHaveBeenCalledTimes(2);
    passes.finish[1]?.();
    await scheduler.stop();
  });

  it("keeps going after a failed pass", async () => {
    const run = vi.fn().mockRejectedValueOnce(new Error("database down")).mockResolvedValue(summary);
    const scheduler = startScheduler({ intervalMs: 10_000, firstDelayMs: 0, run, logger });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(run).toHaveBeenCalledTimes(2);
    await scheduler.stop();
  });

  it("stop() aborts the running pass, waits for it, and arms nothing more", async () => {
    const passes = controllablePasses();
    const scheduler = startScheduler({ intervalMs: 10_000, firstDelayMs: 0, run: passes.run, logger });
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(passes.signals[0]?.aborted).toBe(true);
    expect(stopped).toBe(false);
    passes.finish[0]?.();
    await stopping;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(passes.run).toHaveBeenCalledTimes(1);
  });

  it("never keeps the process alive (its timer is unref'd)", async () => {
    vi.useRealTimers();
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const before = timers();
    const scheduler = startScheduler({ intervalMs: 600_000, firstDelayMs: 600_000, run: vi.fn(), logger });
    expect(timers()).toBe(before);
    await scheduler.stop();
  });
});

describe("ALERTS_INTERVAL", () => {
  it("defaults to 60 s and takes seconds or units, 5 s to 24 h", () => {
    expect(loadConfig({}).alertsIntervalSeconds).toBe(60);
    expect(loadConfig({ ALERTS_INTERVAL: "5m" }).alertsIntervalSeconds).toBe(300);
    expect(() => loadConfig({ ALERTS_INTERVAL: "2s" })).toThrow(ConfigError);
    expect(() => loadConfig({ ALERTS_INTERVAL: "2d" })).toThrow(/ALERTS_INTERVAL/);
  });
});
