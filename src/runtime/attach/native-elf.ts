/**
 * Function symbols of native executables and shared libraries, for uprobes: the uprobe PMU takes a file
 * offset, so a symbol's virtual address is turned into one through the program header of the segment that
 * maps it (or, without one, the section that holds it).
 *
 * Only the ELF header, the program and section headers, and the symbol and string tables are read, with
 * positional reads: a large binary is not loaded whole.
 *
 * @module
 */
import { BpfError, ElfError } from '../../errors.js';
import { fileOffsetOf, type NativeElf, SHT_NOBITS, withNativeElf } from './native-file.js';

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const SYM_SIZE = 24;

/** A function symbol of a native ELF file. */
export interface NativeFunction {
  readonly name: string;
  /** Virtual address (`st_value`). */
  readonly address: bigint;
  /** Where the function's first byte is in the file: what a uprobe takes. */
  readonly fileOffset: bigint;
  readonly size: bigint;
  /** `'global'`, `'weak'` or `'local'`. */
  readonly bind: 'local' | 'global' | 'weak';
  /** Whether it is an indirect function (its address is the resolver's, not the implementation's). */
  readonly ifunc: boolean;
}

/** Every defined function symbol of `path` (from `.symtab` and `.dynsym`), with its file offset. */
export function readNativeFunctions(path: string): NativeFunction[] {
  return withNativeElf(path, 'find its symbols', readFunctions);
}

function readFunctions(r: NativeElf): NativeFunction[] {
  const { sections, segments } = r;
  if (sections.length === 0) {
    throw new ElfError('the file has no section headers, so no symbols', { file: r.path });
  }
  const out: NativeFunction[] = [];
  for (const s of sections) {
    if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
    const strtab = sections[s.link];
    if (strtab === undefined || strtab.type === SHT_NOBITS) {
      throw new ElfError(`symbol table links to missing string table ${s.link}`, { file: r.path });
    }
    const syms = r.read(s.offset, s.size, 'symbol table');
    const strings = r.read(strtab.offset, strtab.size, 'symbol string table');
    const count = Math.floor(syms.length / SYM_SIZE);
    for (let i = 1; i < count; i++) {
      const o = i * SYM_SIZE;
      const info = syms[o + 4];
      const type = info & 0xf;
      const shndx = syms.readUInt16LE(o + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === SHN_UNDEF) continue;
      const nameOff = syms.readUInt32LE(o);
      const end = strings.indexOf(0, nameOff);
      if (nameOff >= strings.length || end < 0) continue;
      const name = strings.toString('utf8', nameOff, end);
      const address = syms.readBigUInt64LE(o + 8);
      const bindValue = info >> 4;
      const bind = bindValue === 1 ? 'global' : bindValue === 2 ? 'weak' : 'local';
      const section = sections[shndx];
      const fileOffset = fileOffsetOf(address, segments, section === undefined ? [] : [section]);
      if (fileOffset === undefined) continue;
      out.push({
        name,
        address,
        fileOffset,
        size: syms.readBigUInt64LE(o + 16),
        bind,
        ifunc: type === STT_GNU_IFUNC,
      });
    }
  }
  return out;
}

/**
 * The file offset of function `func` in `path`. When several symbols carry the name (`.symtab` and
 * `.dynsym` both list exported ones) they must agree; a global definition wins over weak and local ones.
 *
 * @throws BpfError `ENOENT` when there is no such function, `EINVAL` when the name is ambiguous or an
 *   indirect function
 */
export function functionOffset(path: string, func: string): bigint {
  return pickFunction(readNativeFunctions(path), path, func).fileOffset;
}

/** @internal {@link functionOffset} over already-read symbols. */
export function pickFunction(all: readonly NativeFunction[], path: string, func: string): NativeFunction {
  const named = all.filter((f) => f.name === func);
  if (named.length === 0) {
    throw new BpfError(`${path} has no function symbol '${func}' (in .symtab or .dynsym)`, {
      code: 'ENOENT',
      command: 'resolve uprobe',
    });
  }
  const rank = { global: 0, weak: 1, local: 2 } as const;
  const best = Math.min(...named.map((f) => rank[f.bind]));
  const chosen = named.filter((f) => rank[f.bind] === best);
  const offsets = new Set(chosen.map((f) => f.fileOffset));
  if (offsets.size > 1) {
    throw new BpfError(
      `${path} has ${offsets.size} different functions named '${func}' (file offsets ${[...offsets].map((o) => `0x${o.toString(16)}`).join(', ')}); give an offset instead`,
      { code: 'EINVAL', command: 'resolve uprobe' },
    );
  }
  const f = chosen[0];
  if (f.ifunc) {
    throw new BpfError(
      `${path}: '${func}' is an indirect function (STT_GNU_IFUNC); a probe there would hit its resolver, not the implementation`,
      { code: 'EINVAL', command: 'resolve uprobe' },
    );
  }
  return f;
}

/** Turns a shell-style pattern (`*`, `?`) into an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
