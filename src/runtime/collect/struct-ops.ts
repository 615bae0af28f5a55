/**
 * struct_ops maps: each variable of a `.struct_ops` or `.struct_ops.link` section is a kernel struct of
 * callbacks (`struct tcp_congestion_ops`, `struct sched_ext_ops`...) that the object fills. Its function
 * pointer members name entry programs through the section's relocations; its other members are data.
 *
 * @module
 */
import type { Btf, BtfComposite, BtfDatasec } from '../../btf/types.js';
import type { ElfFile } from '../../elf/types.js';
import { ElfError } from '../../errors.js';
import type { MapSpec, ProgramSpec, StructOpsMemberSpec } from '../spec.js';
import { MapFlag } from '../sys/consts.js';
import { MapTypes } from '../sys/kinds.js';
import { kernelObjName } from './maps.js';

/** Sections whose variables are struct_ops maps, and whether their maps register through a link. */
const STRUCT_OPS_SECTIONS: ReadonlyMap<string, boolean> = new Map([
  ['.struct_ops', false],
  ['.struct_ops.link', true],
]);

/** `R_BPF_64_ABS64`: a 64-bit address, what clang emits for `.member = (void *)prog`. */
const R_BPF_64_ABS64 = 2;

/** Whether `name` is a section whose variables are struct_ops maps. */
export function isStructOpsSection(name: string): boolean {
  return STRUCT_OPS_SECTIONS.has(name);
}

/**
 * The kernel's name of a local struct type: a `___<flavour>` suffix is dropped, so that an object can
 * declare its own variant of a kernel struct (`tcp_congestion_ops___v2`) as with CO-RE.
 */
export function kernelTypeName(local: string): string {
  const at = local.indexOf('___');
  return at > 0 ? local.slice(0, at) : local;
}

/** One map per variable of every struct_ops section, with its members and the programs they name. */
export function collectStructOpsMaps(
  elf: ElfFile,
  btf: Btf | undefined,
  programs: readonly ProgramSpec[],
): MapSpec[] {
  const maps: MapSpec[] = [];
  for (const section of elf.sections) {
    const link = STRUCT_OPS_SECTIONS.get(section.name);
    if (link === undefined) continue;
    const where = { file: elf.file, section: section.name };
    if (btf === undefined) throw new ElfError('struct_ops maps need the object BTF (compile with -g)', where);
    const datasec = btf.findByName(section.name, 'datasec') as BtfDatasec | undefined;
    if (datasec === undefined) throw new ElfError(`the BTF has no DATASEC describing ${section.name}`, where);
    const symbols = new Map(elf.symbolsOf(section.index).map((s) => [s.name, s]));
    const relocs = elf.relocationsFor(section.index);
    for (const info of datasec.vars) {
      const v = btf.typeById(info.type);
      if (v.kind !== 'var') throw new ElfError(`DATASEC entry ${info.type} is not a variable`, where);
      const bad = (why: string, offset?: number): ElfError =>
        new ElfError(`struct_ops map '${v.name}': ${why}`, { ...where, offset });
      const struct = btf.resolve(v.type);
      if (struct.kind !== 'struct') throw bad('the variable is not a struct');
      const sym = symbols.get(v.name);
      if (sym === undefined) throw bad('the variable has BTF but no symbol in the section');
      const start = sym.value;
      if (start + struct.size > section.size) throw bad('the variable lies outside its section', start);
      const members = collectMembers(btf, struct, bad);
      const data = new Uint8Array(struct.size);
      data.set(section.data.subarray(start, start + struct.size));
      const byOffset = new Map(members.filter((m) => m.funcPtr).map((m) => [m.offset, m]));
      const named = new Map<number, string>();
      for (const rel of relocs) {
        if (rel.offset < start || rel.offset >= start + struct.size) continue;
        const member = byOffset.get(rel.offset - start);
        if (member === undefined || rel.type !== R_BPF_64_ABS64) {
          throw bad('a relocation points into the struct but not at a function pointer member', rel.offset);
        }
        const target = elf.symbols[rel.symbol];
        const program = programs.find((p) => p.name === target?.name && p.section === target.shndx);
        if (program === undefined || program.sectionSpec.progType !== 'struct_ops') {
          throw bad(
            `member '${member.name}' points to '${target?.name ?? rel.symbol}', which is not a struct_ops program (SEC("struct_ops/...") or SEC("struct_ops.s/..."))`,
            rel.offset,
          );
        }
        named.set(member.index, program.name);
        // The slot gets a program FD at load; the bytes clang left there mean nothing.
        data.fill(0, member.offset, member.offset + 8);
      }
      maps.push({
        name: v.name,
        kernelName: kernelObjName(v.name),
        type: MapTypes.struct_ops,
        keySize: 4,
        // The local struct's size until load, where the kernel's value type decides.
        valueSize: struct.size,
        maxEntries: 1,
        flags: link ? MapFlag.LINK : 0,
        numaNode: 0,
        mapExtra: 0n,
        pinning: 'none',
        btfKeyTypeId: 0,
        btfValueTypeId: 0,
        inner: undefined,
        slots: new Map(),
        data: undefined,
        structOps: {
          localType: struct.name,
          kernelType: kernelTypeName(struct.name),
          section: section.name,
          link,
          data,
          members: members.map((m) => ({ ...m, program: named.get(m.index) })),
        },
      });
    }
  }
  return maps;
}

function collectMembers(
  btf: Btf,
  struct: BtfComposite,
  bad: (why: string) => ElfError,
): StructOpsMemberSpec[] {
  if (struct.name === '') throw bad('the struct type has no name, so the kernel struct it fills is unknown');
  return btf.memberLayout(struct.id).map((m, index) => {
    if (m.name === '') throw bad(`member ${index} has no name, so the kernel member it fills is unknown`);
    const t = btf.resolve(m.type);
    const funcPtr = t.kind === 'ptr' && btf.resolve(t.type).kind === 'func_proto';
    const bitfield = m.bitfieldSize !== 0;
    return {
      name: m.name,
      index,
      offset: Math.floor(m.bitOffset / 8),
      size: btf.sizeOf(m.type),
      bitfield,
      funcPtr,
      program: undefined,
    };
  });
}

/**
 * The programs of `programs` with autoload turned off when they are struct_ops programs that no struct_ops
 * map references: such a program has no member to be loaded for (as libbpf does). Setting autoload back on
 * makes `load()` fail, naming the program.
 */
export function disableUnusedStructOpsPrograms(
  programs: readonly ProgramSpec[],
  maps: readonly MapSpec[],
): ProgramSpec[] {
  const used = new Set<string>();
  for (const m of maps)
    for (const member of m.structOps?.members ?? []) if (member.program) used.add(member.program);
  return programs.map((p) =>
    p.sectionSpec.progType !== 'struct_ops' || used.has(p.name)
      ? p
      : { ...p, sectionSpec: { ...p.sectionSpec, autoload: false } },
  );
}
