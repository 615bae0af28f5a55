/**
 * {@link PerCpuHashMap} and {@link PerCpuArrayMap}: per-CPU maps, whose values hold one element per possible
 * CPU.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { possibleCpuCount } from '../sys/cpus.js';
import { clearArray } from './array.js';
import { KeyValueMap } from './keyvalue.js';
import { checkCodecSize, checkMapType, perCpuCodec, U32_INDEX } from './layout.js';

/**
 * A per-CPU hash (`percpu_hash`, `lru_percpu_hash`): each key holds one `V` per possible CPU, as a `V[]`
 * indexed by CPU number. `set` takes exactly one element per possible CPU; {@link setAll} writes one value to
 * every CPU.
 */
export class PerCpuHashMap<K, V> extends KeyValueMap<K, V[]> {
  /** Codec of one CPU's value. */
  readonly elementCodec: Codec<V>;
  /** Possible CPUs: the length of every value. */
  readonly cpus: number;

  constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    checkMapType(map, ['percpu_hash', 'lru_percpu_hash'], 'PerCpuHashMap');
    checkCodecSize(map, key, map.keySize, 'key');
    checkCodecSize(map, value, map.valueSize, 'value');
    const cpus = possibleCpuCount();
    super(map, key, perCpuCodec(value, cpus));
    this.elementCodec = value;
    this.cpus = cpus;
  }

  /** Stores `value` for every CPU under `key`. */
  setAll(key: K, value: V, flags = 0): void {
    this.set(key, new Array<V>(this.cpus).fill(value), flags);
  }
}

/**
 * A per-CPU array (`percpu_array`): each index holds one `V` per possible CPU. Elements cannot be deleted.
 */
export class PerCpuArrayMap<V> extends KeyValueMap<number, V[]> {
  readonly elementCodec: Codec<V>;
  readonly cpus: number;

  constructor(map: BpfMap, value: Codec<V>) {
    checkMapType(map, ['percpu_array'], 'PerCpuArrayMap');
    checkCodecSize(map, U32_INDEX, map.keySize, 'key');
    checkCodecSize(map, value, map.valueSize, 'value');
    const cpus = possibleCpuCount();
    super(map, U32_INDEX, perCpuCodec(value, cpus));
    this.elementCodec = value;
    this.cpus = cpus;
  }

  /** The number of elements (`maxEntries`). */
  get length(): number {
    return this.map.maxEntries;
  }

  /** Stores `value` for every CPU at `index`. */
  setAll(index: number, value: V, flags = 0): void {
    this.set(index, new Array<V>(this.cpus).fill(value), flags);
  }

  /** Array elements cannot be deleted: throws. */
  override delete(index: number): boolean {
    throw new OptionError(
      `map '${this.map.name}' is an array: element ${index} cannot be deleted; set zero values instead`,
      { option: 'index' },
    );
  }

  /** Sets every CPU's value of every element to zero bytes; returns how many elements were written. */
  override clear(): number {
    return clearArray(this.map, this.valueCodec.size);
  }
}
