/**
 * Ring buffer throughput child, run with plain `node` from bench/out/dist (compiled JavaScript, as an
 * application runs the runtime). Loads the ring buffer benchmark object; per timing, has its `produce`
 * program write RECORDS 64-byte records (BPF_PROG_TEST_RUN, untimed) and times one drain of them in MODE:
 *
 * - `raw`: `consumeRaw`, the callback reading `pid` (a u32 at offset 16) as the C baseline does;
 * - `inplace`: `consumeInPlace` with the generated record view, the callback reading `pid`;
 * - `decode`: `consume`, every record decoded whole by the generated codec.
 *
 * One mode per process, as an application consumes a ring one way. The codec is the module CODEC_MODULE,
 * which exports it as `bench_record`. Warms up untimed, then prints `{"rates": [records/s...]}` for
 * TIMINGS drains.
 *
 *   node bench/out/dist/bench/child/ringbuf.js OBJECT CODEC_MODULE MODE RECORDS TIMINGS
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import type { Codec } from '../../src/runtime/codec.js';
import { BpfObject } from '../../src/runtime/object.js';
import { RingBuffer } from '../../src/runtime/ringbuf.js';
import { progTestRun } from '../../src/runtime/sys/prog.js';

const WARMUP = 20;
const MODES = ['raw', 'inplace', 'decode'] as const;

interface BenchRecord {
  pid: number;
}

/** Runs `produce` for `count` records; throws unless all fit. */
function produce(progFd: number, count: number): void {
  const args = new Uint8Array(8);
  new DataView(args.buffer).setUint32(0, count, true);
  const r = progTestRun(progFd, { ctxIn: args });
  if (r.retval !== count) throw new Error(`produce wrote ${r.retval} of ${count} records`);
}

async function main(): Promise<void> {
  const [object, codecModule, mode, recordsText, timingsText] = process.argv.slice(2);
  const records = Number(recordsText);
  const timings = Number(timingsText);
  if (
    object === undefined ||
    codecModule === undefined ||
    !MODES.includes(mode as (typeof MODES)[number]) ||
    !(records > 0) ||
    !(timings > 0)
  ) {
    throw new Error(`usage: ringbuf.js OBJECT CODEC_MODULE ${MODES.join('|')} RECORDS TIMINGS`);
  }
  const { bench_record: codec } = (await import(pathToFileURL(codecModule).href)) as {
    bench_record: Codec<BenchRecord>;
  };
  const obj = BpfObject.open(object);
  try {
    obj.load();
    const prog = obj.programs.get('produce');
    const map = obj.maps.get('rb');
    if (prog === undefined || map === undefined) throw new Error(`${object} lacks produce/rb`);
    const ring = new RingBuffer(map, codec);
    try {
      let sum = 0;
      const consume: Record<(typeof MODES)[number], () => number> = {
        raw: () =>
          ring.consumeRaw((view, offset) => {
            sum += view.getUint32(offset + 16, true);
          }),
        inplace: () =>
          ring.consumeInPlace((r) => {
            sum += r.pid;
          }),
        decode: () =>
          ring.consume((r) => {
            sum += r.pid;
          }),
      };
      const drain = consume[mode as (typeof MODES)[number]];
      const timeOne = (): number => {
        produce(prog.fd, records);
        const t0 = process.hrtime.bigint();
        const n = drain();
        const ns = Number(process.hrtime.bigint() - t0);
        if (n !== records) throw new Error(`consumed ${n} of ${records} records`);
        return (records / ns) * 1e9;
      };
      for (let i = 0; i < WARMUP; i++) timeOne();
      const rates: number[] = [];
      for (let i = 0; i < timings; i++) rates.push(timeOne());
      if (sum === 0) throw new Error('records were all zero');
      process.stdout.write(`${JSON.stringify({ rates })}\n`);
    } finally {
      ring.close();
    }
  } finally {
    obj.close();
  }
}

await main();
