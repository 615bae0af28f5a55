import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseElf } from '../src/elf/index.js';
import { BpfError, OptionError } from '../src/errors.js';
import type { Codec } from '../src/runtime/codec.js';
import type { BpfMap } from '../src/runtime/map.js';
import { BpfObject } from '../src/runtime/object.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { UserRingBuffer } from '../src/runtime/user-ringbuf.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const OBJECT = new URL('./fixtures/user_ringbuf.bpf.o', import.meta.url).pathname;
const MAX_SEEN = 256;

/** `.bss` offsets of the fixture's globals, from the object's symbol table. */
const bss: Record<string, number> = Object.fromEntries(
  parseElf(new Uint8Array(readFileSync(OBJECT)), OBJECT)
    .symbols.filter((s) => s.name !== '')
    .map((s) => [s.name, Number(s.value)]),
);

/** `struct urec_head` plus payload: records the fixture reads. */
interface Rec {
  seq: number;
  fill: number;
}
/** 24 bytes: seq, len (24), then 16 bytes of `fill`. */
const recCodec: Codec<Rec> = {
  size: 24,
  decode: (v, o) => ({ seq: v.getUint32(o, true), fill: v.getUint8(o + 8) }),
  encode(r, v, o) {
    v.setUint32(o, r.seq, true);
    v.setUint32(o + 4, 24, true);
    for (let i = 8; i < 24; i++) v.setUint8(o + i, r.fill);
  },
};

/** A record of `len` bytes (at least 8): seq, len, then bytes, the last one {@link lastByte}. */
function bytesRecord(seq: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, seq, true);
  v.setUint32(4, len, true);
  b.fill(0xee, 8);
  b[len - 1] = lastByte(len);
  return b;
}

/** The last byte of a record of `len` bytes: its length's low byte, or the length's top byte when len is 8. */
function lastByte(len: number): number {
  return len > 8 ? len & 0xff : 0;
}

const open: Array<{ close(): void }> = [];
function track<T extends { close(): void }>(x: T): T {
  open.push(x);
  return x;
}
afterEach(() => {
  for (const x of open.splice(0).reverse()) x.close();
});

interface Drained {
  ret: number;
  seen: number;
  bad: number;
  seqs: number[];
  lens: number[];
  lasts: number[];
  exact: number[];
}

function setup(): { obj: BpfObject; map: BpfMap; drain: (max?: number) => Drained } {
  const obj = track(BpfObject.open(OBJECT));
  obj.load();
  const map = obj.maps.get('urb');
  const fd = obj.programs.get('drain')?.fd ?? -1;
  if (map === undefined || fd < 0) throw new Error('fixture lacks urb/drain');
  const ctx = new Uint8Array(4);
  const drain = (max = 1 << 30): Drained => {
    new DataView(ctx.buffer).setUint32(0, max, true);
    progTestRun(fd, { ctxIn: ctx });
    const v = obj.maps.get('.bss')?.dataView() as DataView;
    const seen = v.getUint32(bss.seen as number, true);
    const n = Math.min(seen, MAX_SEEN);
    const arr = (name: string, width: 1 | 4) =>
      [...Array(n).keys()].map((i) =>
        width === 4
          ? v.getUint32((bss[name] as number) + 4 * i, true)
          : v.getUint8((bss[name] as number) + i),
      );
    return {
      ret: Number(v.getBigInt64(bss.last_ret as number, true)),
      seen,
      bad: v.getUint32(bss.bad as number, true),
      seqs: arr('seqs', 4),
      lens: arr('lens', 4),
      lasts: arr('lasts', 1),
      exact: arr('exact', 1),
    };
  };
  return { obj, map, drain };
}

describe.runIf(requireKernel('bpf() as root', isRoot(), 'user ring buffer tests need root'))(
  'UserRingBuffer',
  () => {
    it('can be made before load and maps on first use', () => {
      const obj = track(BpfObject.open(OBJECT));
      const urb = track(new UserRingBuffer(obj.maps.get('urb') as BpfMap));
      expect(urb.size).toBe(4096);
      expect(() => urb.available()).toThrow(BpfError);
      obj.load();
      expect(urb.available()).toBe(4096);
    });

    it('delivers what was pushed, in order, each record exactly as long as pushed', () => {
      const { map, drain } = setup();
      const urb = track(new UserRingBuffer(map));
      const lens = [8, 9, 15, 16, 17, 31, 64, 100];
      lens.forEach((len, i) => {
        expect(urb.pushBytes(bytesRecord(i, len))).toBe(true);
      });
      expect(urb.available()).toBe(4096 - lens.reduce((a, l) => a + ((l + 15) & ~7), 0));
      const got = drain();
      expect(got.ret).toBe(lens.length);
      expect(got.bad).toBe(0);
      expect(got.seqs).toEqual(lens.map((_, i) => i));
      expect(got.lens).toEqual(lens);
      expect(got.lasts).toEqual(lens.map(lastByte));
      expect(got.exact).toEqual(lens.map(() => 1));
      expect(urb.available()).toBe(4096);
      expect(drain().ret).toBe(0);
    });

    it('encodes with a codec; a partial drain leaves the rest in order', () => {
      const { map, drain } = setup();
      const urb = track(new UserRingBuffer(map, recCodec));
      for (let i = 0; i < 10; i++) expect(urb.push({ seq: 100 + i, fill: i })).toBe(true);
      expect(drain(4).ret).toBe(4);
      expect(urb.available()).toBe(4096 - 6 * 32);
      const all = drain();
      expect(all.ret).toBe(6);
      expect(all.seqs).toEqual([...Array(10).keys()].map((i) => 100 + i));
      expect(all.lens).toEqual(Array(10).fill(24));
      expect(all.lasts).toEqual([...Array(10).keys()]);
    });

    it('reserve/submit/discard: the kernel skips discarded records and waits at a reserved one', () => {
      const { map, drain } = setup();
      const urb = track(new UserRingBuffer(map));
      const write = (at: number, seq: number, len: number) =>
        new Uint8Array(urb.view.buffer).set(bytesRecord(seq, len), at);
      const a = urb.reserve(16);
      const b = urb.reserve(24);
      const c = urb.reserve(8);
      write(a, 1, 16);
      write(b, 2, 24);
      write(c, 3, 8);
      urb.submit(a);
      urb.submit(c); // out of order: c waits behind b
      let got = drain();
      expect(got.ret).toBe(1);
      expect(got.seqs).toEqual([1]);
      urb.discard(b);
      got = drain();
      expect(got.ret).toBe(1);
      expect(got.seqs).toEqual([1, 3]);
      expect(got.lens).toEqual([16, 8]);
      expect(() => urb.submit(b)).toThrow(OptionError);
      expect(() => urb.discard(12345)).toThrow(OptionError);
      expect(urb.available()).toBe(4096);
    });

    it('wraps around the end of the ring many times without losing or reordering a record', () => {
      const { map, drain } = setup();
      const urb = track(new UserRingBuffer(map));
      let seq = 0;
      let drained = 0;
      let bad = 0;
      for (let round = 0; round < 40; round++) {
        // 13 records of 8 to 300 bytes, about half the ring: records regularly straddle its end.
        const lens = [...Array(13).keys()].map((i) => 8 + ((round * 31 + i * 17) % 293));
        for (const len of lens) expect(urb.pushBytes(bytesRecord(seq++, len))).toBe(true);
        const got = drain();
        expect(got.ret).toBe(lens.length);
        bad += got.bad;
        drained += got.ret;
      }
      expect(bad).toBe(0);
      expect(drained).toBe(seq);
      // The first MAX_SEEN samples were all recorded: in order.
      expect(drain().seqs).toEqual([...Array(MAX_SEEN).keys()]);
    });

    it('reports a full ring (push returns false) and pushWait resumes after the BPF side drains', async () => {
      const { map, drain } = setup();
      const urb = track(new UserRingBuffer(map));
      let seq = 0;
      while (urb.pushBytes(bytesRecord(seq, 120))) seq++;
      expect(seq).toBe(4096 / 128);
      expect(urb.available()).toBe(0);
      expect(await urb.pushBytesWait(bytesRecord(seq, 120), 50)).toBe(false);
      const waiting = urb.pushBytesWait(bytesRecord(seq, 120), 5000);
      setTimeout(() => drain(3), 30);
      const t0 = Date.now();
      expect(await waiting).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2000);
      const got = drain();
      expect(got.seqs).toEqual([...Array(seq + 1).keys()]);
    });

    it('rejects records that can never fit, wrong map types and use after close', () => {
      const { obj, map } = setup();
      const urb = new UserRingBuffer(map);
      expect(() => urb.reserve(4096)).toThrow(OptionError);
      expect(() => urb.reserve(-1)).toThrow(OptionError);
      expect(() => urb.reserve(1.5)).toThrow(OptionError);
      expect(urb.maxRecordSize).toBe(4088);
      expect(urb.reserve(4088)).toBeGreaterThan(0);
      expect(urb.reserve(0)).toBe(-1);
      expect(() => urb.push(42 as unknown as Uint8Array)).toThrow(OptionError);
      urb.close();
      urb.close();
      expect(() => urb.pushBytes(new Uint8Array(8))).toThrow(BpfError);
      expect(() => new UserRingBuffer(obj.maps.get('.bss') as BpfMap)).toThrow(OptionError);
    });

    it('leaks no FD over many rings', async () => {
      const { map } = setup();
      const before = countOpenFds();
      for (let i = 0; i < 20; i++) {
        using urb = new UserRingBuffer(map);
        urb.pushBytes(new Uint8Array(8));
        expect(await urb.waitForSpace(4088, 1)).toBe(false);
      }
      expect(countOpenFds()).toBe(before);
    });
  },
);
