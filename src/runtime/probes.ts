/**
 * Kernel feature probes and their caches. Token-less objects share one process-wide cache probed without a
 * token; every object with a token has a cache of its own whose probes carry that token, so what a
 * delegated BPF FS allows inside a user namespace is judged with the rights the object really has.
 *
 * @module
 */
import { createBtf } from '../btf/create.js';
import type { BtfType } from '../btf/types.js';
import { writeBtf } from '../btf/write.js';
import { btfLoad } from './sys/btf.js';
import { MapFlag } from './sys/consts.js';
import { closeFd } from './sys/fd.js';
import { MapTypes, ProgramTypes } from './sys/kinds.js';
import { mapCreate } from './sys/map.js';
import { progLoad } from './sys/prog.js';

/** Features the loader asks about. */
export type Feature =
  | 'map_name'
  | 'prog_name'
  | 'mmapable_array'
  | 'global_data'
  | 'btf'
  | 'btf_func'
  | 'btf_func_global'
  | 'btf_datasec'
  | 'btf_float'
  | 'btf_decl_tag'
  | 'btf_type_tag'
  | 'btf_enum64'
  | 'bpf_cookie';

/** `r0 = 0; exit`. */
const RETURN_ZERO = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** `call bpf_get_attach_cookie` (helper 174); `exit`. */
const CALL_GET_ATTACH_COOKIE = Uint8Array.from([0x85, 0, 0, 0, 174, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** A lazily filled feature cache; probes run with `tokenFd` when it is `>= 0`. */
export interface FeatureCache {
  readonly tokenFd: number;
  has(feature: Feature): boolean;
  /** Test hook: pretend `feature` is (or is not) there. */
  override(feature: Feature, present: boolean | undefined): void;
}

/** Process-wide overrides that every cache, shared or per token, obeys first. */
const globalOverrides = new Map<Feature, boolean>();

/**
 * Test hook: make every feature cache of the process (the shared one and those of token objects, existing
 * and future) report `feature` as present or missing; `undefined` removes the override. Lets a test load an
 * object as on a kernel that lacks something, e.g. BTF DATASEC support, to exercise BTF sanitizing.
 */
export function overrideFeature(feature: Feature, present: boolean | undefined): void {
  if (present === undefined) globalOverrides.delete(feature);
  else globalOverrides.set(feature, present);
}

/** Makes a cache whose probes use `tokenFd` (-1: none). */
export function newFeatureCache(tokenFd: number): FeatureCache {
  const known = new Map<Feature, boolean>();
  const forced = new Map<Feature, boolean>();
  return {
    tokenFd,
    has(feature) {
      const f = globalOverrides.get(feature) ?? forced.get(feature);
      if (f !== undefined) return f;
      let present = known.get(feature);
      if (present === undefined) {
        present = probe(feature, tokenFd);
        known.set(feature, present);
      }
      return present;
    },
    override(feature, present) {
      if (present === undefined) forced.delete(feature);
      else forced.set(feature, present);
    },
  };
}

let shared: FeatureCache | undefined;

/** The process-wide cache of token-less objects. */
export function sharedFeatureCache(): FeatureCache {
  shared ??= newFeatureCache(-1);
  return shared;
}

function probe(feature: Feature, tokenFd: number): boolean {
  switch (feature) {
    case 'map_name':
      return tryFd(() =>
        mapCreate({
          type: MapTypes.array,
          keySize: 4,
          valueSize: 4,
          maxEntries: 1,
          name: 'probe_name',
          tokenFd,
        }),
      );
    case 'mmapable_array':
      return tryFd(() =>
        mapCreate({
          type: MapTypes.array,
          keySize: 4,
          valueSize: 4,
          maxEntries: 1,
          flags: MapFlag.MMAPABLE,
          tokenFd,
        }),
      );
    case 'prog_name':
      return tryFd(() =>
        progLoad({
          type: ProgramTypes.socket_filter,
          insns: RETURN_ZERO,
          license: 'GPL',
          name: 'probe_name',
          tokenFd,
        }),
      );
    case 'global_data':
      // An array map is all global data needs from the map side; programs referencing values came in 5.2
      // together with BTF datasecs, which the btf_datasec probe checks.
      return tryFd(() =>
        mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 32, maxEntries: 1, tokenFd }),
      );
    case 'bpf_cookie':
      // `call bpf_get_attach_cookie; exit` in a tracepoint program: accepted only when the helper exists.
      return tryFd(() =>
        progLoad({ type: ProgramTypes.tracepoint, insns: CALL_GET_ATTACH_COOKIE, license: 'GPL', tokenFd }),
      );
    default:
      return probeBtf(feature, tokenFd);
  }
}

const INT: BtfType = {
  kind: 'int',
  id: 1,
  name: 'int',
  size: 4,
  signed: true,
  char: false,
  bool: false,
  bits: 32,
  bitOffset: 0,
};

/** Uploads a tiny BTF using the feature's kind. */
function probeBtf(feature: Feature, tokenFd: number): boolean {
  const types: BtfType[] = [{ kind: 'void', id: 0, name: '' }, INT];
  const add = (t: BtfType) => types.push(t);
  switch (feature) {
    case 'btf':
      break;
    case 'btf_func':
      add({ kind: 'func_proto', id: 2, name: '', returnType: 1, params: [] });
      add({ kind: 'func', id: 3, name: 'probe_fn', type: 2, linkage: 'static' });
      break;
    case 'btf_func_global':
      add({ kind: 'func_proto', id: 2, name: '', returnType: 1, params: [] });
      add({ kind: 'func', id: 3, name: 'probe_fn', type: 2, linkage: 'global' });
      break;
    case 'btf_datasec':
      add({ kind: 'var', id: 2, name: 'probe_var', type: 1, linkage: 'static' });
      add({ kind: 'datasec', id: 3, name: '.data', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] });
      break;
    case 'btf_float':
      add({ kind: 'float', id: 2, name: 'float', size: 4 });
      break;
    case 'btf_decl_tag':
      add({ kind: 'var', id: 2, name: 'probe_var', type: 1, linkage: 'static' });
      add({ kind: 'decl_tag', id: 3, name: 'tag', type: 2, componentIdx: -1, attribute: false });
      break;
    case 'btf_type_tag':
      add({ kind: 'type_tag', id: 2, name: 'tag', type: 1, attribute: false });
      add({ kind: 'ptr', id: 3, name: '', type: 2 });
      break;
    case 'btf_enum64':
      add({
        kind: 'enum64',
        id: 2,
        name: 'probe_enum',
        size: 8,
        signed: false,
        values: [{ name: 'V', value: 1n }],
      });
      break;
  }
  return tryFd(() => btfLoad(writeBtf(createBtf(types)), { tokenFd }));
}

function tryFd(make: () => number): boolean {
  try {
    closeFd(make());
    return true;
  } catch {
    return false;
  }
}
