/**
 * What the map tests share: codecs written by hand for the fixture types (the generator's codecs are
 * tested on their own), little-endian key bytes, and map lookup by name that fails loudly.
 *
 * @module
 */
import type { Codec } from '../../src/runtime/codec.js';
import type { BpfMap } from '../../src/runtime/map.js';
import type { BpfObject } from '../../src/runtime/object.js';

/** A `__u32`. */
export const u32: Codec<number> = {
  size: 4,
  decode: (v, o) => v.getUint32(o, true),
  encode: (x, v, o) => v.setUint32(o, x, true),
};

/** A `__u64`. */
export const u64: Codec<bigint> = {
  size: 8,
  decode: (v, o) => v.getBigUint64(o, true),
  encode: (x, v, o) => v.setBigUint64(o, x, true),
};

/** `struct ev_sample` of maps.bpf.c. */
export interface EvSample {
  pid: number;
  cpu: number;
  ts: bigint;
}

/** The codec of {@link EvSample} (16 bytes). */
export const evSample: Codec<EvSample> = {
  size: 16,
  decode: (v, o) => ({
    pid: v.getUint32(o, true),
    cpu: v.getUint32(o + 4, true),
    ts: v.getBigUint64(o + 8, true),
  }),
  encode(x, v, o) {
    v.setUint32(o, x.pid, true);
    v.setUint32(o + 4, x.cpu, true);
    v.setBigUint64(o + 8, x.ts, true);
  },
};

/** `n` as 4 little-endian bytes: a u32 key or value for RawMap. */
export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** Map `name` of `obj`; throws when the object has none. */
export function mapOf(obj: BpfObject, name: string): BpfMap {
  const m = obj.maps.get(name);
  if (m === undefined) throw new Error(`no map ${name}`);
  return m;
}

/** `struct prefix_key` of mapchurn.bpf.c as the number it holds: always a /32 prefix. */
export const prefix32Key: Codec<number> = {
  size: 8,
  decode: (v, o) => v.getUint32(o + 4, true),
  encode: (x, v, o) => {
    v.setUint32(o, 32, true);
    v.setUint32(o + 4, x, true);
  },
};
