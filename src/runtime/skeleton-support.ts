/**
 * What generated skeletons share: the {@link Skeleton} base class (life cycle: load, attach with rollback,
 * detach, destroy) and {@link openSkeleton}/{@link loadSkeleton} behind their static `open()` and
 * `openAndLoad()`, finding their maps and programs in the object, checking the embedded or sibling object
 * against the SHA-256 recorded at generation, guarding writes to frozen data, and the generic
 * helpers the generated (monomorphic, per C type) codecs call for strings, arrays, bitfields and 128-bit
 * integers, plus the codecs of scalar map keys and values. Generated code imports these from
 * `bpf-skel/runtime`; application code rarely needs them.
 *
 * Codec helpers run on hot paths (every map lookup and ring buffer record): they allocate nothing beyond
 * their result, except where a native bulk copy needs a typed view of a buffer.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { attachStructOps } from './attach/struct-ops.js';
import type { Codec } from './codec.js';
import type { BpfLink } from './link.js';
import type { BpfMap } from './map.js';
import { BpfObject } from './object.js';
import type { OpenOptions } from './options.js';
import type { BpfProgram } from './program.js';

/** The map `name` of `obj`; throws a BpfError (`ENOENT`) when the object has none (the skeleton does not match it). */
export function mapNamed(obj: BpfObject, name: string): BpfMap {
  const map = obj.maps.get(name);
  if (map === undefined) {
    throw new BpfError(`the object has no map ${JSON.stringify(name)}`, {
      code: 'ENOENT',
      command: 'open skeleton',
    });
  }
  return map;
}

/** The program `name` of `obj`; throws a BpfError (`ENOENT`) when the object has none. */
export function programNamed(obj: BpfObject, name: string): BpfProgram {
  const program = obj.programs.get(name);
  if (program === undefined) {
    throw new BpfError(`the object has no program ${JSON.stringify(name)}`, {
      code: 'ENOENT',
      command: 'open skeleton',
    });
  }
  return program;
}

/** Attaches `program` by its section name when it is loaded and `autoattach` is set; else `undefined`. */
export function attachAuto(program: BpfProgram): BpfLink | undefined {
  return program.autoload && program.autoattach ? program.attach() : undefined;
}

/**
 * The life cycle every generated skeleton class inherits: `obj`, `progs` and `links`, and `load()`,
 * `attach()`, `detach()`, `destroy()` and `[Symbol.dispose]()` over them. `Links` has a slot per program of
 * `Progs` (same names); a generated subclass passes its objects and two name lists to the constructor and
 * adds its maps, global variable views and static `open()`/`openAndLoad()` (see {@link openSkeleton}).
 * Subclasses must not redeclare these members: the generator reserves their names.
 */
export abstract class Skeleton<
  Progs extends { readonly [K in keyof Links]: BpfProgram },
  Links extends { [K in keyof Links]: BpfLink | undefined },
> {
  /** The underlying object, for anything the skeleton does not cover. */
  readonly obj: BpfObject;
  /** Programs, by C function name. */
  readonly progs: Progs;
  /** Links made by `attach()`; assign your own to have `detach()` and `destroy()` release them. */
  readonly links: Links;
  // The same objects as `progs` and `links`, indexed by name without the generic types in the way.
  readonly #programs: Readonly<Record<string, BpfProgram>>;
  readonly #slots: Record<string, BpfLink | undefined>;
  readonly #autoAttached: readonly string[];
  readonly #linked: readonly string[];
  /** struct_ops maps registered by `attach()`, by map name. */
  readonly #structOps = new Map<string, BpfLink>();

  /**
   * @param autoAttached programs `attach()` attaches by section name, in that order
   * @param linked every program with a link slot, in the order `detach()` releases them
   */
  protected constructor(
    obj: BpfObject,
    progs: Progs,
    links: Links,
    autoAttached: readonly (keyof Links & string)[],
    linked: readonly (keyof Links & string)[],
  ) {
    this.obj = obj;
    this.progs = progs;
    this.links = links;
    this.#programs = progs as Readonly<Record<string, BpfProgram>>;
    this.#slots = links as Record<string, BpfLink | undefined>;
    this.#autoAttached = autoAttached;
    this.#linked = linked;
  }

  /** Creates the maps and loads the programs (see `BpfObject.load()`). */
  load(): void {
    this.obj.load();
  }

  /**
   * Attaches every loaded program whose section names its target and whose `autoattach` is set, unless
   * its link is already set, then registers every struct_ops map (see `attachStructOps`); on failure
   * detaches what it attached and rethrows.
   */
  attach(): void {
    try {
      for (const name of this.#autoAttached) this.#slots[name] ??= attachAuto(this.#programs[name]);
      for (const map of this.obj.maps.values()) {
        if (map.spec.structOps === undefined || !map.autoattach || this.#structOps.has(map.name)) continue;
        this.#structOps.set(map.name, attachStructOps(map));
      }
    } catch (error) {
      this.detach();
      throw error;
    }
  }

  /** Unregisters the struct_ops maps, then detaches every link in `links` (last program first) and clears it. */
  detach(): void {
    for (const link of this.#structOps.values()) link.detach();
    this.#structOps.clear();
    for (const name of this.#linked) {
      this.#slots[name]?.detach();
      this.#slots[name] = undefined;
    }
  }

  /** Detaches and closes everything; idempotent. */
  destroy(): void {
    this.detach();
    this.obj.close();
  }

  /** Same as `destroy()`, for `using`. */
  [Symbol.dispose](): void {
    this.destroy();
  }
}

/**
 * What a generated static `open()` does: parses `bytes` (no BPF syscalls yet) with `opts`, naming the
 * object `objectName` unless `opts.objectName` says otherwise, and wraps it with `create`; when `create`
 * throws (the object does not match the skeleton) the object is closed and the error rethrown.
 */
export function openSkeleton<S>(
  bytes: Uint8Array,
  opts: OpenOptions | undefined,
  objectName: string,
  create: (obj: BpfObject) => S,
): S {
  const obj = BpfObject.open(bytes, { objectName, ...opts });
  try {
    return create(obj);
  } catch (error) {
    obj.close();
    throw error;
  }
}

/** What a generated static `openAndLoad()` does after `open()`: `load()`s `skel`, destroying it when that fails. */
export function loadSkeleton<S extends { load(): void; destroy(): void }>(skel: S): S {
  try {
    skel.load();
  } catch (error) {
    skel.destroy();
    throw error;
  }
  return skel;
}

/**
 * The data view of `map` for writing the global `variable`; throws a BpfError (`EPERM`) when the map is
 * read-only (`.rodata` after load).
 */
export function writableView(map: BpfMap, variable: string): DataView {
  if (!map.isWritable()) {
    throw new BpfError(`cannot write ${JSON.stringify(variable)}: ${map.name} is read-only after load`, {
      code: 'EPERM',
      command: 'write global variable',
    });
  }
  return map.dataView();
}

/**
 * Returns `bytes` after checking them against `sha256` (lowercase hex), the digest recorded when the
 * skeleton was generated from `fileName`.
 *
 * @throws BpfError (`EBADELF`) when the digest differs: the object changed and the skeleton is stale
 */
export function verifiedObject(bytes: Uint8Array, sha256: string, fileName: string): Uint8Array {
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== sha256) {
    throw new BpfError(`${fileName} has SHA-256 ${digest}, not ${sha256}: regenerate the skeleton`, {
      code: 'EBADELF',
      command: 'open skeleton',
    });
  }
  return bytes;
}

/**
 * The object a skeleton embeds as base64, decoded into a fresh `Uint8Array` and checked with
 * {@link verifiedObject}.
 */
export function embeddedObject(base64: string, sha256: string, fileName: string): Uint8Array {
  return verifiedObject(new Uint8Array(Buffer.from(base64, 'base64')), sha256, fileName);
}

/**
 * Reads the object file a skeleton loads from beside itself (`url`, resolved against the skeleton's
 * `import.meta.url`) and checks it with {@link verifiedObject}.
 *
 * @throws BpfError with the file system's code (`ENOENT`, `EACCES`...) when the file cannot be read
 */
export function readObjectFile(url: URL, sha256: string, fileName: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BpfError(`cannot read ${fileName} beside the skeleton (${url.href}): ${code}`, {
      code,
      command: 'open skeleton',
      cause: err,
    });
  }
  return verifiedObject(bytes, sha256, fileName);
}

/** The codec of a C union: `encode` writes the members present, in declaration order. */
export interface UnionCodec<T> extends Codec<T> {
  encode(value: Partial<T>, view: DataView, offset: number): void;
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * Reads a C `char[length]` at `offset`: the bytes up to the first NUL (or all `length`), as UTF-8 (invalid
 * sequences become U+FFFD).
 */
export function readCString(view: DataView, offset: number, length: number): string {
  // Strings in maps are mostly short ASCII (`comm`, paths): building them from the bytes beats TextDecoder's
  // call overhead, and four at a time (while a word has neither a NUL nor a high bit) halves the work.
  let text = '';
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const word = view.getUint32(offset + i, true);
    if ((word & 0x80808080) !== 0 || ((word - 0x01010101) & ~word & 0x80808080) !== 0) break;
    text += String.fromCharCode(word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24);
  }
  for (; i < length; i++) {
    const byte = view.getUint8(offset + i);
    if (byte === 0) return text;
    if (byte >= 0x80) return readUtf8(view, offset, length);
    text += String.fromCharCode(byte);
  }
  return text;
}

/** {@link readCString} of a string that is not all ASCII. */
function readUtf8(view: DataView, offset: number, length: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  const end = bytes.indexOf(0);
  return utf8Decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/**
 * Writes `text` as UTF-8 into the C `char[length]` at `offset`, zero-filling the rest.
 *
 * @throws RangeError when the UTF-8 bytes exceed `length` or the field lies outside `view`
 */
export function writeCString(view: DataView, offset: number, length: number, text: string): void {
  if (offset < 0 || offset + length > view.byteLength) {
    throw new RangeError('string field lies outside the view');
  }
  if (text.length > length) throw tooLong(text, length);
  // ASCII goes straight through the DataView; anything else through TextEncoder.
  let i = 0;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) break;
    view.setUint8(offset + i, code);
  }
  if (i < text.length) {
    const target = new Uint8Array(view.buffer, view.byteOffset + offset + i, length - i);
    const { read, written } = utf8Encoder.encodeInto(text.slice(i), target);
    if (read < text.length - i) throw tooLong(text, length);
    i += written;
  }
  if (length - i > BULK_FILL) new Uint8Array(view.buffer, view.byteOffset + offset + i, length - i).fill(0);
  else for (; i < length; i++) view.setUint8(offset + i, 0);
}

/** Zero-fills longer than this many bytes go through a typed view's native `fill`. */
const BULK_FILL = 64;

function tooLong(text: string, length: number): RangeError {
  return new RangeError(`string of more than ${length} UTF-8 bytes: ${JSON.stringify(text)}`);
}

/** A typed array constructor, e.g. `Uint32Array`. */
export interface TypedArrayType<T> {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): { slice(): T };
}

/**
 * Copies the C array of `count` elements at `offset` out of `view` into a new typed array of `type`
 * (little-endian, as every platform Node runs on).
 *
 * @throws RangeError when the array lies outside `view`
 */
export function copyArray<T extends ArrayBufferView>(
  type: TypedArrayType<T>,
  view: DataView,
  offset: number,
  count: number,
): T {
  const size = count * type.BYTES_PER_ELEMENT;
  if (offset < 0 || offset + size > view.byteLength)
    throw new RangeError('array field lies outside the view');
  const start = view.byteOffset + offset;
  // slice() of an aligned view copies natively, and small results stay on the V8 heap.
  if (start % type.BYTES_PER_ELEMENT === 0) return new type(view.buffer, start, count).slice();
  const copy = new type(count);
  new Uint8Array(copy.buffer, copy.byteOffset, size).set(new Uint8Array(view.buffer, start, size));
  return copy;
}

/**
 * Copies the bytes of `array` into the `length` bytes at `offset`, zero-filling the rest.
 *
 * @throws RangeError when `array` is longer than `length` bytes or the field lies outside `view`
 */
export function writeBytes(view: DataView, offset: number, length: number, array: ArrayBufferView): void {
  if (array.byteLength > length) {
    throw new RangeError(`array of ${array.byteLength} bytes does not fit in ${length} bytes`);
  }
  if (offset < 0 || offset + length > view.byteLength)
    throw new RangeError('array field lies outside the view');
  const target = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  target.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  target.fill(0, array.byteLength);
}

/** Throws a RangeError unless `array` has at most `count` elements (a C array of `count`). */
export function checkLength(array: readonly unknown[], count: number): void {
  if (array.length > count)
    throw new RangeError(`array of ${array.length} elements does not fit in ${count}`);
}

/**
 * Reads a bitfield of `bits` (1 to 32) bits starting `shift` (0 to 7) bits into the byte at `offset`, as an
 * unsigned or a two's complement number.
 */
export function readBits(
  view: DataView,
  offset: number,
  shift: number,
  bits: number,
  signed: boolean,
): number {
  // Up to 39 bits of storage: whole-number float arithmetic, exact below 2^53, instead of 32-bit operators.
  let word = 0;
  for (let i = (shift + bits + 7) >> 3; i-- > 0; ) word = word * 256 + view.getUint8(offset + i);
  const value = Math.floor(word / 2 ** shift) % 2 ** bits;
  return signed && value >= 2 ** (bits - 1) ? value - 2 ** bits : value;
}

/** Writes `value` (wrapped like a C assignment) into a bitfield of up to 32 bits, keeping the other bits of its bytes. */
export function writeBits(view: DataView, offset: number, shift: number, bits: number, value: number): void {
  const length = (shift + bits + 7) >> 3;
  let word = 0;
  for (let i = length; i-- > 0; ) word = word * 256 + view.getUint8(offset + i);
  const span = 2 ** bits;
  const field = ((Math.trunc(value) % span) + span) % span;
  word = (Math.floor(word / 2 ** (shift + bits)) * span + field) * 2 ** shift + (word % 2 ** shift);
  for (let i = 0; i < length; i++, word = Math.floor(word / 256)) view.setUint8(offset + i, word % 256);
}

/** Reads a bitfield of `bits` (33 to 64) bits starting `shift` bits into the byte at `offset`. */
export function readBitsBig(
  view: DataView,
  offset: number,
  shift: number,
  bits: number,
  signed: boolean,
): bigint {
  let word = 0n;
  for (let i = (shift + bits + 7) >> 3; i-- > 0; ) word = (word << 8n) | BigInt(view.getUint8(offset + i));
  const value = BigInt.asUintN(bits, word >> BigInt(shift));
  return signed ? BigInt.asIntN(bits, value) : value;
}

/** Writes `value` (wrapped) into a bitfield of up to 64 bits, keeping the other bits of its bytes. */
export function writeBitsBig(
  view: DataView,
  offset: number,
  shift: number,
  bits: number,
  value: bigint,
): void {
  const length = (shift + bits + 7) >> 3;
  let word = 0n;
  for (let i = length; i-- > 0; ) word = (word << 8n) | BigInt(view.getUint8(offset + i));
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(shift);
  word = (word & ~mask) | ((BigInt.asUintN(bits, value) << BigInt(shift)) & mask);
  for (let i = 0; i < length; i++, word >>= 8n) view.setUint8(offset + i, Number(word & 0xffn));
}

/** Reads a little-endian 128-bit integer, unsigned or two's complement. */
export function readInt128(view: DataView, offset: number, signed: boolean): bigint {
  const value = (view.getBigUint64(offset + 8, true) << 64n) | view.getBigUint64(offset, true);
  return signed ? BigInt.asIntN(128, value) : value;
}

/** Writes a little-endian 128-bit integer, wrapping `value` like a C cast. */
export function writeInt128(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  view.setBigUint64(offset + 8, BigInt.asUintN(64, value >> 64n), true);
}

/** Codec of a C `__s8` / `signed char`. */
export const int8Codec: Codec<number> = {
  size: 1,
  dense: true,
  decode: (view, offset) => view.getInt8(offset),
  encode: (value, view, offset) => view.setInt8(offset, value),
};

/** Codec of a C `__u8` / `unsigned char`. */
export const uint8Codec: Codec<number> = {
  size: 1,
  dense: true,
  decode: (view, offset) => view.getUint8(offset),
  encode: (value, view, offset) => view.setUint8(offset, value),
};

/** Codec of a C `__s16`, little-endian. */
export const int16Codec: Codec<number> = {
  size: 2,
  dense: true,
  decode: (view, offset) => view.getInt16(offset, true),
  encode: (value, view, offset) => view.setInt16(offset, value, true),
};

/** Codec of a C `__u16`, little-endian. */
export const uint16Codec: Codec<number> = {
  size: 2,
  dense: true,
  decode: (view, offset) => view.getUint16(offset, true),
  encode: (value, view, offset) => view.setUint16(offset, value, true),
};

/** Codec of a C `__s32` / `int` (and 4-byte signed enums), little-endian. */
export const int32Codec: Codec<number> = {
  size: 4,
  dense: true,
  decode: (view, offset) => view.getInt32(offset, true),
  encode: (value, view, offset) => view.setInt32(offset, value, true),
};

/** Codec of a C `__u32` (and 4-byte unsigned enums), little-endian. */
export const uint32Codec: Codec<number> = {
  size: 4,
  dense: true,
  decode: (view, offset) => view.getUint32(offset, true),
  encode: (value, view, offset) => view.setUint32(offset, value, true),
};

/** Codec of a C `__s64`, little-endian. */
export const int64Codec: Codec<bigint> = {
  size: 8,
  dense: true,
  decode: (view, offset) => view.getBigInt64(offset, true),
  encode: (value, view, offset) => view.setBigInt64(offset, value, true),
};

/** Codec of a C `__u64` (and pointers), little-endian. */
export const uint64Codec: Codec<bigint> = {
  size: 8,
  dense: true,
  decode: (view, offset) => view.getBigUint64(offset, true),
  encode: (value, view, offset) => view.setBigUint64(offset, value, true),
};

/** Codec of a C `float`, little-endian. */
export const float32Codec: Codec<number> = {
  size: 4,
  dense: true,
  decode: (view, offset) => view.getFloat32(offset, true),
  encode: (value, view, offset) => view.setFloat32(offset, value, true),
};

/** Codec of a C `double`, little-endian. */
export const float64Codec: Codec<number> = {
  size: 8,
  dense: true,
  decode: (view, offset) => view.getFloat64(offset, true),
  encode: (value, view, offset) => view.setFloat64(offset, value, true),
};

/** Codec of a C `_Bool`: any non-zero byte reads as `true`; writes 0 or 1. */
export const boolCodec: Codec<boolean> = {
  size: 1,
  dense: true,
  decode: (view, offset) => view.getUint8(offset) !== 0,
  encode: (value, view, offset) => view.setUint8(offset, value ? 1 : 0),
};
