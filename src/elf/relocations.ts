/**
 * ELF64 relocation sections (`SHT_REL`, `SHT_RELA`).
 *
 * @module
 */
import { ElfError } from '../errors.js';
import { type ElfRelocation, type ElfSection, type ElfSymbol, SHT } from './types.js';

const REL_SIZE = 16;
const RELA_SIZE = 24;

/**
 * Reads the entries of relocation section `rel`. Its `sh_link` must name the symbol table and its `sh_info`
 * the section the entries apply to; each entry must name an existing symbol and lie inside that section.
 */
export function readRelocations(
  rel: ElfSection,
  sections: readonly ElfSection[],
  symtab: ElfSection | undefined,
  symbols: readonly ElfSymbol[],
  file: string,
): ElfRelocation[] {
  const loc = { file, section: rel.name, offset: rel.offset };
  const rela = rel.type === SHT.RELA;
  const entSize = rela ? RELA_SIZE : REL_SIZE;
  if (rel.entsize !== entSize) {
    throw new ElfError(`relocation entry size is ${rel.entsize}, expected ${entSize}`, loc);
  }
  if (rel.size % entSize !== 0) {
    throw new ElfError(`relocation section size ${rel.size} is not a multiple of ${entSize}`, loc);
  }
  if (symtab === undefined || rel.link !== symtab.index) {
    throw new ElfError(`relocation section sh_link ${rel.link} does not name the symbol table`, loc);
  }
  const target = sections[rel.info];
  if (rel.info === 0 || target === undefined) {
    throw new ElfError(`relocation section sh_info ${rel.info} does not name a section`, loc);
  }
  const data = rel.data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = rel.size / entSize;
  const out: ElfRelocation[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * entSize;
    const where = { file, section: rel.name, offset: rel.offset + at };
    const offset = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
    const type = view.getUint32(at + 8, true);
    const symbol = view.getUint32(at + 12, true);
    if (symbol >= symbols.length) {
      throw new ElfError(`relocation ${i} names symbol ${symbol}, but there are ${symbols.length}`, where);
    }
    if (offset >= target.size) {
      throw new ElfError(
        `relocation ${i} at offset ${offset} is outside section ${target.name} (${target.size} bytes)`,
        where,
      );
    }
    out[i] = {
      section: target.index,
      relSection: rel.index,
      offset,
      symbol,
      type,
      addend: rela ? Number(view.getBigInt64(at + 16, true)) : undefined,
    };
  }
  return out;
}
