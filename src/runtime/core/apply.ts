/**
 * {@link applyCoreRelocations}: resolves the CO-RE relocations of one ELF code section against a target
 * BTF (the running kernel's, or a custom one) and patches the section's instructions.
 *
 * For each relocation: parse the access string against the local (object) BTF; look up target types with
 * the same essential name and kind; keep those whose layout matches the access; compute the value from
 * each. All matching candidates must agree (same field offset, same value), or the relocation is
 * ambiguous and fails. With no match, existence and type relocations give 0 and the others poison their
 * instruction.
 *
 * @module
 */
import type { BtfCoreRelo, BtfCoreReloKind } from '../../btf/ext.js';
import type { Btf } from '../../btf/types.js';
import { BtfError, CoreRelocationError } from '../../errors.js';
import { INSN_SIZE } from '../insn.js';
import { type CoreValue, computeValue } from './calc.js';
import { type CoreCandidateCache, sharedCoreCandidateCache } from './candidates.js';
import { matchSpec } from './match.js';
import { type CorePatch, patchInsn, poisonInsn } from './patch.js';
import { type CoreSpec, describeSpec, isFieldKind, parseSpec, typeName } from './spec.js';

/** How one relocation was resolved. */
export type CoreResult =
  | {
      readonly kind: 'ok';
      /** The value written into the instruction. */
      readonly value: bigint;
      /** The target type it came from (the local type for type_id_local); 0 when no target type matched. */
      readonly targetTypeId: number;
      /** The target access in C syntax (`'struct task_struct.pid'`), or undefined when none matched. */
      readonly target: string | undefined;
    }
  | {
      readonly kind: 'poisoned';
      /** Why, in words: no such field in the target, an unsafe size change... */
      readonly reason: string;
    };

/** One CO-RE relocation of a section and what became of its instruction. */
export interface CoreOutcome {
  /** ELF section of the instruction. */
  readonly section: string;
  /** Byte offset of the instruction within the section (as in `.BTF.ext`). */
  readonly insnOff: number;
  readonly kind: BtfCoreReloKind;
  /** Local (object BTF) type id of the relocation. */
  readonly localTypeId: number;
  /**
   * The local type and access in C syntax: `'struct task_struct.real_parent'`, `'struct s.arr[2].x'`,
   * `'enum e::VALUE'`, or just `'struct task_struct'` for type relocations.
   */
  readonly access: string;
  readonly result: CoreResult;
}

/** Inputs of {@link applyCoreRelocations}. */
export interface ApplyCoreArgs {
  /** A private copy of one ELF code section's instructions; patched in place. */
  readonly insns: Uint8Array;
  /** The section's name (for outcomes and errors). */
  readonly section: string;
  /** The section's CO-RE relocations (`BtfExt.coreRelo` records for this section). */
  readonly relos: readonly BtfCoreRelo[];
  /** The object's BTF, which the relocations' type ids and access strings refer to. */
  readonly local: Btf;
  /** The BTF to relocate against: the kernel's, or a custom one. */
  readonly target: Btf;
  /** Candidate lists to reuse across sections and objects (a process-wide one when left out). */
  readonly cache?: CoreCandidateCache;
}

/**
 * Applies every relocation of `relos` to `insns` and returns one outcome per relocation, in order.
 * Unresolvable relocations poison their instruction (a call of helper 0xbad2310) and are reported as
 * `'poisoned'`; a load fails only if the verifier finds such an instruction reachable.
 *
 * @throws CoreRelocationError when a relocation is ambiguous, does not fit its instruction, or its value
 *   does not fit; BtfError when its access string does not fit the local type
 */
export function applyCoreRelocations(args: ApplyCoreArgs): CoreOutcome[] {
  const { insns, section, relos, local, target } = args;
  const cache = args.cache ?? sharedCoreCandidateCache;
  return relos.map((relo) => applyOne(insns, section, relo, local, target, cache));
}

function applyOne(
  insns: Uint8Array,
  section: string,
  relo: BtfCoreRelo,
  local: Btf,
  target: Btf,
  cache: CoreCandidateCache,
): CoreOutcome {
  const { kind, typeId, insnOff } = relo;
  const localType = local.typeById(typeId);
  const parsed = parseSpec(local, typeId, relo.access, kind);
  const access =
    typeof parsed === 'string' ? `${typeName(localType)} '${relo.accessStr}'` : describeSpec(parsed, kind);
  const fail = (message: string, code?: string): never => {
    throw new CoreRelocationError(message, { section, insnOff, relocation: kind, access, code });
  };
  if (typeof parsed === 'string') {
    throw new BtfError(`CO-RE relocation ${kind} at instruction ${insnOff / INSN_SIZE}: ${parsed}`, {
      file: local.file,
      section: '.BTF.ext',
    });
  }
  if (insnOff % INSN_SIZE !== 0 || insnOff + INSN_SIZE > insns.length) {
    fail(
      `the instruction offset is not an instruction of the section (${insns.length / INSN_SIZE} instructions)`,
      'EBADELF',
    );
  }
  const index = insnOff / INSN_SIZE;
  const outcome = (result: CoreResult): CoreOutcome => ({
    section,
    insnOff,
    kind,
    localTypeId: typeId,
    access,
    result,
  });

  const localValue = checked(computeValue(kind, parsed), fail);
  if (kind === 'type_id_local') {
    // The object's own id: nothing to look up, and nothing to check, as linking may have renumbered it.
    write(
      insns,
      index,
      { expected: undefined, value: BigInt(typeId), oldSize: 0, newSize: 0, unsafeResize: false },
      fail,
    );
    return outcome({ kind: 'ok', value: BigInt(typeId), targetTypeId: typeId, target: access });
  }
  if (localType.name === '')
    fail('the local type is anonymous, so no target type can be looked up by name', 'ENOTSUP');

  let chosen: { spec: CoreSpec; value: CoreValue } | undefined;
  for (const candidate of cache.candidates(target, localType)) {
    let spec: CoreSpec | undefined;
    let computed: ReturnType<typeof computeValue>;
    try {
      spec = matchSpec(parsed, kind, target, candidate);
      if (spec === undefined) continue;
      computed = computeValue(kind, spec);
    } catch (err) {
      if (err instanceof BtfError) fail(`target type ${candidate} cannot be laid out: ${err.reason}`);
      throw err;
    }
    const value = checked(computed, fail);
    if (chosen === undefined) {
      chosen = { spec, value };
    } else if (chosen.spec.bitOffset !== spec.bitOffset) {
      fail(
        `ambiguous: target types ${chosen.spec.rootId} and ${spec.rootId} both match, with the field at bit ${chosen.spec.bitOffset} and ${spec.bitOffset}`,
      );
    } else if (chosen.value.value !== value.value) {
      fail(
        `ambiguous: target types ${chosen.spec.rootId} and ${spec.rootId} both match, giving ${chosen.value.value} and ${value.value}`,
      );
    }
  }

  if (chosen === undefined) {
    const missing = computeValue(kind, undefined);
    if ('kind' in missing) {
      if (missing.kind === 'error') fail(missing.reason);
      poisonInsn(insns, index);
      return outcome({ kind: 'poisoned', reason: `${missing.reason} (${describeTarget(target)})` });
    }
    write(insns, index, plainPatch(localValue, missing), fail);
    return outcome({ kind: 'ok', value: missing.value, targetTypeId: 0, target: undefined });
  }

  const patch = fieldPatch(kind, local, localValue, target, chosen.value);
  const result = write(insns, index, patch, fail);
  if (result !== undefined) return outcome({ kind: 'poisoned', reason: result });
  return outcome({
    kind: 'ok',
    value: chosen.value.value,
    targetTypeId: chosen.spec.rootId,
    target: describeSpec(chosen.spec, kind),
  });
}

function describeTarget(target: Btf): string {
  return target.file === undefined ? 'target BTF' : `target BTF ${target.file}`;
}

function checked(v: ReturnType<typeof computeValue>, fail: (m: string) => never): CoreValue {
  if ('kind' in v)
    return fail(v.kind === 'missing' ? `the local type does not describe the access: ${v.reason}` : v.reason);
  return v;
}

function plainPatch(local: CoreValue, target: CoreValue): CorePatch {
  return {
    expected: local.checkable ? local.value : undefined,
    value: target.value,
    oldSize: 0,
    newSize: 0,
    unsafeResize: false,
  };
}

/** The patch of a resolved relocation, with the load/store size change a byte offset may bring. */
function fieldPatch(kind: BtfCoreReloKind, local: Btf, lv: CoreValue, target: Btf, tv: CoreValue): CorePatch {
  const patch = plainPatch(lv, tv);
  if (!isFieldKind(kind) || lv.memSize === tv.memSize) return patch;
  const a = local.typeById(lv.memTypeId);
  const b = target.typeById(tv.memTypeId);
  const safe =
    (a.kind === 'ptr' && b.kind === 'ptr') ||
    (a.kind === 'int' && b.kind === 'int' && !a.signed && !b.signed);
  return { ...patch, oldSize: lv.memSize, newSize: tv.memSize, unsafeResize: !safe };
}

/** Patches; returns the poison reason when the instruction was poisoned instead, else undefined. */
function write(
  insns: Uint8Array,
  index: number,
  patch: CorePatch,
  fail: (m: string) => never,
): string | undefined {
  const r = patchInsn(insns, index, patch);
  if (r.kind === 'error') fail(r.reason);
  if (r.kind === 'poisoned') {
    poisonInsn(insns, index);
    return r.reason;
  }
  return undefined;
}
