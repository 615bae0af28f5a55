/**
 * Maps without keys: {@link QueueMap} (FIFO), {@link StackMap} (LIFO) and {@link BloomFilterMap}.
 *
 * @module
 */
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import type { MapType } from '../sys/kinds.js';
import { checkCodecSize, checkMapType, type Scratch, scratch } from './layout.js';

/** `BPF_EXIST` for push: when full, drop the oldest element (queue) or the bottom one (stack) to make room. */
export const PUSH_OVERWRITE = 2;

class KeylessMap<V> {
  readonly map: BpfMap;
  readonly valueCodec: Codec<V>;
  protected readonly value: Scratch;

  constructor(map: BpfMap, value: Codec<V>, types: readonly MapType[], what: string) {
    checkMapType(map, types, what);
    checkCodecSize(map, value, map.valueSize, 'value');
    this.map = map;
    this.valueCodec = value;
    this.value = scratch(value.size);
  }

  protected encode(value: V): Uint8Array {
    const v = this.value;
    v.bytes.fill(0);
    this.valueCodec.encode(value, v.view, 0);
    return v.bytes;
  }
}

/** The shared push/pop/peek of queues and stacks. */
class PushPopMap<V> extends KeylessMap<V> {
  /** Adds `value`. Throws `E2BIG` when full, unless `flags` is {@link PUSH_OVERWRITE}. */
  push(value: V, flags = 0): void {
    this.map.update(null, this.encode(value), flags);
  }

  /** Removes and returns the next element, or undefined when empty. */
  pop(): V | undefined {
    const v = this.value;
    return this.map.lookupAndDelete(null, v.bytes) ? this.valueCodec.decode(v.view, 0) : undefined;
  }

  /** Returns the next element without removing it, or undefined when empty. */
  peek(): V | undefined {
    const v = this.value;
    return this.map.lookup(null, v.bytes) ? this.valueCodec.decode(v.view, 0) : undefined;
  }

  /** Pops until empty: the elements in the order they come out. */
  *drain(): Generator<V> {
    for (let v = this.pop(); v !== undefined; v = this.pop()) yield v;
  }
}

/** A FIFO queue map: `pop` and `peek` see the oldest element. */
export class QueueMap<V> extends PushPopMap<V> {
  constructor(map: BpfMap, value: Codec<V>) {
    super(map, value, ['queue'], 'QueueMap');
  }
}

/** A LIFO stack map: `pop` and `peek` see the newest element. */
export class StackMap<V> extends PushPopMap<V> {
  constructor(map: BpfMap, value: Codec<V>) {
    super(map, value, ['stack'], 'StackMap');
  }
}

/** A bloom filter map: `has` may say true for a value never added (false positive), never false for one added. */
export class BloomFilterMap<V> extends KeylessMap<V> {
  constructor(map: BpfMap, value: Codec<V>) {
    super(map, value, ['bloom_filter'], 'BloomFilterMap');
  }

  /** Adds `value` to the filter. */
  add(value: V): void {
    this.map.update(null, this.encode(value), 0);
  }

  /** False when `value` was certainly never added; true when it may have been. */
  has(value: V): boolean {
    return this.map.lookup(null, this.encode(value));
  }
}
