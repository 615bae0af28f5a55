/**
 * ELF64 reader for eBPF objects.
 *
 * @module
 */
export type { ParseElfOptions } from './reader.js';
export { parseElf } from './reader.js';
export type {
  ElfFile,
  ElfHeader,
  ElfRelocation,
  ElfSection,
  ElfSymbol,
  ElfSymbolBind,
  ElfSymbolType,
  ElfSymbolVisibility,
} from './types.js';
export { EM_BPF, SHF, SHN, SHT } from './types.js';
