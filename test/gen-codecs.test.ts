/**
 * Generated codecs, run for real: a C file with every kind of member the type mapping knows is compiled by
 * clang, its types are generated, imported and exercised. Layout is checked against clang's BTF (member
 * offsets and sizes); values round-trip (decode(encode(x)) equals x) on random inputs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf } from '../src/btf/types.js';
import { parseElf } from '../src/elf/index.js';
import { CodecEmitter } from '../src/gen/codecs.js';
import { generateTypes, RESERVED_MODULE_NAMES } from '../src/gen/skeleton.js';
import { fieldsOf, MAX_TUPLE, planTypes, shapeOf, type TypePlan } from '../src/gen/types.js';
import type { Codec } from '../src/runtime/codec.js';

const DIR = join(import.meta.dirname, 'tmp', 'gen-codecs');

const SOURCE = `
enum small { S_NEG = -1, S_SEVEN = 7 };
enum big64 { B_HUGE = 0x100000000ULL, B_ONE = 1 };
struct inner { unsigned short a; unsigned char b; };
union u { unsigned int w; unsigned char b[4]; struct inner in; };
struct value { int constructor; int class; int __proto__; int toString; int let; int await; };
struct all {
	char c; signed char sc; unsigned char uc; short s; unsigned short us; int i; unsigned int ui;
	long l; unsigned long ul; long long ll; _Bool flag; float f; double d;
	__int128 big; unsigned __int128 ubig;
	void *ptr; struct all *self;
	char name[16]; char names[3][8];
	int ints[5]; unsigned long long u64s[2]; double ds[3]; float fs[2]; short ss[3]; signed char scs[3];
	struct inner inners[3]; struct inner many[20]; int grid[2][3];
	enum small e; enum big64 e64; union u un; struct value v;
	struct { int x; union { int y; char z; }; } anon;
	union { unsigned int flat_a; unsigned short flat_b; };
	unsigned int bf1 : 3; int bf2 : 5; unsigned long long bf3 : 40; long long bf4 : 33; _Bool bfb : 1;
	unsigned int : 2; unsigned int bf5 : 7;
	_Bool bools[3]; struct inner *ptrs[2];
};
struct __attribute__((packed)) packed { char a; int b; short c; };
struct all g_all; struct packed g_packed; union u g_u;
`;

type AnyCodec = Codec<unknown> & { encode(value: unknown, view: DataView, offset: number): void };

let btf: Btf;
let plan: TypePlan;
let mod: Record<string, unknown>;
let code: string;

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, 'types.bpf.c'), SOURCE);
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', 'types.bpf.c', '-o', 'types.bpf.o'], {
    cwd: DIR,
  });
  const bytes = readFileSync(join(DIR, 'types.bpf.o'));
  const elf = parseElf(bytes);
  btf = parseBtf((elf.sectionByName('.BTF') as { data: Uint8Array }).data);
  const roots = ['g_all', 'g_packed', 'g_u'].map((n) => (btf.findByName(n, 'var') as { type: number }).type);
  plan = planTypes(btf, roots, [], RESERVED_MODULE_NAMES);
  code = generateTypes(bytes, { fileName: 'types.bpf.o' });
  writeFileSync(join(DIR, 'types.ts'), code);
  mod = await import(join(DIR, 'types.ts'));
});

function codecOf(cName: string, kind: 'struct' | 'union' = 'struct'): { id: number; codec: AnyCodec } {
  const t = btf.findByName(cName, kind);
  if (t === undefined) throw new Error(`no ${kind} ${cName}`);
  const name = plan.names.get(t.id) as string;
  return { id: t.id, codec: mod[name] as AnyCodec };
}

const rand = (n: number): number => Math.floor(Math.random() * n);
const randBig = (bits: number, signed: boolean): bigint => {
  const v = BigInt(`0x${randomBytes(bits / 8).toString('hex')}`);
  return signed ? BigInt.asIntN(bits, v) : v;
};
const randInt = (bits: number, signed: boolean): number => {
  const v = rand(2 ** bits);
  return signed && v >= 2 ** (bits - 1) ? v - 2 ** bits : v;
};

/** A random valid value of type `id`, following the documented type mapping. */
function randomValue(id: number): unknown {
  const s = shapeOf(btf, id);
  switch (s.kind) {
    case 'int':
      return s.size <= 4 ? randInt(s.size * 8, s.signed) : randBig(s.size * 8, s.signed);
    case 'enum':
      return s.size === 8 ? randBig(64, s.signed) : randInt(s.size * 8, s.signed);
    case 'bool':
      return Math.random() < 0.5;
    case 'float':
      return s.size === 4 ? Math.fround(Math.random() * 2000 - 1000) : Math.random() * 1e6 - 5e5;
    case 'ptr':
      return randBig(64, false);
    case 'string': {
      let text = '';
      for (let n = rand(s.length + 1); n > 0; n--) text += String.fromCharCode(1 + rand(126));
      return text;
    }
    case 'typed': {
      const bytes = randomBytes(s.count * s.elemSize);
      const ctor = globalThis[s.array] as unknown as new (b: ArrayBuffer) => ArrayBufferView;
      const arr = new ctor(new Uint8Array(bytes).buffer) as unknown as { [i: number]: number };
      if (s.array.startsWith('Float'))
        for (let i = 0; i < s.count; i++) arr[i] = Math.fround(rand(1000) - 500);
      return arr;
    }
    case 'bytes':
      return new Uint8Array(randomBytes(s.size));
    case 'tuple':
      return Array.from({ length: s.count }, () => randomValue(s.elem));
    case 'composite': {
      const out: Record<string, unknown> = {};
      for (const f of fieldsOf(btf, s.id)) {
        if (f.bitfieldSize === 0) out[f.name] = randomValue(f.type);
        else {
          const t = btf.resolve(f.type);
          const signed = t.kind === 'int' && t.signed;
          if (t.kind === 'int' && t.bool) out[f.name] = Math.random() < 0.5;
          else if (f.bitfieldSize > 32)
            out[f.name] = randBig(64, signed) & ((1n << BigInt(f.bitfieldSize)) - 1n);
          else out[f.name] = rand(2 ** f.bitfieldSize);
          if (signed && f.bitfieldSize > 32)
            out[f.name] = BigInt.asIntN(f.bitfieldSize, out[f.name] as bigint);
          else if (signed) out[f.name] = randInt(f.bitfieldSize, true);
        }
      }
      return out;
    }
  }
}

function hasUnion(id: number): boolean {
  const s = shapeOf(btf, id);
  if (s.kind === 'tuple') return hasUnion(s.elem);
  if (s.kind !== 'composite') return false;
  return s.union || fieldsOf(btf, s.id).some((f) => f.inUnion || (f.bitfieldSize === 0 && hasUnion(f.type)));
}

function roundTrip(codec: AnyCodec, value: unknown, at = 0): unknown {
  const view = new DataView(new ArrayBuffer(codec.size + at + 8));
  codec.encode(value, view, at);
  return codec.decode(view, at);
}

describe('generated codecs', () => {
  it('type-check as part of the generated module and declare every planned type', () => {
    for (const id of plan.decls) {
      const t = btf.typeById(id);
      if (t.kind === 'struct' || t.kind === 'union') {
        expect((mod[plan.names.get(id) as string] as AnyCodec).size).toBe(btf.sizeOf(id));
      }
    }
    const emitter = new CodecEmitter(plan, RESERVED_MODULE_NAMES);
    const views = plan.decls.map((id) => emitter.viewName(id)).filter((n) => n !== undefined);
    expect(Object.keys(mod).sort()).toEqual([...plan.names.values(), ...views].sort());
  });

  it('round-trip random values of union-free types exactly, at any offset', () => {
    for (const name of ['inner', 'packed', 'value']) {
      const { id, codec } = codecOf(name);
      expect(hasUnion(id)).toBe(false);
      for (let n = 0; n < 200; n++) {
        const x = randomValue(id);
        expect(roundTrip(codec, x, rand(8))).toEqual(x);
      }
    }
  });

  it('round-trip everything but union overlaps in struct all, and are idempotent on it', () => {
    const { id, codec } = codecOf('all');
    const unionFields = new Set(
      fieldsOf(btf, id)
        .filter((f) => f.inUnion || hasUnion(f.type))
        .map((f) => f.name),
    );
    expect([...unionFields].sort()).toEqual(['anon', 'flat_a', 'flat_b', 'un']);
    for (let n = 0; n < 100; n++) {
      const x = randomValue(id) as Record<string, unknown>;
      const y = roundTrip(codec, x) as Record<string, unknown>;
      for (const key of Object.keys(x)) if (!unionFields.has(key)) expect(y[key], key).toEqual(x[key]);
      expect(roundTrip(codec, y)).toEqual(y);
    }
  });

  it('decode then encode reproduces random bytes wherever the value is canonical', () => {
    const { codec } = codecOf('u', 'union');
    for (let n = 0; n < 100; n++) {
      const bytes = new Uint8Array(randomBytes(codec.size));
      const x = codec.decode(new DataView(bytes.buffer), 0);
      const out = new Uint8Array(codec.size);
      codec.encode(x, new DataView(out.buffer), 0);
      expect(out).toEqual(bytes);
    }
  });

  it('encode a union member given alone, leaving the others', () => {
    const { codec } = codecOf('u', 'union');
    const view = new DataView(new ArrayBuffer(4));
    codec.encode({ w: 0x11223344 }, view, 0);
    expect(codec.decode(view, 0)).toEqual({
      w: 0x11223344,
      b: new Uint8Array([0x44, 0x33, 0x22, 0x11]),
      in_: { a: 0x3344, b: 0x22 },
    });
    codec.encode({ in_: { a: 1, b: 2 } }, view, 0);
    expect(view.getUint32(0, true)).toBe(0x11020001);
  });

  it("place every member where clang's BTF says, touching no other byte", () => {
    for (const name of ['all', 'packed', 'inner', 'value']) {
      const { id, codec } = codecOf(name);
      const fields = fieldsOf(btf, id);
      const base = randomValue(id) as Record<string, unknown>;
      for (const f of fields) {
        const a = new Uint8Array(codec.size);
        codec.encode(base, new DataView(a.buffer), 0);
        const [lo, hi] = [f.bitOffset, f.bitOffset + (f.bitfieldSize || 8 * btf.sizeOf(f.type))];
        let changed = 0;
        for (let tries = 0; tries < 20 && changed === 0; tries++) {
          const other = (randomValue(id) as Record<string, unknown>)[f.name];
          const b = a.slice();
          codec.encode({ ...base, [f.name]: other }, new DataView(b.buffer), 0);
          for (let bit = 0; bit < codec.size * 8; bit++) {
            if ((((a[bit >> 3] ^ b[bit >> 3]) >> (bit & 7)) & 1) === 0) continue;
            changed++;
            expect(bit >= lo && bit < hi, `${name}.${f.name}: bit ${bit} outside [${lo}, ${hi})`).toBe(true);
          }
        }
        expect(changed, `${name}.${f.name} never changed`).toBeGreaterThan(0);
      }
    }
  });

  it('decode members from the offsets clang gives in BTF', () => {
    const { id, codec } = codecOf('all');
    const bytes = new Uint8Array(codec.size);
    const view = new DataView(bytes.buffer);
    const at = (name: string): number => {
      const m = btf.memberLayout(id).find((x) => x.name === name);
      return (m as { bitOffset: number }).bitOffset / 8;
    };
    view.setInt32(at('i'), -5, true);
    view.setBigInt64(at('ll'), -7n, true);
    view.setFloat64(at('d'), 2.5, true);
    bytes.set(new TextEncoder().encode('comm'), at('name'));
    view.setBigUint64(at('big'), 1n, true);
    view.setBigUint64(at('big') + 8, 0xffffffffffffffffn, true);
    view.setInt32(at('grid') + 4 * 4, 42, true);
    view.setUint16(at('many') + 19 * 4, 0xbeef, true);
    bytes[at('flag')] = 1;
    const x = codec.decode(view, 0) as Record<string, unknown>;
    expect(x.i).toBe(-5);
    expect(x.ll).toBe(-7n);
    expect(x.d).toBe(2.5);
    expect(x.name).toBe('comm');
    expect(x.big).toBe(-(2n ** 64n) + 1n);
    expect((x.grid as Int32Array[])[1][1]).toBe(42);
    expect((x.many as { a: number }[])[19].a).toBe(0xbeef);
    expect(x.flag).toBe(true);
    expect(Array.isArray(x.many) && (x.many as unknown[]).length).toBe(20);
    expect(MAX_TUPLE).toBeLessThan(20);
  });

  it('read and write signed and wide bitfields by mask and shift, preserving neighbours', () => {
    const { codec } = codecOf('all');
    const view = new DataView(new ArrayBuffer(codec.size));
    const x = randomValue(codecOf('all').id) as Record<string, unknown>;
    Object.assign(x, { bf1: 5, bf2: -16, bf3: 0xff_ffff_fffen, bf4: -(2n ** 32n), bfb: true, bf5: 127 });
    codec.encode(x, view, 0);
    const y = codec.decode(view, 0) as Record<string, unknown>;
    expect([y.bf1, y.bf2, y.bf3, y.bf4, y.bfb, y.bf5]).toEqual([
      5,
      -16,
      0xff_ffff_fffen,
      -(2n ** 32n),
      true,
      127,
    ]);
  });

  it('throw RangeError for strings and arrays that do not fit, and keep UTF-8', () => {
    const { codec } = codecOf('all');
    const view = new DataView(new ArrayBuffer(codec.size));
    const x = randomValue(codecOf('all').id) as Record<string, unknown>;
    expect(() => codec.encode({ ...x, name: 'x'.repeat(17) }, view, 0)).toThrow(RangeError);
    expect(() => codec.encode({ ...x, ints: new Int32Array(6) }, view, 0)).toThrow(RangeError);
    expect(() => codec.encode({ ...x, many: Array(21).fill({ a: 0, b: 0 }) }, view, 0)).toThrow(RangeError);
    codec.encode({ ...x, name: 'żółw🐢', ints: new Int32Array([1, 2]) }, view, 0);
    const y = codec.decode(view, 0) as Record<string, unknown>;
    expect(y.name).toBe('żółw🐢');
    expect(y.ints).toEqual(new Int32Array([1, 2, 0, 0, 0]));
  });

  it('rename hostile member names predictably and keep enums as const objects', () => {
    expect(plan.names.get((btf.findByName('value', 'struct') as { id: number }).id)).toBe('value_');
    const { codec } = codecOf('value');
    const v = codec.decode(new DataView(new ArrayBuffer(codec.size)), 0) as object;
    expect(Object.keys(v)).toEqual(['constructor_', 'class_', '__proto___', 'toString_', 'let_', 'await_']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(mod.small).toEqual({ S_NEG: 4294967295, S_SEVEN: 7 });
    expect(code).toContain('export type small = number;');
    expect(code).toContain('export type big64 = bigint;');
  });
});
