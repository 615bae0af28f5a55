/**
 * When a target type may stand for a local one. Three relations, from loosest to strictest:
 *
 * - fields: the type of a local field against the target field of the same name. Any two structs/unions,
 *   pointers or floats; integers of any size and sign (but not legacy bitfield-encoded ones); enums or
 *   forward declarations whose essential names agree (or one is anonymous); arrays of such elements,
 *   whatever their length.
 * - types (type_exists, type_size, type_id_target): same kind after typedefs and qualifiers; pointers,
 *   arrays and function prototypes compared through what they point to, hold or take.
 * - match (type_matches): names, sizes, signedness, member sets and enumerator sets must agree too.
 *
 * @module
 */
import type { Btf, BtfType } from '../../btf/types.js';
import { essentialName } from './names.js';
import { isAnyEnum, isComposite } from './spec.js';

/** Nesting bound of the recursive comparisons, against absurdly deep or cyclic type graphs. */
const MAX_DEPTH = 32;

function sameKindGroup(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

function legacyBitfieldInt(t: BtfType): boolean {
  return t.kind === 'int' && t.bitOffset !== 0;
}

/** Whether the target field type `targetId` can stand for the local field type `localId`. */
export function fieldsCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  let lid = localId;
  let tid = targetId;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = local.resolve(lid);
    const t = target.resolve(tid);
    if (isComposite(l) && isComposite(t)) return true;
    if (!sameKindGroup(l, t)) return false;
    switch (l.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64': {
        const a = essentialName(l.name);
        const b = essentialName(t.name);
        return a === '' || b === '' || a === b;
      }
      case 'int':
        return !legacyBitfieldInt(l) && !legacyBitfieldInt(t);
      case 'array':
        lid = l.type;
        tid = (t as typeof l).type;
        break;
      default:
        return false;
    }
  }
  return false;
}

/** Whether target type `targetId` is compatible with local type `localId` for the type relocations. */
export function typesCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  return compatibleFrom(local, localId, target, targetId, 0);
}

/** {@link typesCompatible} at nesting `depth` (the walk gives up past {@link MAX_DEPTH}). */
function compatibleFrom(local: Btf, localId: number, target: Btf, targetId: number, depth: number): boolean {
  let lid = localId;
  let tid = targetId;
  for (let step = depth; step <= MAX_DEPTH; step++) {
    const l = local.resolve(lid);
    const t = target.resolve(tid);
    if (!sameKindGroup(l, t)) return false;
    switch (l.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
      case 'float':
        return true;
      case 'int':
        return !legacyBitfieldInt(l) && !legacyBitfieldInt(t);
      case 'ptr':
      case 'array':
        lid = l.type;
        tid = (t as typeof l).type;
        break;
      case 'func_proto': {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!compatibleFrom(local, l.params[i].type, target, tp.params[i].type, step + 1)) return false;
        }
        lid = l.returnType;
        tid = tp.returnType;
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

/** Names agree for type_matches: equal essential names, or both anonymous. */
function namesMatch(a: string, b: string): boolean {
  if (b === '') return a === '';
  return essentialName(a) === essentialName(b);
}

/** Whether target type `targetId` matches local type `localId` in the strict sense of `type_matches`. */
export function typesMatch(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  return matchTypes(local, localId, target, targetId, false, 0);
}

function matchTypes(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  behindPtr: boolean,
  depth: number,
): boolean {
  if (depth > MAX_DEPTH) return false;
  const l = local.resolve(localId);
  const t = target.resolve(targetId);
  if (!namesMatch(l.name, t.name)) return false;
  switch (l.kind) {
    case 'void':
      return t.kind === 'void';
    case 'fwd': {
      const localUnion = l.fwdKind === 'union';
      if (t.kind === 'fwd') return localUnion === (t.fwdKind === 'union');
      // Behind a pointer a declaration stands for the full type of its kind.
      return behindPtr && (localUnion ? t.kind === 'union' : t.kind === 'struct');
    }
    case 'enum':
    case 'enum64':
      return isAnyEnum(t) && enumsMatch(l, t as typeof l);
    case 'struct':
    case 'union':
      if (behindPtr) {
        if (t.kind === l.kind) return true;
        return t.kind === 'fwd' && (t.fwdKind === 'union') === (l.kind === 'union');
      }
      return t.kind === l.kind && membersMatch(local, l, target, t as typeof l, depth);
    case 'int':
      return t.kind === 'int' && l.size === t.size && l.signed === t.signed;
    case 'float':
      return t.kind === 'float' && l.size === t.size;
    case 'ptr':
      return t.kind === 'ptr' && matchTypes(local, l.type, target, t.type, true, depth + 1);
    case 'array':
      return (
        t.kind === 'array' &&
        l.nelems === t.nelems &&
        matchTypes(local, l.type, target, t.type, behindPtr, depth + 1)
      );
    case 'func_proto': {
      if (t.kind !== 'func_proto' || l.params.length !== t.params.length) return false;
      for (let i = 0; i < l.params.length; i++) {
        if (!matchTypes(local, l.params[i].type, target, t.params[i].type, behindPtr, depth + 1))
          return false;
      }
      return matchTypes(local, l.returnType, target, t.returnType, behindPtr, depth + 1);
    }
    default:
      return false;
  }
}

/** Every local enumerator has a namesake in the target, and the storage sizes agree. */
function enumsMatch(
  l: BtfType & { values: readonly { name: string }[]; size: number },
  t: typeof l,
): boolean {
  if (l.size !== t.size || l.values.length > t.values.length) return false;
  return l.values.every((lv) => t.values.some((tv) => namesMatch(lv.name, tv.name)));
}

/** Every local member has a namesake in the target whose type matches. */
function membersMatch(
  local: Btf,
  l: BtfType & { members: readonly { name: string; type: number }[] },
  target: Btf,
  t: typeof l,
  depth: number,
): boolean {
  if (l.members.length > t.members.length) return false;
  return l.members.every((lm) =>
    t.members.some(
      (tm) => namesMatch(lm.name, tm.name) && matchTypes(local, lm.type, target, tm.type, false, depth + 1),
    ),
  );
}
