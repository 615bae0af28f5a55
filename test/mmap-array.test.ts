/**
 * Arrays declared `BPF_F_MMAPABLE` on the real kernel (test/fixtures/mmap_array.bpf.o): the loader maps
 * their values; `BpfMap.memory` lays them out as the kernel does (values 8-byte aligned); `ArrayMap` reads
 * and writes them there without a bpf() call, and what it writes is what the syscall path and the BPF
 * program see, and the other way round. A `BPF_F_RDONLY_PROG` array is mapped read-only and written through
 * the kernel. After close the memory is gone and access says the map is not loaded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BpfError, OptionError } from '../src/errors.js';
import type { Codec } from '../src/runtime/codec.js';
import type { BpfObject } from '../src/runtime/object.js';
import { uint64Codec } from '../src/runtime/skeleton-support.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { ArrayMap } from '../src/runtime/typed-maps.js';
import { isRoot, requireKernel } from './helpers/kernel.js';
import { le32, mapOf } from './helpers/maps.js';
import { loadFixture } from './helpers/objects.js';
import { bpfCallsDuring } from './helpers/trace.js';

interface Cell {
  hits: number;
  weight: number;
  tag: number;
  last: number;
}

/** `struct cell` (12 bytes; byte 7 is padding the codec leaves alone). */
const cellCodec: Codec<Cell> = {
  size: 12,
  decode: (v, o) => ({
    hits: v.getUint32(o, true),
    weight: v.getUint16(o + 4, true),
    tag: v.getUint8(o + 6),
    last: v.getUint32(o + 8, true),
  }),
  encode(c, v, o) {
    v.setUint32(o, c.hits, true);
    v.setUint16(o + 4, c.weight, true);
    v.setUint8(o + 6, c.tag);
    v.setUint32(o + 8, c.last, true);
  },
};

/** The bpf() commands made while `run` runs. */
function bpfCalls(run: () => void): number[] {
  return bpfCallsDuring(run).map((c) => c.cmd);
}

function bss(obj: BpfObject, offset: number): bigint {
  return mapOf(obj, '.bss').dataView().getBigUint64(offset, true);
}

describe.runIf(requireKernel('bpf() as root', isRoot(), 'loading needs root'))(
  'BPF_F_MMAPABLE arrays',
  () => {
    let obj: BpfObject | undefined;
    afterEach(() => obj?.close());

    it('are mapped at load, 8-byte aligned per element, and read and written in memory by ArrayMap', () => {
      obj = loadFixture('mmap_array.bpf.o');
      const map = mapOf(obj, 'cells');
      const memory = map.memory;
      expect(memory?.byteLength).toBe(16 * 100);
      expect(map.isWritable()).toBe(true);
      const cells = new ArrayMap(map, cellCodec);
      // Written in memory: no bpf() call, and the kernel's copy of element 7 is those bytes.
      expect(
        bpfCalls(() => {
          for (let i = 0; i < 100; i++) cells.set(i, { hits: 0, weight: i * 3, tag: i & 0xff, last: 0 });
        }),
      ).toEqual([]);
      const raw = new Uint8Array(12);
      expect(map.lookup(le32(7), raw)).toBe(true);
      expect(cellCodec.decode(new DataView(raw.buffer), 0)).toEqual({ hits: 0, weight: 21, tag: 7, last: 0 });
      expect(memory?.getUint16(7 * 16 + 4, true)).toBe(21);

      // The program sees what was written, and what it writes is read from memory, again with no bpf() call.
      progTestRun(obj.programs.get('touch')!.fd);
      expect(bss(obj, 0)).toBe(BigInt(3 * ((99 * 100) / 2)));
      let got: (Cell | undefined)[] = [];
      expect(bpfCalls(() => (got = [0, 42, 99].map((i) => cells.get(i))))).toEqual([]);
      expect(got).toEqual([
        { hits: 1, weight: 0, tag: 0, last: 0 },
        { hits: 43, weight: 126, tag: 42, last: 42 },
        { hits: 100, weight: 297, tag: 99, last: 99 },
      ]);
      // The syscall path agrees with memory.
      expect(map.lookup(le32(42), raw)).toBe(true);
      expect(cellCodec.decode(new DataView(raw.buffer), 0)).toEqual(got[1]);
    });

    it('zero the padding of a slot before a codec that leaves it writes it, as the syscall path does', () => {
      obj = loadFixture('mmap_array.bpf.o');
      const map = mapOf(obj, 'cells');
      const memory = map.memory!;
      memory.setUint8(5 * 16 + 7, 0xee);
      new ArrayMap(map, cellCodec).set(5, { hits: 1, weight: 2, tag: 3, last: 4 });
      expect(memory.getUint8(5 * 16 + 7)).toBe(0);
      expect(memory.getUint32(5 * 16, true)).toBe(1);
    });

    it('send other flags and indexes past the end to the kernel, which answers as for any array', () => {
      obj = loadFixture('mmap_array.bpf.o');
      const cells = new ArrayMap(mapOf(obj, 'cells'), cellCodec);
      const cell = { hits: 1, weight: 1, tag: 1, last: 1 };
      expect(cells.get(100)).toBeUndefined();
      expect(() => cells.get(-1)).toThrow(OptionError);
      expect(() => cells.set(100, cell)).toThrow(expect.objectContaining({ code: 'E2BIG' }));
      // BPF_NOEXIST: only the kernel knows every index of an array exists.
      expect(() => cells.set(3, cell, 1)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(bpfCalls(() => cells.set(3, cell, 2))).toEqual([]);
      expect(cells.get(3)).toEqual(cell);
    });

    it('map a BPF_F_RDONLY_PROG array for reading: ArrayMap writes it through the kernel', () => {
      obj = loadFixture('mmap_array.bpf.o');
      const map = mapOf(obj, 'ro_cells');
      expect(map.memory?.byteLength).toBe(8 * 8);
      expect(map.isWritable()).toBe(false);
      const ro = new ArrayMap(map, uint64Codec);
      // One BPF_MAP_UPDATE_ELEM; the mapping shows the new value and so does the program.
      expect(bpfCalls(() => ro.set(3, 0xabcdefn))).toEqual([2]);
      expect(map.memory?.getBigUint64(3 * 8, true)).toBe(0xabcdefn);
      expect(bpfCalls(() => expect(ro.get(3)).toBe(0xabcdefn))).toEqual([]);
      progTestRun(obj.programs.get('touch')!.fd);
      expect(bss(obj, 8)).toBe(0xabcdefn);
    });

    it('lose their memory when the object closes: access then says the map is not loaded', () => {
      obj = loadFixture('mmap_array.bpf.o');
      const map = mapOf(obj, 'cells');
      const cells = new ArrayMap(map, cellCodec);
      obj.close();
      expect(map.memory).toBeUndefined();
      expect(() => cells.get(0)).toThrow(BpfError);
      expect(() => cells.get(0)).toThrow(/not loaded/);
    });
  },
);
