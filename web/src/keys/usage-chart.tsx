/**
 * Verifications per day, ok stacked under denied, as an inline SVG sized to its container (so labels
 * stay legible on a phone instead of shrinking with a fixed viewBox). Screen readers get a one-line
 * summary as the image's name and every day in a visually hidden table.
 */
import { useEffect, useRef, useState } from "react";
import type { KeyUsage } from "../api";
import { plural } from "../ui/format";
import "./usage-chart.css";

const HEIGHT = 220;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 44 };
/** Minimum room for one x-axis label ("12 Mar"); the last one, aligned right, needs half again. */
const LABEL_PX = 56;

const dayLabel = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const dayLong = new Intl.DateTimeFormat("en-GB", {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});

function dateOf(day: string): Date {
  return new Date(`${day}T00:00:00Z`);
}

/** 1, 2 or 5 × 10^k: four steps that cover `max`. */
export function yTicks(max: number): number[] {
  const rough = Math.max(1, max) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? rough;
  const whole = Math.max(1, Math.ceil(step));
  return [0, 1, 2, 3, 4].map((i) => i * whole);
}

function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(240, Math.floor(entry.contentRect.width)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return { ref, width };
}

export function summarize(usage: KeyUsage): string {
  const { ok, denied } = usage.total;
  const span = `the last ${plural(usage.days.length, "day")}`;
  if (ok + denied === 0) return `No verifications in ${span}.`;
  const busiest = usage.days.reduce((best, day) =>
    day.ok + day.denied > best.ok + best.denied ? day : best,
  );
  return (
    `${plural(ok + denied, "verification")} in ${span}: ${ok.toLocaleString("en")} ok, ` +
    `${denied.toLocaleString("en")} denied. Busiest day ${dayLong.format(dateOf(busiest.date))} with ` +
    `${plural(busiest.ok + busiest.denied, "verification")}.`
  );
}

export function UsageChart({ usage }: { usage: KeyUsage }) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const summary = summarize(usage);
  const days = usage.days;
  const ticks = yTicks(Math.max(0, ...days.map((day) => day.ok + day.denied)));
  const top = ticks[ticks.length - 1] ?? 1;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const band = plotW / Math.max(1, days.length);
  const barW = Math.max(2, band * 0.7);
  const y = (value: number) => MARGIN.top + plotH - (value / top) * plotH;
  const every = Math.max(1, Math.ceil(LABEL_PX / band));

  return (
    <figure className="usage">
      <div ref={ref} className="usage-frame">
        <svg
          className="chart usage-chart"
          width={width}
          height={HEIGHT}
          viewBox={`0 0 ${width} ${HEIGHT}`}
          role="img"
          aria-label={`Verifications per day, ok and denied. ${summary}`}
        >
          {ticks.map((tick) => (
            <g key={tick} className="usage-tick">
              <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(tick)} y2={y(tick)} />
              <text x={MARGIN.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
                {tick.toLocaleString("en")}
              </text>
            </g>
          ))}
          {days.map((day, index) => {
            const x = MARGIN.left + index * band + (band - barW) / 2;
            const label = `${dayLabel.format(dateOf(day.date))}: ${day.ok} ok, ${day.denied} denied`;
            const fromEnd = days.length - 1 - index;
            return (
              <g key={day.date}>
                <title>{label}</title>
                {day.ok > 0 ? (
                  <rect className="bar-ok" x={x} width={barW} y={y(day.ok)} height={y(0) - y(day.ok)} />
                ) : null}
                {day.denied > 0 ? (
                  <rect
                    className="bar-denied"
                    x={x}
                    width={barW}
                    y={y(day.ok + day.denied)}
                    height={y(day.ok) - y(day.ok + day.denied)}
                  />
                ) : null}
                {fromEnd % every === 0 && (fromEnd === 0 || fromEnd * band >= LABEL_PX * 1.5) ? (
                  <text
                    className="usage-x"
                    x={fromEnd === 0 ? x + barW : x + barW / 2}
                    y={HEIGHT - 8}
                    textAnchor={fromEnd === 0 ? "end" : "middle"}
                  >
                    {dayLabel.format(dateOf(day.date))}
                  </text>
                ) : null}
              </g>
            );
          })}
          <line className="usage-axis" x1={MARGIN.left} x2={width - MARGIN.right} y1={y(0)} y2={y(0)} />
        </svg>
      </div>
      <figcaption>
        <ul className="legend" aria-label="Legend">
          <li>
            <span className="swatch swatch-ok" aria-hidden="true" />
            Ok (allowed)
          </li>
          <li>
            <span className="swatch swatch-denied" aria-hidden="true" />
            Denied
          </li>
        </ul>
        <p className="usage-summary">{summary}</p>
      </figcaption>
      {/* A table ignores a 1px height, so the hiding box is a div around it. */}
      <div className="visually-hidden">
        <table>
          <caption>Verifications per day (UTC), oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Ok</th>
              <th scope="col">Denied</th>
            </tr>
          </thead>
          <tbody>
            {days.map((day) => (
              <tr key={day.date}>
                <th scope="row">{dayLong.format(dateOf(day.date))}</th>
                <td>{day.ok}</td>
                <td>{day.denied}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
