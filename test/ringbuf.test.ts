/**
 * BPF ring buffers read through RingBuffer on the real kernel, with records made by BPF_PROG_TEST_RUN:
 * in-place decoding of every field, no loss or duplicate across ten million records of wrap-around,
 * consumers sharing one position, discarded and short records, early stops and throwing handlers,
 * waiting on a worker thread without blocking the event loop (an idle wait blocks in epoll and costs next
 * to no CPU time), async iteration with backpressure that ends on close(), RingBufferSet over several
 * rings, and no FD left behind.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import type { Codec } from '../src/runtime/codec.js';
import { BpfObject } from '../src/runtime/object.js';
import { RingBuffer, RingBufferSet } from '../src/runtime/ringbuf.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { cpuMs } from './helpers/cost.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { mapOf } from './helpers/maps.js';
import { FIXTURES } from './helpers/objects.js';
import { testScope } from './helpers/scope.js';

/** Records pushed through the ring in the wrap-around test; raise it (e.g. 10000000) for a soak run. */
// The issue asks for ten million; it takes about a second here.
const RECORDS = Number(process.env.BPF_SKEL_RINGBUF_RECORDS ?? 10_000_000);

/** `struct event` of ringbuf.bpf.c (168 bytes): the fields the checks use. */
interface Event {
  pid: number;
  ppid: number;
  exitCode: number;
  durationNs: bigint;
  comm: string;
  filename: string;
  exitEvent: boolean;
}

function cString(view: DataView, offset: number, max: number): string {
  let s = '';
  for (let i = 0; i < max; i++) {
    const c = view.getUint8(offset + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

const eventCodec: Codec<Event> = {
  size: 168,
  decode: (v, o) => ({
    pid: v.getInt32(o, true),
    ppid: v.getInt32(o + 4, true),
    exitCode: v.getUint32(o + 8, true),
    durationNs: v.getBigUint64(o + 16, true),
    comm: cString(v, o + 24, 16),
    filename: cString(v, o + 40, 127),
    exitEvent: v.getUint8(o + 167) !== 0,
  }),
  encode() {
    throw new Error('not used');
  },
};

/** `struct rec` of ringdiscard.bpf.c, of which only the first `len` bytes are submitted. */
const recHead: Codec<{ seq: number; len: number }> = {
  size: 8,
  decode: (v, o) => ({ seq: v.getUint32(o, true), len: v.getUint32(o + 4, true) }),
  encode() {
    throw new Error('not used');
  },
};

function emitter(obj: BpfObject, prog: string): (count: number, base: number) => void {
  const fd = obj.programs.get(prog)?.fd ?? -1;
  const ctx = new Uint8Array(8);
  const view = new DataView(ctx.buffer);
  return (count, base) => {
    view.setUint32(0, count, true);
    view.setUint32(4, base, true);
    progTestRun(fd, { ctxIn: ctx });
  };
}

function bssU64(obj: BpfObject, offset: number): bigint {
  return obj.maps.get('.bss')?.dataView().getBigUint64(offset, true) ?? -1n;
}

const scope = testScope();
const track = scope.track;

describe.runIf(requireKernel('bpf() as root', isRoot(), 'ring buffer tests need root'))('RingBuffer', () => {
  it('decodes records in place, in order, with every field as emitted', () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const emit = emitter(obj, 'emit_events');
    expect(rb.consume(() => {})).toBe(0);
    emit(10, 500);
    expect(rb.pending()).toBe(10 * 176);
    const got: Event[] = [];
    expect(rb.consume((e) => void got.push(e))).toBe(10);
    expect(rb.pending()).toBe(0);
    expect(got.map((e) => e.pid)).toEqual([...Array(10).keys()].map((i) => 500 + i));
    expect(got[3]).toEqual({
      pid: 503,
      ppid: 500,
      exitCode: 3,
      durationNs: 3n * 1000000007n,
      comm: 'synthetic',
      filename: '/ev3',
      exitEvent: true,
    });
  });

  it(`loses and duplicates nothing across wrap-around (${RECORDS} records through a 256 KiB ring)`, () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const emit = emitter(obj, 'emit_events');
    // 1000 records of 176 bytes are about two thirds of the ring: every few rounds a record wraps.
    const chunk = 1000;
    let expected = 0;
    let bad = 0;
    let sent = 0;
    while (sent < RECORDS) {
      const n = Math.min(chunk, RECORDS - sent);
      emit(n, sent);
      sent += n;
      rb.consumeRaw((view, offset, length) => {
        if (length !== 168 || view.getInt32(offset, true) !== expected) bad++;
        if (view.getBigUint64(offset + 16, true) !== BigInt(expected % n) * 1000000007n) bad++;
        expected++;
      });
    }
    expect(bad).toBe(0);
    expect(expected).toBe(RECORDS);
    expect(bssU64(obj, 0)).toBe(0n); // dropped
    expect(RECORDS * 176).toBeGreaterThan(rb.size * 2);
  });

  it('two consumers of one map share its position: each record is consumed once', () => {
    const obj = scope.load('ringbuf.bpf.o');
    const a = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const b = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const emit = emitter(obj, 'emit_events');
    emit(300, 0);
    const pids: number[] = [];
    expect(a.consume((e) => void pids.push(e.pid), 100)).toBe(100);
    expect(b.pending()).toBe(200 * 176);
    expect(b.consume((e) => void pids.push(e.pid))).toBe(200);
    expect(a.consume(() => {})).toBe(0);
    expect(pids).toEqual([...Array(300).keys()]);
  });

  it('skips discarded records and steps over records of every length', () => {
    const obj = scope.load('ringdiscard.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), recHead));
    const emit = emitter(obj, 'emit');
    const seqs: number[] = [];
    const lens: number[] = [];
    // 16 KiB ring, records of 16 to 40 bytes: 400 per round wraps it many times over.
    for (let round = 0; round < 50; round++) {
      emit(400, round * 400);
      rb.consumeRaw((view, offset, length) => {
        seqs.push(view.getUint32(offset, true));
        lens.push(length);
        expect(view.getUint32(offset + 4, true)).toBe(length);
      });
    }
    const want = [...Array(50 * 400).keys()].filter((i) => (i % 400) % 3 !== 1);
    expect(seqs).toEqual(want);
    expect(lens).toEqual(want.map((i) => 8 + 8 * ((i % 400) % 4)));
    expect(bssU64(obj, 0)).toBe(0n);
  });

  it('reports a record shorter than its type, skips it, and goes on', () => {
    const obj = scope.load('ringdiscard.bpf.o');
    const wide: Codec<number> = { size: 16, decode: (v, o) => v.getUint32(o, true), encode() {} };
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), wide));
    emitter(obj, 'emit')(4, 0); // records 0 (8 bytes), 2 (24), 3 (32)
    expect(() => rb.consume(() => {})).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
    const rest: number[] = [];
    rb.consume((s) => void rest.push(s));
    expect(rest).toEqual([2, 3]);
  });

  it('stops early when the handler returns false, and a throwing handler still consumes its record', () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    emitter(obj, 'emit_events')(5, 0);
    expect(rb.consume((e) => e.pid !== 1)).toBe(2);
    expect(() =>
      rb.consume(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const rest: number[] = [];
    rb.consume((e) => void rest.push(e.pid));
    expect(rest).toEqual([3, 4]);
  });

  it('poll waits on a worker thread while the event loop runs, and times out', async () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const emit = emitter(obj, 'emit_events');
    const t0 = Date.now();
    expect(await rb.poll(50, () => {})).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    setTimeout(() => emit(3, 70), 60);
    const pids: number[] = [];
    const n = await rb.poll(5000, (e) => void pids.push(e.pid));
    clearInterval(ticker);
    expect(n).toBe(3);
    expect(pids).toEqual([70, 71, 72]);
    expect(ticks).toBeGreaterThan(3); // the event loop was not blocked while waiting
  });

  it('wait resolves when records come, without consuming them; false on timeout and after close', async () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = new RingBuffer(mapOf(obj, 'rb'), eventCodec);
    const emit = emitter(obj, 'emit_events');
    expect(await rb.wait(30)).toBe(false);
    setTimeout(() => emit(2, 90), 40);
    expect(await rb.wait(5000)).toBe(true);
    expect(rb.pending()).toBe(2 * 176);
    expect(await rb.wait(0)).toBe(true);
    const pids: number[] = [];
    expect(rb.consumeRaw((view, offset) => void pids.push(view.getInt32(offset, true)))).toBe(2);
    expect(pids).toEqual([90, 91]);
    const pending = rb.wait(-1);
    setTimeout(() => rb.close(), 20);
    expect(await pending).toBe(false);
    expect(await rb.wait(-1)).toBe(false);
  });

  it('an idle poll blocks in epoll: it costs next to no CPU time', async () => {
    const rb = track(new RingBuffer(mapOf(scope.load('ringbuf.bpf.o'), 'rb')));
    // Warm up: the first wait starts the worker-thread machinery.
    await rb.poll(10, () => {});
    const t0 = Date.now();
    const cpu = await cpuMs(() => rb.poll(400, () => {}));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    // Busy polling would cost about the whole wait.
    expect(cpu).toBeLessThan(100);
  });

  it('async iteration reads only as the consumer pulls, and close() ends it', async () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb'), eventCodec));
    const emit = emitter(obj, 'emit_events');
    emit(10, 0);
    const seen: number[] = [];
    for await (const e of rb) {
      seen.push(e.pid);
      // Backpressure: records not yet pulled stay in the ring.
      expect(rb.pending()).toBe((9 - e.pid) * 176);
      if (seen.length === 4) break;
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    setTimeout(() => emit(2, 100), 30);
    setTimeout(() => rb.close(), 150);
    const t0 = Date.now();
    for await (const e of rb) seen.push(e.pid);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101]);
    expect(rb.closed).toBe(true);
    expect(rb.consume(() => {})).toBe(0);
  });

  it('without a codec yields copies of the record bytes', async () => {
    const obj = scope.load('ringbuf.bpf.o');
    const rb = track(new RingBuffer(mapOf(obj, 'rb')));
    emitter(obj, 'emit_events')(1, 42);
    const it = rb[Symbol.asyncIterator]();
    const first = await it.next();
    const bytes = first.value as Uint8Array;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.length).toBe(168);
    expect(new DataView(bytes.buffer).getInt32(0, true)).toBe(42);
    rb.close();
    expect((await it.next()).done).toBe(true);
    expect(new DataView(bytes.buffer).getInt32(0, true)).toBe(42); // a copy outlives the mapping
  });

  it('RingBufferSet serves several rings with one epoll', async () => {
    const a = scope.load('ringbuf.bpf.o');
    const b = scope.load('ringdiscard.bpf.o');
    const set = track(new RingBufferSet());
    const fromA: number[] = [];
    const fromB: number[] = [];
    set.add(new RingBuffer(mapOf(a, 'rb'), eventCodec), (e) => void fromA.push(e.pid));
    set.add(new RingBuffer(mapOf(b, 'rb'), recHead), (r) => void fromB.push(r.seq));
    expect(set.rings).toHaveLength(2);
    expect(await set.poll(20)).toBe(0);
    setTimeout(() => emitter(b, 'emit')(3, 10), 30);
    expect(await set.poll(5000)).toBe(2);
    expect(fromB).toEqual([10, 12]);
    emitter(a, 'emit_events')(2, 7);
    expect(await set.poll(5000)).toBe(2);
    expect(fromA).toEqual([7, 8]);
    const pending = set.poll(-1);
    set.close();
    expect(await pending).toBe(0);
    expect(set.rings.every((r) => r.closed)).toBe(true);
  });

  it('closes everything it opened: FD count back to where it was', async () => {
    const obj = scope.load('ringbuf.bpf.o');
    const before = countOpenFds();
    for (let i = 0; i < 3; i++) {
      const rb = new RingBuffer(mapOf(obj, 'rb'), eventCodec);
      await rb.poll(10, () => {});
      const set = new RingBufferSet().add(new RingBuffer(mapOf(obj, 'rb')), () => {});
      set.close();
      rb.close();
      rb.close();
    }
    expect(countOpenFds()).toBe(before);
  });

  it('can be made before load but read only after, and refuses maps that are not ring buffers', () => {
    const obj = track(BpfObject.open(`${FIXTURES}ringbuf.bpf.o`));
    const early = new RingBuffer(mapOf(obj, 'rb'));
    expect(() => early.pending()).toThrow(/not loaded; call load\(\) first/);
    obj.load();
    expect(early.pending()).toBe(0);
    early.close();
    expect(() => new RingBuffer(mapOf(obj, 'exec_start'))).toThrow(OptionError);
  });
});
