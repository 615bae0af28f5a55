/**
 * Matching a local access spec against one target candidate: follow the same named members (looking
 * through anonymous structs/unions, whose position may differ) and the same array indices in the target,
 * checking each field's type is compatible; or, for enumerator and type relocations, find the enumerator
 * / check the type.
 *
 * @module
 */
import type { BtfCoreReloKind } from '../../btf/ext.js';
import type { Btf } from '../../btf/types.js';
import { fieldsCompatible, typesCompatible, typesMatch } from './compat.js';
import { essentialName } from './names.js';
import { type CoreAccessor, type CoreSpec, isEnumvalKind, isFieldKind, isFlexArray } from './spec.js';

/** Deepest access chain followed (anonymous members included), as a guard against pathological BTF. */
const MAX_SPEC_LEN = 64;

/** The target spec `local` matches in candidate `targetId`, or undefined when the candidate does not fit. */
export function matchSpec(
  local: CoreSpec,
  kind: BtfCoreReloKind,
  target: Btf,
  targetId: number,
): CoreSpec | undefined {
  if (kind === 'type_matches') {
    return typesMatch(local.btf, local.rootId, target, targetId) ? typeSpec(target, targetId) : undefined;
  }
  if (!isFieldKind(kind) && !isEnumvalKind(kind)) {
    return typesCompatible(local.btf, local.rootId, target, targetId)
      ? typeSpec(target, targetId)
      : undefined;
  }
  if (isEnumvalKind(kind)) {
    const t = target.resolve(targetId);
    if (t.kind !== 'enum' && t.kind !== 'enum64') return undefined;
    const want = essentialName(local.accessors[0].name ?? '');
    const index = t.values.findIndex((v) => essentialName(v.name) === want);
    if (index < 0) return undefined;
    return {
      btf: target,
      rootId: targetId,
      accessors: [{ typeId: t.id, index, name: t.values[index].name }],
      raw: [index],
      bitOffset: 0,
    };
  }
  return matchField(local, target, targetId);
}

function typeSpec(btf: Btf, rootId: number): CoreSpec {
  return { btf, rootId, accessors: [], raw: [0], bitOffset: 0 };
}

interface Walk {
  accessors: CoreAccessor[];
  raw: number[];
  bitOffset: number;
}

function matchField(local: CoreSpec, target: Btf, targetId: number): CoreSpec | undefined {
  const walk: Walk = { accessors: [], raw: [], bitOffset: 0 };
  let id = targetId;
  for (let i = 0; i < local.accessors.length; i++) {
    const acc = local.accessors[i];
    if (acc.name !== undefined) {
      const next = matchMember(local.btf, acc, target, id, walk, 0);
      if (next === undefined) return undefined;
      id = next;
      continue;
    }
    if (i > 0) {
      const t = target.resolve(id);
      if (t.kind !== 'array') return undefined;
      if (!isFlexArray(target, walk.accessors[walk.accessors.length - 1], t) && acc.index >= t.nelems) {
        return undefined;
      }
      id = t.type;
    }
    if (walk.raw.length >= MAX_SPEC_LEN) return undefined;
    const elem = target.resolveId(id);
    walk.accessors.push({ typeId: elem, index: acc.index, name: undefined });
    walk.raw.push(acc.index);
    walk.bitOffset += acc.index * (acc.index === 0 ? 0 : target.sizeOf(elem)) * 8;
    id = elem;
  }
  return {
    btf: target,
    rootId: targetId,
    accessors: walk.accessors,
    raw: walk.raw,
    bitOffset: walk.bitOffset,
  };
}

/**
 * Finds the member named like `acc` in struct/union `id` of the target, descending into anonymous members.
 * On success records the path in `walk` and returns the member's type id; on failure leaves `walk` as it was.
 */
function matchMember(
  local: Btf,
  acc: CoreAccessor,
  target: Btf,
  id: number,
  walk: Walk,
  depth: number,
): number | undefined {
  const t = target.resolve(id);
  if (
    (t.kind !== 'struct' && t.kind !== 'union') ||
    walk.raw.length >= MAX_SPEC_LEN ||
    depth > MAX_SPEC_LEN
  ) {
    return undefined;
  }
  const localMember = local.memberLayout(acc.typeId)[acc.index];
  const members = target.memberLayout(t.id);
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    walk.raw.push(i);
    walk.bitOffset += m.bitOffset;
    if (m.name === '') {
      const found = matchMember(local, acc, target, m.type, walk, depth + 1);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      if (!fieldsCompatible(local, localMember.type, target, m.type)) {
        walk.raw.pop();
        walk.bitOffset -= m.bitOffset;
        return undefined;
      }
      walk.accessors.push({ typeId: t.id, index: i, name: m.name });
      return m.type;
    }
    walk.raw.pop();
    walk.bitOffset -= m.bitOffset;
  }
  return undefined;
}
