/**
 * CO-RE for a whole object: every code section with relocations gets a private copy of its instructions,
 * relocated against the target kernel's BTF (or `btfCustomPath`), before programs are linked from them.
 *
 * @module
 */
import { loadKernelBtf, readBtfFile } from '../../btf/kernel.js';
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

/** Applies every CO-RE relocation of `spec` (nothing to do when it has none). */
export function relocateCore(spec: ObjectSpec, btfCustomPath: string | undefined): CoreRelocated {
  const sections = new Map<number, Uint8Array>();
  const outcomes: CoreOutcome[] = [];
  const relos = spec.btfExt?.coreRelo ?? [];
  if (spec.btf === undefined || relos.every((s) => s.records.length === 0)) return { sections, outcomes };
  const target = targetBtf(btfCustomPath);
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
    outcomes.push(
      ...applyCoreRelocations({
        insns,
        section,
        relos: records,
        local: spec.btf,
        target,
        cache: sharedCoreCandidateCache,
      }),
    );
    sections.set(elfSection.index, insns);
  }
  return { sections, outcomes };
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
