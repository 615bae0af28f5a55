/**
 * Figure 6: skeleton generation, `bpf-skel gen skeleton` (as a fresh Node process running the compiled
 * generator, and warm in-process) against `bpftool gen skeleton`, on fixtures and on synthetic objects
 * with 10, 100 and 1,000 programs and maps; plus the scaling plot.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { generateSkeleton } from '../../src/gen/skeleton.js';
import { buildGenObject, GEN_SIZES } from '../gen-objects.js';
import { type BenchContext, fixture } from '../lib/context.js';
import { timeProcess } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { alternate } from '../lib/rounds.js';
import { type Summary, summarize } from '../lib/stats.js';
import { lineChartSvg } from '../lib/svg.js';

interface Timing {
  readonly process: Summary;
  readonly inProcess: Summary;
  readonly bpftool: Summary;
}

/** Times both generators on `object`, alternating, `rounds` times each. */
function timeBoth(ctx: BenchContext, object: string, rounds: number, genChild: string): Timing {
  const dir = join(ctx.tmp, 'gen-out');
  mkdirSync(dir, { recursive: true });
  const name = basename(object);
  const bytes = new Uint8Array(readFileSync(object));
  const inProcess = (): number => {
    const t0 = process.hrtime.bigint();
    const out = generateSkeleton(bytes, { embed: 'auto', fileName: name });
    writeFileSync(join(dir, 'warm.skel.ts'), out.code);
    if (out.sidecar !== undefined) writeFileSync(join(dir, out.sidecar.fileName), out.sidecar.bytes);
    return Number(process.hrtime.bigint() - t0);
  };
  const bpftool = (): number => timeProcess('bpftool', ['gen', 'skeleton', object], join(dir, 'out.skel.h'));
  const s = { process: [] as number[], inProcess: [] as number[], bpftool: [] as number[] };
  inProcess();
  alternate(
    rounds,
    () => s.bpftool.push(bpftool()),
    () => {
      s.process.push(timeProcess(process.execPath, [genChild, object, dir]));
      s.inProcess.push(inProcess());
    },
  );
  const ms = (xs: number[]): Summary => summarize(xs.map((x) => x / 1e6));
  return { process: ms(s.process), inProcess: ms(s.inProcess), bpftool: ms(s.bpftool) };
}

function rows(id: string, what: string, t: Timing): Row[] {
  return [
    {
      id: `gen/${id}/process`,
      label: `gen skeleton ${what}, fresh node process`,
      unit: 'ms',
      ours: t.process,
      c: t.bpftool,
      note: 'C = bpftool gen skeleton process (both include process start)',
    },
    {
      id: `gen/${id}/in-process`,
      label: `gen skeleton ${what}, warm in-process`,
      unit: 'ms',
      ours: t.inProcess,
      c: t.bpftool,
      note: 'C = bpftool gen skeleton process',
    },
  ];
}

/** Figure 6 rows; writes the scaling plot to `svgPath`. */
export function genFigure(ctx: BenchContext, genChild: string, svgPath: string): Row[] {
  const rounds = ctx.quick ? 2 : 7;
  const sizes = ctx.quick ? GEN_SIZES.slice(0, 2) : GEN_SIZES;
  ctx.log(`gen: minimal, sections, synthetic ${sizes.join('/')}; ${rounds} rounds`);
  const out: Row[] = [];
  for (const f of ['minimal', 'sections'])
    out.push(...rows(f, `${f}.bpf.o`, timeBoth(ctx, fixture(ctx, f), rounds, genChild)));
  const scaling: { n: number; t: Timing }[] = [];
  for (const n of sizes) {
    const obj = buildGenObject(ctx.root, join(ctx.out, 'gen'), n);
    const t = timeBoth(ctx, obj.path, rounds, genChild);
    scaling.push({ n, t });
    out.push(...rows(`n${n}`, `${n} progs+maps (${Math.round(obj.bytes / 1024)} KiB)`, t));
  }
  const pts = (pick: (t: Timing) => Summary): { x: number; y: number }[] =>
    scaling.map((s) => ({ x: s.n, y: pick(s.t).median }));
  writeFileSync(
    svgPath,
    lineChartSvg(
      [
        { name: 'bpf-skel, node process', color: '#1f77b4', points: pts((t) => t.process) },
        { name: 'bpf-skel, in-process', color: '#2ca02c', points: pts((t) => t.inProcess) },
        { name: 'bpftool gen skeleton', color: '#d62728', points: pts((t) => t.bpftool) },
      ],
      {
        title: 'Skeleton generation time vs object size',
        subtitle: 'median wall time; N programs and N hash maps, each map with its own value struct',
        xLabel: 'programs (= maps) in the object',
        yLabel: 'milliseconds',
      },
    ),
  );
  return out;
}
