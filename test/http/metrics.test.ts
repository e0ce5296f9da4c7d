/**
 * `GET /metrics`: valid Prometheus exposition text with latchkey's series, counters that follow the
 * typed methods the verification path calls, and never a token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregateMetrics, createMetrics, DURATION_BUCKETS } from "../../src/metrics.js";
import { createHarness, type Harness } from "../support/harness.js";
import { tamperedLast } from "../support/tampered.js";

/** The predefined role that reads orders (SPEC §1.1). */
const OMS_READ = 10;

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses exposition text strictly: every line is a comment of a known kind or a well-formed sample. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not exposition format: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const [key, ...rest] = pair.split("=");
      labels[key as string] = rest.join("=").slice(1, -1);
    }
    const raw = sample[3] as string;
    // Prometheus reads NaN and ±Inf in any case (prom-client writes "Nan" for an empty event-loop histogram).
    const special = { nan: Number.NaN, "+inf": Number.POSITIVE_INFINITY, "-inf": Number.NEGATIVE_INFINITY };
    const value = special[raw.toLowerCase() as keyof typeof special] ?? Number(raw);
    if (Number.isNaN(value) && raw.toLowerCase() !== "nan") throw new Error(`bad value: ${line}`);
    samples.push({ name: sample[1] as string, labels, value });
  }
  return { types, samples };
}

function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  )?.value;
}

async function scrape() {
  const res = await h.request("GET", "/metrics", { as: null });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return { text: res.text, ...parseExposition(res.text) };
}

describe("GET /metrics", () => {
  it("serves exposition text with latchkey's series and the process metrics", async () => {
    const { types, samples } = await scrape();
    expect(Object.fromEntries([...types].filter(([name]) => name.startsWith("latchkey_")))).toEqual({
      latchkey_verifications_total: "counter",
      latchkey_verification_duration_seconds: "histogram",
      latchkey_key_cache_requests_total: "counter",
      latchkey_usage_flush_lag_seconds: "gauge",
      latchkey_usage_flush_total: "counter",
      latchkey_key_cache_entries: "gauge",
    });
    for (const outcome of ["allowed", "denied", "invalid", "rate_limited"]) {
      expect(sampleValue(samples, "latchkey_verifications_total", { outcome }), outcome).toBeTypeOf("number");
    }
    expect(types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(types.get("nodejs_heap_size_used_bytes")).toBe("gauge");
  });

  it("moves the counters, the histogram and the flush lag as the methods are called", async () => {
    const { metrics } = h.services;
    const before = (await scrape()).samples;
    const allowed = sampleValue(before, "latchkey_verifications_total", { outcome: "allowed" }) ?? 0;
    const count = sampleValue(before, "latchkey_verification_duration_seconds_count") ?? 0;

    metrics.verification("allowed", 0.00004);
    metrics.verification("allowed", 0.0003);
    metrics.verification("rate_limited", 0.00002);
    metrics.verification("denied", 0.5);
    metrics.cache(true);
    metrics.cache(true);
    metrics.cache(false);
    metrics.flushed(false, h.deps.clock.now());
    metrics.flushed(true, h.deps.clock.now());
    h.advance(7_500);

    const after = (await scrape()).samples;
    expect(sampleValue(after, "latchkey_verifications_total", { outcome: "allowed" })).toBe(allowed + 2);
    expect(sampleValue(after, "latchkey_verifications_total", { outcome: "rate_limited" })).toBe(1);
    expect(sampleValue(after, "latchkey_verifications_total", { outcome: "denied" })).toBe(1);
    expect(sampleValue(after, "latchkey_verifications_total", { outcome: "invalid" })).toBe(0);
    expect(sampleValue(after, "latchkey_verification_duration_seconds_count")).toBe(count + 4);
    const bucket = (le: string) =>
      sampleValue(after, "latchkey_verification_duration_seconds_bucket", { le });
    expect([bucket("0.0001"), bucket("0.0005"), bucket("0.1"), bucket("+Inf")]).toEqual([2, 3, 3, 4]);
    expect(sampleValue(after, "latchkey_verification_duration_seconds_sum")).toBeCloseTo(0.50036, 8);
    expect(sampleValue(after, "latchkey_key_cache_requests_total", { result: "hit" })).toBe(2);
    expect(sampleValue(after, "latchkey_key_cache_requests_total", { result: "miss" })).toBe(1);
    expect(sampleValue(after, "latchkey_usage_flush_total", { result: "ok" })).toBe(1);
    expect(sampleValue(after, "latchkey_usage_flush_total", { result: "error" })).toBe(1);
    expect(sampleValue(after, "latchkey_usage_flush_lag_seconds")).toBe(7.5);

    // Counts are not lost or doubled between scrapes.
    metrics.cache(false);
    const again = (await scrape()).samples;
    expect(sampleValue(again, "latchkey_key_cache_requests_total", { result: "miss" })).toBe(2);
    expect(sampleValue(again, "latchkey_verifications_total", { outcome: "allowed" })).toBe(allowed + 2);
  });

  it("counts the key states the cache holds, and moves alike for a wrong token of a key that exists and of one that does not", async () => {
    const key = await h.createKey("erp-held", [OMS_READ]);
    const latchkey = (samples: Sample[]) =>
      new Map(
        samples
          // Durations differ by timing; their count is kept.
          .filter((x) => x.name.startsWith("latchkey_") && !/_(bucket|sum)$/.test(x.name))
          .map((x) => [`${x.name}${JSON.stringify(x.labels)}`, x.value]),
      );
    const delta = (from: Map<string, number>, to: Map<string, number>) =>
      Object.fromEntries([...to].map(([name, value]) => [name, value - (from.get(name) ?? 0)]));
    // Well formed, of another key: the lookup is made.
    const wrong = (await h.createKey("erp-other", [OMS_READ])).appToken;
    const s0 = latchkey((await scrape()).samples);
    const known = await h.request("POST", "/v1/verify", {
      as: null,
      body: { appKey: key.appKey, appToken: wrong },
    });
    const s1 = latchkey((await scrape()).samples);
    const unknown = await h.request("POST", "/v1/verify", {
      as: null,
      body: { appKey: "vtexappkey-acme-NOSUCH", appToken: wrong },
    });
    const s2 = latchkey((await scrape()).samples);
    expect(known.body).toEqual(unknown.body);
    expect(known.body).toMatchObject({ valid: false, code: "INVALID_CREDENTIALS" });
    expect(delta(s0, s1)).toEqual(delta(s1, s2));
    // Both appKeys are held now (one as "no such key"); the right token adds none.
    expect(s2.get("latchkey_key_cache_entries{}")).toBe(
      (s0.get("latchkey_key_cache_entries{}") ?? Number.NaN) + 2,
    );
    const verified = await h.request("POST", "/v1/verify", {
      as: null,
      body: { appKey: key.appKey, appToken: key.appToken, resource: "ViewOrders" },
    });
    expect(verified.body).toMatchObject({ valid: true });
    expect(latchkey((await scrape()).samples).get("latchkey_key_cache_entries{}")).toBe(
      s2.get("latchkey_key_cache_entries{}"),
    );
  });

  it("never contains a token, even after calls that presented tokens", async () => {
    const key = await h.createKey("scraped");
    await h.request("GET", "/v1/me", { as: key });
    await h.request("GET", "/v1/me", {
      as: { appKey: key.appKey, appToken: tamperedLast(key.appToken) },
    });
    await h.request("POST", "/v1/credentials/revoke", { as: null, body: { tokens: ["lkt_not-a-real-one"] } });
    const { text } = await scrape();
    for (const secret of [key.appToken, h.owner.appToken, "lkt_"]) expect(text).not.toContain(secret);
  });

  it("keeps each registry apart (two servers in one process)", async () => {
    const clock = { now: () => 0 };
    const one = createMetrics({ clock, processMetrics: false });
    const two = createMetrics({ clock, processMetrics: false });
    one.verification("invalid", 0.001);
    const [first, second] = [parseExposition(await one.render()), parseExposition(await two.render())];
    expect(sampleValue(first.samples, "latchkey_verifications_total", { outcome: "invalid" })).toBe(1);
    expect(sampleValue(second.samples, "latchkey_verifications_total", { outcome: "invalid" })).toBe(0);
    expect(first.types.has("process_cpu_user_seconds_total")).toBe(false);
    const buckets = first.samples.filter((s) => s.name === "latchkey_verification_duration_seconds_bucket");
    expect(buckets.map((s) => s.labels.le)).toEqual([...DURATION_BUCKETS.map(String), "+Inf"]);
  });

  it("merges the workers' snapshots of WORKERS: counters, histograms and what each holds summed, the flush lag the largest", async () => {
    let now = 10_000;
    const clock = { now: () => now };
    const one = createMetrics({ clock, processMetrics: false });
    const two = createMetrics({ clock, processMetrics: false });
    one.verification("allowed", 0.0002);
    one.verification("allowed", 0.02);
    two.verification("allowed", 0.0002);
    two.verification("invalid", 0.0002);
    one.cache(true);
    two.cache(false);
    one.holding(() => 5);
    two.holding(() => 3);
    // `one` wrote its usage at 13 s; `two` never did, so its lag counts from its start (10 s).
    one.flushed(true, 13_000);
    now = 14_000;
    const merged = parseExposition(await aggregateMetrics([await one.snapshot(), await two.snapshot()]));
    const value = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(merged.samples, name, labels);
    expect(value("latchkey_verifications_total", { outcome: "allowed" })).toBe(3);
    expect(value("latchkey_verifications_total", { outcome: "invalid" })).toBe(1);
    expect(value("latchkey_key_cache_requests_total", { result: "hit" })).toBe(1);
    expect(value("latchkey_key_cache_requests_total", { result: "miss" })).toBe(1);
    expect(value("latchkey_verification_duration_seconds_count")).toBe(4);
    expect(value("latchkey_verification_duration_seconds_bucket", { le: "0.00025" })).toBe(3);
    expect(value("latchkey_verification_duration_seconds_bucket", { le: "+Inf" })).toBe(4);
    expect(merged.types.get("latchkey_verification_duration_seconds")).toBe("histogram");
    // What each worker holds, summed.
    expect(value("latchkey_key_cache_entries")).toBe(8);
    // The worker longest without a write: `two`, 4 s since its start.
    expect(value("latchkey_usage_flush_lag_seconds")).toBe(4);
  });

  it("renders through `render` when given (a worker asks its primary)", async () => {
    const metrics = createMetrics({
      clock: { now: () => 0 },
      processMetrics: false,
      render: async () => "merged\n",
    });
    expect(await metrics.render()).toBe("merged\n");
    // The primary does not answer: this worker's own metrics, marked as such.
    const alone = createMetrics({
      clock: { now: () => 0 },
      processMetrics: false,
      render: () => Promise.reject(new Error("the primary process did not answer within 2000 ms")),
    });
    alone.verification("allowed", 0.001);
    const text = await alone.render();
    const [first, ...rest] = text.split("\n");
    // A plain comment, which Prometheus ignores (the strict parser here knows HELP and TYPE only).
    expect(first).toBe("# latchkey: this worker's metrics only; the primary did not answer");
    expect(
      sampleValue(parseExposition(rest.join("\n")).samples, "latchkey_verifications_total", {
        outcome: "allowed",
      }),
    ).toBe(1);
  });
});
