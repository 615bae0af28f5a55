/**
 * The runtime support of generated skeletons (src/runtime/skeleton-support.ts), on real data: a C file of
 * initialised globals (bitfields, 128-bit integers, strings, packed and aligned arrays, scalars) is compiled
 * by clang, and the helpers must read each value clang encoded where the object's BTF and symbols say it
 * is, and write the same bytes clang wrote. The object lookups, the write guard and the hash checks run on
 * a fixture object, loaded into the kernel where the test needs it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf, BtfMemberLayout } from '../src/btf/types.js';
import { parseElf } from '../src/elf/index.js';
import { BpfError } from '../src/errors.js';
import type { BpfLink } from '../src/runtime/link.js';
import { BpfObject } from '../src/runtime/object.js';
import type { OpenOptions } from '../src/runtime/options.js';
import type { BpfProgram } from '../src/runtime/program.js';
import {
  attachAuto,
  boolCodec,
  checkLength,
  copyArray,
  embeddedObject,
  float64Codec,
  int8Codec,
  int16Codec,
  int32Codec,
  int64Codec,
  loadSkeleton,
  mapNamed,
  openSkeleton,
  programNamed,
  readBits,
  readBitsBig,
  readCString,
  readInt128,
  readObjectFile,
  Skeleton,
  uint8Codec,
  uint16Codec,
  uint32Codec,
  uint64Codec,
  verifiedObject,
  writableView,
  writeBits,
  writeBitsBig,
  writeBytes,
  writeCString,
  writeInt128,
} from '../src/runtime/skeleton-support.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', 'tmp', 'skeleton-support');
const GLOBALS = join(ROOT, 'test', 'fixtures', 'globals.bpf.o');

const SOURCE = String.raw`
struct bits { unsigned int a : 3; int b : 5; unsigned long long c : 40; long long d : 33; _Bool e : 1;
	unsigned int f : 7; int g : 32; };
struct __attribute__((packed)) packed { char c; int ints[3]; short s; };
struct bits g_bits = { .a = 5, .b = -3, .c = 0x123456789aULL, .d = -4000000000LL, .e = 1, .f = 99,
	.g = -2147483647 - 1 };
unsigned __int128 g_u128 = ((unsigned __int128)0x0123456789abcdefULL << 64) | 0xfedcba9876543210ULL;
__int128 g_s128 = -((__int128)1 << 100) - 7;
char g_ascii[16] = "kworker/0:1";
char g_utf8[16] = "caf\xc3\xa9 \xe2\x82\xac!";
char g_full[4] = "abcd";
char g_bad[8] = "\xff\xfeok";
char g_long[200] = "a path that is longer than sixty-four bytes, to take the bulk zero-fill path of the helper";
struct packed g_packed = { 'x', { 1, -2, 3 }, -5 };
double g_doubles[3] = { 1.5, -2.25, 1e300 };
unsigned long long g_u64s[2] = { 0xfedcba9876543210ULL, 1 };
short g_shorts[3] = { -1, 2, -32768 };
unsigned char g_bytes[5] = { 1, 2, 3, 250, 255 };
signed char g_s8 = -100;
unsigned char g_u8 = 200;
short g_s16 = -30000;
unsigned short g_u16 = 60000;
int g_s32 = -2000000000;
unsigned int g_u32 = 4000000000U;
long long g_s64 = -9000000000000000000LL;
unsigned long long g_u64 = 18000000000000000000ULL;
double g_f64 = -0.1;
unsigned char g_bool_byte = 2;
`;

/** `.data` of the compiled source, and each global's offset and size in it. */
let data: Uint8Array;
let view: DataView;
let btf: Btf;
const at = new Map<string, { offset: number; size: number }>();

beforeAll(() => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, 'values.bpf.c'), SOURCE);
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', 'values.bpf.c', '-o', 'values.bpf.o'], {
    cwd: DIR,
  });
  const elf = parseElf(new Uint8Array(readFileSync(join(DIR, 'values.bpf.o'))));
  const section = elf.sectionByName('.data');
  if (section === undefined) throw new Error('no .data in values.bpf.o');
  data = section.data.slice();
  view = new DataView(data.buffer);
  for (const s of elf.symbolsOf(section.index)) at.set(s.name, { offset: s.value, size: s.size });
  btf = parseBtf((elf.sectionByName('.BTF') as { data: Uint8Array }).data);
});

const offsetOf = (name: string): number => {
  const found = at.get(name);
  if (found === undefined) throw new Error(`no global ${name}`);
  return found.offset;
};
const bytesOf = (name: string): Uint8Array => {
  const { offset, size } = at.get(name) as { offset: number; size: number };
  return data.subarray(offset, offset + size);
};
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The members of struct `name` by name, with bit offsets as clang laid them out. */
function members(name: string): Map<string, BtfMemberLayout> {
  const t = btf.findByName(name, 'struct');
  if (t === undefined) throw new Error(`no struct ${name}`);
  return new Map(btf.memberLayout(t.id).map((m) => [m.name, m]));
}

describe('bitfields', () => {
  const expected: Record<string, number | bigint | boolean> = {
    a: 5,
    b: -3,
    c: 0x123456789an,
    d: -4000000000n,
    e: 1,
    f: 99,
    g: -2147483648,
  };
  const signed = new Set(['b', 'd', 'g']);

  it('reads every member of a clang-initialised struct at its BTF bit offset', () => {
    const base = offsetOf('g_bits');
    for (const [name, m] of members('bits')) {
      const byte = base + Math.floor(m.bitOffset / 8);
      const shift = m.bitOffset % 8;
      const value =
        m.bitfieldSize > 32
          ? readBitsBig(view, byte, shift, m.bitfieldSize, signed.has(name))
          : readBits(view, byte, shift, m.bitfieldSize, signed.has(name));
      expect(value, name).toBe(expected[name]);
    }
  });

  it('writes the bytes clang wrote, and leaves the other bits of each byte alone', () => {
    const size = btf.sizeOf((btf.findByName('bits', 'struct') as { id: number }).id);
    const out = new DataView(new ArrayBuffer(size));
    const ones = new DataView(new ArrayBuffer(size));
    new Uint8Array(ones.buffer).fill(0xff);
    for (const [name, m] of members('bits')) {
      const byte = Math.floor(m.bitOffset / 8);
      const shift = m.bitOffset % 8;
      const value = expected[name];
      for (const target of [out, ones]) {
        if (m.bitfieldSize > 32) writeBitsBig(target, byte, shift, m.bitfieldSize, value as bigint);
        else writeBits(target, byte, shift, m.bitfieldSize, Number(value));
      }
      // Every other field of `ones` still reads as all ones.
      for (const [other, o] of members('bits')) {
        if (other === name || o.bitOffset < m.bitOffset) continue;
        const read = readBitsBig(ones, Math.floor(o.bitOffset / 8), o.bitOffset % 8, o.bitfieldSize, false);
        expect(read, `${other} after writing ${name}`).toBe((1n << BigInt(o.bitfieldSize)) - 1n);
      }
    }
    expect(hex(new Uint8Array(out.buffer))).toBe(hex(bytesOf('g_bits')));
  });

  it('wraps out-of-range values like a C assignment', () => {
    const v = new DataView(new ArrayBuffer(8));
    writeBits(v, 0, 3, 5, 33);
    expect(readBits(v, 0, 3, 5, false)).toBe(1);
    writeBits(v, 0, 3, 5, -1);
    expect(readBits(v, 0, 3, 5, false)).toBe(31);
    expect(readBits(v, 0, 3, 5, true)).toBe(-1);
    writeBitsBig(v, 1, 2, 40, -1n);
    expect(readBitsBig(v, 1, 2, 40, false)).toBe((1n << 40n) - 1n);
    expect(readBitsBig(v, 1, 2, 40, true)).toBe(-1n);
  });
});

describe('128-bit integers', () => {
  const u128 = (0x0123456789abcdefn << 64n) | 0xfedcba9876543210n;
  const s128 = -(1n << 100n) - 7n;

  it('read the values clang encoded', () => {
    expect(readInt128(view, offsetOf('g_u128'), false)).toBe(u128);
    expect(readInt128(view, offsetOf('g_s128'), true)).toBe(s128);
    expect(readInt128(view, offsetOf('g_s128'), false)).toBe(BigInt.asUintN(128, s128));
  });

  it('write the same bytes, wrapping like a C cast', () => {
    const v = new DataView(new ArrayBuffer(16));
    writeInt128(v, 0, u128);
    expect(hex(new Uint8Array(v.buffer))).toBe(hex(bytesOf('g_u128')));
    writeInt128(v, 0, s128);
    expect(hex(new Uint8Array(v.buffer))).toBe(hex(bytesOf('g_s128')));
    writeInt128(v, 0, (1n << 128n) + 5n);
    expect(readInt128(v, 0, false)).toBe(5n);
  });
});

describe('C strings', () => {
  it('read up to the NUL, as UTF-8, and all of an array without one', () => {
    expect(readCString(view, offsetOf('g_ascii'), 16)).toBe('kworker/0:1');
    expect(readCString(view, offsetOf('g_utf8'), 16)).toBe('café €!');
    expect(readCString(view, offsetOf('g_full'), 4)).toBe('abcd');
    expect(readCString(view, offsetOf('g_bad'), 8)).toBe('\uFFFD\uFFFDok');
    expect(readCString(view, offsetOf('g_long'), 200)).toMatch(/^a path .* of the helper$/);
  });

  it('write the bytes clang wrote, zero-filling what was there', () => {
    for (const [name, text] of [
      ['g_ascii', 'kworker/0:1'],
      ['g_utf8', 'café €!'],
      ['g_full', 'abcd'],
      ['g_long', readCString(view, offsetOf('g_long'), 200)],
    ] as const) {
      const size = bytesOf(name).length;
      const v = new DataView(new Uint8Array(size + 2).fill(0x5a).buffer, 1, size);
      writeCString(v, 0, size, text);
      expect(hex(new Uint8Array(v.buffer, 1, size)), name).toBe(hex(bytesOf(name)));
      expect(new Uint8Array(v.buffer)[size + 1], `${name}: byte after the field`).toBe(0x5a);
    }
  });

  it('agree with TextDecoder and TextEncoder on random bytes and text, at every alignment', () => {
    const pick = (weights: readonly (() => number)[]): number =>
      weights[Math.floor(Math.random() * weights.length)]();
    const byte = () =>
      pick([
        () => 0x20 + Math.floor(Math.random() * 0x5f),
        () => 0,
        () => 0x80 + Math.floor(Math.random() * 0x80),
      ]);
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const chars = ['a', 'Z', '~', ' ', 'é', '€', '😀', '\u{7f}'];
    for (let n = 0; n < 3000; n++) {
      const length = Math.floor(Math.random() * 40);
      const offset = Math.floor(Math.random() * 4);
      const bytes = new Uint8Array(offset + length + 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = n % 3 === 0 ? byte() : 0x20 + (i % 0x5f);
      if (n % 3 === 1 && length > 0) bytes[offset + Math.floor(Math.random() * length)] = 0;
      const field = bytes.subarray(offset, offset + length);
      const end = field.indexOf(0);
      const v = new DataView(bytes.buffer);
      const expected = decoder.decode(end === -1 ? field : field.subarray(0, end));
      expect(readCString(v, offset, length), `bytes ${hex(field)}`).toBe(expected);

      let text = '';
      for (let k = Math.floor(Math.random() * 12); k > 0; k--)
        text += chars[Math.floor(Math.random() * chars.length)];
      const utf8 = encoder.encode(text);
      if (utf8.length > length) {
        expect(() => writeCString(v, offset, length, text)).toThrow(RangeError);
        continue;
      }
      writeCString(v, offset, length, text);
      const want = new Uint8Array(length);
      want.set(utf8);
      expect(hex(bytes.subarray(offset, offset + length)), JSON.stringify(text)).toBe(hex(want));
      expect(readCString(v, offset, length)).toBe(text);
    }
  });

  it('refuse text longer than the array in UTF-8 bytes, and fields outside the view', () => {
    const v = new DataView(new ArrayBuffer(8));
    expect(() => writeCString(v, 0, 4, 'abcde')).toThrow(/string of more than 4 UTF-8 bytes: "abcde"/);
    // Two UTF-16 units, six UTF-8 bytes.
    expect(() => writeCString(v, 0, 4, '€€')).toThrow(RangeError);
    expect(() => writeCString(v, 0, 4, 'a€€')).toThrow(RangeError);
    writeCString(v, 0, 4, '€');
    expect(readCString(v, 0, 4)).toBe('€');
    expect(() => writeCString(v, 6, 4, 'a')).toThrow(/outside the view/);
    expect(() => writeCString(v, -1, 4, 'a')).toThrow(/outside the view/);
  });
});

describe('arrays', () => {
  it('copy typed arrays out, whether or not they are aligned in the buffer', () => {
    // The same bytes one byte further into a buffer: what is aligned in one view is not in the other.
    const shifted = new Uint8Array(data.length + 1);
    shifted.set(data, 1);
    const odd = new DataView(shifted.buffer, 1);
    const packed = offsetOf('g_packed');
    expect([view.byteOffset + packed + 1, odd.byteOffset + packed + 1].some((x) => x % 4 !== 0)).toBe(true);
    for (const v of [view, odd]) {
      expect([...copyArray(Int32Array, v, packed + 1, 3)]).toEqual([1, -2, 3]);
      expect([...copyArray(Int16Array, v, packed + 13, 1)]).toEqual([-5]);
      expect([...copyArray(Float64Array, v, offsetOf('g_doubles'), 3)]).toEqual([1.5, -2.25, 1e300]);
      expect([...copyArray(BigUint64Array, v, offsetOf('g_u64s'), 2)]).toEqual([0xfedcba9876543210n, 1n]);
      expect([...copyArray(Int16Array, v, offsetOf('g_shorts'), 3)]).toEqual([-1, 2, -32768]);
      expect([...copyArray(Uint8Array, v, offsetOf('g_bytes'), 5)]).toEqual([1, 2, 3, 250, 255]);
    }
  });

  it('return copies: later writes to the source do not show', () => {
    const v = new DataView(data.slice().buffer);
    const copy = copyArray(Uint8Array, v, offsetOf('g_bytes'), 5);
    v.setUint8(offsetOf('g_bytes'), 77);
    expect(copy[0]).toBe(1);
    expect(copy.buffer).not.toBe(v.buffer);
    expect(copy.byteLength).toBe(5);
  });

  it('refuse arrays outside the view', () => {
    expect(() => copyArray(Uint32Array, view, data.length - 4, 2)).toThrow(/outside the view/);
    expect(() => copyArray(Uint8Array, view, -1, 1)).toThrow(/outside the view/);
  });

  it('write typed arrays as clang lays them out, zero-filling the elements not given', () => {
    const size = bytesOf('g_shorts').length;
    const v = new DataView(new Uint8Array(size).fill(0xee).buffer);
    writeBytes(v, 0, size, new Int16Array([-1, 2, -32768]));
    expect(hex(new Uint8Array(v.buffer))).toBe(hex(bytesOf('g_shorts')));
    writeBytes(v, 0, size, new Int16Array([-1]));
    expect([...new Int16Array(v.buffer)]).toEqual([-1, 0, 0]);
    const part = new Float64Array([0, 1.5, -2.25, 1e300]).subarray(1);
    const d = new DataView(new ArrayBuffer(24));
    writeBytes(d, 0, 24, part);
    expect(hex(new Uint8Array(d.buffer))).toBe(hex(bytesOf('g_doubles')));
    expect(() => writeBytes(v, 0, size, new Int16Array(4))).toThrow(/8 bytes does not fit in 6 bytes/);
    expect(() => writeBytes(v, 2, size, new Int16Array(1))).toThrow(/outside the view/);
  });

  it('check tuple lengths', () => {
    expect(() => checkLength([1, 2, 3], 3)).not.toThrow();
    expect(() => checkLength([1, 2, 3, 4], 3)).toThrow(/4 elements does not fit in 3/);
  });
});

describe('scalar codecs', () => {
  const cases = [
    ['g_s8', int8Codec, -100],
    ['g_u8', uint8Codec, 200],
    ['g_s16', int16Codec, -30000],
    ['g_u16', uint16Codec, 60000],
    ['g_s32', int32Codec, -2000000000],
    ['g_u32', uint32Codec, 4000000000],
    ['g_s64', int64Codec, -9000000000000000000n],
    ['g_u64', uint64Codec, 18000000000000000000n],
    ['g_f64', float64Codec, -0.1],
  ] as const;

  it('decode the values clang encoded and encode the same bytes', () => {
    for (const [name, codec, value] of cases) {
      expect(codec.size, name).toBe(bytesOf(name).length);
      expect(codec.decode(view, offsetOf(name)), name).toBe(value);
      const v = new DataView(new ArrayBuffer(codec.size + 3), 3);
      (codec.encode as (x: number | bigint, v: DataView, o: number) => void)(value, v, 0);
      expect(hex(new Uint8Array(v.buffer, 3)), name).toBe(hex(bytesOf(name)));
    }
  });

  it('read any non-zero byte as true and write 0 or 1', () => {
    expect(boolCodec.decode(view, offsetOf('g_bool_byte'))).toBe(true);
    const v = new DataView(new ArrayBuffer(1));
    boolCodec.encode(true, v, 0);
    expect(v.getUint8(0)).toBe(1);
    boolCodec.encode(false, v, 0);
    expect(v.getUint8(0)).toBe(0);
  });
});

describe('object checks', () => {
  const bytes = new Uint8Array(readFileSync(GLOBALS));
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  it('accept the recorded bytes and refuse others with EBADELF, naming the file', () => {
    expect(verifiedObject(bytes, sha256, 'globals.bpf.o')).toBe(bytes);
    const changed = bytes.slice();
    changed[100] ^= 1;
    const err = (() => {
      try {
        verifiedObject(changed, sha256, 'globals.bpf.o');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'EBADELF', command: 'open skeleton' });
    expect((err as Error).message).toMatch(
      /^globals\.bpf\.o has SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}: regenerate/,
    );
  });

  it('decode an embedded object into a plain, fresh Uint8Array', () => {
    const base64 = Buffer.from(bytes).toString('base64');
    const a = embeddedObject(base64, sha256, 'globals.bpf.o');
    const b = embeddedObject(base64, sha256, 'globals.bpf.o');
    expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
    expect(a).toEqual(bytes);
    expect(a.buffer).not.toBe(b.buffer);
    expect(() => embeddedObject(base64.slice(0, -8), sha256, 'globals.bpf.o')).toThrow(/regenerate/);
  });

  it('read the object beside the skeleton, with a typed error when it cannot', () => {
    expect(readObjectFile(pathToFileURL(GLOBALS), sha256, 'globals.bpf.o')).toEqual(bytes);
    const missing = pathToFileURL(join(DIR, 'missing.bpf.o'));
    expect(() => readObjectFile(missing, sha256, 'missing.bpf.o')).toThrow(BpfError);
    expect(() => readObjectFile(missing, sha256, 'missing.bpf.o')).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        message: expect.stringMatching(/^cannot read missing\.bpf\.o/),
      }),
    );
    expect(() => readObjectFile(pathToFileURL(DIR), sha256, 'x.bpf.o')).toThrow(
      expect.objectContaining({ code: 'EISDIR' }),
    );
  });
});

describe('object lookups', () => {
  it('find maps and programs by name, and say which one is missing', () => {
    const obj = BpfObject.open(GLOBALS);
    try {
      expect(mapNamed(obj, '.rodata')).toBe(obj.maps.get('.rodata'));
      expect(programNamed(obj, 'copy_globals')).toBe(obj.programs.get('copy_globals'));
      expect(() => mapNamed(obj, 'nope')).toThrow(
        expect.objectContaining({ code: 'ENOENT', message: 'the object has no map "nope"' }),
      );
      expect(() => programNamed(obj, 'nope')).toThrow(
        expect.objectContaining({ code: 'ENOENT', message: 'the object has no program "nope"' }),
      );
    } finally {
      obj.close();
    }
  });

  it('attach nothing for a program not loaded or not auto-attached', () => {
    const obj = BpfObject.open(GLOBALS);
    try {
      const prog = programNamed(obj, 'copy_globals');
      expect(prog.autoattach).toBe(false);
      expect(attachAuto(prog)).toBeUndefined();
      prog.autoattach = true;
      prog.autoload = false;
      expect(attachAuto(prog)).toBeUndefined();
    } finally {
      obj.close();
    }
  });

  it.runIf(requireKernel('bpf()', isRoot(), 'loading needs root'))(
    'let globals be written before load, and .rodata not after',
    () => {
      const elf = parseElf(new Uint8Array(readFileSync(GLOBALS)));
      const symbol = (name: string) => elf.symbols.find((s) => s.name === name)?.value as number;
      // cfg.flags: 8 bytes into struct config.
      const flags = symbol('cfg') + 8;
      const obj = BpfObject.open(GLOBALS, { bpfTokenPath: '' });
      try {
        const rodata = mapNamed(obj, '.rodata');
        writableView(rodata, 'cfg').setUint32(flags, 9, true);
        obj.load();
        expect(rodata.dataView().getUint32(flags, true)).toBe(9);
        expect(() => writableView(rodata, 'cfg')).toThrow(
          expect.objectContaining({
            code: 'EPERM',
            message: expect.stringMatching(/cannot write "cfg": .* read-only/),
          }),
        );
        writableView(mapNamed(obj, '.data'), 'data_u64').setBigUint64(symbol('data_u64'), 5n, true);
        expect(mapNamed(obj, '.data').dataView().getBigUint64(symbol('data_u64'), true)).toBe(5n);
      } finally {
        obj.close();
      }
    },
  );
});

/** Programs of attach_trace.bpf.o a generated skeleton of it would type (a subset is enough here). */
interface TraceProgs {
  readonly count_raw_tp: BpfProgram;
  readonly count_uprobe: BpfProgram;
  readonly dump_task: BpfProgram;
}

interface TraceLinks {
  count_raw_tp: BpfLink | undefined;
  count_uprobe: BpfLink | undefined;
  dump_task: BpfLink | undefined;
}

const TRACE = join(ROOT, 'test', 'fixtures', 'attach_trace.bpf.o');

/**
 * A skeleton class written the way the generator writes them: raw_tp and the task iterator attach by
 * section name; the bare `uprobe` names no target, so forcing its `autoattach` makes `attach()` fail after
 * the other two succeeded.
 */
class TraceSkel extends Skeleton<TraceProgs, TraceLinks> {
  static created: BpfObject[] = [];

  private constructor(obj: BpfObject) {
    super(
      obj,
      {
        count_raw_tp: programNamed(obj, 'count_raw_tp'),
        count_uprobe: programNamed(obj, 'count_uprobe'),
        dump_task: programNamed(obj, 'dump_task'),
      },
      { count_raw_tp: undefined, count_uprobe: undefined, dump_task: undefined },
      ['count_raw_tp', 'dump_task', 'count_uprobe'],
      ['dump_task', 'count_uprobe', 'count_raw_tp'],
    );
    TraceSkel.created.push(obj);
    // Only the three programs above; the others need hooks this kernel refuses (tp_btf) or tracefs.
    for (const [name, prog] of obj.programs) prog.autoload = name in this.progs;
    const rodata = mapNamed(obj, '.rodata');
    const elf = parseElf(new Uint8Array(readFileSync(TRACE)));
    const tgid = elf.symbols.find((sym) => sym.name === 'target_tgid')?.value as number;
    writableView(rodata, 'target_tgid').setInt32(tgid, process.pid, true);
  }

  static open(opts?: OpenOptions): TraceSkel {
    return openSkeleton(readFileSync(TRACE), opts, 'trace', (obj) => new TraceSkel(obj));
  }

  static openAndLoad(opts?: OpenOptions): TraceSkel {
    return loadSkeleton(TraceSkel.open(opts));
  }

  /** `raw_tp_hits` of .bss: syscalls of this process seen by count_raw_tp. */
  get rawTpHits(): bigint {
    const elf = parseElf(new Uint8Array(readFileSync(TRACE)));
    const offset = elf.symbols.find((sym) => sym.name === 'raw_tp_hits')?.value as number;
    return mapNamed(this.obj, '.bss').dataView().getBigUint64(offset, true);
  }
}

describe('Skeleton, openSkeleton, loadSkeleton', () => {
  it('open names the object unless the options do, and closes it when the subclass constructor throws', () => {
    const named = TraceSkel.open();
    expect(named.obj.name).toBe('trace');
    named.destroy();
    const renamed = TraceSkel.open({ objectName: 'other' });
    expect(renamed.obj.name).toBe('other');
    renamed.destroy();
    let opened: BpfObject | undefined;
    const failure = new Error('does not match');
    expect(() =>
      openSkeleton(readFileSync(TRACE), undefined, 'trace', (obj) => {
        opened = obj;
        throw failure;
      }),
    ).toThrow(failure);
    expect(() => opened?.load()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it.runIf(requireKernel('bpf()', isRoot(), 'loading needs root'))(
    'openAndLoad destroys the skeleton when loading fails, leaking no FD',
    () => {
      const before = countOpenFds();
      const bad = (): { load(): void; destroy(): void } => {
        const obj = BpfObject.open(join(ROOT, 'test', 'fixtures', 'bad_verifier.bpf.o'), {
          bpfTokenPath: '',
        });
        return { load: () => obj.load(), destroy: vi.fn(() => obj.close()) };
      };
      const skel = bad();
      expect(() => loadSkeleton(skel)).toThrow(expect.objectContaining({ name: 'VerifierError' }));
      expect(skel.destroy).toHaveBeenCalledTimes(1);
      expect(countOpenFds()).toBe(before);
      const good = TraceSkel.openAndLoad({ bpfTokenPath: '' });
      expect(good.obj.loaded).toBe(true);
      good.destroy();
      expect(countOpenFds()).toBe(before);
    },
  );

  it.runIf(requireKernel('bpf()', isRoot(), 'attaching needs root'))(
    'attach makes working links, keeps links already set, and detach releases them last program first',
    () => {
      const before = countOpenFds();
      const skel = TraceSkel.openAndLoad({ bpfTokenPath: '' });
      try {
        skel.attach();
        const { count_raw_tp: raw, dump_task: iter } = skel.links;
        expect(raw?.detached).toBe(false);
        expect(iter?.detached).toBe(false);
        expect(skel.links.count_uprobe).toBeUndefined();
        const hits = skel.rawTpHits;
        readFileSync(TRACE); // syscalls of this process
        expect(skel.rawTpHits).toBeGreaterThan(hits);
        // A second attach() keeps the links it finds.
        skel.attach();
        expect(skel.links.count_raw_tp).toBe(raw);
        expect(skel.links.dump_task).toBe(iter);
        // A link set by hand is released too, in the order of the `linked` list.
        const own = skel.progs.dump_task.attach();
        const displaced = iter as BpfLink;
        skel.links.dump_task = own;
        displaced.detach();
        const spies = [own, raw as BpfLink].map((link) => vi.spyOn(link, 'detach'));
        skel.detach();
        expect(spies.map((spy) => spy.mock.calls.length)).toEqual([1, 1]);
        expect(spies[0].mock.invocationCallOrder[0]).toBeLessThan(spies[1].mock.invocationCallOrder[0]);
        expect(own.detached && raw?.detached).toBe(true);
        expect(skel.links).toEqual({
          count_raw_tp: undefined,
          count_uprobe: undefined,
          dump_task: undefined,
        });
        const after = skel.rawTpHits;
        readFileSync(TRACE);
        expect(skel.rawTpHits).toBe(after);
      } finally {
        skel.destroy();
      }
      expect(countOpenFds()).toBe(before);
    },
  );

  it.runIf(requireKernel('bpf()', isRoot(), 'attaching needs root'))(
    'attach detaches what it attached when a program fails to attach, and rethrows',
    () => {
      const before = countOpenFds();
      const skel = TraceSkel.openAndLoad({ bpfTokenPath: '' });
      try {
        skel.progs.count_uprobe.autoattach = true;
        const made: BpfLink[] = [];
        for (const prog of [skel.progs.count_raw_tp, skel.progs.dump_task]) {
          const attach = prog.attach.bind(prog);
          vi.spyOn(prog, 'attach').mockImplementation(() => {
            const link = attach();
            made.push(link);
            return link;
          });
        }
        expect(() => skel.attach()).toThrow(
          expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/names no target/) }),
        );
        expect(made).toHaveLength(2);
        expect(made.every((link) => link.detached)).toBe(true);
        expect(skel.links).toEqual({
          count_raw_tp: undefined,
          count_uprobe: undefined,
          dump_task: undefined,
        });
        // The skeleton stays usable: without the failing program, attach() succeeds.
        skel.progs.count_uprobe.autoattach = false;
        skel.attach();
        expect(skel.links.count_raw_tp?.detached).toBe(false);
      } finally {
        skel.destroy();
      }
      expect(countOpenFds()).toBe(before);
    },
  );

  it.runIf(requireKernel('bpf()', isRoot(), 'attaching needs root'))(
    'destroy is idempotent and using disposes: links detached, object closed, FDs back',
    () => {
      const before = countOpenFds();
      let link: BpfLink | undefined;
      let obj: BpfObject | undefined;
      {
        using skel = TraceSkel.openAndLoad({ bpfTokenPath: '' });
        skel.attach();
        link = skel.links.count_raw_tp;
        obj = skel.obj;
        expect(countOpenFds()).toBeGreaterThan(before);
      }
      expect(link?.detached).toBe(true);
      expect(obj?.loaded).toBe(false);
      expect(countOpenFds()).toBe(before);
      const skel = TraceSkel.openAndLoad({ bpfTokenPath: '' });
      skel.attach();
      skel.destroy();
      expect(() => skel.destroy()).not.toThrow();
      skel[Symbol.dispose]();
      expect(skel.links.count_raw_tp).toBeUndefined();
      expect(() => skel.load()).toThrow(expect.objectContaining({ code: 'EBADF' }));
      expect(countOpenFds()).toBe(before);
    },
  );
});
