/**
 * Access specs: what a CO-RE relocation's access string (`0:1:2`) means in one BTF. A field spec is the
 * chain of named members and array indices from the root type down to the field, with the field's bit
 * offset from the root; an enumerator spec names one enumerator; a type spec is just the root.
 *
 * @module
 */
import type { BtfCoreReloKind } from '../../btf/ext.js';
import type { Btf, BtfArray, BtfType } from '../../btf/types.js';

/** One step of a field access: a named member of a struct/union, or an element of an array. */
export interface CoreAccessor {
  /** For a member: the (resolved) struct/union id. For an array element: the (resolved) element type id. */
  readonly typeId: number;
  /** Member index within the struct/union, or array index. */
  readonly index: number;
  /** Member name; undefined for an array index (the first accessor, into the root, is one). */
  readonly name: string | undefined;
}

/** A resolved access in one BTF. */
export interface CoreSpec {
  readonly btf: Btf;
  /** The root type id as the relocation gives it (typedefs and qualifiers not skipped). */
  readonly rootId: number;
  /** Named members and array indices only (anonymous struct/union members are folded into offsets). */
  readonly accessors: readonly CoreAccessor[];
  /** Every index, anonymous members included: the access string in this BTF's terms. */
  readonly raw: readonly number[];
  /** Bit offset of the accessed field from the start of the root. */
  readonly bitOffset: number;
}

/** Relocation kinds about a field. */
export function isFieldKind(kind: BtfCoreReloKind): boolean {
  return kind.startsWith('field_');
}

/** Relocation kinds about a whole type. */
export function isTypeKind(kind: BtfCoreReloKind): boolean {
  return kind.startsWith('type_');
}

/** Relocation kinds about an enumerator. */
export function isEnumvalKind(kind: BtfCoreReloKind): boolean {
  return kind.startsWith('enumval_');
}

/** Whether `t` is an enum of either width. */
export function isAnyEnum(t: BtfType): boolean {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** Whether `t` is a struct or a union. */
export function isComposite(t: BtfType): boolean {
  return t.kind === 'struct' || t.kind === 'union';
}

/**
 * Whether `array`, reached through accessor `parent`, is a flexible array member: zero elements and the
 * last member of its struct, so any index is allowed.
 */
export function isFlexArray(btf: Btf, parent: CoreAccessor | undefined, array: BtfArray): boolean {
  if (parent?.name === undefined || array.nelems > 0) return false;
  const owner = btf.typeById(parent.typeId);
  return (owner.kind === 'struct' || owner.kind === 'union') && parent.index === owner.members.length - 1;
}

/**
 * Reads `access` against `btf` from root type `rootId` for a relocation of `kind`. Returns the spec, or a
 * sentence saying why the access string does not fit the type.
 */
export function parseSpec(
  btf: Btf,
  rootId: number,
  access: readonly number[],
  kind: BtfCoreReloKind,
): CoreSpec | string {
  if (access.length === 0) return 'the access string is empty';
  if (isTypeKind(kind)) {
    if (access.length !== 1 || access[0] !== 0) return `a type relocation needs access string '0'`;
    return { btf, rootId, accessors: [], raw: [0], bitOffset: 0 };
  }
  let id = btf.resolveId(rootId);
  const root = btf.typeById(id);
  if (isEnumvalKind(kind)) {
    if (root.kind !== 'enum' && root.kind !== 'enum64')
      return `type ${rootId} is a ${root.kind}, not an enum`;
    const index = access[0];
    if (access.length !== 1 || index >= root.values.length) {
      return `enumerator ${access.join(':')} is out of range (${root.values.length} enumerators)`;
    }
    return {
      btf,
      rootId,
      accessors: [{ typeId: id, index, name: root.values[index].name }],
      raw: [index],
      bitOffset: 0,
    };
  }
  const rootSize = sizeOrZero(btf, id);
  if (access[0] !== 0 && rootSize === 0)
    return `index ${access[0]} applied to ${typeName(root)}, which has no size`;
  const accessors: CoreAccessor[] = [{ typeId: id, index: access[0], name: undefined }];
  let bitOffset = access[0] * rootSize * 8;
  for (let i = 1; i < access.length; i++) {
    const t = btf.resolve(id);
    const index = access[i];
    if (t.kind === 'struct' || t.kind === 'union') {
      if (index >= t.members.length) return `member ${index} of ${typeName(t)} does not exist`;
      const member = btf.memberLayout(t.id)[index];
      bitOffset += member.bitOffset;
      if (member.name !== '') accessors.push({ typeId: t.id, index, name: member.name });
      id = member.type;
    } else if (t.kind === 'array') {
      const elem = btf.resolveId(t.type);
      if (!isFlexArray(btf, accessors[accessors.length - 1], t) && index >= t.nelems) {
        return `index ${index} is past the end of a ${t.nelems}-element array`;
      }
      accessors.push({ typeId: elem, index, name: undefined });
      bitOffset += index * sizeOrZero(btf, elem) * 8;
      id = elem;
    } else {
      return `access ${access.slice(0, i + 1).join(':')} goes into a ${t.kind}, which has no members`;
    }
  }
  return { btf, rootId, accessors, raw: access, bitOffset };
}

/** Size of `id`, or 0 for a type without one (only an index of 0 may then be applied to it). */
function sizeOrZero(btf: Btf, id: number): number {
  const t = btf.resolve(id);
  return t.kind === 'func_proto' || t.kind === 'fwd' || t.kind === 'void' || t.kind === 'func'
    ? 0
    : btf.sizeOf(id);
}

/** A type as C writes it: `struct task_struct`, `enum bpf_map_type`, `u32`, `(anonymous union)`. */
export function typeName(t: BtfType): string {
  const name = t.name === '' ? '(anonymous)' : t.name;
  switch (t.kind) {
    case 'struct':
    case 'union':
      return `${t.kind} ${name}`;
    case 'enum':
    case 'enum64':
      return `enum ${name}`;
    case 'fwd':
      return `${t.fwdKind} ${name}`;
    default:
      return t.name === '' ? t.kind : t.name;
  }
}

/**
 * A spec in C syntax: `struct task_struct.real_parent`, `struct foo[2].arr[3].x`,
 * `enum bpf_map_type::BPF_MAP_TYPE_RINGBUF`, or the type alone for a type relocation.
 */
export function describeSpec(spec: CoreSpec, kind: BtfCoreReloKind): string {
  const root = typeName(spec.btf.typeById(spec.rootId));
  if (isTypeKind(kind)) return root;
  if (isEnumvalKind(kind)) return `${root}::${spec.accessors[0]?.name ?? '?'}`;
  let out = root;
  spec.accessors.forEach((acc, i) => {
    if (acc.name !== undefined) out += `.${acc.name}`;
    else if (i > 0 || acc.index !== 0) out += `[${acc.index}]`;
  });
  return out;
}
