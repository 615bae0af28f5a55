/**
 * The value a relocation stands for, computed from a spec in one BTF: a field's byte offset, size,
 * signedness, existence and bitfield shifts; a type's existence, size and id; an enumerator's existence and
 * value. Computed from the local spec it is what clang put in the instruction; from the target spec, what
 * the instruction must hold on the target kernel.
 *
 * @module
 */
import type { BtfCoreReloKind } from '../../btf/ext.js';
import type { CoreSpec } from './spec.js';
import { isAnyEnum, isEnumvalKind, isFieldKind } from './spec.js';

/** A computed relocation value. */
export interface CoreValue {
  readonly value: bigint;
  /**
   * For field_byte_offset of a non-bitfield member: the field's size in bytes and its (resolved) type id,
   * which a load or store of the field must be sized to; 0 otherwise.
   */
  readonly memSize: number;
  readonly memTypeId: number;
  /** Whether the instruction must hold this value before patching (bitfield offsets and shifts may differ). */
  readonly checkable: boolean;
}

/** Why no value can be computed: the relocation is poisoned (`missing`) or impossible (`error`). */
export type CoreValueFailure =
  | { readonly kind: 'missing'; readonly reason: string }
  | { readonly kind: 'error'; readonly reason: string };

function value(v: bigint | number, checkable = true, memSize = 0, memTypeId = 0): CoreValue {
  return { value: BigInt(v), memSize, memTypeId, checkable };
}

/**
 * The value of relocation `kind` for `spec`; `spec` undefined means no target candidate matched, which
 * gives 0 for the existence and type relocations and a poisoned instruction for the others.
 */
export function computeValue(
  kind: BtfCoreReloKind,
  spec: CoreSpec | undefined,
): CoreValue | CoreValueFailure {
  if (isFieldKind(kind)) return fieldValue(kind, spec);
  if (isEnumvalKind(kind)) {
    if (spec === undefined) {
      return kind === 'enumval_exists'
        ? value(0)
        : { kind: 'missing', reason: 'the target has no such enumerator' };
    }
    if (kind === 'enumval_exists') return value(1);
    const acc = spec.accessors[0];
    const t = spec.btf.typeById(acc.typeId);
    if (t.kind === 'enum' || t.kind === 'enum64') return value(t.values[acc.index].value);
    return { kind: 'error', reason: `type ${acc.typeId} is not an enum` };
  }
  if (spec === undefined) return value(0);
  switch (kind) {
    case 'type_id_local':
    case 'type_id_target':
      return value(spec.rootId);
    case 'type_exists':
    case 'type_matches':
      return value(1);
    case 'type_size': {
      const t = spec.btf.resolve(spec.rootId);
      if (t.kind === 'fwd' || t.kind === 'func' || t.kind === 'func_proto' || t.kind === 'void') {
        return { kind: 'error', reason: `a ${t.kind} has no size` };
      }
      return value(spec.btf.sizeOf(spec.rootId));
    }
    default:
      return { kind: 'error', reason: `'${kind}' is not a type relocation` };
  }
}

function fieldValue(kind: BtfCoreReloKind, spec: CoreSpec | undefined): CoreValue | CoreValueFailure {
  if (kind === 'field_exists') return value(spec === undefined ? 0 : 1);
  if (spec === undefined) return { kind: 'missing', reason: 'the target has no such field' };
  const { btf } = spec;
  const last = spec.accessors[spec.accessors.length - 1];
  if (last.name === undefined) {
    // An array element (or the root itself): only its offset and size mean anything.
    const size = btf.sizeOf(last.typeId);
    if (kind === 'field_byte_offset') return value(spec.bitOffset / 8, true, size, last.typeId);
    if (kind === 'field_byte_size') return value(size);
    return { kind: 'error', reason: `${kind} cannot be applied to an array element` };
  }
  const member = btf.memberLayout(last.typeId)[last.index];
  const typeId = btf.resolveId(member.type);
  const type = btf.typeById(typeId);
  const bitOff = spec.bitOffset;
  let byteSize: number;
  let byteOff: number;
  let bitSize = member.bitfieldSize;
  const bitfield = bitSize > 0;
  if (bitfield) {
    // The smallest naturally aligned load, from the member's own type size up, that covers every bit.
    byteSize = btf.sizeOf(typeId);
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) return { kind: 'error', reason: 'the bitfield cannot be read with one 64-bit load' };
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = btf.sizeOf(typeId);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  switch (kind) {
    case 'field_byte_offset':
      return bitfield ? value(byteOff, false) : value(byteOff, true, byteSize, typeId);
    case 'field_byte_size':
      return value(byteSize, !bitfield);
    case 'field_signed': {
      const signed = (type.kind === 'int' || isAnyEnum(type)) && (type as { signed: boolean }).signed;
      return value(signed ? 1 : 0);
    }
    case 'field_lshift_u64':
      // Little-endian: shift the field's top bit up to bit 63 of the loaded value.
      return value(64 - (bitOff + bitSize - byteOff * 8), !bitfield);
    case 'field_rshift_u64':
      return value(64 - bitSize);
    default:
      return { kind: 'error', reason: `'${kind}' is not a field relocation` };
  }
}
