/**
 * {@link KeyValueMap}: typed element access, iteration and batches over any map with keys and values, on
 * reused per-instance buffers. The hash, array and per-CPU classes are this with their own key and value
 * codecs.
 *
 * @module
 */
import { BpfError, OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { checkU32 } from '../sys/attr.js';
import { BpfCmd, bpfFailure } from '../sys/bpf.js';
import {
  mapDeleteAt,
  mapDeleteBatchPartial,
  mapLookupAndDeleteBatch,
  mapLookupAt,
  mapLookupBatch,
  mapUpdateAt,
  mapUpdateBatch,
} from '../sys/map.js';
import { isBatchUnsupported, loadedFd, POSITIONAL_BATCH_TYPES, type Scratch, scratch } from './layout.js';

/** Elements per `BPF_MAP_LOOKUP_BATCH` call unless a batch method is told otherwise. */
export const DEFAULT_BATCH_SIZE = 256;

const ENOENT = 2;
const ENOSPC = 28;
const EOPNOTSUPP = 95;
/** The kernel-internal "not supported" errno that bpf() lets through to user space. */
const ENOTSUPP = 524;

/** What the key of each local storage map type is, for the error that says they are read by key only. */
const STORAGE_KEYS: Readonly<Record<string, string>> = {
  sk_storage: 'a socket FD',
  task_storage: 'a pidfd',
  inode_storage: 'an FD of the file',
  cgrp_storage: 'a cgroup FD',
};

/**
 * A clear error for a map the kernel cannot list keys of (`ENOTSUPP`/`EOPNOTSUPP` from
 * `BPF_MAP_GET_NEXT_KEY`), or `err` itself.
 */
function notIterable(map: BpfMap, err: unknown): unknown {
  if (!(err instanceof BpfError) || (err.errno !== ENOTSUPP && err.errno !== EOPNOTSUPP)) return err;
  const key = STORAGE_KEYS[map.type];
  const why =
    key === undefined
      ? `the kernel has no next-key operation for ${map.type} maps`
      : `${map.type} maps are read by key only (get/has/delete with ${key} as key); the kernel cannot list their keys`;
  return new OptionError(`map '${map.name}' (${map.type}) cannot be iterated: ${why}`, {
    option: 'map',
    code: err.code,
    errno: err.errno,
    command: err.command,
    cause: err,
  });
}

/**
 * A key walk gives up after this many steps per possible element: each restart re-reads the keys already
 * seen, so only a map whose walked-over keys are deleted over and over gets there.
 */
const WALK_STEPS_PER_ENTRY = 32;

/** Reads one element out of batch or walk buffers. */
type Pick<K, V, R> = (
  map: KeyValueMap<K, V>,
  keys: DataView,
  keyOff: number,
  values: DataView,
  valueOff: number,
) => R;

const pickEntry = <K, V>(
  m: KeyValueMap<K, V>,
  kv: DataView,
  ko: number,
  vv: DataView,
  vo: number,
): [K, V] => [m.keyCodec.decode(kv, ko), m.valueCodec.decode(vv, vo)];
const pickKey = <K, V>(m: KeyValueMap<K, V>, kv: DataView, ko: number): K => m.keyCodec.decode(kv, ko);
const pickValue = <K, V>(m: KeyValueMap<K, V>, _kv: DataView, _ko: number, vv: DataView, vo: number): V =>
  m.valueCodec.decode(vv, vo);

function bytesOf(size: number): { bytes: Uint8Array; view: DataView } {
  return scratch(size);
}

/**
 * A map read and written through codecs. `get`, `set`, `delete` and `has` encode into buffers the instance
 * owns, so they allocate nothing beyond the decoded result.
 *
 * Iteration (`entries()`, `keys()`, `values()`, `for...of`) of hash, LRU, per-CPU and array maps uses
 * `BPF_MAP_LOOKUP_BATCH`, which resumes bucket by bucket (index by index for arrays): elements deleted or
 * added meanwhile never make it start over, every element present throughout is seen exactly once, and
 * others may or may not be. Other maps (LPM tries, ...) are walked with `BPF_MAP_GET_NEXT_KEY`: when the key
 * the walk stands on is deleted meanwhile, the kernel restarts from the first key; keys already yielded are
 * then skipped (the walk remembers them), so each key is still yielded at most once and every key present
 * throughout is yielded. A walk that restarts so often that it takes more than 32 steps per possible
 * element stops with `EAGAIN`. Either way each element is read when reached, not as a snapshot.
 */
export class KeyValueMap<K, V> implements Iterable<[K, V]> {
  /** The underlying map (name, sizes, FD, raw byte access). */
  readonly map: BpfMap;
  readonly keyCodec: Codec<K>;
  /** The codec of a whole value as the kernel copies it (for per-CPU maps: all CPUs' slots). */
  readonly valueCodec: Codec<V>;
  readonly #key: Scratch;
  readonly #value: Scratch;
  #batches = true;
  /** Separate from {@link #batches}: arrays have batch lookups but no batch delete. */
  #deleteBatches = true;

  protected constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    this.map = map;
    this.keyCodec = key;
    this.valueCodec = value;
    this.#key = scratch(key.size);
    this.#value = scratch(value.size);
  }

  /** The value under `key`, or undefined when there is none. */
  get(key: K): V | undefined {
    const v = this.#value;
    if (!mapLookupAt(loadedFd(this.map), this.#encodeKey(key), v.address)) return undefined;
    return this.valueCodec.decode(v.view, 0);
  }

  /**
   * The raw bytes of the value under `key`, or undefined: a buffer this instance reuses, valid until its
   * next call. For reading a few fields without decoding the whole value.
   */
  getBytes(key: K): Uint8Array | undefined {
    const v = this.#value;
    return mapLookupAt(loadedFd(this.map), this.#encodeKey(key), v.address) ? v.bytes : undefined;
  }

  /** Stores `value` under `key`. `flags`: 0 any, 1 only if absent (`BPF_NOEXIST`), 2 only if present. */
  set(key: K, value: V, flags = 0): void {
    const v = this.#value;
    if (this.valueCodec.dense !== true) v.bytes.fill(0);
    this.valueCodec.encode(value, v.view, 0);
    mapUpdateAt(loadedFd(this.map), this.#encodeKey(key), v.address, flags);
  }

  /** Removes `key`; false when it was not there. */
  delete(key: K): boolean {
    return mapDeleteAt(loadedFd(this.map), this.#encodeKey(key));
  }

  /**
   * Removes `key` and returns the value it held, in one step (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`, hash maps
   * from Linux 5.14): no BPF-side update can slip in between the read and the delete. Undefined when absent.
   */
  take(key: K): V | undefined {
    const v = this.#value;
    this.#encodeKey(key);
    if (!this.map.lookupAndDelete(this.#key.bytes, v.bytes)) return undefined;
    return this.valueCodec.decode(v.view, 0);
  }

  /** Whether there is a value under `key`. */
  has(key: K): boolean {
    return mapLookupAt(loadedFd(this.map), this.#encodeKey(key), this.#value.address);
  }

  /** The values under `keys`, in order (undefined where absent). One lookup per key. */
  getMany(keys: Iterable<K>): (V | undefined)[] {
    const out: (V | undefined)[] = [];
    for (const k of keys) out.push(this.get(k));
    return out;
  }

  /**
   * Stores every pair with `BPF_MAP_UPDATE_BATCH`, `batchSize` at a time (single updates where the kernel
   * has no batch for this map). Returns how many were stored.
   */
  setMany(entries: Iterable<readonly [K, V]>, flags = 0, batchSize = DEFAULT_BATCH_SIZE): number {
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    const keys = bytesOf(ks * batchSize);
    const values = bytesOf(vs * batchSize);
    let n = 0;
    let stored = 0;
    const flush = (): void => {
      if (n === 0) return;
      stored += this.#updateBatch(keys.bytes, values.bytes, n, flags);
      keys.bytes.fill(0);
      values.bytes.fill(0);
      n = 0;
    };
    for (const [k, v] of entries) {
      this.keyCodec.encode(k, keys.view, n * ks);
      this.valueCodec.encode(v, values.view, n * vs);
      if (++n === batchSize) flush();
    }
    flush();
    return stored;
  }

  /**
   * Removes every key of `keys`; returns how many were there. Uses `BPF_MAP_DELETE_BATCH`, `batchSize` keys
   * per call: the kernel stops at a key that is not there, which is skipped, and the batch goes on after
   * it. Where the kernel has no batch delete for the map, one delete per key.
   */
  deleteMany(keys: Iterable<K>, batchSize = DEFAULT_BATCH_SIZE): number {
    if (checkU32(batchSize, 'batch size') === 0) {
      throw new OptionError('batch size must be at least 1', { option: 'batch size' });
    }
    const ks = this.keyCodec.size;
    const buf = scratch(ks * batchSize);
    const dense = this.keyCodec.dense === true;
    let n = 0;
    let deleted = 0;
    for (const k of keys) {
      // Padding must be zero: the kernel compares every key byte.
      if (!dense) buf.bytes.fill(0, n * ks, (n + 1) * ks);
      this.keyCodec.encode(k, buf.view, n * ks);
      if (++n === batchSize) {
        deleted += this.#deleteBatch(buf, n);
        n = 0;
      }
    }
    if (n > 0) deleted += this.#deleteBatch(buf, n);
    return deleted;
  }

  /**
   * Removes every element; returns how many were removed. Uses `BPF_MAP_LOOKUP_AND_DELETE_BATCH` where the
   * kernel has it, else deletes the keys an iteration finds.
   */
  clear(): number {
    if (this.#batches) {
      try {
        let n = 0;
        for (const _ of this.#batchWalk(pickKey, DEFAULT_BATCH_SIZE, true)) n++;
        return n;
      } catch (err) {
        if (!isBatchUnsupported(err)) throw err;
      }
    }
    return this.deleteMany([...this.keys()]);
  }

  /** Every `[key, value]` pair; see the class notes for what concurrent changes do. */
  entries(batchSize = DEFAULT_BATCH_SIZE): IterableIterator<[K, V]> {
    return this.#iterate(pickEntry, batchSize);
  }

  /** Every key. */
  keys(batchSize = DEFAULT_BATCH_SIZE): IterableIterator<K> {
    return this.#iterate(pickKey, batchSize);
  }

  /** Every value. */
  values(batchSize = DEFAULT_BATCH_SIZE): IterableIterator<V> {
    return this.#iterate(pickValue, batchSize);
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /**
   * The elements one `BPF_MAP_LOOKUP_BATCH` chunk at a time (`batchSize` pairs per syscall), or undefined
   * when the kernel has no batch lookup for this map. For map types other than hashes and arrays the kernel
   * resumes each chunk from the last key, so a concurrent delete of that key makes it start over.
   */
  entriesBatch(batchSize = DEFAULT_BATCH_SIZE): IterableIterator<[K, V][]> | undefined {
    if (!this.#probeBatch()) return undefined;
    return this.#chunks(batchSize);
  }

  *#chunks(batchSize: number): Generator<[K, V][]> {
    let chunk: [K, V][] = [];
    for (const e of this.#batchWalk(pickEntry, batchSize, false)) {
      chunk.push(e);
      if (chunk.length >= batchSize) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Encodes `key` into the key scratch; padding bytes stay zero, as hash keys compare all bytes. */
  /** Encodes `key` into the key scratch; returns its address. */
  #encodeKey(key: K): number {
    const k = this.#key;
    // Zeroed first so padding never carries bytes of an earlier key: the kernel hashes every key byte.
    if (this.keyCodec.dense !== true) k.bytes.fill(0);
    this.keyCodec.encode(key, k.view, 0);
    return k.address;
  }

  /** Whether batch lookups work on this map (tried once, with a one-element batch). */
  #probeBatch(): boolean {
    if (!this.#batches) return false;
    try {
      const keys = new Uint8Array(Math.max(this.keyCodec.size, 1));
      const values = new Uint8Array(Math.max(this.valueCodec.size, 1));
      mapLookupBatch(loadedFd(this.map), {
        inBatch: null,
        outBatch: new Uint8Array(Math.max(this.keyCodec.size, 8)),
        keys,
        values,
        count: 1,
      });
    } catch (err) {
      if (isBatchUnsupported(err)) this.#batches = false;
      else if (!(err instanceof BpfError && err.errno === ENOSPC)) throw err;
    }
    return this.#batches;
  }

  #iterate<R>(pick: Pick<K, V, R>, batchSize: number): IterableIterator<R> {
    const positional = (POSITIONAL_BATCH_TYPES as readonly string[]).includes(this.map.type);
    return positional && this.#probeBatch() ? this.#batchWalk(pick, batchSize, false) : this.#walk(pick);
  }

  *#batchWalk<R>(pick: Pick<K, V, R>, batchSize: number, andDelete: boolean): Generator<R> {
    const ks = Math.max(this.keyCodec.size, 1);
    const vs = Math.max(this.valueCodec.size, 1);
    const token = Math.max(ks, 8);
    let size = batchSize;
    let keys = bytesOf(ks * size);
    let values = bytesOf(vs * size);
    const inBatch = new Uint8Array(token);
    const outBatch = new Uint8Array(token);
    let first = true;
    const lookup = andDelete ? mapLookupAndDeleteBatch : mapLookupBatch;
    for (;;) {
      let got: { count: number; done: boolean };
      try {
        got = lookup(loadedFd(this.map), {
          inBatch: first ? null : inBatch,
          outBatch,
          keys: keys.bytes,
          values: values.bytes,
          count: size,
        });
      } catch (err) {
        // A hash bucket holds more elements than fit: retry the same position with room for more.
        if (!(err instanceof BpfError && err.errno === ENOSPC) || size >= 1 << 20) throw err;
        size *= 2;
        keys = bytesOf(ks * size);
        values = bytesOf(vs * size);
        continue;
      }
      // The kernel and the consumer may reuse the buffers: hand out elements before the next call.
      for (let i = 0; i < got.count; i++) yield pick(this, keys.view, i * ks, values.view, i * vs);
      if (got.done) return;
      inBatch.set(outBatch);
      first = false;
    }
  }

  *#walk<R>(pick: Pick<K, V, R>): Generator<R> {
    const ks = Math.max(this.keyCodec.size, 1);
    const current = bytesOf(ks);
    const next = new Uint8Array(ks);
    const value = bytesOf(Math.max(this.valueCodec.size, 1));
    const seen = new Set<string>();
    const limit = WALK_STEPS_PER_ENTRY * (this.map.maxEntries + 64);
    let started = false;
    let steps = 0;
    while (this.#nextKey(started ? current.bytes : null, next)) {
      started = true;
      if (++steps > limit) {
        throw new BpfError(
          `map '${this.map.name}' changed so much during iteration that the walk restarted too often; retry`,
          { code: 'EAGAIN', errno: 11, command: 'BPF_MAP_GET_NEXT_KEY' },
        );
      }
      current.bytes.set(next);
      const id = Buffer.from(next.buffer, next.byteOffset, next.byteLength).toString('latin1');
      if (seen.has(id)) continue;
      // Deleted between finding the key and reading its value: skip it.
      if (!this.map.lookup(current.bytes, value.bytes)) continue;
      seen.add(id);
      yield pick(this, current.view, 0, value.view, 0);
    }
  }

  /** {@link BpfMap.nextKey}, with the kernel's "no next-key operation" said clearly. */
  #nextKey(key: Uint8Array | null, next: Uint8Array): boolean {
    try {
      return this.map.nextKey(key, next);
    } catch (err) {
      throw notIterable(this.map, err);
    }
  }

  /** Deletes the `n` keys in `keys` (a batch at a time, or one by one); returns how many were there. */
  #deleteBatch(keys: Scratch, n: number): number {
    const fd = loadedFd(this.map);
    const ks = this.keyCodec.size;
    let start = 0;
    let deleted = 0;
    while (start < n && this.#deleteBatches) {
      const rest = n - start;
      const r = mapDeleteBatchPartial(fd, start === 0 ? keys.bytes : keys.bytes.subarray(start * ks), rest);
      if (r.errno === 0) return deleted + rest;
      if (r.errno === ENOENT && r.deleted < rest) {
        // The kernel stopped at an absent key: count what went before it and go on after it.
        deleted += r.deleted;
        start += r.deleted + 1;
        continue;
      }
      const err = bpfFailure(
        BpfCmd.MAP_DELETE_BATCH,
        r.errno,
        `map '${this.map.name}', after ${deleted} of ${n} keys were deleted`,
      );
      // A count left as given means the kernel refused the batch before starting it.
      if (r.deleted !== rest || !isBatchUnsupported(err)) throw err;
      this.#deleteBatches = false;
    }
    for (let i = start; i < n; i++) if (mapDeleteAt(fd, keys.address + i * ks)) deleted++;
    return deleted;
  }

  #updateBatch(keys: Uint8Array, values: Uint8Array, n: number, flags: number): number {
    if (this.#batches) {
      try {
        return mapUpdateBatch(loadedFd(this.map), keys, values, n, flags);
      } catch (err) {
        if (!isBatchUnsupported(err)) throw err;
        this.#batches = false;
      }
    }
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    for (let i = 0; i < n; i++) {
      this.map.update(keys.subarray(i * ks, (i + 1) * ks), values.subarray(i * vs, (i + 1) * vs), flags);
    }
    return n;
  }
}
