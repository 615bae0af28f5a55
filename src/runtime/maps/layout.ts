/**
 * What every typed map checks and shares: codec sizes against the map's key and value sizes, map types, the
 * kernel's per-CPU value layout, and the `__u32` index codec of array-like maps.
 *
 * @module
 */
import { BpfError, OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { possibleCpuCount } from '../sys/cpus.js';
import type { MapType } from '../sys/kinds.js';
import { addressOf } from '../sys/libc.js';

/** Zeroed bytes with a DataView over them: one per-instance scratch for keys or values. */
export interface Scratch {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Where `bytes` lives, for the element calls that take addresses (looked up once: it never moves). */
  readonly address: number;
}

/** A zeroed scratch of `size` bytes (at least 1, so that its address can be taken). */
export function scratch(size: number): Scratch {
  const bytes = new Uint8Array(Math.max(size, 1));
  return {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    address: Number(addressOf(bytes)),
  };
}

/** Throws unless `map` is of one of `types`; `what` names the class for the message. */
export function checkMapType(map: BpfMap, types: readonly MapType[], what: string): void {
  if (!(types as readonly string[]).includes(map.type)) {
    throw new OptionError(
      `map '${map.name}' is of type ${map.type}; ${what} takes ${types.join(', ')} maps`,
      { option: 'map' },
    );
  }
}

/** Throws unless `codec.size` equals `expected` bytes (the map's key or value size). */
export function checkCodecSize(map: BpfMap, codec: Codec<unknown>, expected: number, role: string): void {
  if (codec.size !== expected) {
    throw new OptionError(
      `map '${map.name}': the ${role} codec is ${codec.size} bytes but the map's ${role} size is ${expected}`,
      { option: role },
    );
  }
}

/** Per-CPU map types, whose values hold one slot per possible CPU. */
export const PER_CPU_TYPES: readonly MapType[] = [
  'percpu_hash',
  'percpu_array',
  'lru_percpu_hash',
  'percpu_cgroup_storage',
];

/**
 * Map types whose `BPF_MAP_LOOKUP_BATCH` resumes from a bucket or index, so deleting elements meanwhile
 * never makes it start over. Other types' batches resume from the last key and restart like a key walk.
 */
export const POSITIONAL_BATCH_TYPES: readonly MapType[] = [
  'hash',
  'lru_hash',
  'percpu_hash',
  'lru_percpu_hash',
  'hash_of_maps',
  'array',
  'percpu_array',
];

/** `__u32` keys of arrays; an index that is not a u32 is an {@link OptionError}. */
export const U32_INDEX: Codec<number> = {
  size: 4,
  dense: true,
  decode: (view, offset) => view.getUint32(offset, true),
  encode(value, view, offset) {
    if (value >>> 0 !== value) {
      throw new OptionError(`index ${String(value)} is not an unsigned 32-bit integer`, { option: 'index' });
    }
    view.setUint32(offset, value, true);
  },
};

/**
 * The value codec of a per-CPU map: one element per possible CPU, each slot rounded up to 8 bytes as the
 * kernel copies per-CPU values. Encoding needs exactly `cpus` elements.
 */
export function perCpuCodec<V>(value: Codec<V>, cpus = possibleCpuCount()): Codec<V[]> {
  const stride = Math.ceil(value.size / 8) * 8;
  return {
    size: stride * cpus,
    decode(view, offset) {
      const out = new Array<V>(cpus);
      for (let cpu = 0; cpu < cpus; cpu++) out[cpu] = value.decode(view, offset + cpu * stride);
      return out;
    },
    encode(values, view, offset) {
      if (values.length !== cpus) {
        throw new OptionError(
          `a per-CPU value needs one element per possible CPU (${cpus}), got ${values.length}; use setAll() to write one value to every CPU`,
          { option: 'value' },
        );
      }
      for (let cpu = 0; cpu < cpus; cpu++) value.encode(values[cpu] as V, view, offset + cpu * stride);
    },
  };
}

/** The map's FD; a clear error when it is not loaded (batch commands would only say "bad FD"). */
export function loadedFd(map: BpfMap): number {
  const fd = map.fd;
  if (fd < 0) {
    throw new BpfError(`map '${map.name}' is not loaded; call load() first`, {
      code: 'EBADF',
      command: 'map access',
    });
  }
  return fd;
}

/** Whether `err` says the kernel has no batch operation for this map type. */
export function isBatchUnsupported(err: unknown): boolean {
  // EINVAL, EOPNOTSUPP and the kernel-internal ENOTSUPP (524) all mean "not for this map".
  return err instanceof BpfError && (err.errno === 22 || err.errno === 95 || err.errno === 524);
}
