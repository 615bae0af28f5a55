/**
 * The benchmark suite: bpf-skel against libbpf (and bpftool) on this machine, each figure measured side by
 * side in the same run, alternating which goes first.
 *
 *   npx tsx bench/run.ts [--quick] [--json FILE] [--record] [--only ID,...]
 *
 *   --quick        fewer rounds and smaller objects: a smoke check in well under a minute
 *   --json FILE    also write the results (machine, every sample summary, ratios, goals) as JSON
 *   --record       append one row per figure to bench/RESULTS.md (full mode only)
 *   --only IDS     run only these figures: load, maps, ringbuf, idle, gen, rss
 *
 * Needs root (bpf(), mounts), clang, bpftool and libbpf-dev. Builds bench/c/*.c (bench/build.sh) and the
 * compiled runtime for the child processes (bench/tsconfig.dist.json) into bench/out/ first.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { genFigure } from './figures/gen.js';
import { loadFigure } from './figures/load.js';
import { mapsFigure } from './figures/maps.js';
import { idleFigure, ringbufFigure } from './figures/ringbuf.js';
import { rssFigure } from './figures/rss.js';
import type { BenchContext } from './lib/context.js';
import { describeMachine } from './lib/machine.js';
import { appendResults, formatTable, goalMet, machineLines, type Row, toJson } from './lib/report.js';

const FIGURES = ['load', 'maps', 'ringbuf', 'idle', 'gen', 'rss'] as const;
type FigureId = (typeof FIGURES)[number];

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'out');
const DIST = join(OUT, 'dist');

function usage(): never {
  process.stderr.write(
    'usage: npx tsx bench/run.ts [--quick] [--json FILE] [--record] [--only load,maps,...]\n',
  );
  process.exit(2);
}

function parseCli(): { quick: boolean; json?: string; record: boolean; only: FigureId[] } {
  let values: { quick?: boolean; json?: string; record?: boolean; only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean' },
        json: { type: 'string' },
        record: { type: 'boolean' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    usage();
  }
  if (values.help === true) usage();
  const only = (values.only?.split(',') ?? [...FIGURES]).map((s) => s.trim());
  for (const id of only) {
    if (!(FIGURES as readonly string[]).includes(id)) {
      process.stderr.write(`unknown figure '${id}'; known: ${FIGURES.join(', ')}\n`);
      usage();
    }
  }
  if (values.record === true && values.quick === true) {
    process.stderr.write('--record keeps full runs only; drop --quick\n');
    usage();
  }
  return {
    quick: values.quick === true,
    json: values.json,
    record: values.record === true,
    only: only as FigureId[],
  };
}

/** Builds the C baselines and the compiled runtime the child processes run. */
function prepare(ctx: BenchContext, needDist: boolean): void {
  ctx.log('building C baselines (bench/build.sh)');
  execFileSync('bash', [join(ROOT, 'bench', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (needDist) {
    ctx.log('compiling the runtime for child processes (bench/tsconfig.dist.json)');
    mkdirSync(join(DIST, 'bench', 'skel'), { recursive: true });
    try {
      execFileSync(
        process.execPath,
        [
          join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
          '-p',
          join(ROOT, 'bench', 'tsconfig.dist.json'),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (err) {
      // Type errors elsewhere in the tree still emit JavaScript; only a missing output is fatal.
      ctx.log(
        `tsc reported errors (output still used): ${String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 400)}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const opts = parseCli();
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (bpf(), bpffs mounts)');
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'bpf-skel-bench-'));
  const ctx: BenchContext = {
    root: ROOT,
    out: OUT,
    tmp,
    quick: opts.quick,
    log: (m) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`),
  };
  const rows: Row[] = [];
  const failures: string[] = [];
  try {
    prepare(
      ctx,
      opts.only.some((id) => id !== 'load'),
    );
    const svg = opts.quick ? join(OUT, 'gen-scaling.svg') : join(ROOT, 'bench', 'results', 'gen-scaling.svg');
    const run: Record<FigureId, () => Row[] | Promise<Row[]>> = {
      load: () => loadFigure(ctx),
      maps: () => mapsFigure(ctx, DIST),
      ringbuf: () => ringbufFigure(ctx, DIST),
      idle: () => idleFigure(ctx, join(DIST, 'bench', 'child', 'idle.js')),
      gen: () => genFigure(ctx, join(DIST, 'bench', 'child', 'gen.js'), svg),
      rss: () => rssFigure(ctx, DIST),
    };
    for (const id of opts.only) {
      try {
        rows.push(...(await run[id]()));
      } catch (err) {
        failures.push(`${id}: ${(err as Error).stack ?? String(err)}`);
        ctx.log(`figure ${id} FAILED: ${(err as Error).message}`);
      }
    }
    if (opts.only.includes('gen')) ctx.log(`scaling plot: ${svg}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const machine = describeMachine(ROOT);
  const date = new Date();
  const mode = opts.quick ? 'quick' : 'full';
  process.stdout.write(
    `${machineLines(machine).join('\n')}\nmode: ${mode}; medians; spread = IQR (q1–q3)\n\n`,
  );
  process.stdout.write(`${formatTable(rows)}\n`);
  const missed = rows.filter((r) => goalMet(r) === false).map((r) => r.label);
  if (missed.length > 0) process.stdout.write(`\ngoals missed: ${missed.join('; ')}\n`);
  if (opts.json !== undefined) writeFileSync(opts.json, toJson(machine, mode, rows, date));
  if (opts.record) {
    const results = join(ROOT, 'bench', 'RESULTS.md');
    appendResults(results, machine, rows, date);
    // Biome aligns markdown tables; keep the file as `npm run lint` wants it.
    execFileSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', results], {
      stdio: 'ignore',
    });
  }
  ctx.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) {
    process.stderr.write(`\nfailed figures:\n${failures.join('\n')}\n`);
    process.exitCode = 1;
  }
}

await main();
