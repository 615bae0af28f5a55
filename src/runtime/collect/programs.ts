/**
 * Finds the functions of every code section (entry programs and subprograms) and classifies the relocations
 * of their instructions.
 *
 * @module
 */

import type { ElfFile, ElfSection } from '../../elf/types.js';
import { SHF, SHN, SHT } from '../../elf/types.js';
import { ElfError } from '../../errors.js';
import { INSN_SIZE, imm, isSubprogCall, OP_CALL, OP_LD_IMM64, opcode } from '../insn.js';
import { parseSectionName } from '../sections.js';
import type { FunctionSpec, InsnRelocation, ProgramSpec } from '../spec.js';
import { functionKey } from '../spec.js';

/** Sections that hold code. */
export function isCodeSection(s: ElfSection): boolean {
  return s.type === SHT.PROGBITS && (s.flags & SHF.EXECINSTR) !== 0 && s.size > 0;
}

/** Every function of every code section, and the entry programs among them. */
export function collectFunctions(elf: ElfFile): {
  functions: Map<string, FunctionSpec>;
  programs: ProgramSpec[];
} {
  const functions = new Map<string, FunctionSpec>();
  const programs: ProgramSpec[] = [];
  for (const section of elf.sections) {
    if (!isCodeSection(section)) continue;
    const where = { file: elf.file, section: section.name };
    if (section.size % INSN_SIZE !== 0) {
      throw new ElfError(`code section size ${section.size} is not a multiple of ${INSN_SIZE}`, where);
    }
    const isText = section.name === '.text';
    const spec = isText ? undefined : parseSectionName(section.name);
    if (!isText && spec === undefined) {
      throw new ElfError(
        `unknown program section name; use one of the libbpf section names (e.g. 'tp/<category>/<name>', 'xdp', 'socket')`,
        where,
      );
    }
    const syms = elf.symbolsOf(section.index).filter((s) => s.type === 'func');
    if (syms.length === 0) throw new ElfError('code section has no function symbols', where);
    for (const sym of syms) {
      if (sym.value % INSN_SIZE !== 0 || sym.size % INSN_SIZE !== 0 || sym.value + sym.size > section.size) {
        throw new ElfError(`function '${sym.name}' lies outside the section or is misaligned`, {
          ...where,
          offset: sym.value,
        });
      }
      const fn: FunctionSpec = {
        name: sym.name,
        section: section.index,
        sectionName: section.name,
        start: sym.value / INSN_SIZE,
        count: sym.size / INSN_SIZE,
        global: sym.bind === 'global' || sym.bind === 'weak',
      };
      functions.set(functionKey(fn.section, fn.start), fn);
      if (spec !== undefined) {
        if (!fn.global) {
          throw new ElfError(
            `program '${sym.name}' is static; entry programs must be global functions`,
            where,
          );
        }
        programs.push({ ...fn, sectionSpec: spec });
      }
    }
  }
  return { functions, programs };
}

/** Section indices of the sections that hold maps and global data, by name. */
export interface DataSections {
  readonly maps: number;
  /** Data section index → internal map name (the section name). */
  readonly data: ReadonlyMap<number, string>;
  /** Map variable offset within `.maps` → map name. */
  readonly mapsByOffset: ReadonlyMap<number, string>;
}

/** What each relocated instruction of each code section refers to. */
export function collectRelocations(
  elf: ElfFile,
  sections: DataSections,
): Map<number, Map<number, InsnRelocation>> {
  const out = new Map<number, Map<number, InsnRelocation>>();
  for (const section of elf.sections) {
    if (!isCodeSection(section)) continue;
    const perInsn = new Map<number, InsnRelocation>();
    for (const rel of elf.relocationsFor(section.index)) {
      const where = { file: elf.file, section: section.name, offset: rel.offset };
      if (rel.offset % INSN_SIZE !== 0 || rel.offset >= section.size) {
        throw new ElfError('relocation does not point at an instruction', where);
      }
      const i = rel.offset / INSN_SIZE;
      const sym = elf.symbols[rel.symbol];
      if (sym === undefined)
        throw new ElfError(`relocation names symbol ${rel.symbol}, which does not exist`, where);
      const insns = section.data;
      const op = opcode(insns, i);
      if (op === OP_CALL && sym.shndx === SHN.UNDEF) {
        // A kfunc: clang emits it as a subprogram call against the undefined extern's symbol.
        perInsn.set(i, { kind: 'extern', name: sym.name });
        continue;
      }
      if (isSubprogCall(insns, i)) {
        const target = sym.value / INSN_SIZE + imm(insns, i) + 1;
        perInsn.set(i, { kind: 'call', section: sym.shndx, target });
        continue;
      }
      if (op === OP_CALL) continue;
      if (op !== OP_LD_IMM64 || i + 1 >= section.size / INSN_SIZE) {
        throw new ElfError(
          `relocation against '${sym.name}' on an instruction that is not a 64-bit load`,
          where,
        );
      }
      perInsn.set(i, classifyLoad(elf, sections, sym.shndx, sym.name, sym.value + imm(insns, i), where));
    }
    out.set(section.index, perInsn);
  }
  return out;
}

function classifyLoad(
  elf: ElfFile,
  sections: DataSections,
  shndx: number,
  name: string,
  offset: number,
  where: { file: string | undefined; section: string; offset: number },
): InsnRelocation {
  if (shndx === SHN.UNDEF) return { kind: 'extern', name };
  if (shndx === sections.maps) {
    const map = sections.mapsByOffset.get(offset);
    if (map === undefined)
      throw new ElfError(`reference to '${name}' points into .maps but not at a map`, where);
    return { kind: 'map', map };
  }
  const dataMap = sections.data.get(shndx);
  if (dataMap !== undefined) return { kind: 'data', map: dataMap, offset };
  const target = elf.sections[shndx];
  if (target !== undefined && isCodeSection(target)) {
    return { kind: 'func', section: shndx, target: offset / INSN_SIZE };
  }
  throw new ElfError(
    `reference to '${name}' in section ${target?.name ?? shndx}, which is neither a map, global data nor code`,
    where,
  );
}
