/**
 * The ELF64 symbol table.
 *
 * @module
 */
import { ElfError } from '../errors.js';
import { readCString } from './strtab.js';
import {
  type ElfSection,
  type ElfSymbol,
  type ElfSymbolBind,
  type ElfSymbolType,
  type ElfSymbolVisibility,
  SHN,
  SHT,
} from './types.js';

const SYM_SIZE = 24;

const BINDS: readonly ElfSymbolBind[] = ['local', 'global', 'weak'];
const TYPES: readonly ElfSymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];
const VISIBILITIES: readonly ElfSymbolVisibility[] = ['default', 'internal', 'hidden', 'protected'];

/**
 * Reads every entry of symbol table section `symtab`, whose `sh_link` names its string table. Checks entry
 * size, the string table, every name and every section index.
 */
export function readSymbols(symtab: ElfSection, sections: readonly ElfSection[], file: string): ElfSymbol[] {
  const loc = { file, section: symtab.name, offset: symtab.offset };
  if (symtab.entsize !== SYM_SIZE) {
    throw new ElfError(`symbol table entry size is ${symtab.entsize}, expected ${SYM_SIZE}`, loc);
  }
  if (symtab.size % SYM_SIZE !== 0) {
    throw new ElfError(`symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`, loc);
  }
  const strtab = sections[symtab.link];
  if (symtab.link === 0 || strtab === undefined || strtab.type !== SHT.STRTAB) {
    throw new ElfError(`symbol table sh_link ${symtab.link} does not name a string table`, loc);
  }
  const data = symtab.data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = symtab.size / SYM_SIZE;
  const symbols: ElfSymbol[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const at = index * SYM_SIZE;
    const where = () => ({ file, section: symtab.name, offset: symtab.offset + at });
    const info = data[at + 4];
    const shndx = view.getUint16(at + 6, true);
    if (shndx !== SHN.UNDEF && shndx < SHN.LORESERVE && shndx >= sections.length) {
      throw new ElfError(
        `symbol ${index} refers to section ${shndx}, but there are ${sections.length}`,
        where(),
      );
    }
    if (shndx === SHN.XINDEX) {
      throw new ElfError(
        `symbol ${index} uses SHN_XINDEX (extended section indices are not supported)`,
        where(),
      );
    }
    symbols[index] = {
      index,
      name: readCString(strtab.data, view.getUint32(at, true), () => ({
        what: `name of symbol ${index}`,
        where: where(),
      })),
      value: view.getUint32(at + 8, true) + view.getUint32(at + 12, true) * 0x1_0000_0000,
      size: view.getUint32(at + 16, true) + view.getUint32(at + 20, true) * 0x1_0000_0000,
      bind: BINDS[info >> 4] ?? 'other',
      type: TYPES[info & 0xf] ?? 'other',
      visibility: VISIBILITIES[data[at + 5] & 0x3],
      shndx,
    };
  }
  return symbols;
}
