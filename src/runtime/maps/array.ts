/**
 * {@link ArrayMap}: typed access to array maps by index.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { KeyValueMap } from './keyvalue.js';
import { checkCodecSize, checkMapType, U32_INDEX } from './layout.js';

/**
 * An array of `maxEntries` values of `V` (array maps, including mmapable ones). Every index always holds a
 * value (zero until set): iteration yields `[index, value]` for 0 to `maxEntries - 1`, and elements cannot
 * be deleted.
 */
export class ArrayMap<V> extends KeyValueMap<number, V> {
  constructor(map: BpfMap, value: Codec<V>) {
    checkMapType(map, ['array'], 'ArrayMap');
    checkCodecSize(map, U32_INDEX, map.keySize, 'key');
    checkCodecSize(map, value, map.valueSize, 'value');
    super(map, U32_INDEX, value);
  }

  /** The number of elements (`maxEntries`). */
  get length(): number {
    return this.map.maxEntries;
  }

  /** Array elements cannot be deleted: throws. Set a zero value or use {@link clear}. */
  override delete(index: number): boolean {
    throw new OptionError(
      `map '${this.map.name}' is an array: element ${index} cannot be deleted; set a zero value instead`,
      { option: 'index' },
    );
  }

  /** Sets every element to all-zero bytes; returns how many were written. */
  override clear(): number {
    return clearArray(this.map, this.valueCodec.size);
  }
}

/** Writes all-zero values to every index of array `map` whose whole value is `valueBytes` long. */
export function clearArray(map: BpfMap, valueBytes: number): number {
  const zero = new Uint8Array(Math.max(valueBytes, 1));
  const key = new Uint8Array(4);
  const view = new DataView(key.buffer);
  for (let i = 0; i < map.maxEntries; i++) {
    view.setUint32(0, i, true);
    map.update(key, zero);
  }
  return map.maxEntries;
}
