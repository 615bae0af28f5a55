/**
 * ELF64 little-endian reader for eBPF objects: validates the header and every section header, then reads
 * the symbol table and relocation sections (see symbols.ts and relocations.ts).
 *
 * @module
 */
import { ElfError } from '../errors.js';
import { readRelocations } from './relocations.js';
import { readCString } from './strtab.js';
import { readSymbols } from './symbols.js';
import {
  type ElfFile,
  type ElfHeader,
  type ElfRelocation,
  type ElfSection,
  type ElfSymbol,
  EM_BPF,
  SHN,
  SHT,
} from './types.js';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const EV_CURRENT = 1;

/** Known `e_machine` values, so a wrong-machine error can say what the file is for. */
const MACHINE_NAMES: Record<number, string> = {
  3: 'x86 (EM_386)',
  8: 'MIPS (EM_MIPS)',
  20: 'PowerPC (EM_PPC)',
  21: 'PowerPC64 (EM_PPC64)',
  22: 's390 (EM_S390)',
  40: 'ARM (EM_ARM)',
  62: 'x86-64 (EM_X86_64)',
  183: 'AArch64 (EM_AARCH64)',
  243: 'RISC-V (EM_RISCV)',
  258: 'LoongArch (EM_LOONGARCH)',
};

/** Reads a u64 field as a number; values above 2^53 lose precision but still exceed any file size. */
function u64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x1_0000_0000;
}

/** Options of {@link parseElf}. */
export interface ParseElfOptions {
  /** Accept objects for any machine, not only EM_BPF. */
  anyMachine?: boolean;
}

/**
 * Parses an ELF64 little-endian eBPF object (`e_machine` EM_BPF). Everything is bounds-checked: the header,
 * section headers, section contents, string tables, the symbol table and relocation entries. Big-endian
 * objects are not supported. Section `data` are views into `bytes` (no copy).
 *
 * @param bytes the whole file
 * @param file the path, used in error messages
 * @param opts `anyMachine`: accept any `e_machine` (to read the `.BTF` of a vmlinux image, say)
 * @throws ElfError naming the file, section and offset of the first problem found
 */
export function parseElf(bytes: Uint8Array, file?: string, opts: ParseElfOptions = {}): ElfFile {
  const fileLoc = { file: file ?? '<bytes>' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(bytes, view, fileLoc.file, opts.anyMachine === true);
  const { sections: headers, shstrndx } = readSectionHeaders(
    bytes,
    view,
    header.shoff,
    header.shnum,
    header.shstrndx,
    fileLoc.file,
  );
  const fullHeader: ElfHeader = { ...header.fields, shstrndx };

  const shstr = headers[shstrndx];
  if (shstrndx !== 0 && shstr.type !== SHT.STRTAB) {
    throw new ElfError(`section name table (index ${shstrndx}) has type ${shstr.type}, not SHT_STRTAB`, {
      ...fileLoc,
      offset: header.shoff + shstrndx * SHDR_SIZE,
    });
  }
  const sections: ElfSection[] = headers.map((h, index) => {
    const name =
      shstrndx === 0
        ? ''
        : readCString(shstr.data, h.nameOff, () => ({
            what: 'section name',
            where: { ...fileLoc, section: `#${index}`, offset: header.shoff + index * SHDR_SIZE },
          }));
    return {
      index,
      name,
      type: h.type,
      flags: h.flags,
      addr: h.addr,
      offset: h.offset,
      size: h.size,
      link: h.link,
      info: h.info,
      addralign: h.addralign,
      entsize: h.entsize,
      data: h.data,
    };
  });

  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  if (symtabs.length > 1) {
    throw new ElfError(
      `more than one symbol table (sections ${symtabs.map((s) => s.index).join(', ')})`,
      fileLoc,
    );
  }
  const symtab = symtabs[0];
  const symbols: ElfSymbol[] = symtab === undefined ? [] : readSymbols(symtab, sections, fileLoc.file);

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type !== SHT.REL && s.type !== SHT.RELA) continue;
    const list = readRelocations(s, sections, symtab, symbols, fileLoc.file);
    const target = relocations.get(s.info);
    if (target === undefined) relocations.set(s.info, list);
    else target.push(...list);
  }

  return makeElfFile(file, bytes, fullHeader, sections, symbols, relocations);
}

interface RawHeader {
  fields: Omit<ElfHeader, 'shstrndx'>;
  shoff: number;
  shnum: number;
  shstrndx: number;
}

function readHeader(bytes: Uint8Array, view: DataView, file: string, anyMachine: boolean): RawHeader {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic; expected 7f 45 4c 46)', { file, offset: 0 });
  }
  if (bytes.length < EHDR_SIZE) {
    throw new ElfError(`truncated ELF header: ${bytes.length} bytes, need ${EHDR_SIZE}`, { file, offset: 0 });
  }
  if (bytes[4] !== ELFCLASS64) {
    const cls = bytes[4] === 1 ? 'ELFCLASS32' : `class ${bytes[4]}`;
    throw new ElfError(`${cls} object; only ELFCLASS64 is supported`, { file, offset: 4 });
  }
  if (bytes[5] === ELFDATA2MSB) {
    throw new ElfError('big-endian object (ELFDATA2MSB); only little-endian eBPF objects are supported', {
      file,
      offset: 5,
    });
  }
  if (bytes[5] !== ELFDATA2LSB) throw new ElfError(`bad data encoding ${bytes[5]}`, { file, offset: 5 });
  if (bytes[6] !== EV_CURRENT) throw new ElfError(`bad ELF ident version ${bytes[6]}`, { file, offset: 6 });
  const machine = view.getUint16(18, true);
  if (machine !== EM_BPF && !anyMachine) {
    const known = MACHINE_NAMES[machine];
    throw new ElfError(
      `e_machine is ${machine}${known === undefined ? '' : ` (${known})`}, not ${EM_BPF} (EM_BPF): not an eBPF object`,
      { file, offset: 18 },
    );
  }
  const shentsize = view.getUint16(58, true);
  const shoff = u64(view, 40);
  const shnum = view.getUint16(60, true);
  if (shoff !== 0 && shentsize !== SHDR_SIZE) {
    throw new ElfError(`e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`, { file, offset: 58 });
  }
  return {
    fields: {
      type: view.getUint16(16, true),
      machine,
      version: view.getUint32(20, true),
      entry: view.getBigUint64(24, true),
      flags: view.getUint32(48, true),
    },
    shoff,
    shnum,
    shstrndx: view.getUint16(62, true),
  };
}

type SectionHeader = Omit<ElfSection, 'index' | 'name'> & { nameOff: number };

/** The contents of sections without any in the file (shared: never written to). */
const EMPTY = new Uint8Array(0);

function readSectionHeader(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  index: number,
  file: string,
): SectionHeader {
  const type = view.getUint32(at + 4, true);
  const offset = u64(view, at + 24);
  const size = u64(view, at + 32);
  let data: Uint8Array = EMPTY;
  if (type !== SHT.NOBITS && type !== SHT.NULL) {
    if (offset > bytes.length || size > bytes.length - offset) {
      throw new ElfError(
        `section contents (offset ${offset}, size ${size}) run past the end of the file (${bytes.length} bytes)`,
        { file, section: `#${index}`, offset: at },
      );
    }
    data = bytes.subarray(offset, offset + size);
  }
  return {
    nameOff: view.getUint32(at, true),
    type,
    flags: view.getUint32(at + 8, true),
    addr: view.getBigUint64(at + 16, true),
    offset,
    size,
    link: view.getUint32(at + 40, true),
    info: view.getUint32(at + 44, true),
    addralign: view.getBigUint64(at + 48, true),
    entsize: u64(view, at + 56),
    data,
  };
}

function readSectionHeaders(
  bytes: Uint8Array,
  view: DataView,
  shoff: number,
  shnumField: number,
  shstrndxField: number,
  file: string,
): { sections: SectionHeader[]; shstrndx: number } {
  if (shoff === 0) return { sections: [], shstrndx: 0 };
  if (shoff > bytes.length || bytes.length - shoff < SHDR_SIZE) {
    throw new ElfError(
      `section header table at ${shoff} is past the end of the file (${bytes.length} bytes)`,
      {
        file,
        offset: 40,
      },
    );
  }
  const first = readSectionHeader(bytes, view, shoff, 0, file);
  // Extended numbering: counts that do not fit in 16 bits live in section header 0.
  const shnum = shnumField === 0 ? first.size : shnumField;
  const shstrndx = shstrndxField === SHN.XINDEX ? first.link : shstrndxField;
  if (shnum > (bytes.length - shoff) / SHDR_SIZE) {
    throw new ElfError(
      `section header table (${shnum} entries at offset ${shoff}) runs past the end of the file (${bytes.length} bytes)`,
      { file, offset: 60 },
    );
  }
  if (shstrndx >= shnum) {
    throw new ElfError(`e_shstrndx ${shstrndx} is not a section index (${shnum} sections)`, {
      file,
      offset: 62,
    });
  }
  const sections: SectionHeader[] = [first];
  for (let i = 1; i < shnum; i++)
    sections.push(readSectionHeader(bytes, view, shoff + i * SHDR_SIZE, i, file));
  return { sections, shstrndx };
}

function makeElfFile(
  file: string | undefined,
  bytes: Uint8Array,
  header: ElfHeader,
  sections: readonly ElfSection[],
  symbols: readonly ElfSymbol[],
  relocations: ReadonlyMap<number, readonly ElfRelocation[]>,
): ElfFile {
  let byName: Map<string, ElfSection> | undefined;
  let bySection: Map<number, ElfSymbol[]> | undefined;
  return {
    file,
    bytes,
    header,
    sections,
    symbols,
    relocations,
    sectionByName(name) {
      if (byName === undefined) {
        byName = new Map();
        for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
      }
      return byName.get(name);
    },
    symbolsOf(index) {
      if (bySection === undefined) {
        bySection = new Map();
        for (const sym of symbols) {
          if (sym.index === 0) continue;
          const list = bySection.get(sym.shndx);
          if (list === undefined) bySection.set(sym.shndx, [sym]);
          else list.push(sym);
        }
        for (const list of bySection.values()) list.sort((a, b) => a.value - b.value || a.index - b.index);
      }
      return bySection.get(index) ?? [];
    },
    relocationsFor(index) {
      return relocations.get(index) ?? [];
    },
  };
}
