/**
 * {@link BpfMap}: one map of an object, before load (its specification and, for global data, its initial
 * bytes) and after (its FD, raw element access, and the live memory of global data).
 *
 * @module
 */
import { BpfError } from '../errors.js';
import type { MapSpec } from './spec.js';
import { type MapType, mapTypeName, type UnknownKind } from './sys/kinds.js';
import { mapDelete, mapGetNextKey, mapLookup, mapLookupAndDelete, mapUpdate } from './sys/map.js';

/** The live memory of a loaded global data map, and how to release it. */
export interface MapMemory {
  readonly view: DataView;
  readonly writable: boolean;
  release(): void;
}

/** A map of a {@link BpfObject}. */
export class BpfMap {
  /** Name in the object: the C variable, or the section for global data (`'.rodata'`, `'.data.foo'`). */
  readonly name: string;
  /** Name the kernel (and bpftool) shows, at most 15 characters. */
  readonly kernelName: string;
  readonly type: MapType | UnknownKind;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** Whether this map holds a global data section. */
  readonly internal: boolean;
  /** @internal */
  readonly spec: MapSpec;
  #fd = -1;
  #initial: DataView | undefined;
  #memory: MapMemory | undefined;

  /** @internal Made by `BpfObject.open()`. */
  constructor(spec: MapSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.kernelName = spec.kernelName;
    this.type = mapTypeName(spec.type);
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.flags = spec.flags;
    this.internal = spec.data !== undefined;
    if (spec.data !== undefined) {
      const bytes = spec.data.initial.slice();
      this.#initial = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }

  /** The map's FD, or -1 before load and after close. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Global data only: before load, the bytes the map will be created with (writable: set initial values
   * here); after load, the live memory of the map shared with BPF programs (zero-copy). Read-only sections
   * (`.rodata*`) are frozen at load: after load their view is a snapshot and {@link isWritable} is false.
   */
  dataView(): DataView {
    if (this.#memory !== undefined) return this.#memory.view;
    if (this.#initial === undefined) {
      throw new BpfError(`map '${this.name}' is not a global data section; it has no data view`, {
        code: 'EINVAL',
        command: 'dataView',
      });
    }
    return this.#initial;
  }

  /** Whether writes through {@link dataView} reach the map: before load always; after load not for `.rodata`. */
  isWritable(): boolean {
    return this.#memory === undefined ? this.#initial !== undefined : this.#memory.writable;
  }

  /** Copies the value under `key` into `value`; false when there is none. */
  lookup(key: Uint8Array | null, value: Uint8Array, flags = 0): boolean {
    return mapLookup(this.#loadedFd(), key, value, flags);
  }

  /** Stores `value` under `key`. `flags`: 0 any, 1 only if absent (`BPF_NOEXIST`), 2 only if present. */
  update(key: Uint8Array | null, value: Uint8Array, flags = 0): void {
    mapUpdate(this.#loadedFd(), key, value, flags);
  }

  /** Removes `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    return mapDelete(this.#loadedFd(), key);
  }

  /** Writes the key after `key` (the first key when `key` is null) into `next`; false at the end. */
  nextKey(key: Uint8Array | null, next: Uint8Array): boolean {
    return mapGetNextKey(this.#loadedFd(), key, next);
  }

  /** Removes and returns an element (queue/stack pop with `key` null); false when empty. */
  lookupAndDelete(key: Uint8Array | null, value: Uint8Array): boolean {
    return mapLookupAndDelete(this.#loadedFd(), key, value);
  }

  /** @internal The bytes global data is created with (as changed through {@link dataView} before load). */
  initialBytes(): Uint8Array | undefined {
    const v = this.#initial;
    return v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  /** @internal Called by the loader once the map exists. */
  attachKernelObject(fd: number, memory: MapMemory | undefined): void {
    this.#fd = fd;
    this.#memory = memory;
  }

  /** @internal Called by `BpfObject.close()` and failed loads: forgets the FD (the object closes it). */
  detachKernelObject(): void {
    this.#memory?.release();
    this.#memory = undefined;
    this.#fd = -1;
  }

  #loadedFd(): number {
    if (this.#fd < 0) {
      throw new BpfError(`map '${this.name}' is not loaded; call load() first`, {
        code: 'EBADF',
        command: 'map access',
      });
    }
    return this.#fd;
  }
}
