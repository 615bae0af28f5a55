/**
 * Layout of BTF types: modifier resolution, size, alignment and effective member offsets. Every walk is
 * bounded so that cyclic (malformed) type graphs raise BtfError instead of looping.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import type { BtfComposite, BtfMemberLayout, BtfType } from './types.js';

const POINTER_SIZE = 8;
const MAX_SIZE = 0xffff_ffff;

function typeAt(types: readonly BtfType[], id: number, file: string | undefined): BtfType {
  const t = types[id];
  if (t === undefined) throw new BtfError(`type id ${id} does not exist (${types.length} types)`, { file });
  return t;
}

/** Whether `t` is a layer that {@link resolveId} skips. */
export function isModifier(t: BtfType): boolean {
  switch (t.kind) {
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
      return true;
    default:
      return false;
  }
}

/** Follows typedef/const/volatile/restrict/type_tag layers from `id`; BtfError on a cycle. */
export function resolveId(types: readonly BtfType[], id: number, file: string | undefined): number {
  let cur = id;
  for (let steps = 0; steps <= types.length; steps++) {
    const t = typeAt(types, cur, file);
    if (!isModifier(t)) return cur;
    cur = (t as { type: number }).type;
  }
  throw new BtfError(`cycle in the typedef/modifier chain starting at type ${id}`, { file });
}

/** Size in bytes of type `id`; BtfError for types without a size and on cycles or overflow. */
export function sizeOf(types: readonly BtfType[], id: number, file: string | undefined): number {
  let cur = id;
  let count = 1;
  for (let steps = 0; steps <= types.length; steps++) {
    const t = typeAt(types, cur, file);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'struct':
      case 'union':
      case 'float':
      case 'datasec':
        return checkedSize(t.size * count, id, file);
      case 'ptr':
        return checkedSize(POINTER_SIZE * count, id, file);
      case 'array':
        count *= t.nelems;
        cur = t.type;
        break;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
      case 'var':
        cur = t.type;
        break;
      default:
        throw new BtfError(`type ${cur} (${t.kind}${t.name ? ` '${t.name}'` : ''}) has no size`, { file });
    }
  }
  throw new BtfError(`cycle in the type graph while sizing type ${id}`, { file });
}

function checkedSize(size: number, id: number, file: string | undefined): number {
  if (size > MAX_SIZE) throw new BtfError(`size of type ${id} (${size}) does not fit in 32 bits`, { file });
  return size;
}

/** Natural alignment of a scalar of `size` bytes: its largest power-of-two divisor, at most 16. */
function scalarAlign(size: number): number {
  if (size === 0) return 1;
  return Math.min(size & -size, 16);
}

/**
 * Alignment in bytes of type `id`. Aggregates align to their strictest member, or to 1 when their layout
 * shows they are packed (a member off its alignment, or a size that is not a multiple of it). `memo` caches
 * results per type and detects aggregates that contain themselves.
 */
export function alignOf(
  types: readonly BtfType[],
  id: number,
  file: string | undefined,
  memo: Map<number, number>,
): number {
  const known = memo.get(id);
  if (known !== undefined) {
    if (known === 0) throw new BtfError(`type ${id} contains itself`, { file });
    return known;
  }
  const t = typeAt(types, resolveId(types, id, file), file);
  let align: number;
  switch (t.kind) {
    case 'int':
    case 'enum':
    case 'enum64':
    case 'float':
      align = scalarAlign(t.size);
      break;
    case 'ptr':
      align = POINTER_SIZE;
      break;
    case 'array':
    case 'var':
      memo.set(id, 0);
      align = alignOf(types, t.type, file, memo);
      break;
    case 'struct':
    case 'union':
      memo.set(id, 0);
      align = compositeAlign(types, t, file, memo);
      break;
    default:
      throw new BtfError(`type ${t.id} (${t.kind}${t.name ? ` '${t.name}'` : ''}) has no alignment`, {
        file,
      });
  }
  memo.set(id, align);
  return align;
}

function compositeAlign(
  types: readonly BtfType[],
  t: BtfComposite,
  file: string | undefined,
  memo: Map<number, number>,
): number {
  let max = 1;
  const layout = memberLayout(types, t.id, file);
  for (const m of layout) {
    const a = alignOf(types, m.type, file, memo);
    if (m.bitfieldSize === 0 && m.bitOffset % (a * 8) !== 0) return 1;
    if (a > max) max = a;
  }
  return t.size % max === 0 ? max : 1;
}

/** Effective layout of the members of struct/union `id`, resolving the legacy (int-encoded) bitfields. */
export function memberLayout(
  types: readonly BtfType[],
  id: number,
  file: string | undefined,
): BtfMemberLayout[] {
  const t = typeAt(types, id, file);
  if (t.kind !== 'struct' && t.kind !== 'union') {
    throw new BtfError(`type ${id} is a ${t.kind}, not a struct or union`, { file });
  }
  return t.members.map((m) => {
    if (t.kindFlag)
      return { name: m.name, type: m.type, bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize };
    const target = typeAt(types, resolveId(types, m.type, file), file);
    if (target.kind === 'int' && (target.bits !== target.size * 8 || target.bitOffset !== 0)) {
      return {
        name: m.name,
        type: m.type,
        bitOffset: m.bitOffset + target.bitOffset,
        bitfieldSize: target.bits,
      };
    }
    return { name: m.name, type: m.type, bitOffset: m.bitOffset, bitfieldSize: 0 };
  });
}
