/**
 * CO-RE for a whole object: every code section with relocations gets a private copy of its instructions,
 * relocated against the target kernel's BTF (or `btfCustomPath`), before programs are linked from them.
 *
 * @module
 */

import type { BtfCoreRelo } from '../../btf/ext.js';
import { kernelModulesWithBtf, loadKernelBtf, loadModuleBtf, readBtfFile } from '../../btf/kernel.js';
import type { Btf } from '../../btf/types.js';
import { BpfError } from '../../errors.js';
import { applyCoreRelocations, type CoreOutcome, sharedCoreCandidateCache } from '../core/index.js';
import type { ObjectSpec } from '../spec.js';

/** Relocated sections and what each relocation resolved to. */
export interface CoreRelocated {
  /** Section index → relocated instructions; sections without CO-RE are not here. */
  readonly sections: ReadonlyMap<number, Uint8Array>;
  readonly outcomes: readonly CoreOutcome[];
}

/**
 * Applies every CO-RE relocation of `spec` (nothing to do when it has none), against `btfCustomPath` when
 * given, else against the kernel: a type vmlinux has no candidate for is looked up in the BTF of each loaded
 * module in turn (`modules`, default: every module in /sys/kernel/btf), as libbpf searches.
 */
export function relocateCore(
  spec: ObjectSpec,
  btfCustomPath: string | undefined,
  modules: () => readonly Btf[] = kernelModules,
): CoreRelocated {
  const sections = new Map<number, Uint8Array>();
  const outcomes: CoreOutcome[] = [];
  const relos = spec.btfExt?.coreRelo ?? [];
  const local = spec.btf;
  if (local === undefined || relos.every((s) => s.records.length === 0)) return { sections, outcomes };
  const primary = targetBtf(btfCustomPath);
  let moduleTargets: readonly Btf[] | undefined;
  const targetOf = (relo: BtfCoreRelo): Btf => {
    if (btfCustomPath !== undefined || relo.kind === 'type_id_local') return primary;
    const type = local.typeById(relo.typeId);
    if (sharedCoreCandidateCache.candidates(primary, type).length > 0) return primary;
    moduleTargets ??= modules();
    return moduleTargets.find((m) => sharedCoreCandidateCache.candidates(m, type).length > 0) ?? primary;
  };
  for (const { section, records } of relos) {
    if (records.length === 0) continue;
    const elfSection = spec.elf.sectionByName(section);
    if (elfSection === undefined) {
      throw new BpfError(`.BTF.ext has CO-RE relocations for section '${section}', which the object lacks`, {
        code: 'EBADELF',
        command: 'CO-RE',
      });
    }
    // A copy: the section data is a view into the file bytes, shared by every load of this object.
    const insns = new Uint8Array(elfSection.data);
    // Each relocation patches its own instruction, so relocations can be applied per target BTF.
    const byTarget = new Map<Btf, BtfCoreRelo[]>();
    for (const relo of records) {
      const target = targetOf(relo);
      const list = byTarget.get(target);
      if (list === undefined) byTarget.set(target, [relo]);
      else list.push(relo);
    }
    for (const [target, group] of byTarget) {
      outcomes.push(
        ...applyCoreRelocations({
          insns,
          section,
          relos: group,
          local,
          target,
          cache: sharedCoreCandidateCache,
        }),
      );
    }
    sections.set(elfSection.index, insns);
  }
  return { sections, outcomes };
}

/** BTF of every loaded kernel module that has some, split over vmlinux (unreadable ones are skipped). */
function kernelModules(): Btf[] {
  const out: Btf[] = [];
  for (const name of kernelModulesWithBtf()) {
    try {
      out.push(loadModuleBtf(name));
    } catch {
      // A module unloaded meanwhile, or BTF we cannot read: it cannot be a target.
    }
  }
  return out;
}

function targetBtf(custom: string | undefined): Btf {
  if (custom === undefined) return loadKernelBtf();
  try {
    return readBtfFile(custom);
  } catch (err) {
    if (err instanceof BpfError) {
      err.message = `btfCustomPath ${custom}: ${err.message}`;
      throw err;
    }
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BpfError(`cannot read btfCustomPath ${custom}: ${code}`, {
      code,
      command: 'CO-RE',
      cause: err,
    });
  }
}
