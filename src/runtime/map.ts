/**
 * {@link BpfMap}: one map of an object, before load (its specification and, for global data, its initial
 * bytes) and after (its FD, raw element access, and the live memory of global data); or a map opened from
 * its pin on a BPF FS. Map verbs: freeze, pin/unpin, and what the kernel reports about the map.
 *
 * @module
 */
import { BpfError, OptionError } from '../errors.js';
import { OwnedLinks } from './link.js';
import { openPinned, pinFd, removePin } from './pin.js';
import type { MapSpec } from './spec.js';
import { MapFlag } from './sys/consts.js';
import { closeFd, fdinfo } from './sys/fd.js';
import { type MapInfo as KernelMapInfo, mapInfo } from './sys/info.js';
import { type MapType, mapTypeName, type UnknownKind } from './sys/kinds.js';
import { mapDelete, mapFreeze, mapGetNextKey, mapLookup, mapLookupAndDelete, mapUpdate } from './sys/map.js';

/** The live memory of a loaded global data map, and how to release it. */
export interface MapMemory {
  readonly view: DataView;
  readonly writable: boolean;
  release(): void;
}

/** What the kernel reports about a map ({@link BpfMap.info}). */
export interface MapInfo extends Omit<KernelMapInfo, 'type' | 'mapFlags'> {
  /** The map type by name (`'hash'`, ...), or `'unknown(N)'` for a type this library does not know. */
  type: MapType | UnknownKind;
  /** The map type as the kernel numbers it. */
  typeId: number;
  /** `map_flags` as created (`BPF_F_NO_PREALLOC`, `BPF_F_RDONLY_PROG`, ...). */
  flags: number;
  /** Whether the map was frozen ({@link BpfMap.freeze}): user space can no longer write it. */
  frozen: boolean;
}

/** How {@link BpfMap.fromPin} opens the map: the FD's access, as `BPF_OBJ_GET`'s file flags. */
export interface FromPinOptions {
  /** `'read-only'` (`BPF_F_RDONLY`) or `'write-only'` (`BPF_F_WRONLY`); default `'read-write'`. */
  access?: 'read-write' | 'read-only' | 'write-only';
}

const ACCESS_FLAGS = { 'read-write': 0, 'read-only': MapFlag.RDONLY, 'write-only': MapFlag.WRONLY } as const;

/** The description of a map that exists only in the kernel, from what the kernel reports about it. */
function specFromInfo(info: KernelMapInfo): MapSpec {
  return {
    name: info.name,
    kernelName: info.name,
    type: info.type,
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.mapFlags,
    numaNode: 0,
    mapExtra: info.mapExtra,
    pinning: 'none',
    // Ids within the map's own kernel BTF object (`info().btfId`), not within any object file's BTF.
    btfKeyTypeId: info.btfKeyTypeId,
    btfValueTypeId: info.btfValueTypeId,
    inner: undefined,
    slots: new Map(),
    data: undefined,
  };
}

/** The kind of BPF object an FD refers to, from its fdinfo keys. */
function objectKind(info: Record<string, string>): string {
  if (info.prog_type !== undefined) return 'a program';
  if (info.link_type !== undefined) return 'a link (open it with BpfLink.fromPin)';
  return 'not a BPF map';
}

/**
 * A map of a {@link BpfObject}, or one opened with {@link BpfMap.fromPin}. The typed wrappers (`HashMap`,
 * `ArrayMap`, ...) take either.
 */
export class BpfMap implements Disposable {
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
  /** Whether this object owns its FD (opened from a pin) rather than a {@link BpfObject}. */
  #ownsFd = false;
  #pinnedPath: string | undefined;
  #autoattach = true;
  /** @internal Registrations of this struct_ops map not detached yet: the object's close() detaches them. */
  readonly ownedLinks = new OwnedLinks();

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

  /**
   * Opens the map pinned at `path` on a BPF FS (`BPF_OBJ_GET`). Its name, type and sizes come from the
   * kernel. The object owns a new FD: release it with {@link close} (or `using`); the pin stays until
   * {@link unpin}. With `access: 'read-only'` writes fail with `EPERM`; with `'write-only'`, reads.
   */
  static fromPin(path: string, opts: FromPinOptions = {}): BpfMap {
    const access = opts.access ?? 'read-write';
    if (!Object.hasOwn(ACCESS_FLAGS, access)) {
      const message = `access must be 'read-write', 'read-only' or 'write-only', not '${String(access)}'`;
      throw new OptionError(message, { option: 'access' });
    }
    const fileFlags = ACCESS_FLAGS[access];
    const fd = openPinned(path, fileFlags);
    try {
      const kind = fdinfo(fd);
      if (kind.map_type === undefined) {
        throw new OptionError(`${path} holds ${objectKind(kind)}, not a map`, { option: 'path' });
      }
      const map = new BpfMap(specFromInfo(mapInfo(fd)));
      map.#fd = fd;
      map.#ownsFd = true;
      map.#pinnedPath = path;
      return map;
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** The map's FD, or -1 before load and after close. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Where the map is pinned: the path given to {@link pin}, or the one {@link fromPin} opened; undefined
   * when not pinned through this object.
   */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /**
   * What the kernel reports about the map (`BPF_OBJ_GET_INFO_BY_FD`): id, type, sizes, flags, name, BTF
   * ids, and whether it is frozen.
   */
  info(): MapInfo {
    const fd = this.#loadedFd();
    const { type, mapFlags, ...rest } = mapInfo(fd);
    return { ...rest, type: mapTypeName(type), typeId: type, flags: mapFlags, frozen: isFrozen(fd) };
  }

  /**
   * Makes the map read-only for user space from now on (`BPF_MAP_FREEZE`): updates and deletes through any
   * FD then fail with `EPERM`; BPF programs can still write unless the map was created `BPF_F_RDONLY_PROG`.
   * Cannot be undone. Freezing a frozen map does nothing.
   */
  freeze(): void {
    const fd = this.#loadedFd();
    try {
      mapFreeze(fd);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      // The kernel answers EPERM both for a frozen map and for an FD without write access.
      if (err.code === 'EPERM' && isFrozen(fd)) return;
      throw explainFreeze(this.name, err);
    }
  }

  /**
   * Pins the map at `path` on a BPF FS (`BPF_OBJ_PIN`), so that it outlives this process; another process
   * (or bpftool) opens it there. Pinning again at the same path does nothing.
   */
  pin(path: string): void {
    const fd = this.#loadedFd();
    const current = this.#pinnedPath;
    if (current === path) return;
    if (current !== undefined) {
      throw new OptionError(`map '${this.name}' is pinned at ${current} already; unpin() it first`, {
        option: 'path',
        code: 'EEXIST',
      });
    }
    pinFd(fd, path, `map '${this.name}'`);
    this.#pinnedPath = path;
  }

  /**
   * Removes the pin at {@link pinnedPath}. The map lives on while an FD or program holds it. A pin removed
   * by someone else already is fine.
   */
  unpin(): void {
    const path = this.#pinnedPath;
    if (path === undefined) {
      throw new BpfError(`map '${this.name}' is not pinned through this object`, {
        code: 'ENOENT',
        command: 'unpin',
      });
    }
    removePin(path, `map '${this.name}'`);
    this.#pinnedPath = undefined;
  }

  /**
   * Closes the FD of a map opened with {@link fromPin}; idempotent. The map itself lives on while pinned
   * or used. A map of a {@link BpfObject} is closed with its object, so this throws an {@link OptionError}.
   */
  close(): void {
    if (!this.#ownsFd) {
      throw new OptionError(`map '${this.name}' belongs to its BpfObject; close the object instead`, {
        option: 'map',
      });
    }
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * After load, the live memory of a memory-mapped map, shared with BPF programs (zero-copy): writable
   * global data, and arrays declared `BPF_F_MMAPABLE`, whose element `i` starts at `i` times `valueSize`
   * rounded up to 8. Writes reach the map where {@link isWritable} says so. Undefined for other maps, before
   * load and after close.
   */
  get memory(): DataView | undefined {
    return this.#memory?.view;
  }

  /**
   * Global data and mmapable arrays: before load, the bytes global data will be created with (writable: set
   * initial values here); after load, the live memory (see {@link memory}). Read-only sections (`.rodata*`)
   * are frozen at load: after load their view is a snapshot and {@link isWritable} is false.
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

  /**
   * For struct_ops maps: whether `attach()` of the object or skeleton registers it (default true), as
   * libbpf's `bpf_map__set_autoattach`. Other maps have nothing to attach.
   */
  get autoattach(): boolean {
    return this.#autoattach;
  }

  set autoattach(value: boolean) {
    this.#autoattach = value;
  }

  /** @internal Called by the loader once the map exists. */
  attachKernelObject(fd: number, memory: MapMemory | undefined): void {
    this.#fd = fd;
    this.#memory = memory;
  }

  /** @internal Called by `BpfObject.close()` and failed loads: forgets the FD (the object closes it). */
  detachKernelObject(): void {
    this.ownedLinks.detachAll();
    this.#memory?.release();
    this.#memory = undefined;
    this.#fd = -1;
  }

  #loadedFd(): number {
    if (this.#fd < 0) {
      const why = this.#ownsFd ? 'is closed' : 'is not loaded; call load() first';
      throw new BpfError(`map '${this.name}' ${why}`, {
        code: 'EBADF',
        command: 'map access',
      });
    }
    return this.#fd;
  }
}

/** Whether the map behind `fd` is frozen (fdinfo's `frozen`, which `BPF_OBJ_GET_INFO_BY_FD` lacks). */
function isFrozen(fd: number): boolean {
  return fdinfo(fd).frozen === '1';
}

/** A clearer error for a failed freeze of map `name`. */
function explainFreeze(name: string, err: BpfError): BpfError {
  const why: Record<string, string> = {
    EBUSY: 'it has writable memory mappings (the data view of global data, or an mmap); release them first',
    EPERM: 'its FD has no write access (opened read-only?)',
  };
  const reason = why[err.code];
  if (reason === undefined) return err;
  return new BpfError(`cannot freeze map '${name}': ${reason}`, {
    code: err.code,
    errno: err.errno,
    command: err.command,
    cause: err,
  });
}
