/**
 * Emission of monomorphic codecs: for each C type, straight-line TypeScript that reads or writes it through
 * a DataView at constant offsets, little-endian. Nothing interprets BTF at run time.
 *
 * Conventions of the emitted code (see types.ts for the type mapping):
 * - `decode` builds a fresh value; arrays are copied out, so a decoded value never aliases map memory.
 * - In-place views (declarations.ts) read each field with the same code as `decode`, from the view's own
 *   DataView ({@link CodecEmitter.decodeFieldFrom}).
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
 * The generic parts (C strings, array copies, bitfields, 128-bit integers, scalar codecs) are functions of
 * the runtime that the emitted code imports; only the per-type code is emitted.
 *
 * @module
 */
import { assignDerived } from './names.js';
import { type Field, fieldsOf, MAX_TUPLE, shapeOf, type TypePlan, tsTypeOf } from './types.js';

/**
 * Names of the runtime helpers (`bpf-skel/runtime`, see runtime/skeleton-support.ts) generated codecs may
 * call, in the order they are imported. `UnionCodec` is a type.
 */
export const HELPER_NAMES = [
  'readCString',
  'writeCString',
  'copyArray',
  'writeBytes',
  'checkLength',
  'readBits',
  'writeBits',
  'readBitsBig',
  'writeBitsBig',
  'readInt128',
  'writeInt128',
  'UnionCodec',
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

/** A helper name. */
export type HelperName = (typeof HELPER_NAMES)[number];

/** The helpers that are types, imported with `import type`. */
export const TYPE_HELPERS: ReadonlySet<HelperName> = new Set(['UnionCodec']);

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
  /** Struct or union id → name of its in-place view class. */
  readonly #views: ReadonlyMap<number, string>;
  #depth = 0;
  /** The expression decoding code reads from: `view` in codecs, the view's DataView in view getters. */
  #source = 'view';

  /**
   * @param plan the types to emit
   * @param reserved the identifiers the module reserves (as given to `planTypes`): view class names avoid
   *   them and the plan's own names
   */
  constructor(plan: TypePlan, reserved: Iterable<string> = []) {
    this.plan = plan;
    const aggregates = new Map<number, string>();
    for (const id of plan.decls) {
      const kind = plan.btf.typeById(id).kind;
      if (kind === 'struct' || kind === 'union') aggregates.set(id, plan.names.get(id) as string);
    }
    const taken = [...reserved, ...plan.names.values(), ...plan.aliases.map((a) => a.name)];
    this.#views = assignDerived(aggregates, 'View', taken);
  }

  /** The name of the in-place view class of struct or union `id` (declared by the plan). */
  viewName(id: number): string | undefined {
    return this.#views.get(id);
  }

  /** Marks a helper as used. */
  use(helper: HelperName): void {
    this.#helpers.add(helper);
  }

  /** Every helper used so far, in the order of {@link HELPER_NAMES}. */
  helpersUsed(): HelperName[] {
    return HELPER_NAMES.filter((h) => this.#helpers.has(h));
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
          return `readInt128(${this.#source}, ${at}, ${s.signed})`;
        }
        return scalarGet(this.#source, s.signed ? 'i' : 'u', s.size, at);
      case 'enum':
        return scalarGet(this.#source, s.signed ? 'i' : 'u', s.size, at);
      case 'bool':
        return `${this.#source}.getUint8(${at}) !== 0`;
      case 'float':
        return scalarGet(this.#source, 'f', s.size, at);
      case 'ptr':
        return scalarGet(this.#source, 'u', 8, at);
      case 'string':
        this.use('readCString');
        return `readCString(${this.#source}, ${at}, ${s.length})`;
      case 'typed':
        this.use('copyArray');
        return `copyArray(${s.array}, ${this.#source}, ${at}, ${s.count})`;
      case 'bytes':
        this.use('copyArray');
        return `copyArray(Uint8Array, ${this.#source}, ${at}, ${s.size})`;
      case 'composite': {
        const name = this.plan.names.get(s.id);
        if (name !== undefined) return `${name}.decode(${this.#source}, ${at})`;
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
      return `readBitsBig(${this.#source}, ${at}, ${shift}, ${f.bitfieldSize}, ${signed})`;
    }
    this.use('readBits');
    const read = `readBits(${this.#source}, ${at}, ${shift}, ${f.bitfieldSize}, ${signed})`;
    return t.kind === 'int' && t.bool ? `${read} !== 0` : read;
  }

  /** An expression decoding field `f` of an aggregate stored at `base + off`. */
  decodeField(f: Field, base: string, off: number, indent: string): string {
    if (f.bitfieldSize > 0) return this.#decodeBitfield(f, base, off);
    return this.decode(f.type, base, off + f.bitOffset / 8, indent);
  }

  /**
   * {@link decodeField} reading from the DataView `source` (an expression) instead of `view`: the same code
   * the codec runs for that field, for a getter of an in-place view.
   */
  decodeFieldFrom(source: string, f: Field, base: string, indent: string): string {
    const saved = this.#source;
    this.#source = source;
    try {
      return this.decodeField(f, base, 0, indent);
    } finally {
      this.#source = saved;
    }
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

function scalarGet(source: string, sign: 'i' | 'u' | 'f', size: number, at: string): string {
  const le = size === 1 ? '' : ', true';
  return `${source}.get${GETTERS[`${sign}${size}`]}(${at}${le})`;
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
