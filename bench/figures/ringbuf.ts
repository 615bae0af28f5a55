/**
 * Figures 4 and 5: ring buffer consumption of 64-byte records, bpf-skel's `RingBuffer` (raw `consumeRaw`
 * and typed `consume` with the generated codec) against libbpf's `ring_buffer__consume`; and the CPU an
 * idle async consumer burns while it waits for records that do not come.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTypes } from '../../src/gen/skeleton.js';
import { type BenchContext, benchObject, cBin } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { alternate } from '../lib/rounds.js';
import { summarize } from '../lib/stats.js';
import { writeTranspiled } from '../lib/transpile.js';

interface CRing {
  rounds: { records: number; ns: number }[];
}
interface CIdle {
  wall_ns: number;
  cpu_ns: number;
}

/**
 * Writes the codec module `bpf-skel gen types` makes for `struct bench_record`, as plain JavaScript that
 * imports the compiled runtime in `dist`; returns its path.
 */
function writeRecordCodec(ctx: BenchContext, object: string, dist: string): string {
  const code = generateTypes(new Uint8Array(readFileSync(object)), {
    fileName: 'ringbuf_bench.bpf.o',
    types: ['bench_record'],
  });
  const file = join(ctx.tmp, 'ringbuf_bench.types.mjs');
  writeTranspiled(code, file, 'bpf-skel/runtime', join(dist, 'bench', 'child', 'runtime.js'));
  return file;
}

/**
 * Figure 4 rows: records/s, raw and typed. `dist` is bench/out/dist: ours run in a plain `node` child per
 * round (compiled runtime), alternating with the C baseline.
 */
export function ringbufFigure(ctx: BenchContext, dist: string): Row[] {
  const object = benchObject(ctx, 'ringbuf_bench');
  const records = 100_000;
  const rounds = ctx.quick ? 2 : 7;
  const perRound = 3;
  ctx.log(`ringbuf: ${records} records x ${perRound} x ${rounds} rounds`);
  const codec = writeRecordCodec(ctx, object, dist);
  const child = join(dist, 'bench', 'child', 'ringbuf.js');
  const ours = { raw: [] as number[], typed: [] as number[] };
  const c: number[] = [];
  const runOurs = (): void => {
    const res = runJson<{ raw: number[]; typed: number[] }>(process.execPath, [
      child,
      object,
      codec,
      String(records),
      String(perRound),
    ]);
    ours.raw.push(...res.raw);
    ours.typed.push(...res.typed);
  };
  const runC = (): void => {
    const res = runJson<CRing>(cBin(ctx, 'ringbuf'), [object, String(records), String(perRound)]);
    for (const r of res.rounds) c.push((r.records / r.ns) * 1e9);
  };
  alternate(rounds, runC, runOurs);
  const cs = summarize(c.map((x) => x / 1e6));
  return [
    {
      id: 'ringbuf/raw',
      label: 'ring buffer 64 B records, RingBuffer.consumeRaw',
      unit: 'M rec/s',
      ours: summarize(ours.raw.map((x) => x / 1e6)),
      c: cs,
      goal: { kind: 'ratio-min', value: 0.7 },
    },
    {
      id: 'ringbuf/typed',
      label: 'ring buffer 64 B records, typed consume (codec)',
      unit: 'M rec/s',
      ours: summarize(ours.typed.map((x) => x / 1e6)),
      c: cs,
      goal: { kind: 'ratio-min', value: 0.7 },
      note: 'decodes every field (6 bigints, a string); C reads one field',
    },
  ];
}

/**
 * Figure 5 row: CPU time of an idle `for await` consumer over `ms`, in a plain `node` process (`child`, the
 * compiled bench/child/idle.ts), next to libbpf's ring_buffer__poll and an idle Node process without one.
 */
export function idleFigure(ctx: BenchContext, child: string): Row[] {
  const object = benchObject(ctx, 'ringbuf_bench');
  const ms = ctx.quick ? 1000 : 2000;
  const repeats = ctx.quick ? 1 : 3;
  ctx.log(`idle: ${repeats} x ${ms} ms, each of: C, ours, node without consumer`);
  const ours: number[] = [];
  const bare: number[] = [];
  const c: number[] = [];
  const cpuMs = (r: CIdle): number => r.cpu_ns / 1e6;
  for (let i = 0; i < repeats; i++) {
    c.push(cpuMs(runJson<CIdle>(cBin(ctx, 'ringbuf'), ['--idle', object, String(ms)])));
    ours.push(cpuMs(runJson<CIdle>(process.execPath, [child, object, String(ms)])));
    bare.push(cpuMs(runJson<CIdle>(process.execPath, [child, object, String(ms), '--no-consumer'])));
  }
  const b = summarize(bare);
  return [
    {
      id: 'ringbuf/idle-cpu',
      label: `idle async consumer, ${ms / 1000} s without records`,
      unit: 'ms CPU',
      ours: summarize(ours),
      c: summarize(c),
      goal: { kind: 'abs-max', value: ms / 100 },
      note: `goal: under 1% of one core; C = ring_buffer__poll; the same node process without a consumer: ${b.median.toFixed(1)} ms`,
    },
  ];
}
