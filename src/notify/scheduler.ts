/**
 * The in-server timer: runs a pass, waits `intervalMs`, runs the next. Passes never overlap (the
 * next is armed only when the previous ends), the timer is `unref()`ed so it never keeps the
 * process alive, and requests never wait on it. `stop()` cancels the timer, asks a running pass to
 * finish early (between accounts and batches) and resolves when it has.
 */
import type { Logger } from "pino";
import type { PassSummary } from "./notifier.js";

export interface SchedulerOptions {
  intervalMs: number;
  /** Delay of the first pass after start, so that start-up is not slowed by it. */
  firstDelayMs?: number;
  run(signal: AbortSignal): Promise<PassSummary>;
  logger: Logger;
}

export interface Scheduler {
  stop(): Promise<void>;
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { intervalMs, run, logger } = options;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function tick(): Promise<void> {
    try {
      const summary = await run(abort.signal);
      const { sent, retrying, failed } = summary.deliveries;
      const busy = summary.enqueued + summary.deactivated + sent + retrying + failed > 0;
      const level = summary.errors.length > 0 ? "warn" : busy ? "info" : "debug";
      logger[level]({ pass: summary }, "notifier pass");
    } catch (error) {
      logger.error({ err: error }, "notifier pass failed");
    }
  }

  function arm(delayMs: number): void {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined;
        arm(intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  arm(options.firstDelayMs ?? Math.min(intervalMs, 1_000));
  return {
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
