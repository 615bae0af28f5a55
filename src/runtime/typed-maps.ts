/**
 * Typed access to BPF maps: one class per kind of map, each taking the generated codecs of its key and
 * value types. Element access reuses per-instance buffers, so it allocates nothing but the decoded value.
 *
 * @module
 */
export { ArrayMap } from './maps/array.js';
export { MapOfMaps, ProgArrayMap } from './maps/fdmaps.js';
export { HashMap } from './maps/hash.js';
export { DEFAULT_BATCH_SIZE, KeyValueMap } from './maps/keyvalue.js';
export { perCpuCodec } from './maps/layout.js';
export { PerCpuArrayMap, PerCpuHashMap } from './maps/percpu.js';
export { BloomFilterMap, PUSH_OVERWRITE, QueueMap, StackMap } from './maps/queue.js';
export { RawMap } from './maps/raw.js';
