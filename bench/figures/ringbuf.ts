/**
 * Figures 4 and 5: ring buffer consumption of 64-byte records, bpf-skel's `RingBuffer` (raw `consumeRaw`
 * and typed `consume` with the generated codec) against libbpf's `ring_buffer__consume`; and the CPU an
 * idle async consumer burns while it waits for records that do not come.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateTypes } from '../../src/gen/skeleton.js';
import type { Codec } from '../../src/runtime/codec.js';
import { BpfObject } from '../../src/runtime/object.js';
import { RingBuffer } from '../../src/runtime/ringbuf.js';
import { progTestRun } from '../../src/runtime/sys/prog.js';
import { type BenchContext, benchObject, cBin } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';
import { writeTranspiled } from '../lib/transpile.js';

interface BenchRecord {
  seq: bigint;
  pid: number;
}
interface CRing {
  rounds: { records: number; ns: number }[];
}
interface CIdle {
  wall_ns: number;
  cpu_ns: number;
}

/** The codec `bpf-skel gen types` makes for `struct bench_record`, imported as plain JavaScript. */
async function recordCodec(ctx: BenchContext, object: string): Promise<Codec<BenchRecord>> {
  const code = generateTypes(new Uint8Array(readFileSync(object)), {
    fileName: 'ringbuf_bench.bpf.o',
    types: ['bench_record'],
  });
  const file = join(ctx.tmp, 'ringbuf_bench.types.mjs');
  // The codec imports its helpers from the runtime: here, the sources this benchmark runs (through tsx).
  const runtime = pathToFileURL(new URL('../../src/runtime/index.ts', import.meta.url).pathname).href;
  writeTranspiled(code, file, 'bpf-skel/runtime', runtime);
  const mod = (await import(pathToFileURL(file).href)) as { bench_record: Codec<BenchRecord> };
  return mod.bench_record;
}

/** Runs `produce` for `count` records; throws unless all fit. */
function produce(progFd: number, count: number): void {
  const args = new Uint8Array(8);
  new DataView(args.buffer).setUint32(0, count, true);
  const r = progTestRun(progFd, { ctxIn: args });
  if (r.retval !== count) throw new Error(`produce wrote ${r.retval} of ${count} records`);
}

/** Figure 4 rows: records/s, raw and typed. */
export async function ringbufFigure(ctx: BenchContext): Promise<Row[]> {
  const object = benchObject(ctx, 'ringbuf_bench');
  const records = 100_000;
  const rounds = ctx.quick ? 2 : 7;
  const perRound = 3;
  ctx.log(`ringbuf: ${records} records x ${perRound} x ${rounds} rounds`);
  const codec = await recordCodec(ctx, object);
  const obj = BpfObject.open(object);
  try {
    obj.load();
    const prog = obj.programs.get('produce');
    const map = obj.maps.get('rb');
    if (prog === undefined || map === undefined) throw new Error('ringbuf_bench.bpf.o lacks produce/rb');
    // One consumer for both: a second RingBuffer on the same map would keep its own consumer position.
    const ring = new RingBuffer(map, codec);
    try {
      let sum = 0;
      const onRaw = (view: DataView, offset: number): void => {
        sum += view.getUint32(offset, true);
      };
      const onTyped = (r: BenchRecord): void => {
        sum += r.pid;
      };
      const ours = { raw: [] as number[], typed: [] as number[] };
      const c: number[] = [];
      const timeOne = (consume: () => number): number => {
        produce(prog.fd, records);
        const t0 = process.hrtime.bigint();
        const n = consume();
        const ns = Number(process.hrtime.bigint() - t0);
        if (n !== records) throw new Error(`consumed ${n} of ${records} records`);
        return (records / ns) * 1e9;
      };
      const runOurs = (): void => {
        for (let i = 0; i < perRound; i++) {
          ours.raw.push(timeOne(() => ring.consumeRaw(onRaw)));
          ours.typed.push(timeOne(() => ring.consume(onTyped)));
        }
      };
      const runC = (): void => {
        const res = runJson<CRing>(cBin(ctx, 'ringbuf'), [object, String(records), String(perRound)]);
        for (const r of res.rounds) c.push((r.records / r.ns) * 1e9);
      };
      // Warm-up, untimed: the JIT needs a few drains before the loop is optimized.
      for (let i = 0; i < 3; i++) {
        timeOne(() => ring.consumeRaw(onRaw));
        timeOne(() => ring.consume(onTyped));
      }
      for (let r = 0; r < rounds; r++) {
        if (r % 2 === 0) {
          runC();
          runOurs();
        } else {
          runOurs();
          runC();
        }
      }
      if (sum === 0) throw new Error('records were all zero');
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
    } finally {
      ring.close();
    }
  } finally {
    obj.close();
  }
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
