/**
 * Ring buffer throughput child, run with plain `node` from bench/out/dist (compiled JavaScript, as an
 * application runs the runtime). Loads the ring buffer benchmark object; per timing, has its `produce`
 * program write RECORDS 64-byte records (BPF_PROG_TEST_RUN, untimed) and times one drain of them, raw
 * (`consumeRaw`, the callback reading the first field as the C baseline does) or typed (`consume` through the
 * generated codec CODEC_MODULE exports as `bench_record`). Warms up untimed, then prints
 * `{"raw": [records/s...], "typed": [...]}` for PER_ROUND timings of each.
 *
 *   node bench/out/dist/bench/child/ringbuf.js OBJECT CODEC_MODULE RECORDS PER_ROUND
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import type { Codec } from '../../src/runtime/codec.js';
import { BpfObject } from '../../src/runtime/object.js';
import { RingBuffer } from '../../src/runtime/ringbuf.js';
import { progTestRun } from '../../src/runtime/sys/prog.js';

const WARMUP = 20;

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
  const [object, codecModule, recordsText, perRoundText] = process.argv.slice(2);
  const records = Number(recordsText);
  const perRound = Number(perRoundText);
  if (object === undefined || codecModule === undefined || !(records > 0) || !(perRound > 0)) {
    throw new Error('usage: ringbuf.js OBJECT CODEC_MODULE RECORDS PER_ROUND');
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
      const timeOne = (consume: () => number): number => {
        produce(prog.fd, records);
        const t0 = process.hrtime.bigint();
        const n = consume();
        const ns = Number(process.hrtime.bigint() - t0);
        if (n !== records) throw new Error(`consumed ${n} of ${records} records`);
        return (records / ns) * 1e9;
      };
      const raw = (): number => timeOne(() => ring.consumeRaw(onRaw));
      const typed = (): number => timeOne(() => ring.consume(onTyped));
      for (let i = 0; i < WARMUP; i++) {
        raw();
        typed();
      }
      const result = { raw: [] as number[], typed: [] as number[] };
      for (let i = 0; i < perRound; i++) {
        result.raw.push(raw());
        result.typed.push(typed());
      }
      if (sum === 0) throw new Error('records were all zero');
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      ring.close();
    }
  } finally {
    obj.close();
  }
}

await main();
