/**
 * `gen min-core-btf`: the smallest BTF that relocates a set of objects the same way a full kernel BTF does
 * (what `bpftool gen min_core_btf` makes, for shipping with an application to kernels without BTF).
 *
 * Every CO-RE relocation of every object is matched against the kernel BTF with the loader's own rules, and
 * every candidate that matches is kept (so ambiguities stay visible). What is kept:
 * - field relocations: the root type and, along the access path, each struct/union with only the members
 *   the path goes through (offsets and sizes unchanged), arrays, typedefs and qualifiers on the way, and
 *   the accessed field's type;
 * - type relocations: the type; `type_matches` also keeps its members;
 * - enumerator relocations: the whole enum.
 * A struct or union reached any other way (through a pointer, as a field's type) is kept with its name and
 * size but no members. Type ids are renumbered densely; the result is raw BTF without a base.
 *
 * @module
 */

import { createBtf } from '../btf/create.js';
import type { BtfCoreReloKind } from '../btf/ext.js';
import type { Btf, BtfType } from '../btf/types.js';
import { writeBtf } from '../btf/write.js';
import { BtfError } from '../errors.js';
import { collectObject } from '../runtime/collect/object.js';
import { newCoreCandidateCache } from '../runtime/core/candidates.js';
import { matchSpec } from '../runtime/core/match.js';
import { type CoreSpec, isEnumvalKind, isFieldKind, parseSpec } from '../runtime/core/spec.js';

/** An object to take CO-RE relocations from: its bytes and a name for error messages. */
export interface MinCoreBtfInput {
  readonly bytes: Uint8Array;
  readonly fileName: string;
}

/**
 * The minimal BTF of `target` (a kernel's BTF) that `objects` need for their CO-RE relocations, as raw BTF
 * bytes.
 *
 * @throws ElfError / BtfError for a malformed object or a relocation whose access does not fit its type
 */
export function minCoreBtf(target: Btf, objects: readonly MinCoreBtfInput[]): Uint8Array {
  const keep = new Keeper(target);
  const cache = newCoreCandidateCache();
  for (const { bytes, fileName } of objects) {
    const spec = collectObject(bytes, fileName, 'min-core-btf');
    const local = spec.btf;
    if (local === undefined) continue;
    for (const { records } of spec.btfExt?.coreRelo ?? []) {
      for (const relo of records) {
        if (relo.kind === 'type_id_local') continue;
        const parsed = parseSpec(local, relo.typeId, relo.access, relo.kind);
        if (typeof parsed === 'string') {
          throw new BtfError(`CO-RE relocation ${relo.kind} of type ${relo.typeId}: ${parsed}`, {
            file: fileName,
            section: '.BTF.ext',
          });
        }
        const localType = local.typeById(relo.typeId);
        for (const candidate of cache.candidates(target, localType)) {
          const matched = matchSpec(parsed, relo.kind, target, candidate);
          if (matched !== undefined) keep.spec(matched, relo.kind);
        }
      }
    }
  }
  return writeBtf(keep.build());
}

/** Which types (and which members of structs/unions) the output keeps. */
class Keeper {
  readonly #btf: Btf;
  /** Type id → kept member indices (structs/unions) or 'all' (every other kind). */
  readonly #kept = new Map<number, Set<number> | 'all'>();

  constructor(btf: Btf) {
    this.#btf = btf;
  }

  /** Keeps what a matched target spec of a relocation of `kind` uses. */
  spec(spec: CoreSpec, kind: BtfCoreReloKind): void {
    const btf = this.#btf;
    if (isEnumvalKind(kind)) {
      this.type(spec.rootId);
      return;
    }
    if (!isFieldKind(kind)) {
      this.type(spec.rootId);
      if (kind === 'type_matches') this.#allMembers(btf.resolveId(spec.rootId));
      return;
    }
    this.type(spec.rootId);
    // raw[0] indexes the root as an array; every later index steps into a member or an element.
    let id = btf.resolveId(spec.rootId);
    for (const index of spec.raw.slice(1)) {
      const t = btf.typeById(id);
      if (t.kind === 'struct' || t.kind === 'union') {
        const member = t.members[index];
        this.#member(t.id, index);
        id = btf.resolveId(member.type);
      } else if (t.kind === 'array') {
        id = btf.resolveId(t.type);
      } else {
        return;
      }
    }
  }

  /** Keeps type `id` and what it refers to; structs and unions without members (unless marked elsewhere). */
  type(id: number): void {
    const pending = [id];
    while (pending.length > 0) {
      const next = pending.pop() as number;
      if (next === 0 || this.#kept.has(next)) continue;
      const t = this.#btf.typeById(next);
      if (t.kind === 'struct' || t.kind === 'union') {
        this.#kept.set(next, new Set());
        continue;
      }
      this.#kept.set(next, 'all');
      pending.push(...references(t));
    }
  }

  #member(compositeId: number, index: number): void {
    this.type(compositeId);
    const members = this.#kept.get(compositeId) as Set<number>;
    if (members.has(index)) return;
    members.add(index);
    const t = this.#btf.typeById(compositeId) as BtfType & { members: readonly { type: number }[] };
    this.type(t.members[index].type);
  }

  #allMembers(id: number): void {
    const t = this.#btf.typeById(id);
    if (t.kind !== 'struct' && t.kind !== 'union') return;
    t.members.forEach((_, i) => {
      this.#member(id, i);
    });
  }

  /** The kept types, renumbered from 1 in their original order. */
  build(): Btf {
    const ids = [...this.#kept.keys()].sort((a, b) => a - b);
    const newId = new Map<number, number>([[0, 0]]);
    ids.forEach((id, i) => {
      newId.set(id, i + 1);
    });
    const map = (id: number) => newId.get(id) as number;
    const types: BtfType[] = [{ kind: 'void', id: 0, name: '' }];
    for (const id of ids) {
      const t = this.#btf.typeById(id);
      const kept = this.#kept.get(id);
      types.push(renumber(t, map(id), map, kept === 'all' ? undefined : kept));
    }
    return createBtf(types);
  }
}

/** Ids a type refers to. */
function references(t: BtfType): number[] {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'func':
    case 'var':
    case 'decl_tag':
      return [t.type];
    case 'array':
      return [t.type, t.indexType];
    case 'func_proto':
      return [t.returnType, ...t.params.map((p) => p.type)];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

/** `t` with id `id` and every reference mapped; a struct/union keeps only `members` (indices) when given. */
function renumber(
  t: BtfType,
  id: number,
  map: (id: number) => number,
  members: Set<number> | undefined,
): BtfType {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'func':
    case 'var':
    case 'decl_tag':
      return { ...t, id, type: map(t.type) };
    case 'array':
      return { ...t, id, type: map(t.type), indexType: map(t.indexType) };
    case 'func_proto':
      return {
        ...t,
        id,
        returnType: map(t.returnType),
        params: t.params.map((p) => ({ ...p, type: map(p.type) })),
      };
    case 'struct':
    case 'union':
      return {
        ...t,
        id,
        members: t.members
          .filter((_, i) => members === undefined || members.has(i))
          .map((m) => ({ ...m, type: map(m.type) })),
      };
    case 'datasec':
      return { ...t, id, vars: t.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return { ...t, id };
  }
}
