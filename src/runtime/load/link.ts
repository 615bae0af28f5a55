/**
 * Builds the instructions of one entry program for the kernel: its own function, then every subprogram it
 * reaches (depth first, in order of first call, as libbpf lays them out so program tags match), with calls,
 * callbacks, map and global data references resolved, and func_info/line_info moved along.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import { patchExtern } from '../externs/patch.js';
import type { ExternValue } from '../externs/resolve.js';
import { INSN_SIZE, imm, isSubprogCall, OP_LD_IMM64, opcode, Pseudo, setImm, setSrcReg } from '../insn.js';
import type { FunctionSpec, InsnRelocation, ObjectSpec, ProgramSpec } from '../spec.js';
import { functionKey } from '../spec.js';

/** One func_info record for the kernel: instruction index and BTF id of the `func`. */
export interface FuncInfoRecord {
  readonly insn: number;
  readonly typeId: number;
}

/** One line_info record for the kernel (string offsets into the object's BTF string table). */
export interface LineInfoRecord {
  readonly insn: number;
  readonly fileNameOff: number;
  readonly lineOff: number;
  readonly lineCol: number;
}

/** Where func_info and line_info of a section come from (the object's `.BTF.ext`). */
export interface ExtInfoSource {
  funcInfo(section: string): readonly { readonly insnOff: number; readonly typeId: number }[];
  lineInfo(section: string): readonly {
    readonly insnOff: number;
    readonly fileNameOff: number;
    readonly lineOff: number;
    readonly lineCol: number;
  }[];
}

/** A linked program, ready for BPF_PROG_LOAD. */
export interface LinkedProgram {
  readonly insns: Uint8Array;
  readonly funcInfo: readonly FuncInfoRecord[];
  readonly lineInfo: readonly LineInfoRecord[];
  /** Names of the maps the instructions reference (for PROG_BIND_MAP and diagnostics). */
  readonly maps: ReadonlySet<string>;
  /** Where instruction `insn` of the linked program came from: section name and byte offset there. */
  readonly origin: (insn: number) => { section: string; insnOff: number } | undefined;
}

/** Resolves a map name to its FD at load time. */
export type MapFdLookup = (name: string) => number;

/** The instructions of a code section as they are to be loaded (CO-RE-relocated copies, or the file's). */
export type SectionInsns = (section: number) => Uint8Array;

/**
 * Links `program`; `ext` is undefined when the object has no `.BTF.ext` or BTF was not loaded. `insnsOf`
 * gives each section's instructions (default: as in the file); `externs` what each extern resolved to.
 */
export function linkProgram(
  spec: ObjectSpec,
  program: ProgramSpec,
  mapFd: MapFdLookup,
  ext: ExtInfoSource | undefined,
  insnsOf: SectionInsns = (section) => spec.elf.sections[section].data,
  externs?: ReadonlyMap<string, ExternValue>,
): LinkedProgram {
  const layout: { fn: FunctionSpec; at: number }[] = [];
  const placed = new Map<string, number>();
  let total = 0;
  const place = (fn: FunctionSpec): number => {
    const at = total;
    layout.push({ fn, at });
    placed.set(functionKey(fn.section, fn.start), at);
    total += fn.count;
    return at;
  };
  const lookup = (section: number, target: number, from: FunctionSpec): FunctionSpec => {
    const fn = spec.functions.get(functionKey(section, target));
    if (fn === undefined) {
      throw new BpfError(
        `program '${program.name}': '${from.name}' calls instruction ${target} of section ${section}, which starts no function`,
        { code: 'EBADELF', command: 'link' },
      );
    }
    return fn;
  };
  // Depth first: a subprogram is appended when first referenced, and its own references are followed at once.
  const visit = (fn: FunctionSpec): void => {
    const relocs = spec.relocations.get(fn.section);
    const insns = insnsOf(fn.section);
    for (let i = fn.start; i < fn.start + fn.count; i++) {
      const target = callTarget(insns, i, relocs?.get(i), fn);
      if (target === undefined) continue;
      const callee = lookup(target.section, target.insn, fn);
      if (placed.has(functionKey(callee.section, callee.start))) continue;
      place(callee);
      visit(callee);
    }
  };
  place(program);
  visit(program);

  const out = new Uint8Array(total * INSN_SIZE);
  const maps = new Set<string>();
  for (const { fn, at } of layout) {
    const src = insnsOf(fn.section);
    out.set(src.subarray(fn.start * INSN_SIZE, (fn.start + fn.count) * INSN_SIZE), at * INSN_SIZE);
    const relocs = spec.relocations.get(fn.section);
    for (let i = fn.start; i < fn.start + fn.count; i++) {
      const j = at + (i - fn.start);
      const rel = relocs?.get(i);
      const target = callTarget(src, i, rel, fn);
      if (target !== undefined) {
        const calleeAt = placed.get(functionKey(target.section, target.insn)) as number;
        setImm(out, j, calleeAt - j - 1);
        if (rel?.kind === 'func') setSrcReg(out, j, Pseudo.FUNC);
        continue;
      }
      if (rel === undefined) continue;
      if (rel.kind === 'map') {
        setSrcReg(out, j, Pseudo.MAP_FD);
        setImm(out, j, mapFd(rel.map));
        maps.add(rel.map);
      } else if (rel.kind === 'data') {
        setSrcReg(out, j, Pseudo.MAP_VALUE);
        setImm(out, j, mapFd(rel.map));
        setImm(out, j + 1, rel.offset);
        maps.add(rel.map);
      } else if (rel.kind === 'extern') {
        const map = patchExtern(out, j, rel.name, externs?.get(rel.name), mapFd, program.name);
        if (map !== undefined) maps.add(map);
      }
    }
  }

  const funcInfo: FuncInfoRecord[] = [];
  const lineInfo: LineInfoRecord[] = [];
  if (ext !== undefined) {
    for (const { fn, at } of layout) {
      const lo = fn.start * INSN_SIZE;
      const hi = (fn.start + fn.count) * INSN_SIZE;
      for (const r of ext.funcInfo(fn.sectionName)) {
        if (r.insnOff >= lo && r.insnOff < hi)
          funcInfo.push({ insn: at + (r.insnOff - lo) / INSN_SIZE, typeId: r.typeId });
      }
      for (const r of ext.lineInfo(fn.sectionName)) {
        if (r.insnOff >= lo && r.insnOff < hi) {
          lineInfo.push({
            insn: at + (r.insnOff - lo) / INSN_SIZE,
            fileNameOff: r.fileNameOff,
            lineOff: r.lineOff,
            lineCol: r.lineCol,
          });
        }
      }
    }
  }
  const origin = (insn: number) => {
    const at = layout.findLast((l) => l.at <= insn);
    if (at === undefined || insn >= at.at + at.fn.count) return undefined;
    return { section: at.fn.sectionName, insnOff: (at.fn.start + insn - at.at) * INSN_SIZE };
  };
  return { insns: out, funcInfo, lineInfo, maps, origin };
}

/** The callee of a subprogram call or callback reference at instruction `i`, in section coordinates. */
function callTarget(
  insns: Uint8Array,
  i: number,
  rel: InsnRelocation | undefined,
  fn: FunctionSpec,
): { section: number; insn: number } | undefined {
  if (rel?.kind === 'call' || rel?.kind === 'func') return { section: rel.section, insn: rel.target };
  if (rel === undefined && isSubprogCall(insns, i))
    return { section: fn.section, insn: i + imm(insns, i) + 1 };
  if (
    rel === undefined &&
    opcode(insns, i) === OP_LD_IMM64 &&
    insns[i * INSN_SIZE + 1] >> 4 === Pseudo.FUNC
  ) {
    return { section: fn.section, insn: i + imm(insns, i) + 1 };
  }
  return undefined;
}
