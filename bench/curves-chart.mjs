/**
 * The figures and chart of `curves.mjs`, apart from what runs the servers so that they can be
 * tested alone: `summarise` (medians of the rounds, ratios to the ceiling of the same rounds) and
 * `chart` (a plain SVG of four panels: req/s and p99 against keys stored and against WORKERS).
 */
import { median } from "./lib.mjs";

/** Medians of the rounds per phase, database and target, with the ceiling's of the same rounds. */
export function summarise(runs) {
  const out = [];
  const key = (r) => `${r.phase}|${r.database}|${r.target}`;
  const groups = new Map();
  for (const r of runs) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  for (const [, rs] of groups) {
    const [{ phase, database, target, keys, workers }] = rs;
    const ceiling = groups.get(`${phase}|${database}|ceiling`) ?? [];
    const rps = median(rs.map((r) => r.rps));
    const p99 = median(rs.map((r) => r.p99_ms));
    const ceilingRps = median(ceiling.map((r) => r.rps));
    const ceilingP99 = median(ceiling.map((r) => r.p99_ms));
    out.push({
      phase,
      database,
      target,
      keys,
      workers,
      rps,
      p50: median(rs.map((r) => r.p50_ms)),
      p99,
      cpuUs: median(rs.map((r) => r.server_cpu_us_per_req)),
      ofCeiling: rps / ceilingRps,
      p99VsCeiling: p99 / ceilingP99,
      each: rs.map((r) => Math.round(r.rps)),
      busy: rs.map((r) => r.busy_before_pct),
      failures: rs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    });
  }
  return out;
}

const COLOURS = { sqlite: "#1f77b4", postgres: "#d62728", ceiling: "#555" };
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v || 1));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * One panel at (x0, y0): `xs` are the category labels placed evenly (sizes on a log scale are
 * evenly spaced decades), `series` are {name, colour, dashed, values[]} aligned with `xs`.
 */
function panel({ x0, y0, w, h, title, xs, xLabel, yLabel, series }) {
  const top = y0 + 28;
  const left = x0 + 56;
  const pw = w - 72;
  const ph = h - 72;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const yMax = niceMax(Math.max(...all, 0) * 1.1);
  const px = (i) => left + (xs.length === 1 ? pw / 2 : (i * pw) / (xs.length - 1));
  const py = (v) => top + ph - (v / yMax) * ph;
  const out = [
    `<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (yMax * t) / 4;
    const y = py(v);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : +v.toFixed(2))}</text>`,
    );
  }
  for (const [i, label] of xs.entries())
    out.push(`<text x="${px(i)}" y="${top + ph + 16}" text-anchor="middle">${esc(label)}</text>`);
  out.push(
    `<line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="#333"/>`,
    `<text x="${left + pw / 2}" y="${top + ph + 34}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(${x0 + 12} ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  for (const s of series) {
    const points = s.values.map((v, i) => (Number.isFinite(v) ? [px(i), py(v)] : null)).filter(Boolean);
    if (!points.length) continue;
    out.push(
      `<polyline fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} points="${points.map((p) => p.join(",")).join(" ")}"/>`,
      ...points.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="3.5" fill="${s.colour}"/>`),
    );
  }
  return out.join("\n");
}

export function chart(report, at) {
  const sizes = [...new Set(report.filter((r) => r.phase === "size" && r.keys).map((r) => r.keys))].sort(
    (a, b) => a - b,
  );
  const workerCounts = [
    ...new Set(report.filter((r) => r.phase === "workers" && r.workers).map((r) => r.workers)),
  ].sort((a, b) => a - b);
  const databases = [...new Set(report.map((r) => r.database))];
  const pick = (phase, database, target, field) =>
    report.find((r) => r.phase === phase && r.database === database && r.target === target)?.[field];
  const seriesFor = (phase, field, xs, targetOf) => [
    ...databases.map((database) => ({
      name: database,
      colour: COLOURS[database] ?? "#2ca02c",
      values: xs.map((x) => pick(phase, database, targetOf(x), field)),
    })),
    {
      // One line: the ceiling's median over every database's rounds of this phase.
      name: "ceiling",
      colour: COLOURS.ceiling,
      dashed: true,
      values: xs.map(() => median(databases.map((database) => pick(phase, database, "ceiling", field)))),
    },
  ];
  const sizeLabels = sizes.map((k) => (k >= 1e6 ? `${k / 1e6}M` : `${k / 1e3}k`));
  const W = 440;
  const H = 260;
  const largest = sizes.at(-1) ?? 0;
  const panels = [
    { title: "/v1/authorize req/s, warm cache", field: "rps", yLabel: "req/s" },
    { title: "/v1/authorize p99 (ms)", field: "p99", yLabel: "p99 ms" },
  ];
  const body = [];
  for (const [row, p] of panels.entries()) {
    body.push(
      panel({
        x0: 0,
        y0: 40 + row * H,
        w: W,
        h: H,
        title: `${p.title} against keys stored`,
        xs: sizeLabels,
        xLabel: "keys in the database (1 worker, pinned to one core)",
        yLabel: p.yLabel,
        series: seriesFor("size", p.field, sizes, (k) => String(k)),
      }),
    );
    if (workerCounts.length)
      body.push(
        panel({
          x0: W,
          y0: 40 + row * H,
          w: W,
          h: H,
          title: `${p.title} against WORKERS`,
          xs: workerCounts.map(String),
          xLabel: `WORKERS (${largest.toLocaleString("en")} keys, unpinned, wrk on the same cores)`,
          yLabel: p.yLabel,
          series: seriesFor("workers", p.field, workerCounts, String),
        }),
      );
  }
  const legend = [
    ...databases.map((d) => ({ name: d, colour: COLOURS[d] ?? "#2ca02c" })),
    { name: "bare node:http ceiling, same rounds", colour: COLOURS.ceiling, dashed: true },
  ];
  const legendSvg = legend
    .map(
      (l, i) =>
        `<line x1="${20 + i * 200}" y1="${40 + 2 * H + 14}" x2="${48 + i * 200}" y2="${40 + 2 * H + 14}" stroke="${l.colour}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ""}/><text x="${54 + i * 200}" y="${40 + 2 * H + 18}">${esc(l.name)}</text>`,
    )
    .join("\n");
  const width = workerCounts.length ? 2 * W : W;
  const height = 40 + 2 * H + 36;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<title>latchkey /v1/authorize req/s and p99 against keys stored and against WORKERS, beside the bare node:http ceiling</title>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">latchkey /v1/authorize: medians of interleaved rounds, ${esc(at.slice(0, 16).replace("T", " "))} UTC (bench/curves.mjs)</text>
${body.join("\n")}
${legendSvg}
</svg>
`;
}
