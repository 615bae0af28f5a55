import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, BtfCoreReloKinds, type BtfExt, parseBtf, parseBtfExt } from '../src/btf/index.js';
import { type ElfFile, parseElf } from '../src/elf/index.js';
import { BtfError } from '../src/errors.js';

const FIXTURES = 'test/fixtures';
const TMP = 'test/tmp/btf-ext';

/** CO-RE accesses on local `preserve_access_index` types (no vmlinux.h), a subprogram, and line info. */
const CORE_C = `#define SEC(x) __attribute__((section(x), used))
struct task {
  int pid;
  int tgid;
  char comm[16];
  struct task *parent;
  unsigned flags : 3;
} __attribute__((preserve_access_index));
enum color { RED = 1, GREEN = 2 };
int out[8];
static __attribute__((noinline)) int twice(int x) {
  return x * 2;
}
SEC("raw_tp/x") int prog(void *ctx) {
  struct task *t = (struct task *)ctx;
  out[0] = t->pid;
  out[1] = t->parent->tgid;
  out[2] = __builtin_preserve_field_info(t->comm, 2);
  out[3] = __builtin_preserve_field_info(t->flags, 1);
  out[4] = __builtin_preserve_type_info(*(struct task *)0, 1);
  out[5] = __builtin_preserve_enum_value(*(enum color *)GREEN, 1);
  return twice(out[0]);
}
char LICENSE[] SEC("license") = "GPL";
`;

function compile(name: string, source: string): { src: string; path: string; bytes: Uint8Array } {
  mkdirSync(TMP, { recursive: true });
  const src = join(TMP, `${name}.c`);
  const path = join(TMP, `${name}.o`);
  writeFileSync(src, source);
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', src, '-o', path]);
  return { src, path, bytes: new Uint8Array(readFileSync(path)) };
}

function load(bytes: Uint8Array, file: string): { elf: ElfFile; btf: Btf; ext: BtfExt; raw: Uint8Array } {
  const elf = parseElf(bytes, file);
  const btf = parseBtf(elf.sectionByName('.BTF')!.data, { file });
  const raw = elf.sectionByName('.BTF.ext')!.data;
  return { elf, btf, ext: parseBtfExt(raw, btf), raw };
}

function expectBtfError(fn: () => unknown, pattern: RegExp): BtfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BtfError);
    expect((e as Error).message).toMatch(pattern);
    return e as BtfError;
  }
  throw new Error(`expected a BtfError matching ${pattern}`);
}

describe('parseBtfExt on a CO-RE object built from local types', () => {
  const { src, path, bytes } = compile('core', CORE_C);
  const { elf, btf, ext, raw } = load(bytes, path);

  it('has func_info for every function, at its symbol', () => {
    expect(ext.funcInfoRecSize).toBe(8);
    const funcs = ext.funcInfo.flatMap((s) =>
      s.records.map((r) => ({ section: s.section, off: r.insnOff, name: btf.typeById(r.typeId).name })),
    );
    expect(funcs).toEqual([
      { section: 'raw_tp/x', off: 0, name: 'prog' },
      { section: '.text', off: 0, name: 'twice' },
    ]);
    for (const f of funcs) {
      const sec = elf.sectionByName(f.section)!;
      expect(
        elf.symbolsOf(sec.index).some((s) => s.type === 'func' && s.name === f.name && s.value === f.off),
      ).toBe(true);
    }
  });

  it('has line_info whose text is the source line it names', () => {
    expect(ext.lineInfoRecSize).toBe(16);
    const lines = readFileSync(src, 'utf8').split('\n');
    let count = 0;
    for (const s of ext.lineInfo) {
      const size = elf.sectionByName(s.section)!.size;
      for (const r of s.records) {
        expect(r.fileName.endsWith('core.c')).toBe(true);
        expect(r.line).toBe(lines[r.lineNum - 1]);
        expect(r.column).toBeLessThanOrEqual(r.line.length + 1);
        expect(r.insnOff % 8 === 0 && r.insnOff < size).toBe(true);
        expect(btf.strings.get(r.lineOff)).toBe(r.line);
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(10);
  });

  it('has the CO-RE relocations the C code asks for', () => {
    expect(ext.coreReloRecSize).toBe(16);
    expect(ext.coreRelo.map((s) => s.section)).toEqual(['raw_tp/x']);
    const relos = ext.coreRelo[0].records.map((r) => [r.kind, r.accessStr, btf.typeById(r.typeId).name]);
    expect(relos).toEqual([
      ['field_byte_offset', '0:0', 'task'], // t->pid
      ['field_byte_offset', '0:3', 'task'], // t->parent
      ['field_byte_offset', '0:1', 'task'], // ->tgid
      ['field_exists', '0:2', 'task'], // preserve_field_info(t->comm, EXISTS)
      ['field_byte_size', '0:4', 'task'], // preserve_field_info(t->flags, BYTE_SIZE)
      ['type_size', '0', 'task'],
      ['enumval_value', '1', 'color'], // GREEN is enumerator 1
    ]);
    expect(ext.coreRelo[0].records[1].access).toEqual([0, 3]);
    const insns = ext.coreRelo[0].records.map((r) => r.insnOff);
    expect(insns).toEqual([...insns].sort((a, b) => a - b));
    expect(Object.keys(BtfCoreReloKinds).length).toBe(13);
    expect(BtfCoreReloKinds.type_matches).toBe(12);
  });

  it('every truncation is a BtfError', () => {
    for (let len = 0; len < raw.length; len++) {
      expect(() => parseBtfExt(raw.subarray(0, len), btf), `length ${len}`).toThrow(BtfError);
    }
  });

  const patch = (at: number, v: number) => {
    const b = raw.slice();
    new DataView(b.buffer).setUint32(at, v, true);
    return b;
  };
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const hdrLen = view.getUint32(4, true);
  const funcStart = hdrLen + view.getUint32(8, true);
  const coreStart = hdrLen + view.getUint32(24, true);

  it('rejects bad headers, record sizes and counts', () => {
    const bad = raw.slice();
    bad[0] = 1;
    expectBtfError(() => parseBtfExt(bad, btf), /bad BTF.ext magic/);
    expectBtfError(() => parseBtfExt(patch(4, 4), btf), /hdr_len 4 is out of range/);
    expectBtfError(() => parseBtfExt(patch(12, 0x100000), btf), /func_info subsection .* runs past the end/);
    expectBtfError(() => parseBtfExt(patch(funcStart, 4), btf), /func_info record size 4 is invalid/);
    expectBtfError(() => parseBtfExt(patch(funcStart + 8, 1000), btf), /1000 records run past the end/);
    expectBtfError(() => parseBtfExt(patch(funcStart + 8, 0), btf), /has no records/);
  });

  it('rejects bad string offsets, type ids and kinds, naming the offset', () => {
    const e = expectBtfError(
      () => parseBtfExt(patch(funcStart + 4, 0xfffffff), btf),
      /section name string offset/,
    );
    expect(e.offset).toBe(funcStart + 4);
    expect(e.section).toBe('.BTF.ext');
    expectBtfError(() => parseBtfExt(patch(funcStart + 12 + 4, 1), btf), /func_info type id 1 is not a func/);
    const rec = coreStart + 4 + 8;
    expectBtfError(() => parseBtfExt(patch(rec + 4, 99999), btf), /core_relo type id 99999 does not exist/);
    expectBtfError(() => parseBtfExt(patch(rec + 12, 13), btf), /unknown kind 13/);
    const section = btf.strings.offsetOf('raw_tp/x');
    expectBtfError(() => parseBtfExt(patch(rec + 8, section), btf), /access string 'raw_tp\/x' is malformed/);
  });
});

describe('parseBtfExt on the committed fixtures', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.bpf.o'));
  it('finds fixtures', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    it(`${f}: a func_info record at every function symbol of every code section`, () => {
      const file = join(FIXTURES, f);
      const { elf, btf, ext } = load(new Uint8Array(readFileSync(file)), file);
      const fromExt = ext.funcInfo
        .flatMap((s) => s.records.map((r) => `${s.section}@${r.insnOff}:${btf.typeById(r.typeId).name}`))
        .sort();
      const fromElf = elf.symbols
        .filter((s) => s.type === 'func' && s.shndx > 0 && s.shndx < elf.sections.length)
        .map((s) => `${elf.sections[s.shndx].name}@${s.value}:${s.name}`)
        .sort();
      expect(fromExt).toEqual(fromElf);
      for (const s of ext.coreRelo) {
        const size = elf.sectionByName(s.section)!.size;
        for (const r of s.records) expect(r.insnOff).toBeLessThan(size);
      }
    });
  }
});
