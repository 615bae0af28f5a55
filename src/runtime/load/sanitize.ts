/**
 * BTF sanitizing: rewrites the kinds an older kernel does not know into kinds it does, as libbpf does, so
 * the object's BTF still loads there. Type ids never change (types are replaced in place; a placeholder an
 * edit needs is appended), so map and program references stay valid:
 *
 * | missing feature    | rewrite                                                                       |
 * |--------------------|-------------------------------------------------------------------------------|
 * | `btf_datasec`      | `var` → 1-byte `int` of the same name; `datasec` → `struct` (`.` and `?` in the name become `_`) whose members are its variables at their offsets |
 * | `btf_func`         | `func_proto` → `enum` with one enumerator per parameter; `func` → `typedef` of it |
 * | `btf_func_global`  | global `func` → static                                                         |
 * | `btf_float`        | `float` → anonymous, empty `struct` of the same size                           |
 * | `btf_decl_tag`     | `decl_tag` → anonymous 1-byte `int` (also when `btf_func` or `btf_datasec` is missing) |
 * | `btf_type_tag`     | `type_tag` → `const` of the same type                                          |
 * | `btf_enum64`       | `enum64` → `union` of the same size with one 1-byte member per enumerator; signed `enum` → unsigned |
 *
 * @module
 */
import type { Btf, BtfInt, BtfType } from '../../btf/types.js';
import type { Feature } from '../probes.js';

/** BTF features sanitizing depends on. */
export const BTF_SANITIZE_FEATURES = [
  'btf_datasec',
  'btf_func',
  'btf_func_global',
  'btf_float',
  'btf_decl_tag',
  'btf_type_tag',
  'btf_enum64',
] as const satisfies readonly Feature[];

/** One of {@link BTF_SANITIZE_FEATURES}. */
export type BtfSanitizeFeature = (typeof BTF_SANITIZE_FEATURES)[number];

/**
 * A copy of `btf` with every kind the kernel lacks (per `has`) rewritten; `btf` itself when nothing needs
 * to change. Only the features of {@link BTF_SANITIZE_FEATURES} are asked about.
 */
export function sanitizeBtf(btf: Btf, has: (feature: BtfSanitizeFeature) => boolean): Btf {
  const missing = new Set<BtfSanitizeFeature>(BTF_SANITIZE_FEATURES.filter((f) => !has(f)));
  if (missing.size === 0) return btf;
  // DECL_TAG came after FUNC and DATASEC, and tags functions, parameters and variables: once those are
  // rewritten, their tags must go too (no kernel has DECL_TAG without them, but a forced probe can say so).
  if (missing.has('btf_func') || missing.has('btf_datasec')) missing.add('btf_decl_tag');
  const types: BtfType[] = btf.types.slice();
  let changed = false;
  let enum64Placeholder = 0;
  for (let id = btf.firstId; id < btf.types.length; id++) {
    const t = btf.types[id];
    const next = rewrite(t);
    if (next !== t) {
      types[id] = next;
      changed = true;
    }
  }
  return changed ? btf.withTypes(types) : btf;

  function rewrite(t: BtfType): BtfType {
    switch (t.kind) {
      case 'var':
        return missing.has('btf_datasec') ? byteInt(t.id, t.name) : t;
      case 'datasec':
        if (!missing.has('btf_datasec')) return t;
        return {
          kind: 'struct',
          id: t.id,
          name: t.name.replace(/[.?]/g, '_'),
          size: t.size,
          kindFlag: false,
          members: t.vars.map((v) => ({
            name: btf.typeById(v.type).name,
            type: v.type,
            bitOffset: v.offset * 8,
            bitfieldSize: 0,
          })),
        };
      case 'func_proto':
        if (!missing.has('btf_func')) return t;
        return {
          kind: 'enum',
          id: t.id,
          name: '',
          size: 4,
          signed: false,
          values: t.params.map((p) => ({ name: p.name, value: p.type })),
        };
      case 'func':
        if (missing.has('btf_func')) return { kind: 'typedef', id: t.id, name: t.name, type: t.type };
        return missing.has('btf_func_global') && t.linkage === 'global' ? { ...t, linkage: 'static' } : t;
      case 'float':
        if (!missing.has('btf_float')) return t;
        return { kind: 'struct', id: t.id, name: '', size: t.size, kindFlag: false, members: [] };
      case 'decl_tag':
        return missing.has('btf_decl_tag') ? byteInt(t.id, '') : t;
      case 'type_tag':
        return missing.has('btf_type_tag') ? { kind: 'const', id: t.id, name: '', type: t.type } : t;
      case 'enum':
        return missing.has('btf_enum64') && t.signed ? { ...t, signed: false } : t;
      case 'enum64': {
        if (!missing.has('btf_enum64')) return t;
        if (enum64Placeholder === 0) {
          enum64Placeholder = types.length;
          types.push(byteInt(enum64Placeholder, 'enum64_placeholder'));
        }
        const member = enum64Placeholder;
        return {
          kind: 'union',
          id: t.id,
          name: t.name,
          size: t.size,
          kindFlag: false,
          members: t.values.map((v) => ({ name: v.name, type: member, bitOffset: 0, bitfieldSize: 0 })),
        };
      }
      default:
        return t;
    }
  }
}

/** A 1-byte unsigned `int`: the smallest type that can stand anywhere a removed kind stood. */
function byteInt(id: number, name: string): BtfInt {
  return { kind: 'int', id, name, size: 1, signed: false, char: false, bool: false, bits: 8, bitOffset: 0 };
}
