import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Btf,
  type BtfType,
  createBtf,
  loadKernelBtf,
  loadModuleBtf,
  parseBtf,
  readBtfFile,
  writeBtf,
} from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { BtfError } from '../src/errors.js';
import { btfLoad } from '../src/runtime/sys/btf.js';
import { closeFd } from '../src/runtime/sys/fd.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const FIXTURES = 'test/fixtures';
const TMP = 'test/tmp/btf';
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bpf.o'))
  .map((f) => join(FIXTURES, f));

function compile(name: string, source: string): { path: string; bytes: Uint8Array } {
  mkdirSync(TMP, { recursive: true });
  const src = join(TMP, `${name}.c`);
  const path = join(TMP, `${name}.o`);
  writeFileSync(src, source);
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', src, '-o', path]);
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

function btfOfObject(bytes: Uint8Array, file?: string): Btf {
  const elf = parseElf(bytes, file);
  return parseBtf(elf.sectionByName('.BTF')!.data, { file });
}

function bpftoolRaw(file: string, base?: string): string[] {
  const args = [
    'btf',
    'dump',
    'file',
    file,
    ...(base === undefined ? [] : ['--base-btf', base]),
    'format',
    'raw',
  ];
  return execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 256 << 20 })
    .split('\n')
    .filter((l) => l !== '');
}

/** Types whose size, alignment and member offsets the compiler computes into `layout[]`. */
const LAYOUT_C = `#include <stddef.h>
struct inner { char c; long l; };
struct bits { unsigned a:3; unsigned b:5; int c:20; unsigned long long d:40; char e; };
struct __attribute__((packed)) packed { char c; int i; long long l; };
union u { char c[5]; int i; struct inner in; };
typedef struct inner inner_t;
typedef const volatile inner_t cv_inner_t;
enum small { S1 = 1 };
struct arrs { char name[7]; inner_t arr[3][2]; cv_inner_t cv; union u un; struct packed p; enum small e; __int128 big; short tail; };
struct inner g_inner; struct bits g_bits; struct packed g_packed; union u g_u; struct arrs g_arrs;
unsigned long layout[] = {
  sizeof(struct inner), _Alignof(struct inner), sizeof(struct bits), _Alignof(struct bits),
  sizeof(struct packed), _Alignof(struct packed), sizeof(union u), _Alignof(union u),
  sizeof(struct arrs), _Alignof(struct arrs), offsetof(struct arrs, arr), offsetof(struct arrs, cv),
  offsetof(struct arrs, un), offsetof(struct arrs, p), offsetof(struct arrs, e), offsetof(struct arrs, big),
  offsetof(struct arrs, tail), offsetof(struct bits, e), offsetof(struct packed, l),
};
`;

const q = (s: string) => `'${s === '' ? '(anon)' : s}'`;

/** Our types in bpftool's raw dump format, to compare line by line with the real tool. */
function formatRaw(btf: Btf, t: BtfType): string[] {
  const head = `[${t.id}] ${t.kind.toUpperCase()} ${q(t.name)}`;
  switch (t.kind) {
    case 'void':
      return [];
    case 'int': {
      const enc = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
      return [`${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`];
    }
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      return [`${head} type_id=${t.type}`];
    case 'array':
      return [`${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`];
    case 'struct':
    case 'union':
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map(
          (m) =>
            `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}` +
            (m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''),
        ),
      ];
    case 'enum':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${v.value}`),
      ];
    case 'enum64':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${v.value}${t.signed ? 'LL' : 'ULL'}`),
      ];
    case 'fwd':
      return [`${head} fwd_kind=${t.fwdKind}`];
    case 'func':
      return [`${head} type_id=${t.type} linkage=${t.linkage}`];
    case 'func_proto':
      return [
        `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`,
        ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`),
      ];
    case 'var':
      return [`${head} type_id=${t.type}, linkage=${t.linkage}`];
    case 'datasec':
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const target = btf.typeById(v.type);
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${target.kind.toUpperCase()} ${q(target.name)})`;
        }),
      ];
    case 'float':
      return [`${head} size=${t.size}`];
    case 'decl_tag':
      return [`${head} type_id=${t.type} component_idx=${t.componentIdx}`];
  }
}

function expectSameAsBpftool(btf: Btf, file: string, base?: string): void {
  const expected = bpftoolRaw(file, base);
  const mine = btf.types.slice(btf.firstId).flatMap((t) => formatRaw(btf, t));
  expect(mine.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (mine[i] !== expected[i]) expect(`line ${i}: ${mine[i]}`).toBe(`line ${i}: ${expected[i]}`);
  }
}

function json(btf: Btf): string {
  return JSON.stringify(btf.types, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function expectBtfError(fn: () => unknown, pattern: RegExp): BtfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BtfError);
    expect((e as BtfError).code).toBe('EBADBTF');
    expect((e as Error).message).toMatch(pattern);
    return e as BtfError;
  }
  throw new Error(`expected a BtfError matching ${pattern}`);
}

describe('vmlinux BTF', () => {
  const bytes = new Uint8Array(readFileSync(VMLINUX));
  const t0 = performance.now();
  const btf = parseBtf(bytes, { file: VMLINUX });
  const parseMs = performance.now() - t0;

  it('parses quickly', () => {
    console.log(
      `parseBtf(${VMLINUX}): ${bytes.length} bytes, ${btf.types.length} types in ${parseMs.toFixed(0)} ms`,
    );
    expect(btf.types.length).toBeGreaterThan(10_000);
    expect(parseMs).toBeLessThan(1500);
  });

  it('has the same types, names, kinds and members as bpftool', () => {
    expectSameAsBpftool(btf, VMLINUX);
  });

  it('sizes task_struct and lays out union bpf_attr like bpftool', () => {
    const raw = bpftoolRaw(VMLINUX);
    const task = btf.findByName('task_struct', 'struct')!;
    const line = raw.find((l) =>
      l.endsWith(`STRUCT 'task_struct' size=${btf.sizeOf(task.id)} vlen=${task.members.length}`),
    );
    expect(line).toBeDefined();
    expect(btf.sizeOf(task.id)).toBe(task.size);

    const attr = btf.findByName('bpf_attr', 'union')!;
    const at = raw.indexOf(`[${attr.id}] UNION 'bpf_attr' size=${attr.size} vlen=${attr.members.length}`);
    expect(at).toBeGreaterThanOrEqual(0);
    const members = raw.slice(at + 1, at + 1 + attr.members.length);
    expect(
      btf.memberLayout(attr.id).map((m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`),
    ).toEqual(members);
    // The anonymous BPF_PROG_LOAD struct: prog_type first, insn_cnt at 4, insns at 8, license at 16.
    const progLoad = attr.members
      .map((m) => btf.resolve(m.type))
      .find((t) => t.kind === 'struct' && t.members.some((m) => m.name === 'insn_cnt'));
    expect(progLoad?.kind).toBe('struct');
    const offs = Object.fromEntries(btf.memberLayout(progLoad!.id).map((m) => [m.name, m.bitOffset / 8]));
    expect([offs.prog_type, offs.insn_cnt, offs.insns, offs.license]).toEqual([0, 4, 8, 16]);
  });

  it('finds by name and kind, resolves modifiers', () => {
    expect(btf.findByName('task_struct')?.kind).toBe('struct');
    expect(btf.findByName('u32', 'typedef')?.kind).toBe('typedef');
    expect(btf.findByName('u32', 'struct')).toBeUndefined();
    expect(btf.findByName('no_such_type_name_xyz')).toBeUndefined();
    const u32 = btf.findByName('u32', 'typedef')!;
    expect(btf.resolve(u32.id)).toMatchObject({ kind: 'int', size: 4, signed: false });
    expect(btf.sizeOf(u32.id)).toBe(4);
    expect(btf.findAllByName('u32').length).toBeGreaterThanOrEqual(1);
  });

  it('writes back byte-identical, and re-parses deep-equal', () => {
    const out = writeBtf(btf);
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
    expect(json(parseBtf(out))).toBe(json(btf));
  });

  it('loadKernelBtf parses once and caches', () => {
    const a = loadKernelBtf();
    expect(a).toBe(loadKernelBtf());
    expect(a.types.length).toBe(btf.types.length);
  });

  it('loadModuleBtf parses module BTF split over vmlinux', () => {
    const mods = readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux');
    expectBtfError(() => loadModuleBtf('no_such_module_xyz'), /cannot read kernel BTF/);
    expectBtfError(() => loadModuleBtf('../btf/vmlinux'), /not a kernel module name/);
    if (mods.length === 0) {
      console.log(
        'no module BTF in /sys/kernel/btf (modules built in); split BTF is tested with a built blob',
      );
      return;
    }
    const mod = loadModuleBtf(mods[0]);
    expect(mod.base).toBe(loadKernelBtf());
    expect(mod.firstId).toBe(loadKernelBtf().types.length);
    expectSameAsBpftool(mod, `/sys/kernel/btf/${mods[0]}`, VMLINUX);
  });
});

describe('BTF of clang objects', () => {
  it('finds committed fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  for (const file of fixtures) {
    it(`${file}: same as bpftool, byte-identical round trip`, () => {
      const elf = parseElf(readFileSync(file), file);
      const raw = elf.sectionByName('.BTF')!.data;
      const btf = parseBtf(raw, { file });
      expectSameAsBpftool(btf, file);
      const out = writeBtf(btf);
      expect(Buffer.from(out).equals(Buffer.from(raw))).toBe(true);
      expect(json(parseBtf(out))).toBe(json(btf));
    });
  }
});

describe('layout against the compiler', () => {
  const { path, bytes } = compile('layout', LAYOUT_C);
  const elf = parseElf(bytes, path);
  const btf = btfOfObject(bytes, path);
  const sym = elf.symbols.find((s) => s.name === 'layout')!;
  const data = elf.sections[sym.shndx].data;
  const dv = new DataView(data.buffer, data.byteOffset + sym.value, sym.size);
  const c = Array.from({ length: sym.size / 8 }, (_, i) => Number(dv.getBigUint64(i * 8, true)));
  const id = (name: string, kind: 'struct' | 'union') => btf.findByName(name, kind)!.id;
  const off = (struct: string, member: string) =>
    btf.memberLayout(id(struct, 'struct')).find((m) => m.name === member)!.bitOffset / 8;

  it('sizeOf and alignOf match sizeof and _Alignof', () => {
    const mine = [
      btf.sizeOf(id('inner', 'struct')),
      btf.alignOf(id('inner', 'struct')),
      btf.sizeOf(id('bits', 'struct')),
      btf.alignOf(id('bits', 'struct')),
      btf.sizeOf(id('packed', 'struct')),
      btf.alignOf(id('packed', 'struct')),
      btf.sizeOf(id('u', 'union')),
      btf.alignOf(id('u', 'union')),
      btf.sizeOf(id('arrs', 'struct')),
      btf.alignOf(id('arrs', 'struct')),
    ];
    expect(mine).toEqual(c.slice(0, 10));
  });

  it('member offsets match offsetof', () => {
    const mine = ['arr', 'cv', 'un', 'p', 'e', 'big', 'tail'].map((m) => off('arrs', m));
    expect(mine).toEqual(c.slice(10, 17));
    expect([off('bits', 'e'), off('packed', 'l')]).toEqual(c.slice(17, 19));
  });

  it('sizes arrays of typedefs and resolves const volatile typedef chains', () => {
    const arr = btf.typeById(btf.findByName('arrs', 'struct')!.members[1].type);
    expect(btf.sizeOf(arr.id)).toBe(3 * 2 * 16);
    expect(btf.alignOf(arr.id)).toBe(8);
    const cv = btf.findByName('cv_inner_t', 'typedef')!;
    expect(btf.resolve(cv.id)).toMatchObject({ kind: 'struct', name: 'inner' });
  });

  it('gives bitfield offsets and widths (kind_flag encoding)', () => {
    const bits = btf.memberLayout(id('bits', 'struct')).map((m) => [m.name, m.bitOffset, m.bitfieldSize]);
    expect(bits).toEqual([
      ['a', 0, 3],
      ['b', 3, 5],
      ['c', 8, 20],
      ['d', 64, 40],
      ['e', 104, 0],
    ]);
  });
});

/** A small BTF built by hand: int, legacy bitfield int, struct using it, typedef, ptr, var, datasec. */
function handmade(): BtfType[] {
  return [
    { kind: 'void', id: 0, name: '' },
    {
      kind: 'int',
      id: 1,
      name: 'int',
      size: 4,
      signed: true,
      char: false,
      bool: false,
      bits: 32,
      bitOffset: 0,
    },
    {
      kind: 'int',
      id: 2,
      name: 'int',
      size: 4,
      signed: true,
      char: false,
      bool: false,
      bits: 5,
      bitOffset: 2,
    },
    {
      kind: 'struct',
      id: 3,
      name: 'legacy',
      size: 8,
      kindFlag: false,
      members: [
        { name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 },
        { name: 'bf', type: 2, bitOffset: 32, bitfieldSize: 0 },
      ],
    },
    { kind: 'typedef', id: 4, name: 'legacy_t', type: 3 },
    { kind: 'var', id: 5, name: 'g', type: 4, linkage: 'global' },
    { kind: 'datasec', id: 6, name: '.data', size: 8, vars: [{ type: 5, offset: 0, size: 8 }] },
  ];
}

describe('building and editing BTF', () => {
  it('resolves legacy int-encoded bitfields', () => {
    const btf = createBtf(handmade());
    expect(btf.memberLayout(3)).toEqual([
      { name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: 'bf', type: 2, bitOffset: 34, bitfieldSize: 5 },
    ]);
    expect(btf.sizeOf(5)).toBe(8);
    expect(btf.alignOf(4)).toBe(4);
  });

  it('writes a built BTF that the kernel accepts and that parses back equal', () => {
    const btf = createBtf(handmade());
    const out = writeBtf(btf);
    const back = parseBtf(out);
    expect(json(back)).toBe(json(btf));
    expect(back.strings.get(back.strings.offsetOf('legacy_t'))).toBe('legacy_t');
    const fd = btfLoad(out);
    expect(fd).toBeGreaterThan(0);
    closeFd(fd);
  });

  it('withTypes: fill DATASEC size and VAR offsets, change linkage, rename; the kernel accepts the result', () => {
    const { bytes, path } = compile(
      'edit',
      `int a = 1; long b = 2; static int c; char LICENSE[] __attribute__((section("license"), used)) = "GPL";
       __attribute__((section("socket"), used)) int prog(void *ctx) { return a + b + c; }\n`,
    );
    const elf = parseElf(bytes, path);
    const btf = btfOfObject(bytes, path);
    const data = btf.findByName('.data', 'datasec')!;
    expect(data.size).toBe(0);
    const next = btf.types.map((t): BtfType => {
      if (t.kind === 'datasec') {
        const section = elf.sectionByName(t.name)!;
        return {
          ...t,
          size: section.size,
          vars: t.vars.map((v) => {
            const sym = elf.symbols.find((s) => s.name === btf.typeById(v.type).name)!;
            return { ...v, offset: sym.value };
          }),
        };
      }
      if (t.kind === 'var' && t.name === 'a') return { ...t, linkage: 'static' };
      if (t.kind === 'func' && t.name === 'prog') return { ...t, linkage: 'static', name: 'prog_renamed' };
      return t;
    });
    const edited = btf.withTypes(next);
    expect(btf.findByName('.data', 'datasec')!.size).toBe(0);
    const out = writeBtf(edited);
    const back = parseBtf(out);
    const sec = back.findByName('.data', 'datasec')!;
    expect(sec.size).toBe(elf.sectionByName('.data')!.size);
    expect(sec.vars.map((v) => v.offset).sort()).toEqual([0, 8]);
    expect(back.findByName('a', 'var')?.linkage).toBe('static');
    expect(back.findByName('prog_renamed', 'func')?.linkage).toBe('static');
    expect(back.findByName('prog', 'func')).toBeUndefined();
    expect(out.length).toBeGreaterThan(elf.sectionByName('.BTF')!.size);
    const fd = btfLoad(out);
    closeFd(fd);
  });

  it('withTypes and createBtf reject bad ids and dangling references', () => {
    const btf = createBtf(handmade());
    const types = handmade();
    expectBtfError(() => btf.withTypes([...btf.types, { ...types[1], id: 99 }]), /type at index 7 has id 99/);
    expectBtfError(
      () => btf.withTypes([...btf.types, { kind: 'ptr', id: 7, name: '', type: 50 }]),
      /refers to type 50/,
    );
    expectBtfError(() => btf.withTypes(types), /type 0 belongs to the base \(or is void\)/);
    expect(btf.withTypes([...btf.types, { kind: 'ptr', id: 7, name: '', type: 5 }]).types.length).toBe(8);
    expectBtfError(() => createBtf(types.slice(1)), /types\[0\] must be void/);
  });

  it('writer rejects values that do not fit', () => {
    const types = handmade();
    const bad = createBtf([
      ...types,
      { kind: 'enum', id: 7, name: 'e', size: 4, signed: false, values: [{ name: 'A', value: 2 ** 33 }] },
    ]);
    expectBtfError(() => writeBtf(bad), /does not fit in 32 bits/);
    const bf = createBtf([
      ...types.slice(0, 3),
      {
        ...(types[3] as BtfType & { kind: 'struct' }),
        members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 3 }],
      },
      ...types.slice(4),
    ]);
    expectBtfError(() => writeBtf(bf), /bitfield size but kindFlag is off/);
  });

  it('split BTF over vmlinux: ids and string offsets continue from the base (checked by bpftool)', () => {
    const base = loadKernelBtf();
    const task = base.findByName('task_struct', 'struct')!;
    const n = base.types.length;
    const split = createBtf(
      [
        ...base.types,
        { kind: 'ptr', id: n, name: '', type: task.id },
        { kind: 'typedef', id: n + 1, name: 'task_ptr_t', type: n },
        { kind: 'typedef', id: n + 2, name: 'my_split_only_name', type: n + 1 },
      ],
      { base },
    );
    const out = writeBtf(split);
    const baseStrLen = base.strings.bytes.length;
    const hv = new DataView(out.buffer);
    expect(hv.getUint32(12, true)).toBe(36);
    mkdirSync(TMP, { recursive: true });
    const file = join(TMP, 'split.btf');
    writeFileSync(file, out);
    const back = parseBtf(out, { base, file });
    expect(back.firstId).toBe(n);
    expect(back.typeById(n + 1)).toMatchObject({ kind: 'typedef', name: 'task_ptr_t', type: n });
    expect(back.strings.offsetOf('my_split_only_name')).toBeGreaterThanOrEqual(baseStrLen);
    expect(back.strings.offsetOf('task_struct')).toBeLessThan(baseStrLen);
    expect(back.findByName('task_struct')?.id).toBe(task.id);
    expect(back.sizeOf(n + 2)).toBe(8);
    expect(back.resolve(n + 2).kind).toBe('ptr');
    expectSameAsBpftool(back, file, VMLINUX);
    expect(readBtfFile(file, { base }).types.length).toBe(n + 3);
    expect(Buffer.from(writeBtf(back)).equals(Buffer.from(out))).toBe(true);
    expectBtfError(() => parseBtf(out, { file }), /must start with an empty string|refers to type/);
  });
});

describe('parseBtf rejects malformed BTF with BtfError', () => {
  const good = writeBtf(createBtf(handmade()));
  const patch = (at: number, v: number) => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(at, v, true);
    return b;
  };
  const HDR = 24;
  // Type records: [1] int at 24 (16 bytes), [2] int at 40, [3] struct at 56 (12 + 24), [4] typedef at 92...
  it('bad header: magic, big-endian, version, hdr_len, sections out of range', () => {
    expectBtfError(() => parseBtf(good.subarray(0, 10)), /truncated BTF header/);
    const be = good.slice();
    be[0] = 0xeb;
    be[1] = 0x9f;
    expectBtfError(() => parseBtf(be), /big-endian BTF is not supported/);
    const bad = good.slice();
    bad[0] = 0;
    const e = expectBtfError(() => parseBtf(bad, { file: 'x.btf' }), /bad BTF magic/);
    expect([e.file, e.offset]).toEqual(['x.btf', 0]);
    const v2 = good.slice();
    v2[2] = 2;
    expectBtfError(() => parseBtf(v2), /unsupported BTF version 2/);
    expectBtfError(() => parseBtf(patch(4, 1000)), /hdr_len 1000 is out of range/);
    expectBtfError(() => parseBtf(patch(12, 0x10000)), /type section .* runs past the end/);
    expectBtfError(() => parseBtf(patch(20, 0x10000)), /string section .* runs past the end/);
    expectBtfError(() => parseBtf(patch(8, 2)), /not 4-byte aligned/);
  });

  it('every truncation', () => {
    for (let len = 0; len < good.length; len++) {
      expect(() => parseBtf(good.subarray(0, len)), `length ${len}`).toThrow(BtfError);
    }
  });

  it('bad string offsets, naming the type record', () => {
    const e = expectBtfError(
      () => parseBtf(patch(HDR + 16, 0xffff)),
      /name offset 65535 is outside the string table/,
    );
    expect(e.offset).toBe(HDR + 16);
    expectBtfError(() => parseBtf(patch(HDR + 32 + 12, 0xfffff)), /name offset 1048575/);
  });

  it('bad type ids and unknown kinds', () => {
    // typedef 'legacy_t' (record at 92) -> type 3; point it at 77.
    const e = expectBtfError(
      () => parseBtf(patch(HDR + 68 + 8, 77)),
      /type 4 \(typedef 'legacy_t'\) refers to type 77/,
    );
    expect(e.offset).toBe(HDR + 68);
    expectBtfError(() => parseBtf(patch(HDR + 4, 25 << 24)), /unknown kind 25/);
    expectBtfError(() => parseBtf(patch(HDR + 4, (1 << 24) | (1 << 20))), /unused info bits/);
  });

  it('vlen past the end of the type section', () => {
    // struct 'legacy' info word at 56 + 4: raise vlen to 1000.
    expectBtfError(() => parseBtf(patch(HDR + 32 + 4, (4 << 24) | 1000)), /needs 12000 more bytes/);
    expectBtfError(() => parseBtf(patch(HDR + 68 + 4, (8 << 24) | 3)), /has vlen 3, expected 0/);
  });

  it('cyclic typedef chains and self-containing structs give BtfError, not a hang', () => {
    const cyc = createBtf([
      { kind: 'void', id: 0, name: '' },
      { kind: 'typedef', id: 1, name: 'a', type: 2 },
      { kind: 'const', id: 2, name: '', type: 1 },
      { kind: 'array', id: 3, name: '', type: 4, indexType: 0, nelems: 2 },
      { kind: 'typedef', id: 4, name: 'arr', type: 3 },
      {
        kind: 'struct',
        id: 5,
        name: 's',
        size: 4,
        kindFlag: false,
        members: [{ name: 'self', type: 5, bitOffset: 0, bitfieldSize: 0 }],
      },
      { kind: 'func_proto', id: 6, name: '', returnType: 0, params: [] },
    ]);
    expectBtfError(() => cyc.resolve(1), /cycle/);
    expectBtfError(() => cyc.sizeOf(2), /cycle/);
    expectBtfError(() => cyc.sizeOf(3), /cycle/);
    expectBtfError(() => cyc.alignOf(3), /contains itself|cycle/);
    expectBtfError(() => cyc.alignOf(5), /contains itself/);
    expectBtfError(() => cyc.sizeOf(6), /has no size/);
    expectBtfError(() => cyc.typeById(100), /does not exist/);
    expectBtfError(() => cyc.memberLayout(1), /not a struct or union/);
    const parsed = parseBtf(writeBtf(cyc));
    expectBtfError(() => parsed.resolve(2), /cycle/);
  });
});
