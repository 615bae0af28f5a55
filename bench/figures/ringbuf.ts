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

/** How our consumer reads records in each row of figure 4 (see bench/child/ringbuf.ts). */
const MODES = [
  { mode: 'raw', label: 'RingBuffer.consumeRaw', goal: true },
  { mode: 'inplace', label: 'typed in place (consumeInPlace)', goal: true },
  {
    mode: 'decode',
    label: 'typed copies (consume, codec decode)',
    goal: false,
    note: 'decodes every field of every record (6 bigints, a string); C reads one',
  },
] as const;

/**
 * Figure 4 rows: records/s of each way our consumer reads records, one `node` child per way and round
 * (`dist` is bench/out/dist, the compiled runtime), alternating with the C baseline.
 */
export function ringbufFigure(ctx: BenchContext, dist: string): Row[] {
  const object = benchObject(ctx, 'ringbuf_bench');
  const records = 100_000;
  const rounds = ctx.quick ? 2 : 7;
  const perRound = 3;
  ctx.log(`ringbuf: ${records} records x ${perRound} x ${rounds} rounds, ${MODES.length} ways`);
  const codec = writeRecordCodec(ctx, object, dist);
  const child = join(dist, 'bench', 'child', 'ringbuf.js');
  const ours = new Map<string, number[]>(MODES.map((m) => [m.mode, []]));
  const c: number[] = [];
  const runOurs = (): void => {
    for (const { mode } of MODES) {
      const args = [child, object, codec, mode, String(records), String(perRound)];
      ours.get(mode)?.push(...runJson<{ rates: number[] }>(process.execPath, args).rates);
    }
  };
  const runC = (): void => {
    const res = runJson<CRing>(cBin(ctx, 'ringbuf'), [object, String(records), String(perRound)]);
    for (const r of res.rounds) c.push((r.records / r.ns) * 1e9);
  };
  alternate(rounds, runC, runOurs);
  const cs = summarize(c.map((x) => x / 1e6));
  return MODES.map((m) => ({
    id: `ringbuf/${m.mode}`,
    label: `ring buffer 64 B records, ${m.label}`,
    unit: 'M rec/s',
    ours: summarize((ours.get(m.mode) ?? []).map((x) => x / 1e6)),
    c: cs,
    ...(m.goal ? { goal: { kind: 'ratio-min' as const, value: 0.7 } } : {}),
    ...('note' in m ? { note: m.note } : {}),
  }));
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
