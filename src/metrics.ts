/**
 * Prometheus metrics (`GET /metrics`), in a registry of latchkey's own (never prom-client's global
 * one, so two servers in one process, as in tests, do not mix their counts).
 *
 * The verification path calls `verification`, `cache` and `flushed` on every request, so those only
 * bump numbers in preallocated arrays: no label lookup, no allocation. The counts reach prom-client
 * when Prometheus scrapes (its `collect` hooks), and the duration histogram is a small collector of
 * its own that renders the standard `_bucket`/`_sum`/`_count` series.
 *
 * Labels are fixed words (outcomes, hit/miss, ok/error): no appKey, account or token ever becomes a
 * label, which keeps the series count constant and keeps secrets out.
 *
 * With `WORKERS` above 1 a scrape reaches one worker, which answers for the whole server: the
 * primary gathers every worker's `snapshot()` and `aggregateMetrics` merges them (counters and
 * histograms summed, the flush lag the largest, prom-client's own rules for the process metrics).
 */
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";

/** One process's metrics as data, for the primary of `WORKERS` to aggregate. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export const VERIFICATION_OUTCOMES = ["allowed", "denied", "invalid", "rate_limited"] as const;
export type VerificationOutcome = (typeof VERIFICATION_OUTCOMES)[number];

/** Upper bounds in seconds: verifications answered from the cache take well under a millisecond. */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export interface Metrics {
  /** One verification decided, and how long it took. */
  verification(outcome: VerificationOutcome, seconds: number): void;
  /** One key-state lookup answered from the cache (hit) or the store (miss). */
  cache(hit: boolean): void;
  /** One usage flush attempted at `atMs`; a successful one resets the flush lag. */
  flushed(ok: boolean, atMs: number): void;
  /**
   * How many key states the verification cache holds, read at each scrape. (Not the keys whose
   * usage counters are held: a wrong token makes a counter for a key that exists and none for one
   * that does not, so that count would tell an unauthenticated caller which appKeys exist.)
   */
  holding(cachedKeys: () => number): void;
  readonly contentType: string;
  /** The exposition text: this process's, or the whole server's when `options.render` is given. */
  render(): Promise<string>;
  /** This process's metrics as data. */
  snapshot(): Promise<MetricsSnapshot>;
}

export interface MetricsOptions {
  clock: { now(): number };
  /** prom-client's default process metrics (CPU, memory, event loop, GC); on unless turned off. */
  processMetrics?: boolean;
  /** Renders the exposition text instead of this process (a worker of `WORKERS` asks the primary). */
  render?: () => Promise<string>;
}

/** The exposition text of several processes' snapshots, merged (see the header). */
export async function aggregateMetrics(snapshots: MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots).metrics();
}

const OUTCOME_INDEX: Readonly<Record<VerificationOutcome, number>> = {
  allowed: 0,
  denied: 1,
  invalid: 2,
  rate_limited: 3,
};

export function createMetrics(options: MetricsOptions): Metrics {
  const { clock, render: whole } = options;
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const outcomes = new Float64Array(VERIFICATION_OUTCOMES.length);
  const cacheCounts = new Float64Array(2);
  const flushCounts = new Float64Array(2);
  let lastFlushAt = clock.now();
  let cachedKeys: () => number = () => 0;

  counterFrom(registry, {
    name: "latchkey_verifications_total",
    help: "Verifications decided, by outcome",
    label: "outcome",
    values: VERIFICATION_OUTCOMES,
    pending: outcomes,
  });
  counterFrom(registry, {
    name: "latchkey_key_cache_requests_total",
    help: "Key-state lookups of the verification path, answered from the cache (hit) or the store (miss)",
    label: "result",
    values: ["hit", "miss"],
    pending: cacheCounts,
  });
  counterFrom(registry, {
    name: "latchkey_usage_flush_total",
    help: "Usage-counter flushes to the database, by result",
    label: "result",
    values: ["ok", "error"],
    pending: flushCounts,
  });
  new Gauge({
    name: "latchkey_usage_flush_lag_seconds",
    help: "Seconds since the last successful usage flush (since start when none succeeded yet)",
    registers: [registry],
    // Across workers, the one that has gone longest without a write.
    aggregator: "max",
    collect() {
      this.set(Math.max(0, clock.now() - lastFlushAt) / 1000);
    },
  });
  new Gauge({
    name: "latchkey_key_cache_entries",
    help: "Key states held by the verification cache (known and unknown appKeys)",
    registers: [registry],
    aggregator: "sum",
    collect() {
      this.set(cachedKeys());
    },
  });
  const duration = new DurationHistogram(
    "latchkey_verification_duration_seconds",
    "Time to decide a verification",
    DURATION_BUCKETS,
  );
  registry.registerMetric(duration as unknown as Metric);

  return {
    verification(outcome, seconds) {
      bump(outcomes, OUTCOME_INDEX[outcome]);
      duration.observe(seconds);
    },
    cache(hit) {
      bump(cacheCounts, hit ? 0 : 1);
    },
    flushed(ok, atMs) {
      bump(flushCounts, ok ? 0 : 1);
      if (ok && atMs > lastFlushAt) lastFlushAt = atMs;
    },
    holding(read) {
      cachedKeys = read;
    },
    contentType: registry.contentType,
    // When the whole server's text cannot be had (the primary does not answer), this process's own,
    // marked as such: a scrape still succeeds, with part of the counts.
    render: whole
      ? () =>
          whole().catch(
            async () =>
              `# latchkey: this worker's metrics only; the primary did not answer\n${await registry.metrics()}`,
          )
      : () => registry.metrics(),
    snapshot: () => registry.getMetricsAsJSON() as Promise<MetricsSnapshot>,
  };
}

function bump(slots: Float64Array, index: number): void {
  slots[index] = (slots[index] ?? 0) + 1;
}

/** A labelled counter fed at scrape time from `pending` (one slot per label value, drained). */
function counterFrom(
  registry: Registry,
  spec: { name: string; help: string; label: string; values: readonly string[]; pending: Float64Array },
): void {
  const { label, values, pending } = spec;
  const counter = new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: [label],
    registers: [registry],
    collect() {
      values.forEach((value, i) => {
        const delta = pending[i] ?? 0;
        if (delta === 0) return;
        pending[i] = 0;
        this.inc({ [label]: value }, delta);
      });
    },
  });
  for (const value of values) counter.inc({ [label]: value }, 0);
}

/**
 * A histogram without labels whose `observe` only bumps numbers. It offers prom-client's Registry
 * what the registry reads from a metric (`name`, `help`, `type`, `get()`), so it is rendered
 * exactly like a prom-client Histogram.
 */
class DurationHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.sum += seconds;
    this.count += 1;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= (this.bounds[i] as number)) {
        bump(this.counts, i);
        return;
      }
    }
  }

  get() {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] =
      this.bounds.map((bound, i) => {
        cumulative += this.counts[i] ?? 0;
        return { labels: { le: bound }, value: cumulative, metricName: bucket };
      });
    values.push({ labels: { le: "+Inf" }, value: this.count, metricName: bucket });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [
        ...values,
        { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
        { labels: {}, value: this.count, metricName: `${this.name}_count` },
      ],
    };
  }
}
