/**
 * Figure 7: resident memory of a process with minimal.bpf.o loaded: a plain `node` process running the
 * generated skeleton (compiled, no TypeScript loader) against a C program loading it with libbpf.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSkeleton } from '../../src/gen/skeleton.js';
import { type BenchContext, cBin, fixture } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { alternate } from '../lib/rounds.js';
import { summarize } from '../lib/stats.js';
import { writeTranspiled } from '../lib/transpile.js';

interface Rss {
  before_kb: number;
  loaded_kb: number;
}

/** Figure 7 rows. `dist` is bench/out/dist (compiled runtime and children). */
export function rssFigure(ctx: BenchContext, dist: string): Row[] {
  const rounds = ctx.quick ? 2 : 7;
  ctx.log(`rss: minimal, ${rounds} rounds`);
  const object = fixture(ctx, 'minimal');
  const skel = join(dist, 'bench', 'skel', 'minimal.skel.js');
  const { code } = generateSkeleton(new Uint8Array(readFileSync(object)), {
    embed: 'inline',
    fileName: 'minimal.bpf.o',
  });
  writeTranspiled(code, skel, 'bpf-skel/runtime', '../child/runtime.js');
  const child = join(dist, 'bench', 'child', 'rss.js');
  const ours: Rss[] = [];
  const c: Rss[] = [];
  alternate(
    rounds,
    () => c.push(runJson<Rss>(cBin(ctx, 'rss'), [object])),
    () => ours.push(runJson<Rss>(process.execPath, [child, skel, 'MinimalSkel'])),
  );
  const mb = (xs: number[]): ReturnType<typeof summarize> => summarize(xs.map((kb) => kb / 1024));
  return [
    {
      id: 'rss/minimal',
      label: 'RSS with minimal.bpf.o loaded (node + skeleton vs C + libbpf)',
      unit: 'MiB',
      ours: mb(ours.map((x) => x.loaded_kb)),
      c: mb(c.map((x) => x.loaded_kb)),
      note: 'the Node runtime itself is most of it; see the next row',
    },
    {
      id: 'rss/minimal-delta',
      label: 'RSS added by opening+loading minimal (after process start)',
      unit: 'MiB',
      ours: mb(ours.map((x) => x.loaded_kb - x.before_kb)),
      c: mb(c.map((x) => x.loaded_kb - x.before_kb)),
      note: 'ours: includes importing the runtime (koffi, ELF/BTF code); C: libbpf is already mapped at start',
    },
  ];
}
