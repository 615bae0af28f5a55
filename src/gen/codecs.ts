/**
 * Emission of monomorphic codecs: for each C type, straight-line TypeScript that reads or writes it through
 * a DataView at constant offsets, little-endian. Nothing interprets BTF at run time.
 *
 * Conventions of the emitted code (see types.ts for the type mapping):
 * - `decode` builds a fresh value; arrays are copied out, so a decoded value never aliases map memory.
 * - `encode` writes every member in declaration order and leaves padding bytes as they are. For unions
 *   (and members of anonymous unions) it writes only the members that are present (`!== undefined`), in
 *   declaration order, so where present members overlap the last one declared wins; a decoded union
 *   re-encodes to the same bytes.
 * - `char[N]`: decode reads up to the first NUL (or N bytes) as UTF-8 (invalid sequences become U+FFFD);
 *   encode writes the UTF-8 bytes and zero-fills the rest, and throws RangeError when they exceed N bytes.
 * - Typed arrays and tuples: encode throws RangeError when given more elements than the C array has, and
 *   zero-fills (typed arrays) the elements not given.
 * - Bitfields: read and written by mask and shift; other bits of their storage are preserved.
 * - Typed arrays are little-endian views, as on every platform Node runs on.
 *
 * @module
 */
import { type Field, fieldsOf, MAX_TUPLE, shapeOf, type TypePlan, tsTypeOf } from './types.js';

/** Names of the helper functions generated code may need, in the order they are emitted. */
export const HELPER_NAMES = [
  'readCString',
  'writeCString',
  'copyBuffer',
  'writeBytes',
  'checkLength',
  'readBits',
  'writeBits',
  'readBitsBig',
  'writeBitsBig',
  'readInt128',
  'writeInt128',
  'UnionCodec',
  'utf8Decoder',
  'utf8Encoder',
  'int8Codec',
  'uint8Codec',
  'int16Codec',
  'uint16Codec',
  'int32Codec',
  'uint32Codec',
  'int64Codec',
  'uint64Codec',
  'float32Codec',
  'float64Codec',
  'boolCodec',
] as const;

/** A helper function name. */
export type HelperName = (typeof HELPER_NAMES)[number];

const HELPER_DEPS: Partial<Record<HelperName, readonly HelperName[]>> = {
  readCString: ['utf8Decoder'],
  writeCString: ['utf8Encoder'],
};

/** Codecs of scalars used as map keys and values: helper name → [TS type, DataView accessor, size]. */
const SCALAR_CODECS = {
  int8Codec: ['number', 'Int8', 1],
  uint8Codec: ['number', 'Uint8', 1],
  int16Codec: ['number', 'Int16', 2],
  uint16Codec: ['number', 'Uint16', 2],
  int32Codec: ['number', 'Int32', 4],
  uint32Codec: ['number', 'Uint32', 4],
  int64Codec: ['bigint', 'BigInt64', 8],
  uint64Codec: ['bigint', 'BigUint64', 8],
  float32Codec: ['number', 'Float32', 4],
  float64Codec: ['number', 'Float64', 8],
} as const;

function scalarCodecSource(name: keyof typeof SCALAR_CODECS): string {
  const [type, accessor, size] = SCALAR_CODECS[name];
  const le = size === 1 ? '' : ', true';
  return `const ${name}: Codec<${type}> = {
  size: ${size},
  decode: (view, offset) => view.get${accessor}(offset${le}),
  encode: (value, view, offset) => view.set${accessor}(offset, value${le}),
};`;
}

const HELPER_SOURCE: Record<HelperName, string> = {
  int8Codec: scalarCodecSource('int8Codec'),
  uint8Codec: scalarCodecSource('uint8Codec'),
  int16Codec: scalarCodecSource('int16Codec'),
  uint16Codec: scalarCodecSource('uint16Codec'),
  int32Codec: scalarCodecSource('int32Codec'),
  uint32Codec: scalarCodecSource('uint32Codec'),
  int64Codec: scalarCodecSource('int64Codec'),
  uint64Codec: scalarCodecSource('uint64Codec'),
  float32Codec: scalarCodecSource('float32Codec'),
  float64Codec: scalarCodecSource('float64Codec'),
  boolCodec: `const boolCodec: Codec<boolean> = {
  size: 1,
  decode: (view, offset) => view.getUint8(offset) !== 0,
  encode: (value, view, offset) => view.setUint8(offset, value ? 1 : 0),
};`,
  utf8Decoder: `const utf8Decoder = new TextDecoder();`,
  utf8Encoder: `const utf8Encoder = new TextEncoder();`,
  readCString: `/** Reads a NUL-terminated UTF-8 string of at most \`length\` bytes. */
function readCString(view: DataView, offset: number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    const byte = view.getUint8(offset + i);
    if (byte === 0) return text;
    if (byte >= 0x80) {
      const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, length);
      const end = bytes.indexOf(0);
      return utf8Decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
    }
    text += String.fromCharCode(byte);
  }
  return text;
}`,
  writeCString: `/** Writes \`text\` as UTF-8 into \`length\` bytes, zero-filling the rest. */
function writeCString(view: DataView, offset: number, length: number, text: string): void {
  if (offset + length > view.byteLength) throw new RangeError('string field lies outside the view');
  const target = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  const { read, written } = utf8Encoder.encodeInto(text, target);
  if (read < text.length) throw new RangeError(\`string of more than \${length} UTF-8 bytes: \${JSON.stringify(text)}\`);
  target.fill(0, written);
}`,
  copyBuffer: `/** Copies \`length\` bytes at \`offset\` into a new buffer. */
function copyBuffer(view: DataView, offset: number, length: number): ArrayBuffer {
  if (offset + length > view.byteLength) throw new RangeError('array field lies outside the view');
  const copy = new Uint8Array(length);
  copy.set(new Uint8Array(view.buffer, view.byteOffset + offset, length));
  return copy.buffer;
}`,
  writeBytes: `/** Copies the bytes of \`array\` to \`offset\`, zero-filling up to \`length\` bytes. */
function writeBytes(view: DataView, offset: number, length: number, array: ArrayBufferView): void {
  if (array.byteLength > length) {
    throw new RangeError(\`array of \${array.byteLength} bytes does not fit in \${length} bytes\`);
  }
  if (offset + length > view.byteLength) throw new RangeError('array field lies outside the view');
  const target = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  target.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  target.fill(0, array.byteLength);
}`,
  checkLength: `/** Throws unless \`array\` has at most \`count\` elements. */
function checkLength(array: readonly unknown[], count: number): void {
  if (array.length > count) throw new RangeError(\`array of \${array.length} elements does not fit in \${count}\`);
}`,
  readBits: `/** Reads a bitfield of up to 32 bits starting \`shift\` bits into the byte at \`offset\`. */
function readBits(view: DataView, offset: number, shift: number, bits: number, signed: boolean): number {
  let word = 0;
  for (let i = (shift + bits + 7) >> 3; i-- > 0; ) word = word * 256 + view.getUint8(offset + i);
  const value = Math.floor(word / 2 ** shift) % 2 ** bits;
  return signed && value >= 2 ** (bits - 1) ? value - 2 ** bits : value;
}`,
  writeBits: `/** Writes a bitfield of up to 32 bits, keeping the other bits of its bytes. */
function writeBits(view: DataView, offset: number, shift: number, bits: number, value: number): void {
  const length = (shift + bits + 7) >> 3;
  let word = 0;
  for (let i = length; i-- > 0; ) word = word * 256 + view.getUint8(offset + i);
  const span = 2 ** bits;
  const field = ((Math.trunc(value) % span) + span) % span;
  word = (Math.floor(word / 2 ** (shift + bits)) * span + field) * 2 ** shift + (word % 2 ** shift);
  for (let i = 0; i < length; i++, word = Math.floor(word / 256)) view.setUint8(offset + i, word % 256);
}`,
  readBitsBig: `/** Reads a bitfield of up to 64 bits. */
function readBitsBig(view: DataView, offset: number, shift: number, bits: number, signed: boolean): bigint {
  let word = 0n;
  for (let i = (shift + bits + 7) >> 3; i-- > 0; ) word = (word << 8n) | BigInt(view.getUint8(offset + i));
  const value = BigInt.asUintN(bits, word >> BigInt(shift));
  return signed ? BigInt.asIntN(bits, value) : value;
}`,
  writeBitsBig: `/** Writes a bitfield of up to 64 bits, keeping the other bits of its bytes. */
function writeBitsBig(view: DataView, offset: number, shift: number, bits: number, value: bigint): void {
  const length = (shift + bits + 7) >> 3;
  let word = 0n;
  for (let i = length; i-- > 0; ) word = (word << 8n) | BigInt(view.getUint8(offset + i));
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(shift);
  word = (word & ~mask) | ((BigInt.asUintN(bits, value) << BigInt(shift)) & mask);
  for (let i = 0; i < length; i++, word >>= 8n) view.setUint8(offset + i, Number(word & 0xffn));
}`,
  readInt128: `/** Reads a 128-bit integer. */
function readInt128(view: DataView, offset: number, signed: boolean): bigint {
  const value = (view.getBigUint64(offset + 8, true) << 64n) | view.getBigUint64(offset, true);
  return signed ? BigInt.asIntN(128, value) : value;
}`,
  writeInt128: `/** Writes a 128-bit integer (wrapping like a C cast). */
function writeInt128(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  view.setBigUint64(offset + 8, BigInt.asUintN(64, value >> 64n), true);
}`,
  UnionCodec: `/** The codec of a C union: \`encode\` writes the members present, in declaration order. */
export interface UnionCodec<T> extends Codec<T> {
  encode(value: Partial<T>, view: DataView, offset: number): void;
}`,
};

const GETTERS: Record<string, string> = {
  i1: 'Int8',
  u1: 'Uint8',
  i2: 'Int16',
  u2: 'Uint16',
  i4: 'Int32',
  u4: 'Uint32',
  i8: 'BigInt64',
  u8: 'BigUint64',
  f4: 'Float32',
  f8: 'Float64',
};

/** Emits decode/encode code for the types of one plan, recording which helpers the code uses. */
export class CodecEmitter {
  readonly plan: TypePlan;
  readonly #helpers = new Set<HelperName>();
  #depth = 0;

  constructor(plan: TypePlan) {
    this.plan = plan;
  }

  /** Marks a helper as used. */
  use(helper: HelperName): void {
    this.#helpers.add(helper);
    for (const dep of HELPER_DEPS[helper] ?? []) this.#helpers.add(dep);
  }

  /** Source of every helper used so far, in a fixed order. */
  helperSource(): string[] {
    return HELPER_NAMES.filter((h) => this.#helpers.has(h)).map((h) => HELPER_SOURCE[h]);
  }

  /**
   * An expression for a `Codec` of type `id`: the codec const of a named type, a shared scalar codec, or an
   * inline codec object. `indent` is the indentation of the line the expression starts on.
   */
  codecExpr(id: number, indent: string): string {
    const s = shapeOf(this.plan.btf, id);
    let scalar: HelperName | undefined;
    switch (s.kind) {
      case 'composite': {
        const name = this.plan.names.get(s.id);
        if (name !== undefined) return name;
        break;
      }
      case 'bool':
        if (s.size === 1) scalar = 'boolCodec';
        break;
      case 'ptr':
        scalar = 'uint64Codec';
        break;
      case 'float':
        scalar = s.size === 4 ? 'float32Codec' : 'float64Codec';
        break;
      case 'int':
      case 'enum':
        if (s.size !== 16) {
          const bits = s.size * 8;
          scalar = `${s.signed ? 'int' : 'uint'}${bits}Codec` as HelperName;
        }
        break;
    }
    if (scalar !== undefined) {
      this.use(scalar);
      return scalar;
    }
    const inner = `${indent}  `;
    const type = tsTypeOf(this.plan, id);
    const body = this.encode(id, 'value', 'offset', 0);
    return [
      `{`,
      `${inner}size: ${this.plan.btf.sizeOf(id)},`,
      `${inner}decode: (view: DataView, offset: number): ${type} => ${this.decode(id, 'offset', 0, inner)},`,
      `${inner}encode: (value: ${type}, view: DataView, offset: number): void => {`,
      ...body.map((l) => `${inner}  ${l}`),
      `${inner}},`,
      `${indent}}`,
    ].join('\n');
  }

  /**
   * An expression decoding type `id` stored at `base + off` of `view` (`base` is an expression or `''`).
   * `indent` is the indentation of the line the expression starts on.
   */
  decode(id: number, base: string, off: number, indent: string): string {
    const at = offsetExpr(base, off);
    const s = shapeOf(this.plan.btf, id);
    switch (s.kind) {
      case 'int':
        if (s.size === 16) {
          this.use('readInt128');
          return `readInt128(view, ${at}, ${s.signed})`;
        }
        return scalarGet(s.signed ? 'i' : 'u', s.size, at);
      case 'enum':
        return scalarGet(s.signed ? 'i' : 'u', s.size, at);
      case 'bool':
        return `view.getUint8(${at}) !== 0`;
      case 'float':
        return scalarGet('f', s.size, at);
      case 'ptr':
        return scalarGet('u', 8, at);
      case 'string':
        this.use('readCString');
        return `readCString(view, ${at}, ${s.length})`;
      case 'typed':
        this.use('copyBuffer');
        return `new ${s.array}(copyBuffer(view, ${at}, ${s.count * s.elemSize}))`;
      case 'bytes':
        this.use('copyBuffer');
        return `new Uint8Array(copyBuffer(view, ${at}, ${s.size}))`;
      case 'composite': {
        const name = this.plan.names.get(s.id);
        if (name !== undefined) return `${name}.decode(view, ${at})`;
        return this.decodeFields(fieldsOf(this.plan.btf, s.id), base, off, indent);
      }
      case 'tuple': {
        if (s.count <= MAX_TUPLE) {
          const inner = `${indent}  `;
          const items: string[] = [];
          for (let i = 0; i < s.count; i++)
            items.push(this.decode(s.elem, base, off + i * s.elemSize, inner));
          if (items.length === 0) return '[]';
          return `[\n${items.map((e) => `${inner}${e},`).join('\n')}\n${indent}]`;
        }
        const index = this.#index();
        this.#depth++;
        const elem = this.decode(s.elem, `${at} + ${index} * ${s.elemSize}`, 0, indent);
        this.#depth--;
        return `Array.from({ length: ${s.count} }, (_, ${index}) => ${elem})`;
      }
    }
  }

  /** An object literal decoding `fields` of an aggregate stored at `base + off`. */
  decodeFields(fields: readonly Field[], base: string, off: number, indent: string): string {
    if (fields.length === 0) return '{}';
    const inner = `${indent}  `;
    const lines = fields.map((f) => `${inner}${f.name}: ${this.decodeField(f, base, off, inner)},`);
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  #decodeBitfield(f: Field, base: string, off: number): string {
    const t = this.plan.btf.resolve(f.type);
    const signed = (t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64') && t.signed;
    const at = offsetExpr(base, off + Math.floor(f.bitOffset / 8));
    const shift = f.bitOffset % 8;
    if (f.bitfieldSize > 32) {
      this.use('readBitsBig');
      return `readBitsBig(view, ${at}, ${shift}, ${f.bitfieldSize}, ${signed})`;
    }
    this.use('readBits');
    const read = `readBits(view, ${at}, ${shift}, ${f.bitfieldSize}, ${signed})`;
    return t.kind === 'int' && t.bool ? `${read} !== 0` : read;
  }

  decodeField(f: Field, base: string, off: number, indent: string): string {
    if (f.bitfieldSize > 0) return this.#decodeBitfield(f, base, off);
    return this.decode(f.type, base, off + f.bitOffset / 8, indent);
  }

  /** Statements (one per array entry, unindented) encoding `value` of type `id` at `base + off`. */
  encode(id: number, value: string, base: string, off: number): string[] {
    const at = offsetExpr(base, off);
    const s = shapeOf(this.plan.btf, id);
    switch (s.kind) {
      case 'int':
        if (s.size === 16) {
          this.use('writeInt128');
          return [`writeInt128(view, ${at}, ${value});`];
        }
        return [scalarSet(s.signed ? 'i' : 'u', s.size, at, value)];
      case 'enum':
        return [scalarSet(s.signed ? 'i' : 'u', s.size, at, value)];
      case 'bool':
        return [`view.setUint8(${at}, ${value} ? 1 : 0);`];
      case 'float':
        return [scalarSet('f', s.size, at, value)];
      case 'ptr':
        return [scalarSet('u', 8, at, value)];
      case 'string':
        this.use('writeCString');
        return [`writeCString(view, ${at}, ${s.length}, ${value});`];
      case 'typed':
        this.use('writeBytes');
        return [`writeBytes(view, ${at}, ${s.count * s.elemSize}, ${value});`];
      case 'bytes':
        this.use('writeBytes');
        return [`writeBytes(view, ${at}, ${s.size}, ${value});`];
      case 'composite': {
        const name = this.plan.names.get(s.id);
        if (name !== undefined) return [`${name}.encode(${value}, view, ${at});`];
        return this.encodeFields(fieldsOf(this.plan.btf, s.id), value, base, off);
      }
      case 'tuple': {
        if (s.count <= MAX_TUPLE) {
          const out: string[] = [];
          for (let i = 0; i < s.count; i++) {
            out.push(...this.encode(s.elem, `${value}[${i}]`, base, off + i * s.elemSize));
          }
          return out;
        }
        this.use('checkLength');
        const index = this.#index();
        this.#depth++;
        const body = this.encode(s.elem, `${value}[${index}]`, `${at} + ${index} * ${s.elemSize}`, 0);
        this.#depth--;
        return [
          `checkLength(${value}, ${s.count});`,
          `for (let ${index} = 0; ${index} < ${value}.length; ${index}++) {`,
          ...body.map((l) => `  ${l}`),
          '}',
        ];
      }
    }
  }

  /** Statements encoding the fields of an aggregate held in `value`. */
  encodeFields(fields: readonly Field[], value: string, base: string, off: number): string[] {
    const out: string[] = [];
    for (const f of fields) {
      const member = `${value}.${f.name}`;
      const stmts = this.encodeField(f, member, base, off);
      if (f.inUnion) out.push(`if (${member} !== undefined) {`, ...stmts.map((l) => `  ${l}`), '}');
      else out.push(...stmts);
    }
    return out;
  }

  encodeField(f: Field, value: string, base: string, off: number): string[] {
    if (f.bitfieldSize === 0) return this.encode(f.type, value, base, off + f.bitOffset / 8);
    const t = this.plan.btf.resolve(f.type);
    const at = offsetExpr(base, off + Math.floor(f.bitOffset / 8));
    const shift = f.bitOffset % 8;
    if (f.bitfieldSize > 32) {
      this.use('writeBitsBig');
      return [`writeBitsBig(view, ${at}, ${shift}, ${f.bitfieldSize}, ${value});`];
    }
    this.use('writeBits');
    const v = t.kind === 'int' && t.bool ? `${value} ? 1 : 0` : value;
    return [`writeBits(view, ${at}, ${shift}, ${f.bitfieldSize}, ${v});`];
  }

  #index(): string {
    return this.#depth === 0 ? 'i' : `i${this.#depth}`;
  }
}

/** Local names emitted code binds inside codec functions (reserved in the module scope). */
export const CODEC_LOCALS = ['view', 'offset', 'value', '_', 'i', 'i1', 'i2', 'i3', 'i4'] as const;

function offsetExpr(base: string, off: number): string {
  if (base === '') return String(off);
  return off === 0 ? base : `${base} + ${off}`;
}

function scalarGet(sign: 'i' | 'u' | 'f', size: number, at: string): string {
  const le = size === 1 ? '' : ', true';
  return `view.get${GETTERS[`${sign}${size}`]}(${at}${le})`;
}

function scalarSet(sign: 'i' | 'u' | 'f', size: number, at: string, value: string): string {
  const le = size === 1 ? '' : ', true';
  return `view.set${GETTERS[`${sign}${size}`]}(${at}, ${value}${le});`;
}

/** Lines of a TSDoc comment carrying already-escaped text. */
export function docLines(text: readonly string[], indent: string): string[] {
  if (text.length === 1) return [`${indent}/** ${text[0]} */`];
  return [`${indent}/**`, ...text.map((t) => `${indent} * ${t}`.trimEnd()), `${indent} */`];
}
