/**
 * Maps whose values are kernel objects: {@link ProgArrayMap} (tail calls) and {@link MapOfMaps}. User space
 * writes an FD and reads back the object's id.
 *
 * @module
 */
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import type { BpfProgram } from '../program.js';
import { KeyValueMap } from './keyvalue.js';
import { checkCodecSize, checkMapType, U32_INDEX } from './layout.js';

/** Values of FD maps: written as an FD, read back as the object's id. */
const U32_VALUE: Codec<number> = {
  size: 4,
  decode: (view, offset) => view.getUint32(offset, true),
  encode: (value, view, offset) => view.setUint32(offset, value, true),
};

function fdOf(target: { readonly fd: number } | number): number {
  return typeof target === 'number' ? target : target.fd;
}

/** A program array for tail calls: slot `i` holds a program; reading a slot gives the program's id. */
export class ProgArrayMap {
  readonly #slots: KeyValueMap<number, number>;

  constructor(map: BpfMap) {
    checkMapType(map, ['prog_array'], 'ProgArrayMap');
    this.#slots = new FdSlots(map, U32_INDEX);
  }

  get map(): BpfMap {
    return this.#slots.map;
  }

  /** Puts `program` (a loaded program or a program FD) in slot `index`. */
  set(index: number, program: BpfProgram | number): void {
    this.#slots.set(index, fdOf(program));
  }

  /** The id of the program in slot `index`, or undefined when empty. */
  get(index: number): number | undefined {
    return this.#slots.get(index);
  }

  /** Empties slot `index`; false when it was empty. */
  delete(index: number): boolean {
    return this.#slots.delete(index);
  }

  /** `[slot, program id]` for every filled slot. */
  entries(): IterableIterator<[number, number]> {
    return this.#slots.entries();
  }
}

/**
 * An array or hash of maps (`array_of_maps`, `hash_of_maps`): `set` takes an inner map (or its FD), `get`
 * gives the inner map's id. Keys are `__u32` indices unless a key codec is given (hash of maps).
 */
export class MapOfMaps<K = number> {
  readonly #slots: KeyValueMap<K, number>;

  constructor(map: BpfMap, key?: Codec<K>) {
    checkMapType(map, ['array_of_maps', 'hash_of_maps'], 'MapOfMaps');
    const k = key ?? (U32_INDEX as unknown as Codec<K>);
    checkCodecSize(map, k, map.keySize, 'key');
    this.#slots = new FdSlots(map, k);
  }

  get map(): BpfMap {
    return this.#slots.map;
  }

  /** Stores `inner` (a loaded map or a map FD) under `key`. */
  set(key: K, inner: BpfMap | number, flags = 0): void {
    this.#slots.set(key, fdOf(inner), flags);
  }

  /** The id of the inner map under `key`, or undefined. */
  get(key: K): number | undefined {
    return this.#slots.get(key);
  }

  /** Removes `key`; false when it was not there (arrays of maps: empties the slot). */
  delete(key: K): boolean {
    return this.#slots.delete(key);
  }

  /** `[key, inner map id]` for every filled slot. */
  entries(): IterableIterator<[K, number]> {
    return this.#slots.entries();
  }
}

class FdSlots<K> extends KeyValueMap<K, number> {
  constructor(map: BpfMap, key: Codec<K>) {
    checkCodecSize(map, U32_VALUE, map.valueSize, 'value');
    super(map, key, U32_VALUE);
  }
}
