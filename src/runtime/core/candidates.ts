/**
 * Candidate target types of a local type: those with the same essential name and a compatible kind.
 * Building the name index walks the whole target BTF once (vmlinux has over 100k types), so it is kept per
 * target {@link Btf} in a {@link CoreCandidateCache} and shared by every relocation and program.
 *
 * @module
 */
import type { Btf, BtfKindName, BtfType } from '../../btf/types.js';
import { essentialName } from './names.js';

/** Candidate lists of local types against target BTFs, built once per target. */
export interface CoreCandidateCache {
  /**
   * Ids of the target types that may describe `local`: same essential name, same kind (`enum` and `enum64`
   * count as one kind). Empty for an anonymous local type.
   */
  candidates(target: Btf, local: BtfType): readonly number[];
}

/** Kinds that match each other when searching candidates. */
function kindGroup(kind: BtfKindName): string {
  return kind === 'enum64' ? 'enum' : kind;
}

function indexKey(name: string, kind: BtfKindName): string {
  return `${kindGroup(kind)} ${essentialName(name)}`;
}

function buildIndex(target: Btf): Map<string, number[]> {
  const index = new Map<string, number[]>();
  const { types } = target;
  for (let id = 1; id < types.length; id++) {
    const t = types[id];
    if (t.name === '') continue;
    const key = indexKey(t.name, t.kind);
    const list = index.get(key);
    if (list === undefined) index.set(key, [id]);
    else list.push(id);
  }
  return index;
}

/** A new, empty {@link CoreCandidateCache}; it holds target BTFs weakly. */
export function newCoreCandidateCache(): CoreCandidateCache {
  const indexes = new WeakMap<Btf, Map<string, number[]>>();
  return {
    candidates(target, local) {
      if (local.name === '') return [];
      let index = indexes.get(target);
      if (index === undefined) {
        index = buildIndex(target);
        indexes.set(target, index);
      }
      return index.get(indexKey(local.name, local.kind)) ?? [];
    },
  };
}

/** The cache used when the caller gives none (shared by the whole process; targets are held weakly). */
export const sharedCoreCandidateCache: CoreCandidateCache = newCoreCandidateCache();
