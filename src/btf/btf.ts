/**
 * The {@link Btf} object: a type array with lazy name index and layout queries, shared by parsed and edited
 * BTF.
 *
 * @module
 */
import { BtfError, type ParseLocation } from '../errors.js';
import { alignOf, memberLayout, resolveId, sizeOf } from './layout.js';
import type { Btf, BtfKindName, BtfStrings, BtfType } from './types.js';

/** What {@link makeBtf} needs. */
export interface BtfParts {
  types: readonly BtfType[];
  firstId: number;
  base: Btf | undefined;
  strings: BtfStrings;
  file: string | undefined;
}

/** Ids a type refers to (each must exist). */
export function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case 'void':
    case 'int':
    case 'enum':
    case 'enum64':
    case 'fwd':
    case 'float':
      return [];
    case 'array':
      return [t.type, t.indexType];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'func_proto':
      return [t.returnType, ...t.params.map((p) => p.type)];
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [t.type];
  }
}

/**
 * Checks that every type's `id` equals its index and every referenced id exists. `locate` gives the error
 * location of a type (its record offset when parsing).
 */
export function checkTypes(
  types: readonly BtfType[],
  firstId: number,
  locate: (id: number) => ParseLocation,
): void {
  const count = types.length;
  for (let id = firstId; id < count; id++) {
    const t = types[id];
    if (t.id !== id) throw new BtfError(`type at index ${id} has id ${t.id}`, locate(id));
    for (const ref of referencedIds(t)) {
      if (!Number.isInteger(ref) || ref < 0 || ref >= count) {
        throw new BtfError(
          `type ${id} (${t.kind}${t.name ? ` '${t.name}'` : ''}) refers to type ${ref}, but there are ${count} types`,
          locate(id),
        );
      }
    }
  }
}

/** Builds a {@link Btf} over already-validated parts. */
export function makeBtf(parts: BtfParts): Btf {
  const { types, firstId, base, strings, file } = parts;
  let byName: Map<string, BtfType[]> | undefined;
  const alignMemo = new Map<number, number>();

  function nameIndex(): Map<string, BtfType[]> {
    if (byName !== undefined) return byName;
    byName = new Map();
    for (let id = firstId; id < types.length; id++) {
      const t = types[id];
      if (t.name === '') continue;
      const list = byName.get(t.name);
      if (list === undefined) byName.set(t.name, [t]);
      else list.push(t);
    }
    return byName;
  }

  function findAllByName(name: string, kind?: BtfKindName): readonly BtfType[] {
    const fromBase = base === undefined ? [] : base.findAllByName(name, kind);
    const own = nameIndex().get(name) ?? [];
    const matches = kind === undefined ? own : own.filter((t) => t.kind === kind);
    return fromBase.length === 0 ? matches : [...fromBase, ...matches];
  }

  const btf: Btf = {
    types,
    firstId,
    base,
    strings,
    file,
    typeById(id) {
      const t = types[id];
      if (t === undefined)
        throw new BtfError(`type id ${id} does not exist (${types.length} types)`, { file });
      return t;
    },
    findByName(name: string, kind?: BtfKindName) {
      if (base !== undefined) {
        const t = kind === undefined ? base.findByName(name) : base.findByName(name, kind);
        if (t !== undefined) return t;
      }
      const own = nameIndex().get(name);
      if (own === undefined) return undefined;
      return kind === undefined ? own[0] : own.find((t) => t.kind === kind);
    },
    findAllByName,
    resolve(id) {
      return types[resolveId(types, id, file)];
    },
    resolveId(id) {
      return resolveId(types, id, file);
    },
    sizeOf(id) {
      return sizeOf(types, id, file);
    },
    alignOf(id) {
      try {
        return alignOf(types, id, file, alignMemo);
      } catch (e) {
        // Drop the in-progress marks of the failed walk so a later query is not mistaken for a cycle.
        for (const [k, v] of alignMemo) if (v === 0) alignMemo.delete(k);
        if (e instanceof RangeError) throw new BtfError(`type ${id} is nested too deeply`, { file });
        throw e;
      }
    },
    memberLayout(id) {
      return memberLayout(types, id, file);
    },
    withTypes(next) {
      for (let id = 0; id < firstId; id++) {
        if (next[id] !== types[id]) {
          throw new BtfError(`withTypes: type ${id} belongs to the base (or is void) and must be kept`, {
            file,
          });
        }
      }
      checkTypes(next, firstId, (id) => ({ file, section: `type ${id}` }));
      return makeBtf({ types: next, firstId, base, strings, file });
    },
  } as Btf;
  return btf;
}
