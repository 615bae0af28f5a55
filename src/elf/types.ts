/**
 * The model of a parsed ELF64 little-endian object: header, sections, symbols and relocations. Offsets and
 * sizes are numbers (they index into the file); addresses are bigints.
 *
 * @module
 */

/** `e_machine` of eBPF objects. */
export const EM_BPF = 247;

/** Section types (`sh_type`) that matter to BPF objects. */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  LLVM_ADDRSIG: 0x6fff4c03,
} as const;

/** Section flags (`sh_flags`). */
export const SHF = {
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
  MERGE: 0x10,
  STRINGS: 0x20,
  INFO_LINK: 0x40,
  GROUP: 0x200,
  TLS: 0x400,
} as const;

/** Special section indices (`st_shndx`). */
export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;

/** Symbol binding (`ELF64_ST_BIND`). */
export type ElfSymbolBind = 'local' | 'global' | 'weak' | 'other';
/** Symbol type (`ELF64_ST_TYPE`). */
export type ElfSymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'other';
/** Symbol visibility (`ELF64_ST_VISIBILITY`). */
export type ElfSymbolVisibility = 'default' | 'internal' | 'hidden' | 'protected';

/** The ELF header fields a reader needs. */
export interface ElfHeader {
  /** `e_type`: 1 relocatable, 2 executable, 3 shared object. */
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly flags: number;
  /** Index of the section-name string table. */
  readonly shstrndx: number;
}

/** A section. `data` is a view into the file bytes (empty for `SHT_NOBITS`, whose `size` is still its size). */
export interface ElfSection {
  readonly index: number;
  readonly name: string;
  /** `sh_type` (see {@link SHT}). */
  readonly type: number;
  /** `sh_flags`, low 32 bits (every defined flag lives there; see {@link SHF}). */
  readonly flags: number;
  readonly addr: bigint;
  /** File offset of the contents. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: number;
  readonly data: Uint8Array;
}

/** A symbol of the symbol table; `index` is its position (index 0 is the null symbol). */
export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  /** `st_value`: for BPF objects, the offset of the symbol within its section. */
  readonly value: number;
  readonly size: number;
  readonly bind: ElfSymbolBind;
  readonly type: ElfSymbolType;
  readonly visibility: ElfSymbolVisibility;
  /** Section index, or a special index ({@link SHN}). */
  readonly shndx: number;
}

/** A relocation entry. */
export interface ElfRelocation {
  /** Index of the section the relocation applies to (the `sh_info` of its `.rel` section). */
  readonly section: number;
  /** Index of the `.rel`/`.rela` section holding the entry. */
  readonly relSection: number;
  /** Byte offset within the target section. */
  readonly offset: number;
  /** Index into the symbol table (0: no symbol). */
  readonly symbol: number;
  /** Relocation type (`R_BPF_*`: 1 64_64, 2 64_ABS64, 3 64_ABS32, 4 64_NODYLD32, 10 64_32). */
  readonly type: number;
  /** Explicit addend of `SHT_RELA` entries; undefined for `SHT_REL`. */
  readonly addend: number | undefined;
}

/** A parsed ELF object. */
export interface ElfFile {
  /** The file path given to the parser, for messages. */
  readonly file: string | undefined;
  /** The whole file. */
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  /** Every section, index = section index (index 0 is the null section). */
  readonly sections: readonly ElfSection[];
  /** The symbol table (index 0 is the null symbol); empty when the object has none. */
  readonly symbols: readonly ElfSymbol[];
  /** The first section named `name`, or undefined. */
  sectionByName(name: string): ElfSection | undefined;
  /** Symbols defined in section `index`, ordered by value. */
  symbolsOf(index: number): readonly ElfSymbol[];
  /** Relocations that apply to section `index` (from every `SHT_REL`/`SHT_RELA` section whose `sh_info` names it). */
  relocationsFor(index: number): readonly ElfRelocation[];
  /** Every relocation section, keyed by the index of the section it applies to. */
  readonly relocations: ReadonlyMap<number, readonly ElfRelocation[]>;
}
