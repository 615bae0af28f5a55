/**
 * Perf event arrays read through PerfBuffer on the real kernel, with samples made on a chosen CPU by
 * BPF_PROG_TEST_RUN: per-CPU order across wrap-around of a one-page ring, raw bytes and lost-sample
 * records, waiting on a worker thread (an idle wait blocks in epoll and costs next to no CPU time), async
 * iteration that ends on close(), and the map slots and FDs it fills and gives back.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import type { Codec } from '../src/runtime/codec.js';
import type { BpfMap } from '../src/runtime/map.js';
import type { BpfObject } from '../src/runtime/object.js';
import { PerfBuffer, PerfEventArray } from '../src/runtime/perfbuf.js';
import { TestRunFlag } from '../src/runtime/sys/consts.js';
import { onlineCpus } from '../src/runtime/sys/cpus.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { cpuMs } from './helpers/cost.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { mapOf } from './helpers/maps.js';
import { testScope } from './helpers/scope.js';

/** The first 16 bytes of `struct perf_sample` (perfbuf.bpf.c); every third sample is 56 bytes. */
interface Sample {
  seq: number;
  cpu: number;
  value: bigint;
}
const sampleCodec: Codec<Sample> = {
  size: 16,
  decode: (v, o) => ({
    seq: v.getUint32(o, true),
    cpu: v.getUint32(o + 4, true),
    value: v.getBigUint64(o + 8, true),
  }),
  encode() {
    throw new Error('not used');
  },
};

const scope = testScope();

function setup(): { obj: BpfObject; map: BpfMap; emit: (count: number, base: number, cpu: number) => void } {
  const obj = scope.load('perfbuf.bpf.o');
  const map = mapOf(obj, 'samples');
  const fd = obj.programs.get('emit_samples')?.fd ?? -1;
  const args = new BigUint64Array(2);
  const emit = (count: number, base: number, cpu: number): void => {
    args[0] = BigInt(count);
    args[1] = BigInt(base);
    progTestRun(fd, { ctxIn: new Uint8Array(args.buffer), flags: TestRunFlag.RUN_ON_CPU, cpu });
  };
  return { obj, map, emit };
}

function failed(obj: BpfObject): bigint {
  return obj.maps.get('.bss')?.dataView().getBigUint64(0, true) ?? -1n;
}

describe.runIf(requireKernel('bpf() as root', isRoot(), 'perf buffer tests need root'))('PerfBuffer', () => {
  it('reads samples per CPU, in order, across wrap-around of a one-page ring', () => {
    const { obj, map, emit } = setup();
    const pb = new PerfBuffer(map, sampleCodec, { pageCount: 1 });
    scope.track(pb);
    const cpus = onlineCpus();
    expect(pb.cpus).toEqual(cpus);
    const next = new Map(cpus.map((c) => [c, 0]));
    let bad = 0;
    // 60 samples of 32 or 72 bytes per round fill about two thirds of 4 KiB: records wrap at varying offsets.
    for (let round = 0; round < 300; round++) {
      const cpu = cpus[round % cpus.length] as number;
      const base = next.get(cpu) as number;
      emit(60, base, cpu);
      pb.consume((s, from) => {
        const want = next.get(from) as number;
        if (from !== cpu || s.cpu !== cpu || s.seq !== want || s.value !== BigInt(want) * 3n) bad++;
        next.set(from, want + 1);
      });
      expect(next.get(cpu)).toBe(base + 60);
    }
    expect(bad).toBe(0);
    expect(pb.lost).toBe(0);
    expect(failed(obj)).toBe(0n);
  });

  it('hands out raw bytes including the long samples, and counts lost samples', () => {
    const { obj, map, emit } = setup();
    const pb = new PerfBuffer(map, undefined, { pageCount: 1, cpus: [0] });
    scope.track(pb);
    const lengths: number[] = [];
    emit(3, 0, 0);
    pb.consumeRaw((view, offset, length) => {
      lengths.push(length);
      if (length >= 56) expect(view.getUint8(offset + 55)).toBe(2); // tail[39] = seq
    });
    // Raw sizes are padded so that u32 size + data is 8-byte aligned.
    expect(lengths).toEqual([20, 20, 60]);
    emit(1000, 0, 0); // far more than 4 KiB: the kernel drops the rest
    let got = 0;
    pb.consume(() => got++);
    const dropped = failed(obj);
    expect(dropped).toBeGreaterThan(0n);
    emit(1, 5000, 0); // the next sample after room is made comes with a LOST record
    const lost: number[] = [];
    pb.consume(
      () => got++,
      (n, cpu) => lost.push(n, cpu),
    );
    expect(lost).toEqual([Number(dropped), 0]);
    expect(pb.lost).toBe(Number(dropped));
    expect(got + Number(dropped)).toBe(1001);
  });

  it('poll waits on a worker thread; async iteration ends on close()', async () => {
    const { map, emit } = setup();
    const pb = new PerfEventArray(map).open(sampleCodec);
    scope.track(pb);
    expect(await pb.poll(30, () => {})).toBe(0);
    setTimeout(() => emit(2, 10, 0), 30);
    const seen: number[] = [];
    expect(await pb.poll(5000, (s) => seen.push(s.seq))).toBe(2);
    expect(seen).toEqual([10, 11]);
    setTimeout(() => emit(3, 20, 0), 30);
    setTimeout(() => pb.close(), 200);
    const t0 = Date.now();
    for await (const s of pb) seen.push(s.seq);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(seen).toEqual([10, 11, 20, 21, 22]);
  });

  it('wait resolves when samples come, without consuming them; false on timeout and after close', async () => {
    const { map, emit } = setup();
    const pb = new PerfEventArray(map).open(sampleCodec);
    expect(await pb.wait(30)).toBe(false);
    setTimeout(() => emit(2, 40, 0), 30);
    expect(await pb.wait(5000)).toBe(true);
    expect(await pb.wait(0)).toBe(true);
    const seen: number[] = [];
    expect(pb.consumeRaw((view, offset) => void seen.push(view.getUint32(offset, true)))).toBe(2);
    expect(seen).toEqual([40, 41]);
    expect(await pb.wait(0)).toBe(false);
    const pending = pb.wait(-1);
    setTimeout(() => pb.close(), 20);
    expect(await pending).toBe(false);
  });

  it('an idle poll blocks in epoll: it costs next to no CPU time', async () => {
    const { map } = setup();
    const pb = scope.track(new PerfBuffer(map));
    // Warm up: the first wait starts the worker-thread machinery.
    await pb.poll(10, () => {});
    const t0 = Date.now();
    const cpu = await cpuMs(() => pb.poll(400, () => {}));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    // Busy polling would cost about the whole wait.
    expect(cpu).toBeLessThan(100);
  });

  it('fills and empties the map slots and closes every FD', () => {
    const { map } = setup();
    const arr = new PerfEventArray(map);
    expect(arr.length).toBeGreaterThanOrEqual(onlineCpus().length);
    const before = countOpenFds();
    const pb = new PerfBuffer(map, sampleCodec);
    expect(countOpenFds()).toBe(before + 1 + pb.cpus.length);
    pb.close();
    pb.close();
    expect(countOpenFds()).toBe(before);
    expect(arr.delete(0)).toBe(false); // close() emptied the slot
    expect(() => new PerfBuffer(map, sampleCodec, { pageCount: 3 })).toThrow(OptionError);
    expect(() => new PerfBuffer(map, sampleCodec, { cpus: [4096] })).toThrow(/no slot/);
    expect(countOpenFds()).toBe(before);
  });
});
