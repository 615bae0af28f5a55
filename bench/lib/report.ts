/**
 * Benchmark results: one row per figure (ours against the C baseline), their goals, and the three ways
 * they are written out: a text table, JSON, and rows appended to bench/RESULTS.md.
 *
 * @module
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import type { Machine } from './machine.js';
import { fmt, iqr, type Summary } from './stats.js';

/**
 * What a figure should reach: a bound on ours / C (`ratio-max` for costs, `ratio-min` for throughputs), or
 * an absolute bound on ours where a ratio means nothing (idle CPU, where both are about zero).
 */
export type Goal =
  | { readonly kind: 'ratio-max'; readonly value: number }
  | { readonly kind: 'ratio-min'; readonly value: number }
  | { readonly kind: 'abs-max'; readonly value: number };

/** One measured figure. */
export interface Row {
  /** Stable id, e.g. `load/minimal`. */
  readonly id: string;
  /** What was measured, for people. */
  readonly label: string;
  readonly unit: string;
  readonly ours: Summary;
  /** The C/libbpf (or bpftool) baseline; absent where there is none. */
  readonly c?: Summary;
  readonly goal?: Goal;
  /** What the C column is when it is not the obvious counterpart. */
  readonly note?: string;
}

/** `ours / C` of the medians, or undefined without a baseline. */
export function ratioOf(row: Row): number | undefined {
  return row.c === undefined || row.c.median === 0 ? undefined : row.ours.median / row.c.median;
}

/** Whether the row meets its goal; undefined when it has none. */
export function goalMet(row: Row): boolean | undefined {
  const g = row.goal;
  if (g === undefined) return undefined;
  if (g.kind === 'abs-max') return row.ours.median <= g.value;
  const r = ratioOf(row);
  if (r === undefined) return undefined;
  return g.kind === 'ratio-max' ? r <= g.value : r >= g.value;
}

function goalText(row: Row): string {
  const g = row.goal;
  if (g === undefined) return '';
  const met = goalMet(row);
  const mark = met === undefined ? '' : met ? ' ok' : ' MISSED';
  if (g.kind === 'abs-max') return `<= ${fmt(g.value)} ${row.unit}${mark}`;
  return `${g.kind === 'ratio-max' ? '<=' : '>='} ${g.value}x${mark}`;
}

/** The header lines naming the machine. */
export function machineLines(m: Machine): string[] {
  return [
    `machine: ${m.cpu}, ${m.cores} cores; kernel ${m.kernel}; Node ${m.node}; libbpf ${m.libbpf} (${m.bpftool}); ${m.clang}; commit ${m.commit}`,
  ];
}

/** A plain-text table of every row: medians, spread (IQR), ratio and goal. */
export function formatTable(rows: readonly Row[]): string {
  const head = ['figure', 'unit', 'ours', 'ours IQR', 'C', 'C IQR', 'ours/C', 'goal'];
  const body = rows.map((r) => {
    const ratio = ratioOf(r);
    return [
      r.label,
      r.unit,
      fmt(r.ours.median),
      iqr(r.ours),
      r.c === undefined ? '-' : fmt(r.c.median),
      r.c === undefined ? '-' : iqr(r.c),
      ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
      goalText(r),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === 1 || i === 7 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ');
  const byNote = new Map<string, string[]>();
  for (const r of rows) if (r.note !== undefined) byNote.set(r.note, [...(byNote.get(r.note) ?? []), r.id]);
  const notes = [...byNote].map(([note, ids]) => `  ${ids.join(', ')}: ${note}`);
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)]
    .concat(notes.length > 0 ? ['', 'notes:', ...notes] : [])
    .join('\n');
}

/** The JSON document `--json` writes. */
export function toJson(machine: Machine, mode: string, rows: readonly Row[], date: Date): string {
  return `${JSON.stringify(
    {
      date: date.toISOString(),
      mode,
      machine,
      figures: rows.map((r) => ({ ...r, ratio: ratioOf(r) ?? null, goalMet: goalMet(r) ?? null })),
    },
    null,
    2,
  )}\n`;
}

const RESULTS_HEADER = [
  '# Benchmark results',
  '',
  'One row per figure and recorded run of `npm run bench -- --record` (full mode only). Medians; ratio is',
  'ours / C (for records/s, higher is better; for everything else, lower). See docs/benchmarks.md.',
  '',
  '| date | commit | kernel | figure | unit | ours | C | ratio |',
  '|---|---|---|---|---|---|---|---|',
  '',
].join('\n');

/** Appends one markdown row per figure to `file`, creating it with a header first. */
export function appendResults(file: string, machine: Machine, rows: readonly Row[], date: Date): void {
  if (!existsSync(file)) writeFileSync(file, RESULTS_HEADER);
  const day = date.toISOString().slice(0, 10);
  const lines = rows.map((r) => {
    const ratio = ratioOf(r);
    const c = r.c === undefined ? '-' : fmt(r.c.median);
    const rt = ratio === undefined ? '-' : `${ratio.toFixed(2)}x`;
    return `| ${day} | ${machine.commit} | ${machine.kernel} | ${r.label} | ${r.unit} | ${fmt(r.ours.median)} | ${c} | ${rt} |`;
  });
  appendFileSync(file, `${lines.join('\n')}\n`);
}
