/**
 * {@link ArrayMap}: typed access to array maps by index.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { mapLookupAt, mapUpdateAt } from '../sys/map.js';
import { KeyValueMap } from './keyvalue.js';
import { checkCodecSize, checkMapType, loadedFd, type Scratch, scratch, U32_INDEX } from './layout.js';

/** `BPF_EXIST`: update only an element that exists (every index of an array does). */
const BPF_EXIST = 2;

/**
 * An array of `maxEntries` values of `V` (array maps, including mmapable ones). Every index always holds a
 * value (zero until set): iteration yields `[index, value]` for 0 to `maxEntries - 1`, and elements cannot
 * be deleted.
 */
export class ArrayMap<V> extends KeyValueMap<number, V> {
  /** Bytes between two elements in the memory of an mmapable array: the value size rounded up to 8. */
  readonly #stride: number;
  /** The map's memory as bytes, to zero a slot before a codec that leaves padding writes it. */
  #bytes: Uint8Array | undefined;
  // Index and value buffers of the syscall path. get and set are the shared ones specialised: with array
  // and hash maps in one process, the shared code is polymorphic, which cost 15-30 ns a call.
  readonly #index = scratch(4);
  readonly #value: Scratch;

  constructor(map: BpfMap, value: Codec<V>) {
    checkMapType(map, ['array'], 'ArrayMap');
    checkCodecSize(map, U32_INDEX, map.keySize, 'key');
    checkCodecSize(map, value, map.valueSize, 'value');
    super(map, U32_INDEX, value);
    this.#stride = Math.ceil(map.valueSize / 8) * 8;
    this.#value = scratch(value.size);
  }

  /**
   * The value at `index`, or undefined past the end. An array declared `BPF_F_MMAPABLE` is read from its
   * memory (see `BpfMap.memory`), with no system call; others with `BPF_MAP_LOOKUP_ELEM`.
   */
  override get(index: number): V | undefined {
    const memory = this.map.memory;
    if (memory !== undefined && index >>> 0 === index && index < this.map.maxEntries) {
      return this.valueCodec.decode(memory, index * this.#stride);
    }
    const fd = loadedFd(this.map);
    const v = this.#value;
    return mapLookupAt(fd, this.#indexAddress(index), v.address)
      ? this.valueCodec.decode(v.view, 0)
      : undefined;
  }

  /**
   * Stores `value` at `index`. An mmapable array mapped writable is written in its memory, with no system
   * call (for `flags` 0 or `BPF_EXIST`; other flags, and indexes past the end, go to the kernel, which
   * answers as for any array).
   */
  override set(index: number, value: V, flags = 0): void {
    const memory = this.map.memory;
    if (
      memory !== undefined &&
      (flags === 0 || flags === BPF_EXIST) &&
      this.map.isWritable() &&
      index >>> 0 === index &&
      index < this.map.maxEntries
    ) {
      const at = index * this.#stride;
      if (this.valueCodec.dense !== true) {
        if (this.#bytes?.buffer !== memory.buffer) {
          this.#bytes = new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
        }
        this.#bytes.fill(0, at, at + this.valueCodec.size);
      }
      this.valueCodec.encode(value, memory, at);
      return;
    }
    const fd = loadedFd(this.map);
    const v = this.#value;
    if (this.valueCodec.dense !== true) v.bytes.fill(0);
    this.valueCodec.encode(value, v.view, 0);
    mapUpdateAt(fd, this.#indexAddress(index), v.address, flags);
  }

  /** Writes `index` into the index buffer; returns its address. */
  #indexAddress(index: number): number {
    U32_INDEX.encode(index, this.#index.view, 0);
    return this.#index.address;
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
