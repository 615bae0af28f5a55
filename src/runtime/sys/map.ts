/**
 * Map commands of bpf(): create, element access (single and batch), freeze, pin and get.
 *
 * The element functions are the hot path of map access: each fills one module-level attr buffer through
 * aligned typed-array views and calls bpf() without allocating, apart from the key/value addresses koffi
 * returns. They trust their caller on sizes: `key` must hold at least `key_size` bytes and `value` at least
 * `value_size` bytes (times the possible CPU count for per-CPU maps), because the kernel reads and writes
 * that many bytes at those addresses. The typed map objects above this layer check that.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import {
  checkFd,
  checkS32,
  checkU32,
  cString,
  MAP_BATCH_ATTR,
  MAP_CREATE_ATTR,
  MAP_ELEM_ATTR,
  newAttrScratch,
  OBJ_ATTR,
  putObjName,
  putPointer,
  putS32,
  putU32,
  putU64,
  toU64,
} from './attr.js';
import { BpfCmd, type BpfCmdValue, bpf, bpfFailure, bpfRaw, bpfRawAt } from './bpf.js';
import { BPF_F_TOKEN_FD, MapFlag } from './consts.js';
import { Errno } from './errno.js';
import { addressOf } from './libc.js';

/** Options of {@link mapCreate}; field names follow `BPF_MAP_CREATE`. */
export interface MapCreateOptions {
  /** A {@link MapType} value. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** `map_flags` ({@link MapFlag} bits). */
  flags?: number;
  /** At most 15 bytes; `''` for none. */
  name?: string;
  /** For map-in-map outer maps: an FD of a map of the inner kind. */
  innerMapFd?: number;
  /** NUMA node; sets `BPF_F_NUMA_NODE` when given. */
  numaNode?: number;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** For struct_ops maps: the kernel BTF type of the value. */
  btfVmlinuxValueTypeId?: number;
  /** For struct_ops maps of a module: FD of the module's BTF (sets `BPF_F_VTYPE_BTF_OBJ_FD`). */
  valueTypeBtfObjFd?: number;
  /** `map_extra` (bloom filter hash count, arena address, ...). */
  mapExtra?: bigint;
  /** A BPF token FD; when `>= 0` it goes into `map_token_fd` and `BPF_F_TOKEN_FD` into `map_flags`. */
  tokenFd?: number;
}

const createAttr = newAttrScratch(MAP_CREATE_ATTR.size);

/** `BPF_MAP_CREATE`: creates a map and returns its FD (close-on-exec). Throws {@link BpfError} on failure. */
export function mapCreate(opts: MapCreateOptions): number {
  const F = MAP_CREATE_ATTR.fields;
  const a = createAttr.buf;
  const name = opts.name ?? '';
  a.fill(0);
  let flags = checkU32(opts.flags ?? 0, 'map flags');
  putU32(a, F.map_type, opts.type, 'map type');
  putU32(a, F.key_size, opts.keySize, 'key size');
  putU32(a, F.value_size, opts.valueSize, 'value size');
  putU32(a, F.max_entries, opts.maxEntries, 'max entries');
  if (opts.innerMapFd !== undefined)
    putU32(a, F.inner_map_fd, checkFd(opts.innerMapFd, 'inner map FD'), 'fd');
  if (opts.numaNode !== undefined) {
    putU32(a, F.numa_node, opts.numaNode, 'NUMA node');
    flags |= MapFlag.NUMA_NODE;
  }
  putObjName(a, F.map_name, name, 'map name');
  if (opts.ifindex !== undefined) putU32(a, F.map_ifindex, opts.ifindex, 'ifindex');
  if (opts.btfFd !== undefined && opts.btfFd >= 0) putU32(a, F.btf_fd, opts.btfFd, 'BTF FD');
  if (opts.btfKeyTypeId !== undefined) putU32(a, F.btf_key_type_id, opts.btfKeyTypeId, 'BTF key type id');
  if (opts.btfValueTypeId !== undefined)
    putU32(a, F.btf_value_type_id, opts.btfValueTypeId, 'BTF value type id');
  if (opts.btfVmlinuxValueTypeId !== undefined) {
    putU32(a, F.btf_vmlinux_value_type_id, opts.btfVmlinuxValueTypeId, 'BTF vmlinux value type id');
  }
  if (opts.mapExtra !== undefined) putU64(a, F.map_extra, opts.mapExtra, 'map extra');
  if (opts.valueTypeBtfObjFd !== undefined && opts.valueTypeBtfObjFd >= 0) {
    putS32(a, F.value_type_btf_obj_fd, checkFd(opts.valueTypeBtfObjFd, 'value type BTF object FD'), 'fd');
    flags |= MapFlag.VTYPE_BTF_OBJ_FD;
  }
  if (opts.tokenFd !== undefined && opts.tokenFd >= 0) {
    putS32(a, F.map_token_fd, checkFd(opts.tokenFd, 'token FD'), 'token FD');
    flags |= BPF_F_TOKEN_FD;
  }
  a.writeUInt32LE(flags >>> 0, F.map_flags.offset);
  const what = name === '' ? `map of type ${opts.type}` : `map '${name}'`;
  return bpf(BpfCmd.MAP_CREATE, a, MAP_CREATE_ATTR.size, what);
}

const elem = newAttrScratch(MAP_ELEM_ATTR.size);
const ELEM_SIZE = MAP_ELEM_ATTR.size;
const ELEM_ADDRESS = Number(addressOf(elem.buf));
const FD_U32 = MAP_ELEM_ATTR.fields.map_fd.offset / 4;
const KEY_U32 = MAP_ELEM_ATTR.fields.key.offset / 4;
const VALUE_U32 = MAP_ELEM_ATTR.fields.value.offset / 4;
const FLAGS_U32 = MAP_ELEM_ATTR.fields.flags.offset / 4;
const TWO_32 = 2 ** 32;

/*
 * The last key and value buffers and their addresses. A map object passes the same buffers call after call,
 * and their memory never moves (koffi pins a typed array's store off the V8 heap when it first takes its
 * address), so the address is looked up once per buffer rather than once per call. A buffer detached since
 * (transferred away, its memory maybe freed) has length 0 and is refused; `length` rather than `byteLength`
 * because V8 inlines the one and calls a builtin for the other, a fifth of the JavaScript cost of a call.
 */
let lastKey: Uint8Array | null = null;
let lastKeyAddress = 0;
let lastValue: Uint8Array | null = null;
let lastValueAddress = 0;

function bufferAddress(buf: Uint8Array, what: string): number {
  if (buf.byteLength === 0) throw new OptionError(`${what} buffer is empty (or detached)`, { option: what });
  return Number(addressOf(buf));
}

/** Fills the shared element attr; `value` also serves as `next_key`, which shares its slot. */
function fillElem(
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  flags: number | bigint,
): void {
  let keyAddress = 0;
  if (key !== null) {
    if (key !== lastKey || key.length === 0) {
      lastKeyAddress = bufferAddress(key, 'key');
      lastKey = key;
    }
    keyAddress = lastKeyAddress;
  }
  let valueAddress = 0;
  if (value !== null) {
    if (value !== lastValue || value.length === 0) {
      lastValueAddress = bufferAddress(value, 'value');
      lastValue = value;
    }
    valueAddress = lastValueAddress;
  }
  fillElemAt(fd, keyAddress, valueAddress, flags);
}

/**
 * Fills the shared element attr from addresses (0 for none). Addresses are below 2^53 on every 64-bit
 * architecture Node runs on, so a number holds them and 32-bit halves store them without a BigInt.
 */
function fillElemAt(fd: number, keyAddress: number, valueAddress: number, flags: number | bigint): void {
  if ((fd | 0) !== fd || fd < 0) checkFd(fd, 'map FD');
  const u32 = elem.u32;
  u32[FD_U32] = fd;
  u32[FD_U32 + 1] = 0;
  u32[KEY_U32] = keyAddress >>> 0;
  u32[KEY_U32 + 1] = (keyAddress - (keyAddress >>> 0)) / TWO_32;
  u32[VALUE_U32] = valueAddress >>> 0;
  u32[VALUE_U32 + 1] = (valueAddress - (valueAddress >>> 0)) / TWO_32;
  if (flags === 0) {
    u32[FLAGS_U32] = 0;
    u32[FLAGS_U32 + 1] = 0;
  } else elem.u64[FLAGS_U32 / 2] = toU64(flags, 'flags');
}

function elemCall(cmd: BpfCmdValue, fd: number, missingOk: boolean): boolean {
  const r = bpfRawAt(cmd, elem.buf, ELEM_ADDRESS, ELEM_SIZE);
  if (r >= 0) return true;
  if (missingOk && r === -Errno.ENOENT) return false;
  throw bpfFailure(cmd, -r, `map fd ${fd}`);
}

/**
 * `BPF_MAP_LOOKUP_ELEM`: copies the value stored under `key` into `value`. Returns false when there is no
 * such element (ENOENT); throws on any other failure. `flags` may be `BPF_F_LOCK`.
 */
export function mapLookup(
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array,
  flags: number | bigint = 0,
): boolean {
  fillElem(fd, key, value, flags);
  return elemCall(BpfCmd.MAP_LOOKUP_ELEM, fd, true);
}

/**
 * {@link mapLookup} for long-lived buffers whose addresses the caller looked up once with `addressOf`
 * (typed maps and their own scratch buffers). The buffers must stay alive and attached.
 */
export function mapLookupAt(fd: number, keyAddress: number, valueAddress: number): boolean {
  fillElemAt(fd, keyAddress, valueAddress, 0);
  return elemCall(BpfCmd.MAP_LOOKUP_ELEM, fd, true);
}

/** {@link mapUpdate} for buffers given by address, as {@link mapLookupAt}. */
export function mapUpdateAt(
  fd: number,
  keyAddress: number,
  valueAddress: number,
  flags: number | bigint,
): void {
  fillElemAt(fd, keyAddress, valueAddress, flags);
  elemCall(BpfCmd.MAP_UPDATE_ELEM, fd, false);
}

/** {@link mapDelete} for a key given by address, as {@link mapLookupAt}. */
export function mapDeleteAt(fd: number, keyAddress: number): boolean {
  fillElemAt(fd, keyAddress, 0, 0);
  return elemCall(BpfCmd.MAP_DELETE_ELEM, fd, true);
}

/** `BPF_MAP_UPDATE_ELEM`: stores `value` under `key` (`key` is null for queue/stack push). */
export function mapUpdate(
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array,
  flags: number | bigint = 0,
): void {
  fillElem(fd, key, value, flags);
  elemCall(BpfCmd.MAP_UPDATE_ELEM, fd, false);
}

/** `BPF_MAP_DELETE_ELEM`: returns false when there was no such element. */
export function mapDelete(fd: number, key: Uint8Array, flags: number | bigint = 0): boolean {
  fillElem(fd, key, null, flags);
  return elemCall(BpfCmd.MAP_DELETE_ELEM, fd, true);
}

/**
 * `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` (the first key when `key` is null) into `next`.
 * Returns false when `key` was the last one.
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  fillElem(fd, key, next, 0);
  return elemCall(BpfCmd.MAP_GET_NEXT_KEY, fd, true);
}

/**
 * `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: copies and removes one element (for queues and stacks `key` is null and
 * the head is popped). Returns false when there was nothing to take.
 */
export function mapLookupAndDelete(
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array,
  flags: number | bigint = 0,
): boolean {
  fillElem(fd, key, value, flags);
  return elemCall(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, fd, true);
}

/** `BPF_MAP_FREEZE`: makes the map read-only for user space from now on. */
export function mapFreeze(fd: number): void {
  fillElem(fd, null, null, 0);
  elemCall(BpfCmd.MAP_FREEZE, fd, false);
}

/** Buffers of a batch lookup. `keys` and `values` hold `count` keys and values back to back. */
export interface MapBatchLookupOptions {
  /** The `outBatch` token of the previous call, or null to start at the beginning. */
  inBatch: Uint8Array | null;
  /** Receives the position token to pass as `inBatch` next time (at least `key_size` bytes; 4 for arrays). */
  outBatch: Uint8Array;
  keys: Uint8Array;
  values: Uint8Array;
  /** How many elements `keys` and `values` have room for. */
  count: number;
  elemFlags?: number | bigint;
  flags?: number | bigint;
}

/** What a batch lookup got. */
export interface MapBatchResult {
  /** Elements copied into `keys`/`values`. */
  count: number;
  /** True when the end of the map was reached (no further call needed). */
  done: boolean;
}

const batch = newAttrScratch(MAP_BATCH_ATTR.size);

function fillBatch(
  fd: number,
  keys: Uint8Array | null,
  values: Uint8Array | null,
  count: number,
  elemFlags: number | bigint | undefined,
  flags: number | bigint | undefined,
): Buffer {
  const F = MAP_BATCH_ATTR.fields;
  const a = batch.buf;
  a.fill(0);
  putU32(a, F.map_fd, checkFd(fd, 'map FD'), 'map FD');
  putU32(a, F.count, count, 'batch count');
  putPointer(a, F.keys, keys);
  putPointer(a, F.values, values);
  putU64(a, F.elem_flags, elemFlags ?? 0, 'element flags');
  putU64(a, F.flags, flags ?? 0, 'batch flags');
  return a;
}

function lookupBatch(cmd: BpfCmdValue, fd: number, opts: MapBatchLookupOptions): MapBatchResult {
  const F = MAP_BATCH_ATTR.fields;
  const a = fillBatch(fd, opts.keys, opts.values, opts.count, opts.elemFlags, opts.flags);
  putPointer(a, F.in_batch, opts.inBatch);
  putPointer(a, F.out_batch, opts.outBatch);
  const r = bpfRaw(cmd, a, MAP_BATCH_ATTR.size);
  const count = a.readUInt32LE(F.count.offset);
  if (r >= 0) return { count, done: false };
  if (r === -Errno.ENOENT) return { count, done: true };
  throw bpfFailure(cmd, -r, `map fd ${fd}`);
}

/** `BPF_MAP_LOOKUP_BATCH`: copies up to `count` elements from where `inBatch` left off. */
export function mapLookupBatch(fd: number, opts: MapBatchLookupOptions): MapBatchResult {
  return lookupBatch(BpfCmd.MAP_LOOKUP_BATCH, fd, opts);
}

/** `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: like {@link mapLookupBatch}, and removes what it copied. */
export function mapLookupAndDeleteBatch(fd: number, opts: MapBatchLookupOptions): MapBatchResult {
  return lookupBatch(BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH, fd, opts);
}

function writeBatch(cmd: BpfCmdValue, fd: number, a: Buffer): number {
  const r = bpfRaw(cmd, a, MAP_BATCH_ATTR.size);
  const done = a.readUInt32LE(MAP_BATCH_ATTR.fields.count.offset);
  if (r >= 0) return done;
  throw bpfFailure(cmd, -r, `map fd ${fd}, after ${done} elements`);
}

/**
 * `BPF_MAP_UPDATE_BATCH`: stores `count` key/value pairs. Returns how many were stored; on failure the error
 * message says how many were stored before it.
 */
export function mapUpdateBatch(
  fd: number,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  elemFlags: number | bigint = 0,
  flags: number | bigint = 0,
): number {
  return writeBatch(BpfCmd.MAP_UPDATE_BATCH, fd, fillBatch(fd, keys, values, count, elemFlags, flags));
}

/** `BPF_MAP_DELETE_BATCH`: removes `count` keys. Returns how many were removed. */
export function mapDeleteBatch(
  fd: number,
  keys: Uint8Array,
  count: number,
  elemFlags: number | bigint = 0,
  flags: number | bigint = 0,
): number {
  return writeBatch(BpfCmd.MAP_DELETE_BATCH, fd, fillBatch(fd, keys, null, count, elemFlags, flags));
}

/** What one {@link mapDeleteBatchPartial} did. */
export interface DeleteBatchResult {
  /**
   * Keys deleted from the start of the batch. Meaningful only when `errno` is 0 or `ENOENT`: a batch the
   * kernel refuses before it starts (no batch delete for the map type, no write access) leaves the count
   * as it was given.
   */
  readonly deleted: number;
  /** 0 when every key was deleted, else the errno of the key the kernel stopped at (or of the refusal). */
  readonly errno: number;
}

/**
 * `BPF_MAP_DELETE_BATCH` that says how far it got instead of throwing: the kernel deletes keys in order,
 * stops at the first it cannot delete (`ENOENT` for an absent key) and writes back how many went before.
 */
export function mapDeleteBatchPartial(fd: number, keys: Uint8Array, count: number): DeleteBatchResult {
  const a = fillBatch(fd, keys, null, count, 0, 0);
  const r = bpfRaw(BpfCmd.MAP_DELETE_BATCH, a, MAP_BATCH_ATTR.size);
  return { deleted: a.readUInt32LE(MAP_BATCH_ATTR.fields.count.offset), errno: r < 0 ? -r : 0 };
}

const obj = newAttrScratch(OBJ_ATTR.size);

function fillObj(path: string, bpfFd: number, fileFlags: number, dirFd: number | undefined): Buffer {
  const F = OBJ_ATTR.fields;
  const a = obj.buf;
  a.fill(0);
  if (path === '') throw new OptionError('pin path must not be empty', { option: 'path' });
  putU32(a, F.bpf_fd, bpfFd, 'FD');
  let flags = checkU32(fileFlags, 'file flags');
  if (dirFd !== undefined) {
    putS32(a, F.path_fd, checkS32(dirFd, 'directory FD'), 'directory FD');
    flags |= MapFlag.PATH_FD;
  }
  a.writeUInt32LE(flags >>> 0, F.file_flags.offset);
  return a;
}

/**
 * `BPF_OBJ_PIN`: pins a map, program or link FD at `path` on a BPF FS. With `dirFd`, a relative `path` is
 * resolved against that directory (`BPF_F_PATH_FD`).
 */
export function objPin(fd: number, path: string, dirFd?: number): void {
  const a = fillObj(path, checkFd(fd, 'FD to pin'), 0, dirFd);
  const name = cString(path, 'pin path');
  putPointer(a, OBJ_ATTR.fields.pathname, name);
  bpf(BpfCmd.OBJ_PIN, a, OBJ_ATTR.size, `pin at ${path}`);
}

/**
 * `BPF_OBJ_GET`: opens the object pinned at `path` and returns a new FD. `flags` may be `BPF_F_RDONLY` or
 * `BPF_F_WRONLY`; `dirFd` as for {@link objPin}.
 */
export function objGet(path: string, flags = 0, dirFd?: number): number {
  const a = fillObj(path, 0, flags, dirFd);
  const name = cString(path, 'pin path');
  putPointer(a, OBJ_ATTR.fields.pathname, name);
  return bpf(BpfCmd.OBJ_GET, a, OBJ_ATTR.size, `pinned object ${path}`);
}
