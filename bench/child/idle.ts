/**
 * Idle consumer child, run with plain `node` from bench/out/dist: loads the ring buffer benchmark object,
 * lets the process settle, then waits `MS` ms in an async `for await` over a ring that gets no records and
 * prints the process CPU time (all threads) of that window as JSON. With `--no-consumer` it waits the same
 * without a consumer: the cost of an idle Node process itself.
 *
 *   node bench/out/dist/bench/child/idle.js OBJECT MS [--no-consumer]
 *
 * @module
 */
import { BpfObject } from '../../src/runtime/object.js';
import { RingBuffer } from '../../src/runtime/ringbuf.js';

const SETTLE_MS = 300;

const [object, msText, flag] = process.argv.slice(2);
const ms = Number(msText);
if (object === undefined || !(ms > 0)) throw new Error('usage: idle.js OBJECT MS [--no-consumer]');
const sleep = (t: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, t));

const obj = BpfObject.open(object);
try {
  obj.load();
  const map = obj.maps.get('rb');
  if (map === undefined) throw new Error(`${object} has no map 'rb'`);
  const ring = new RingBuffer(map);
  let records = 0;
  const loop =
    flag === '--no-consumer'
      ? Promise.resolve()
      : (async () => {
          for await (const _ of ring) records++;
        })();
  await sleep(SETTLE_MS);
  const before = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const used = process.cpuUsage(before);
  const wall = Number(process.hrtime.bigint() - t0);
  ring.close();
  await loop;
  process.stdout.write(
    `${JSON.stringify({ bench: 'ringbuf-idle', impl: 'bpf-skel', wall_ns: wall, cpu_ns: (used.user + used.system) * 1000, records })}\n`,
  );
} finally {
  obj.close();
}
