/**
 * `bpf-skel inspect OBJ`: what an object holds, as the loader sees it: programs with their section, type and
 * attach target; maps with their kernel names and attributes; global data variables; the members of
 * struct_ops maps and their programs. Parse only.
 *
 * @module
 */
import { BpfObject } from '../runtime/object.js';

/** One program of {@link InspectReport}. */
export interface InspectProgram {
  readonly name: string;
  readonly section: string;
  readonly type: string;
  readonly expectedAttachType: string | null;
  readonly attach: string;
  readonly autoload: boolean;
  readonly instructions: number;
}

/** One map of {@link InspectReport}. */
export interface InspectMap {
  readonly name: string;
  readonly kernelName: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinning: string;
  /** For global data: the variables at their offsets. */
  readonly variables?: readonly { readonly name: string; readonly offset: number; readonly size: number }[];
  /** For struct_ops maps: the kernel struct they fill, how they register, and which program is which member. */
  readonly structOps?: {
    readonly kernelType: string;
    readonly link: boolean;
    readonly programs: readonly { readonly member: string; readonly program: string }[];
  };
}

/** What `inspect` prints (the `--json` shape). */
export interface InspectReport {
  readonly file: string;
  readonly name: string;
  readonly license: string;
  readonly btf: boolean;
  readonly programs: readonly InspectProgram[];
  readonly maps: readonly InspectMap[];
}

/** Reads `file` and describes it. */
export function inspectObject(file: string): InspectReport {
  using obj = BpfObject.open(file, { bpfTokenPath: '' });
  const btf = obj.spec.btf;
  // A struct_ops program is attached by the map member that points to it.
  const members = new Map<string, string>();
  for (const m of obj.maps.values()) {
    for (const mem of m.spec.structOps?.members ?? []) {
      if (mem.program !== undefined) members.set(mem.program, `struct_ops map ${m.name}.${mem.name}`);
    }
  }
  const programs = [...obj.programs.values()].map((p) => ({
    name: p.name,
    section: p.sectionName,
    type: p.type,
    expectedAttachType: p.expectedAttachType ?? null,
    attach: members.get(p.name) ?? (p.section.autoAttach ? `auto (${p.section.attachKind})` : 'explicit'),
    autoload: p.autoload,
    instructions: p.spec.count,
  }));
  const maps = [...obj.maps.values()].map((m): InspectMap => {
    const base = {
      name: m.name,
      kernelName: m.kernelName,
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      pinning: m.spec.pinning,
    };
    const ops = m.spec.structOps;
    if (ops !== undefined) {
      const programs = ops.members.flatMap((mem) =>
        mem.program === undefined ? [] : [{ member: mem.name, program: mem.program }],
      );
      return { ...base, structOps: { kernelType: ops.kernelType, link: ops.link, programs } };
    }
    const sec = m.internal ? btf?.findByName(m.name, 'datasec') : undefined;
    if (btf === undefined || sec === undefined) return base;
    const elfSec = obj.spec.elf.sectionByName(m.name);
    const offsets = new Map(
      elfSec === undefined ? [] : obj.spec.elf.symbolsOf(elfSec.index).map((s) => [s.name, s.value] as const),
    );
    const variables = sec.vars.map((v) => {
      const name = btf.typeById(v.type).name;
      return { name, offset: offsets.get(name) ?? v.offset, size: v.size };
    });
    return { ...base, variables };
  });
  return { file, name: obj.name, license: obj.license, btf: btf !== undefined, programs, maps };
}

/** The report as text for a terminal. */
export function formatInspect(r: InspectReport): string {
  const out = [
    `${r.file}: object '${r.name}', license ${JSON.stringify(r.license)}, ${r.btf ? 'with' : 'no'} BTF`,
  ];
  out.push(`programs (${r.programs.length}):`);
  for (const p of r.programs) {
    const load = p.autoload ? '' : ' [autoload off]';
    out.push(
      `  ${p.name}  ${p.type}  section ${p.section}  ${p.instructions} insns  attach: ${p.attach}${load}`,
    );
  }
  out.push(`maps (${r.maps.length}):`);
  for (const m of r.maps) {
    const pin = m.pinning === 'none' ? '' : `  pinned ${m.pinning}`;
    out.push(
      `  ${m.name} (kernel name ${m.kernelName})  ${m.type}  key ${m.keySize}  value ${m.valueSize}  max ${m.maxEntries}  flags 0x${m.flags.toString(16)}${pin}`,
    );
    for (const v of m.variables ?? []) out.push(`    +${v.offset}  ${v.name} (${v.size} bytes)`);
    const ops = m.structOps;
    if (ops !== undefined) {
      out.push(`    struct ${ops.kernelType}, registered ${ops.link ? 'through a link' : 'by map update'}`);
      for (const p of ops.programs) out.push(`    .${p.member} = ${p.program}`);
    }
  }
  return out.join('\n');
}
