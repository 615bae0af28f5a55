/**
 * The object's BTF as the kernel accepts it when externs are declared. The kernel takes no `extern` linkage
 * and no `func` in a DATASEC, so, keeping every type id:
 * - `.kconfig` gets its size and each variable its offset from {@link kconfigLayout} (the map's value type);
 * - every `.ksyms` entry becomes a 4-byte `int` variable (kfuncs are replaced in the DATASEC by one added
 *   variable), laid out one after another;
 * - `extern` variables and functions become global, and unnamed kfunc parameters get a name (the kernel
 *   wants every parameter of a `func` named).
 *
 * @module
 */
import type { Btf, BtfDatasec, BtfInt, BtfType } from '../../btf/types.js';
import { kconfigLayout } from './kconfig.js';

/** Name of the variable that stands in for kfuncs in `.ksyms`, and of their unnamed parameters. */
const KSYM_PLACEHOLDER = 'bpf_skel_ksym';

/** A copy of `btf` fixed up for upload (itself when it declares no externs). */
export function fixExternBtf(btf: Btf): Btf {
  const layout = kconfigLayout(btf);
  const ksyms = btf.findByName('.ksyms', 'datasec') as BtfDatasec | undefined;
  const hasExtern = btf.types.some((t) => (t.kind === 'var' || t.kind === 'func') && t.linkage === 'extern');
  if (layout === undefined && ksyms === undefined && !hasExtern) return btf;
  const types: BtfType[] = btf.types.slice();
  const add = (make: (id: number) => BtfType): number => {
    const id = types.length;
    types.push(make(id));
    return id;
  };
  if (layout !== undefined) {
    const offsets = new Map(layout.vars.map((v) => [v.varId, v]));
    const sec = types[layout.datasecId] as BtfDatasec;
    types[sec.id] = {
      ...sec,
      size: layout.size,
      vars: sec.vars.map((info) => {
        const v = offsets.get(info.type);
        return v === undefined ? info : { type: info.type, offset: v.offset, size: v.size };
      }),
    };
  }
  if (ksyms !== undefined && ksyms.vars.length > 0) {
    const intId = types.findIndex(isPlainInt32) > 0 ? types.findIndex(isPlainInt32) : add(int32);
    let placeholder = 0;
    const vars = ksyms.vars.map((info, i) => {
      const t = types[info.type];
      let type = info.type;
      if (t.kind === 'func') {
        placeholder ||= add((id) => ({
          kind: 'var',
          id,
          name: KSYM_PLACEHOLDER,
          type: intId,
          linkage: 'global',
        }));
        type = placeholder;
        nameParams(types, t.type);
      } else if (t.kind === 'var') {
        types[t.id] = { ...t, type: intId };
      }
      return { type, offset: i * 4, size: 4 };
    });
    types[ksyms.id] = { ...ksyms, size: vars.length * 4, vars };
  }
  for (let id = 1; id < types.length; id++) {
    const t = types[id];
    if ((t.kind === 'var' || t.kind === 'func') && t.linkage === 'extern')
      types[id] = { ...t, linkage: 'global' };
  }
  return btf.withTypes(types);
}

function nameParams(types: BtfType[], protoId: number): void {
  const proto = types[protoId];
  if (proto?.kind !== 'func_proto' || proto.params.every((p) => p.name !== '' || p.type === 0)) return;
  types[protoId] = {
    ...proto,
    params: proto.params.map((p) => (p.name === '' && p.type !== 0 ? { ...p, name: KSYM_PLACEHOLDER } : p)),
  };
}

function isPlainInt32(t: BtfType): boolean {
  return t.kind === 'int' && t.size === 4 && t.bits === 32 && t.bitOffset === 0 && !t.bool && !t.char;
}

function int32(id: number): BtfInt {
  return {
    kind: 'int',
    id,
    name: 'int',
    size: 4,
    signed: true,
    char: false,
    bool: false,
    bits: 32,
    bitOffset: 0,
  };
}
