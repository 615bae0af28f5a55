/**
 * The parsed object model that `BpfObject.open()` builds from an ELF file without any syscall: programs,
 * maps, global data and the relocations that tie them together. `load()` turns it into kernel objects.
 *
 * @module
 */

import type { BtfExt } from '../btf/ext.js';
import type { Btf } from '../btf/types.js';
import type { ElfFile } from '../elf/types.js';
import type { SectionSpec } from './sections.js';

/** A function of a code section: an entry program or a subprogram. Positions are in instructions. */
export interface FunctionSpec {
  readonly name: string;
  /** ELF section index and name. */
  readonly section: number;
  readonly sectionName: string;
  /** First instruction within the section. */
  readonly start: number;
  /** Number of instructions. */
  readonly count: number;
  /** Global (`STB_GLOBAL`) or static. */
  readonly global: boolean;
}

/** What one relocated instruction of a code section refers to. */
export type InsnRelocation =
  | { readonly kind: 'map'; readonly map: string }
  | { readonly kind: 'data'; readonly map: string; readonly offset: number }
  | { readonly kind: 'call'; readonly section: number; readonly target: number }
  | { readonly kind: 'func'; readonly section: number; readonly target: number }
  | { readonly kind: 'extern'; readonly name: string };

/** An entry program: a function of a non-`.text` code section. */
export interface ProgramSpec extends FunctionSpec {
  /** The section name without a leading `?`. */
  readonly sectionSpec: SectionSpec;
}

/** How a map is pinned (`pinning` attribute of a BTF-defined map). */
export type PinningMode = 'none' | 'by_name';

/** What fills a slot of a program array or map-in-map statically (`.values = { [i] = &x }`). */
export type SlotInit =
  | { readonly kind: 'map'; readonly name: string }
  | { readonly kind: 'program'; readonly name: string };

/** Which global data section an internal map holds. */
export type DataSectionKind = 'data' | 'rodata' | 'bss' | 'kconfig';

/** A map to create: a BTF-defined map from `.maps`, an inner map template, or a global data section. */
export interface MapSpec {
  /** Name in the object: the variable name, or the section name for internal maps (`.rodata`). */
  readonly name: string;
  /** Name the kernel sees (at most 15 characters). */
  readonly kernelName: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly numaNode: number;
  readonly mapExtra: bigint;
  readonly pinning: PinningMode;
  /** BTF ids of key and value types (0: none). */
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** Inner map template of a map-in-map. */
  readonly inner: MapSpec | undefined;
  /** Static initialisers, by slot index. */
  readonly slots: ReadonlyMap<number, SlotInit>;
  /** For global data sections: which kind and the section's initial bytes (zeros for `.bss`). */
  readonly data:
    | { readonly kind: DataSectionKind; readonly section: string; readonly initial: Uint8Array }
    | undefined;
  /** For struct_ops maps (a variable of `.struct_ops` or `.struct_ops.link`): what fills the kernel struct. */
  readonly structOps?: StructOpsSpec;
}

/** One member of the struct a struct_ops variable declares, in the object's (local) layout. */
export interface StructOpsMemberSpec {
  readonly name: string;
  /** Index among the local struct's members. */
  readonly index: number;
  /** Byte offset within the local struct. */
  readonly offset: number;
  /** Size in bytes (of the whole storage unit for a bitfield). */
  readonly size: number;
  /** Whether the member is a bitfield, which cannot be copied byte-wise. */
  readonly bitfield: boolean;
  /** Whether the member is a function pointer. */
  readonly funcPtr: boolean;
  /** The entry program the member points to (from the section's relocations), if any. */
  readonly program: string | undefined;
}

/** What a struct_ops map holds: the kernel struct to fill, its data members and its programs. */
export interface StructOpsSpec {
  /** The struct type as the object names it, e.g. `'tcp_congestion_ops___skel'`. */
  readonly localType: string;
  /** The kernel struct it fills: the local name without a `___<flavour>` suffix, e.g. `'tcp_congestion_ops'`. */
  readonly kernelType: string;
  /** The ELF section: `'.struct_ops'` or `'.struct_ops.link'`. */
  readonly section: string;
  /** True for `.struct_ops.link`: created with `BPF_F_LINK` and registered by a link, not by the update. */
  readonly link: boolean;
  /** The variable's bytes in the local layout (function pointer slots hold zeros). */
  readonly data: Uint8Array;
  readonly members: readonly StructOpsMemberSpec[];
}

/** Everything `open()` learns from an object file. */
export interface ObjectSpec {
  readonly name: string;
  readonly elf: ElfFile;
  /** The object's BTF as clang wrote it, or undefined when the object has none. */
  readonly btf: Btf | undefined;
  readonly btfExt: BtfExt | undefined;
  readonly license: string;
  readonly kernelVersion: number;
  readonly programs: readonly ProgramSpec[];
  /** Every function of every code section, entry programs included, keyed by `section:start`. */
  readonly functions: ReadonlyMap<string, FunctionSpec>;
  /** Relocated instructions per code section: section index → instruction index → relocation. */
  readonly relocations: ReadonlyMap<number, ReadonlyMap<number, InsnRelocation>>;
  readonly maps: readonly MapSpec[];
}

/** Key of a function in {@link ObjectSpec.functions}. */
export function functionKey(section: number, start: number): string {
  return `${section}:${start}`;
}
