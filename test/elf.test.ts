import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf, SHT } from '../src/elf/index.js';
import { ElfError } from '../src/errors.js';

const FIXTURES = 'test/fixtures';
const TMP = 'test/tmp/elf';
const objects = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bpf.o'))
  .map((f) => join(FIXTURES, f));

const SOURCE = `
int counter;
const volatile int limit = 3;
static int helper(int x) { return x * 2 + counter; }
__attribute__((section("socket"), used)) int prog(void *ctx) { counter++; return helper(limit); }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

/** Compiles `source` with clang into test/tmp and returns the object bytes. */
function compile(name: string, source: string, target = 'bpf'): Uint8Array {
  mkdirSync(TMP, { recursive: true });
  const src = join(TMP, `${name}.c`);
  const obj = join(TMP, `${name}.o`);
  writeFileSync(src, source);
  execFileSync('clang', ['-g', '-O2', '-target', target, '-c', src, '-o', obj]);
  return new Uint8Array(readFileSync(obj));
}

function readelf(args: string[], file: string): string {
  return execFileSync('llvm-readelf', [...args, '--wide', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

interface ToolSection {
  index: number;
  name: string;
  type: string;
  offset: number;
  size: number;
  entsize: number;
  link: number;
  info: number;
  align: number;
}

/** Sections as `llvm-readelf -S` prints them. */
function toolSections(file: string): ToolSection[] {
  const out: ToolSection[] = [];
  for (const line of readelf(['-S'], file).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s?(.*)$/.exec(line);
    if (m === null) continue;
    const tokens = m[2].trim().split(/\s+/);
    const align = Number(tokens.pop());
    const info = Number(tokens.pop());
    const link = Number(tokens.pop());
    const addrAt = tokens.findIndex((t) => /^[0-9a-f]{16}$/.test(t));
    out.push({
      index: Number(m[1]),
      name: tokens.slice(0, addrAt - 1).join(' '),
      type: tokens[addrAt - 1],
      offset: Number.parseInt(tokens[addrAt + 1], 16),
      size: Number.parseInt(tokens[addrAt + 2], 16),
      entsize: Number.parseInt(tokens[addrAt + 3], 16),
      link,
      info,
      align,
    });
  }
  return out;
}

/** Symbols as `llvm-readelf -s` prints them. */
function toolSymbols(file: string) {
  const out: {
    index: number;
    value: number;
    size: number;
    type: string;
    bind: string;
    ndx: string;
    name: string;
  }[] = [];
  for (const line of readelf(['-s'], file).split('\n')) {
    const m = /^\s*(\d+): ([0-9a-f]{16})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$/.exec(line);
    if (m === null) continue;
    out.push({
      index: Number(m[1]),
      value: Number.parseInt(m[2], 16),
      size: Number(m[3]),
      type: m[4],
      bind: m[5],
      ndx: m[7],
      name: m[8],
    });
  }
  return out;
}

/** Relocations as `llvm-readelf -r` prints them, by relocation section name. */
function toolRelocations(file: string): Map<string, { offset: number; symbol: number; type: number }[]> {
  const out = new Map<string, { offset: number; symbol: number; type: number }[]>();
  let current: { offset: number; symbol: number; type: number }[] | undefined;
  for (const line of readelf(['-r'], file).split('\n')) {
    const head = /^Relocation section '(.*)' at offset/.exec(line);
    if (head !== null) {
      current = [];
      out.set(head[1], current);
      continue;
    }
    const m = /^([0-9a-f]{16})\s+([0-9a-f]{16})\s/.exec(line);
    if (m !== null && current !== undefined) {
      const info = BigInt(`0x${m[2]}`);
      current.push({
        offset: Number.parseInt(m[1], 16),
        symbol: Number(info >> 32n),
        type: Number(info & 0xffffffffn),
      });
    }
  }
  return out;
}

function expectElfError(fn: () => unknown, pattern: RegExp): ElfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ElfError);
    expect((e as ElfError).code).toBe('EBADELF');
    expect((e as Error).message).toMatch(pattern);
    return e as ElfError;
  }
  throw new Error(`expected an ElfError matching ${pattern}`);
}

function patchU32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, v, true);
  return copy;
}

function patchU64(bytes: Uint8Array, at: number, v: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(at, v, true);
  return copy;
}

describe('parseElf against llvm-readelf', () => {
  it('finds committed fixtures to compare', () => {
    expect(objects.length).toBeGreaterThan(0);
  });

  for (const file of objects) {
    it(`reads ${file} as llvm-readelf does`, () => {
      const elf = parseElf(readFileSync(file), file);
      expect(elf.header.machine).toBe(247);
      expect(elf.header.type).toBe(1);

      const sections = toolSections(file);
      expect(elf.sections.length).toBe(sections.length);
      for (const s of sections) {
        const mine = elf.sections[s.index];
        expect({ name: mine.name, offset: mine.offset, size: mine.size }).toEqual({
          name: s.name,
          offset: s.offset,
          size: s.size,
        });
        expect([mine.entsize, mine.link, mine.info, Number(mine.addralign)]).toEqual([
          s.entsize,
          s.link,
          s.info,
          s.align,
        ]);
        const typeNames: Record<string, number> = {
          NULL: 0,
          PROGBITS: 1,
          SYMTAB: 2,
          STRTAB: 3,
          NOBITS: 8,
          REL: 9,
        };
        if (s.type in typeNames) expect(mine.type).toBe(typeNames[s.type]);
        expect(mine.data.length).toBe(mine.type === SHT.NOBITS || mine.type === SHT.NULL ? 0 : mine.size);
      }

      const symbols = toolSymbols(file);
      expect(elf.symbols.length).toBe(symbols.length);
      for (const s of symbols) {
        const mine = elf.symbols[s.index];
        // llvm-readelf shows a section symbol under its section's name.
        const shown = mine.type === 'section' && mine.name === '' ? elf.sections[mine.shndx].name : mine.name;
        expect(shown).toBe(s.name);
        expect(mine.value).toBe(s.value);
        expect(mine.size).toBe(s.size);
        expect(mine.type.toUpperCase()).toBe(s.type);
        expect(mine.bind.toUpperCase()).toBe(s.bind);
        const ndx = s.ndx === 'UND' ? 0 : s.ndx === 'ABS' ? 0xfff1 : s.ndx === 'COM' ? 0xfff2 : Number(s.ndx);
        expect(mine.shndx).toBe(ndx);
      }

      const relocs = toolRelocations(file);
      let total = 0;
      for (const [relName, entries] of relocs) {
        const rel = elf.sectionByName(relName);
        expect(rel, relName).toBeDefined();
        const mine = elf.relocationsFor(rel!.info).filter((r) => r.relSection === rel!.index);
        expect(mine.map((r) => ({ offset: r.offset, symbol: r.symbol, type: r.type }))).toEqual(entries);
        expect(mine.every((r) => r.addend === undefined && r.section === rel!.info)).toBe(true);
        total += entries.length;
      }
      expect([...elf.relocations.values()].reduce((n, l) => n + l.length, 0)).toBe(total);
    });
  }
});

describe('ElfFile helpers', () => {
  const bytes = compile('helpers', SOURCE);
  const elf = parseElf(bytes, 'helpers.o');

  it('finds sections by name and their symbols ordered by value', () => {
    const prog = elf.sectionByName('socket');
    expect(prog?.type).toBe(SHT.PROGBITS);
    expect(elf.sectionByName('no such section')).toBeUndefined();
    const text = elf.sectionByName('.text')!;
    const names = elf.symbolsOf(prog!.index).map((s) => s.name);
    expect(names).toContain('prog');
    expect(
      elf.symbolsOf(text.index).some((s) => s.name === 'helper' && s.type === 'func' && s.bind === 'local'),
    );
    const values = elf.symbolsOf(prog!.index).map((s) => s.value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('gives the relocations of a code section from its .rel section', () => {
    const prog = elf.sectionByName('socket')!;
    const relocs = elf.relocationsFor(prog.index);
    expect(relocs.length).toBeGreaterThan(0);
    const names = relocs.map((r) => elf.symbols[r.symbol].name);
    expect(names).toContain('counter');
    expect(relocs.every((r) => r.offset % 8 === 0 && r.offset < prog.size)).toBe(true);
    expect(elf.sections[relocs[0].relSection].name).toBe('.relsocket');
    expect(elf.relocationsFor(elf.sectionByName('license')!.index)).toEqual([]);
  });

  it('gives section data as views of the file', () => {
    const lic = elf.sectionByName('license')!;
    expect(new TextDecoder().decode(lic.data)).toBe('GPL\0');
    expect(lic.data.buffer).toBe(bytes.buffer);
  });
});

describe('parseElf rejects malformed files with ElfError', () => {
  const good = new Uint8Array(readFileSync(objects[0]));
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const shoff = Number(view.getBigUint64(40, true));
  const shdr = (i: number) => shoff + i * 64;
  const goodElf = parseElf(good);

  it('bad magic', () => {
    const bad = good.slice();
    bad[1] = 0x46;
    const e = expectElfError(() => parseElf(bad, 'x.o'), /not an ELF file/);
    expect(e.file).toBe('x.o');
    expect(e.offset).toBe(0);
    expectElfError(() => parseElf(new Uint8Array(0)), /not an ELF file/);
  });

  it('ELFCLASS32, big-endian and bad ident version', () => {
    const c32 = good.slice();
    c32[4] = 1;
    expectElfError(() => parseElf(c32), /ELFCLASS32.*only ELFCLASS64/);
    const be = good.slice();
    be[5] = 2;
    expectElfError(() => parseElf(be), /big-endian.*not supported|only little-endian/);
    const ver = good.slice();
    ver[6] = 9;
    expectElfError(() => parseElf(ver), /ident version 9/);
  });

  it('a host (x86-64) object, naming the machine', () => {
    const host = compile('host', 'int f(int x) { return x + 1; }\n', 'x86_64-linux-gnu');
    const e = expectElfError(() => parseElf(host, 'host.o'), /e_machine is 62 \(x86-64/);
    expect(e.offset).toBe(18);
    expect(parseElf(host, 'host.o', { anyMachine: true }).header.machine).toBe(62);
  });

  it('every truncation of a real object', () => {
    const small = compile('trunc', SOURCE);
    for (let len = 0; len < small.length; len++) {
      expect(() => parseElf(small.subarray(0, len)), `length ${len}`).toThrow(ElfError);
    }
  });

  it('section header table past the end, or a wrong entry size', () => {
    expectElfError(() => parseElf(patchU64(good, 40, BigInt(good.length - 10))), /section header table/);
    expectElfError(() => parseElf(patchU32(good, 58, 0x28)), /e_shentsize is 40/);
    const many = good.slice();
    new DataView(many.buffer).setUint16(60, 0xfff0, true);
    expectElfError(() => parseElf(many), /runs past the end of the file/);
  });

  it('section contents past the end of the file, naming the section', () => {
    const btf = goodElf.sectionByName('.BTF')!;
    const e = expectElfError(
      () => parseElf(patchU64(good, shdr(btf.index) + 24, BigInt(good.length - 4)), 'o.o'),
      /section contents .* run past the end of the file/,
    );
    expect(e.section).toBe(`#${btf.index}`);
    expect(e.offset).toBe(shdr(btf.index));
    expectElfError(() => parseElf(patchU64(good, shdr(btf.index) + 32, 0xffffffffffffn)), /run past the end/);
  });

  it('bad string offsets in section and symbol names', () => {
    expectElfError(
      () => parseElf(patchU32(good, shdr(3), 0x7fffffff)),
      /section name: string offset 2147483647/,
    );
    const symtab = goodElf.sections.find((s) => s.type === SHT.SYMTAB)!;
    const e = expectElfError(
      () => parseElf(patchU32(good, symtab.offset + 24, 0xfffff), 'o.o'),
      /name of symbol 1: string offset/,
    );
    expect(e.section).toBe('.symtab');
    expect(e.offset).toBe(symtab.offset + 24);
    expectElfError(
      () => parseElf(patchU32(good, shdr(goodElf.header.shstrndx) + 4, SHT.PROGBITS)),
      /not SHT_STRTAB/,
    );
  });

  it('symbol table problems: entry size, link, section index', () => {
    const symtab = goodElf.sections.find((s) => s.type === SHT.SYMTAB)!;
    expectElfError(() => parseElf(patchU64(good, shdr(symtab.index) + 56, 16n)), /entry size is 16/);
    expectElfError(
      () => parseElf(patchU32(good, shdr(symtab.index) + 40, 0)),
      /does not name a string table/,
    );
    const bad = good.slice();
    new DataView(bad.buffer).setUint16(symtab.offset + 24 + 6, 0x7000, true);
    expectElfError(() => parseElf(bad), /symbol 1 refers to section 28672/);
  });

  it('relocation problems: bad symbol, bad target section, offset outside the target', () => {
    const rel = goodElf.sections.find((s) => s.type === SHT.REL)!;
    expectElfError(() => parseElf(patchU32(good, rel.offset + 12, 5000)), /names symbol 5000/);
    expectElfError(
      () => parseElf(patchU32(good, shdr(rel.index) + 44, 999)),
      /sh_info 999 does not name a section/,
    );
    expectElfError(() => parseElf(patchU64(good, rel.offset, 0x100000n)), /outside section/);
    expectElfError(
      () => parseElf(patchU64(good, shdr(rel.index) + 56, 24n)),
      /entry size is 24, expected 16/,
    );
  });
});
