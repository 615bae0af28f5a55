/**
 * Creates one map of an object in the kernel: reuses a compatible pin, creates inner-map templates, writes
 * the initial contents of global data, freezes read-only data and maps writable data and mmapable arrays
 * into memory.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, inContext } from '../../errors.js';
import type { MapMemory } from '../map.js';
import { mmapMap } from '../memory.js';
import type { MapSpec } from '../spec.js';
import { MapFlag } from '../sys/consts.js';
import { possibleCpuCount } from '../sys/cpus.js';
import { closeFd } from '../sys/fd.js';
import { mapInfo } from '../sys/info.js';
import { MapTypes } from '../sys/kinds.js';
import { mapCreate, mapFreeze, mapUpdate, objGet, objPin } from '../sys/map.js';

/** A created (or reused) map. */
export interface CreatedMap {
  readonly fd: number;
  /** Live memory of writable global data and `BPF_F_MMAPABLE` arrays; undefined for other maps. */
  readonly memory: MapMemory | undefined;
  /** True when an existing pin was reused. */
  readonly reused: boolean;
  /** Where this call pinned the map, if it did. */
  readonly pinnedAt?: string;
}

/** What map creation needs from the object. */
export interface MapContext {
  readonly btfFd: number;
  readonly tokenFd: number;
  readonly pinRoot: string;
  /** Whether the kernel takes map names. */
  readonly names: boolean;
  /** Whether arrays can be `BPF_F_MMAPABLE`. */
  readonly mmapable: boolean;
  /** A sentence explaining an EPERM under a token, or ''. */
  readonly explain: (err: BpfError, mapType: number) => string;
}

/**
 * Creates (or opens the pin of) `spec`; global data is created with `initial` (the bytes the user may have
 * changed since open). The caller owns the returned FD and memory.
 */
export function createMap(spec: MapSpec, ctx: MapContext, initial?: Uint8Array): CreatedMap {
  if (spec.pinning === 'by_name') {
    const path = join(ctx.pinRoot, spec.name);
    if (existsSync(path)) {
      const fd = reusePin(spec, path);
      try {
        return { fd, memory: mapArray(spec, fd), reused: true };
      } catch (err) {
        closeFd(fd);
        throw err;
      }
    }
  }
  const fd = createFresh(spec, ctx);
  try {
    const memory =
      spec.data === undefined
        ? mapArray(spec, fd)
        : initData(spec, fd, ctx.mmapable, initial ?? spec.data.initial);
    if (spec.pinning !== 'by_name') return { fd, memory, reused: false };
    const path = join(ctx.pinRoot, spec.name);
    pin(spec, fd, path);
    return { fd, memory, reused: false, pinnedAt: path };
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

function createFresh(spec: MapSpec, ctx: MapContext): number {
  let innerFd = -1;
  try {
    if (spec.inner !== undefined) innerFd = createFresh(spec.inner, ctx);
    let flags = spec.flags;
    if (spec.data !== undefined && !ctx.mmapable) flags &= ~MapFlag.MMAPABLE;
    const base = {
      type: spec.type,
      keySize: spec.keySize,
      valueSize: spec.valueSize,
      maxEntries: defaultMaxEntries(spec),
      flags,
      name: ctx.names ? spec.kernelName : '',
      innerMapFd: innerFd >= 0 ? innerFd : undefined,
      numaNode: spec.numaNode !== 0 ? spec.numaNode : undefined,
      mapExtra: spec.mapExtra !== 0n ? spec.mapExtra : undefined,
      tokenFd: ctx.tokenFd,
    };
    const withBtf = ctx.btfFd >= 0 && (spec.btfKeyTypeId !== 0 || spec.btfValueTypeId !== 0);
    try {
      return withBtf
        ? mapCreate({
            ...base,
            btfFd: ctx.btfFd,
            btfKeyTypeId: spec.btfKeyTypeId,
            btfValueTypeId: spec.btfValueTypeId,
          })
        : mapCreate(base);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      if (withBtf && (err.errno === 22 || err.errno === 524 || err.errno === 95)) {
        // Some map types reject BTF key/value types; they work without them, as libbpf retries too.
        try {
          return mapCreate(base);
        } catch {
          // Report the first failure: it is the one that says what is wrong.
        }
      }
      err.message = `cannot create map '${spec.name}': ${err.message}${ctx.explain(err, spec.type)}`;
      throw err;
    }
  } finally {
    if (innerFd >= 0) closeFd(innerFd);
  }
}

/** A perf event array declared without a size gets one slot per possible CPU, as libbpf gives it. */
function defaultMaxEntries(spec: MapSpec): number {
  if (spec.maxEntries === 0 && spec.type === MapTypes.perf_event_array) return possibleCpuCount();
  return spec.maxEntries;
}

function initData(spec: MapSpec, fd: number, mmapable: boolean, initial: Uint8Array): MapMemory | undefined {
  const data = spec.data;
  if (data === undefined) return undefined;
  named(spec, 'cannot write the initial contents of', () => mapUpdate(fd, new Uint8Array(4), initial));
  if (data.kind === 'rodata' || data.kind === 'kconfig') {
    named(spec, 'cannot freeze', () => mapFreeze(fd));
    // Frozen: the contents never change again, so a snapshot is as live as a mapping and cannot fault.
    const snapshot = initial.slice();
    return { view: new DataView(snapshot.buffer), writable: false, release() {} };
  }
  if (!mmapable) return undefined;
  const mapping = mmapMap(fd, spec.valueSize);
  return { view: new DataView(mapping.buffer, 0, spec.valueSize), writable: true, release: mapping.unmap };
}

/**
 * The values of a `BPF_F_MMAPABLE` array the object declares, mapped into memory: `maxEntries` slots of
 * `valueSize` rounded up to 8 bytes, as the kernel lays them out. Writable unless user space may only read
 * the map (`BPF_F_RDONLY`) or its programs may not see it change (`BPF_F_RDONLY_PROG`, which the kernel
 * maps for reading only). Undefined for other maps.
 */
function mapArray(spec: MapSpec, fd: number): MapMemory | undefined {
  if (spec.type !== MapTypes.array || (spec.flags & MapFlag.MMAPABLE) === 0) return undefined;
  const size = Math.ceil(spec.valueSize / 8) * 8 * spec.maxEntries;
  if (size === 0) return undefined;
  const writable = (spec.flags & (MapFlag.RDONLY | MapFlag.RDONLY_PROG)) === 0;
  const m = named(spec, 'cannot map the memory of', () => mmapMap(fd, size, 0, writable));
  return { view: new DataView(m.buffer, 0, size), writable, release: m.unmap };
}

/** Runs `step` and returns what it returns, naming the map in a BpfError it throws. */
function named<T>(spec: MapSpec, what: string, step: () => T): T {
  return inContext(`${what} map '${spec.name}'`, step);
}

function reusePin(spec: MapSpec, path: string): number {
  const fd = objGet(path);
  try {
    const info = mapInfo(fd);
    const diffs: string[] = [];
    const cmp = (what: string, have: number, want: number) => {
      if (have !== want) diffs.push(`${what} ${have} (object wants ${want})`);
    };
    cmp('type', info.type, spec.type);
    cmp('key size', info.keySize, spec.keySize);
    cmp('value size', info.valueSize, spec.valueSize);
    cmp('max entries', info.maxEntries, spec.maxEntries);
    cmp('flags', info.mapFlags, spec.flags);
    if (diffs.length > 0) {
      throw new BpfError(
        `map '${spec.name}': the map pinned at ${path} is incompatible: ${diffs.join(', ')}. Remove the pin or change the map`,
        { code: 'EEXIST', command: 'pin reuse' },
      );
    }
    return fd;
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

function pin(spec: MapSpec, fd: number, path: string): void {
  try {
    objPin(fd, path);
  } catch (err) {
    if (err instanceof BpfError) {
      err.message = `cannot pin map '${spec.name}' at ${path}: ${err.message}. Is a BPF FS mounted there? Set pinRootPath to one`;
    }
    throw err;
  }
}
