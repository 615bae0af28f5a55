/**
 * {@link RawMap}: byte-level access to any map, for map types without a typed class (stack traces, socket
 * and task storage, dev and CPU maps, ...).
 *
 * @module
 */
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { KeyValueMap } from './keyvalue.js';

function bytesCodec(size: number): Codec<Uint8Array> {
  return {
    size,
    decode: (view, offset) =>
      new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + size)),
    encode(value, view, offset) {
      new Uint8Array(view.buffer, view.byteOffset + offset, size).set(value.subarray(0, size));
    },
  };
}

/**
 * A map read and written as bytes: keys of `keySize` and values of `valueSize` bytes (for per-CPU maps the
 * value holds every possible CPU's slot, each rounded up to 8 bytes). Values read are copies; shorter keys
 * and values are zero-padded.
 */
export class RawMap extends KeyValueMap<Uint8Array, Uint8Array> {
  /**
   * `valueBytes` overrides how many bytes a value has where the kernel copies more than `valueSize` (per-CPU
   * maps).
   */
  constructor(map: BpfMap, valueBytes = map.valueSize) {
    super(map, bytesCodec(map.keySize), bytesCodec(valueBytes));
  }

  /** Copies the value under `key` into `out` (at least the value size); false when absent. No allocation. */
  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    return this.map.lookup(key, out);
  }
}
