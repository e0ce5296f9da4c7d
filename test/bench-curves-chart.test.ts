import { describe, expect, it } from "vitest";
// @ts-expect-error: a benchmark module in plain JavaScript, without types
import { chart, summarise } from "../bench/curves-chart.mjs";

interface Run {
  phase: "size" | "workers";
  database: string;
  target: string;
  round: number;
  keys?: number;
  workers?: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  server_cpu_us_per_req: number;
  busy_before_pct: number;
  non2xx: number;
  errors: number;
}

function run(
  part: Partial<Run> & Pick<Run, "phase" | "database" | "target" | "round" | "rps" | "p99_ms">,
): Run {
  return { p50_ms: 1, server_cpu_us_per_req: 20, busy_before_pct: 0, non2xx: 0, errors: 0, ...part };
}

// Three rounds of the ceiling and two sizes on one database, then one round of the workers phase.
const runs: Run[] = [
  ...[1, 2, 3].flatMap((round) => [
    run({ phase: "size", database: "sqlite", target: "ceiling", round, rps: 80_000 + round, p99_ms: 2 }),
    run({
      phase: "size",
      database: "sqlite",
      target: "10000",
      keys: 10_000,
      round,
      rps: [40_000, 48_000, 44_000][round - 1] as number,
      p99_ms: round,
    }),
    run({
      phase: "size",
      database: "sqlite",
      target: "1000000",
      keys: 1_000_000,
      round,
      rps: 42_000,
      p99_ms: 3,
      non2xx: round === 2 ? 5 : 0,
    }),
  ]),
  run({ phase: "workers", database: "sqlite", target: "ceiling", round: 1, rps: 70_000, p99_ms: 1 }),
  run({ phase: "workers", database: "sqlite", target: "1", workers: 1, round: 1, rps: 35_000, p99_ms: 2 }),
  run({ phase: "workers", database: "sqlite", target: "2", workers: 2, round: 1, rps: 63_000, p99_ms: 4 }),
];

type Row = ReturnType<typeof summarise>[number];
const rowOf = (rows: Row[], phase: string, target: string) =>
  rows.find((r: Row) => r.phase === phase && r.target === target);

describe("bench:curves figures", () => {
  it("takes the median of the rounds and compares it with the ceiling of the same phase", () => {
    const rows = summarise(runs);
    const small = rowOf(rows, "size", "10000");
    expect(small.rps).toBe(44_000);
    expect(small.p99).toBe(2);
    expect(small.ofCeiling).toBeCloseTo(44_000 / 80_002, 6);
    expect(small.p99VsCeiling).toBe(1);
    expect(small.each).toEqual([40_000, 48_000, 44_000]);
    expect(rowOf(rows, "size", "1000000").failures).toBe(5);
    // The workers phase has a ceiling of its own (unpinned), not the size phase's.
    expect(rowOf(rows, "workers", "2").ofCeiling).toBeCloseTo(0.9, 6);
  });

  it("draws one line per database and the ceiling in each panel, with the sizes and worker counts as axes", () => {
    const svg: string = chart(summarise(runs), "2026-12-07T09:12:23.627Z");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("<title>");
    expect(svg).toContain("2026-12-07 09:12 UTC");
    // Four panels, each with the database's line and the ceiling's dashed one.
    expect(svg.match(/<polyline /g)).toHaveLength(8);
    expect(svg.match(/stroke-dasharray/g)?.length).toBeGreaterThanOrEqual(4);
    for (const label of [">10k<", ">1M<", ">1<", ">2<"]) expect(svg).toContain(label);
    expect(svg).toContain("WORKERS (1,000,000 keys");
  });

  it("leaves out the workers panels when that phase did not run", () => {
    const svg: string = chart(summarise(runs.filter((r) => r.phase === "size")), "2026-12-07T09:12:23.627Z");
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg).not.toContain("against WORKERS</text>");
    expect(svg).toContain('width="440"');
  });
});
