/**
 * Statistics of benchmark samples: the median and the spread (min, quartiles, max) the tables report.
 *
 * @module
 */

/** What the tables and JSON report for one series of samples. */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly q1: number;
  readonly q3: number;
  readonly max: number;
}

/** The `p` quantile (0..1) of sorted `xs`, interpolating between neighbours. */
function quantile(sorted: readonly number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, quartiles and extremes of `samples` (at least one). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('no samples to summarize');
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0],
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    max: s[s.length - 1],
  };
}

/** Formats a number with about three significant digits and thousands separators for big ones. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

/** `q1–q3` of a summary, for the spread column. */
export function iqr(s: Summary): string {
  return `${fmt(s.q1)}–${fmt(s.q3)}`;
}
