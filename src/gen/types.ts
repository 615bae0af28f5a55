/**
 * The C to TypeScript type mapping of generated code, decided once from BTF:
 *
 * | C (after typedefs and qualifiers)          | TypeScript                                              |
 * |---------------------------------------------|---------------------------------------------------------|
 * | integers of 1, 2 or 4 bytes, floats (4, 8) | `number`                                                |
 * | integers of 8 or 16 bytes, pointers         | `bigint` (pointers as addresses)                        |
 * | `_Bool`                                     | `boolean`                                               |
 * | `char[N]`                                   | `string`: bytes up to the first NUL, decoded as UTF-8   |
 * | arrays of other numbers, enums, pointers   | a copied typed array (`Int32Array`, `BigUint64Array`...) |
 * | arrays of anything else                     | a tuple (`[T, T]`) up to 16 elements, else `T[]`        |
 * | named struct / union                        | an interface of that name plus a codec const            |
 * | anonymous struct / union member             | an inline object type; anonymous members are flattened  |
 * | enum                                        | a const object of enumerators plus `number` (`bigint`)  |
 * | bitfield                                    | `number` (`bigint` when wider than 32 bits)             |
 * | anything else (half floats, `long double`) | `Uint8Array` of its bytes                               |
 *
 * A typedef is transparent, except that it names an anonymous struct, union or enum it defines, and that a
 * requested typedef gets an alias. Type names are the C names made safe (see names.ts) in one module scope.
 *
 * @module
 */
import type { Btf, BtfType } from '../btf/types.js';
import { BtfError, OptionError } from '../errors.js';
import { assignKeyed, compareCodeUnits } from './names.js';

/** Typed array classes used for arrays of numbers. */
export type TypedArrayName =
  | 'Int8Array'
  | 'Uint8Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'BigInt64Array'
  | 'BigUint64Array'
  | 'Float32Array'
  | 'Float64Array';

/** How a C type is represented and coded, after typedefs and qualifiers. */
export type Shape =
  | { readonly kind: 'int'; readonly size: 1 | 2 | 4 | 8 | 16; readonly signed: boolean }
  | { readonly kind: 'bool'; readonly size: number }
  | { readonly kind: 'float'; readonly size: 4 | 8 }
  | { readonly kind: 'ptr' }
  | { readonly kind: 'enum'; readonly id: number; readonly size: 1 | 2 | 4 | 8; readonly signed: boolean }
  | { readonly kind: 'composite'; readonly id: number; readonly union: boolean; readonly size: number }
  | { readonly kind: 'string'; readonly length: number }
  | {
      readonly kind: 'typed';
      readonly array: TypedArrayName;
      readonly count: number;
      readonly elemSize: number;
    }
  | { readonly kind: 'tuple'; readonly elem: number; readonly count: number; readonly elemSize: number }
  | { readonly kind: 'bytes'; readonly size: number };

/** Arrays up to this many elements of non-numeric types become tuples; longer ones become `T[]`. */
export const MAX_TUPLE = 16;

/** A member of a struct or union after flattening anonymous members, with its safe name. */
export interface Field {
  /** The C member name. */
  readonly cName: string;
  /** The TypeScript property name. */
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the outermost aggregate, in bits. */
  readonly bitOffset: number;
  /** Bitfield width, or 0. */
  readonly bitfieldSize: number;
  /** True when the member shares its storage with others (it belongs to a union). */
  readonly inUnion: boolean;
}

/** A typedef the caller asked for by name: emitted as an alias of its target. */
export interface TypeAlias {
  readonly name: string;
  readonly cName: string;
  readonly target: number;
}

/** The named TypeScript declarations one module emits, and how to refer to any C type. */
export interface TypePlan {
  readonly btf: Btf;
  /** Type id (struct, union, enum) → TypeScript name, for every declaration to emit. */
  readonly names: ReadonlyMap<number, string>;
  /** The ids of {@link TypePlan.names}, in the order to emit them (by name). */
  readonly decls: readonly number[];
  /** Requested typedefs, emitted after every declaration. */
  readonly aliases: readonly TypeAlias[];
}

const INT_TYPED: Record<number, [TypedArrayName, TypedArrayName]> = {
  1: ['Uint8Array', 'Int8Array'],
  2: ['Uint16Array', 'Int16Array'],
  4: ['Uint32Array', 'Int32Array'],
  8: ['BigUint64Array', 'BigInt64Array'],
};

/** Skips typedefs, qualifiers and type tags. */
function resolve(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

/** True for the C `char` type (as clang writes it: an INT named `char`, or one with the CHAR encoding). */
function isChar(t: BtfType): boolean {
  return t.kind === 'int' && t.size === 1 && (t.char || t.name === 'char');
}

/** The shape of type `id`. */
export function shapeOf(btf: Btf, id: number): Shape {
  const t = resolve(btf, id);
  switch (t.kind) {
    case 'int':
      if (t.bool) return { kind: 'bool', size: t.size };
      if (t.size === 1 || t.size === 2 || t.size === 4 || t.size === 8 || t.size === 16) {
        return { kind: 'int', size: t.size, signed: t.signed };
      }
      return { kind: 'bytes', size: t.size };
    case 'float':
      return t.size === 4 || t.size === 8 ? { kind: 'float', size: t.size } : { kind: 'bytes', size: t.size };
    case 'ptr':
      return { kind: 'ptr' };
    case 'enum':
    case 'enum64':
      if (t.size === 1 || t.size === 2 || t.size === 4 || t.size === 8) {
        return { kind: 'enum', id: t.id, size: t.size, signed: t.signed };
      }
      return { kind: 'bytes', size: t.size };
    case 'struct':
    case 'union':
      return { kind: 'composite', id: t.id, union: t.kind === 'union', size: t.size };
    case 'array': {
      const elem = resolve(btf, t.type);
      if (isChar(elem)) return { kind: 'string', length: t.nelems };
      const elemSize = btf.sizeOf(t.type);
      const typed = typedArrayOf(shapeOf(btf, t.type));
      if (typed !== undefined) return { kind: 'typed', array: typed, count: t.nelems, elemSize };
      return { kind: 'tuple', elem: t.type, count: t.nelems, elemSize };
    }
    default:
      return { kind: 'bytes', size: btf.sizeOf(id) };
  }
}

function typedArrayOf(s: Shape): TypedArrayName | undefined {
  switch (s.kind) {
    case 'int':
    case 'enum':
      return s.size === 16 ? undefined : INT_TYPED[s.size][s.signed ? 1 : 0];
    case 'ptr':
      return 'BigUint64Array';
    case 'float':
      return s.size === 4 ? 'Float32Array' : 'Float64Array';
    default:
      return undefined;
  }
}

/** The struct, union or enum a name of the type graph declares, or undefined for other kinds. */
function declarable(btf: Btf, id: number): BtfType | undefined {
  const t = resolve(btf, id);
  return t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64'
    ? t
    : undefined;
}

/** The typedef that names anonymous aggregate `id`, if `via` (a chain of typedefs/qualifiers) has one. */
function typedefName(btf: Btf, via: number): string {
  let id = via;
  for (;;) {
    const t = btf.typeById(id);
    if (t.kind === 'typedef') return t.name;
    if (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') {
      id = t.type;
      continue;
    }
    return '';
  }
}

/**
 * Finds every struct, union and enum reachable by value from `roots` and `requested` (type names: a struct,
 * union, enum or typedef of the object's BTF) and names them in one module scope.
 *
 * @param reserved identifiers the module uses for generated code
 * @throws OptionError when a requested name is not a type of the object
 */
export function planTypes(
  btf: Btf,
  roots: Iterable<number>,
  requested: readonly string[],
  reserved: Iterable<string>,
): TypePlan {
  /** id → C name used for the declaration ('' while unnamed). */
  const found = new Map<number, string>();
  /** Aggregates whose members were visited (guards against cycles in malformed BTF). */
  const expanded = new Set<number>();
  const visit = (id: number): void => {
    const t = resolve(btf, id);
    const decl = declarable(btf, id);
    if (decl === undefined) {
      if (t.kind === 'array') visit(t.type);
      return;
    }
    // Anonymous aggregates are inlined where used unless a typedef names them.
    const cName = decl.name !== '' ? decl.name : typedefName(btf, id);
    if (cName !== '' && !found.has(decl.id)) found.set(decl.id, cName);
    if ((decl.kind === 'struct' || decl.kind === 'union') && !expanded.has(decl.id)) {
      expanded.add(decl.id);
      for (const m of btf.memberLayout(decl.id)) visit(m.type);
    }
  };
  for (const id of roots) visit(id);
  const aliasRequests: { cName: string; target: number; id: number }[] = [];
  for (const name of [...new Set(requested)].sort(compareCodeUnits)) {
    const t = findRequested(btf, name);
    if (t.kind === 'typedef') {
      const target = declarable(btf, t.id);
      // A typedef of the same name as its aggregate (`typedef struct foo foo`) is the aggregate itself.
      if (target !== undefined && (target.name === t.name || target.name === '')) {
        visit(t.id);
        continue;
      }
      visit(t.type);
      aliasRequests.push({ cName: t.name, target: t.type, id: t.id });
    } else {
      visit(t.id);
    }
  }
  const entities: [number, string][] = [...found].sort((a, b) => a[0] - b[0]);
  for (const a of aliasRequests) entities.push([a.id, a.cName]);
  const assigned = assignKeyed(entities, reserved);
  const names = new Map<number, string>();
  for (const id of found.keys()) names.set(id, assigned.get(id) as string);
  const decls = [...names.keys()].sort((a, b) =>
    compareCodeUnits(names.get(a) as string, names.get(b) as string),
  );
  const aliases = aliasRequests
    .map((a) => ({ name: assigned.get(a.id) as string, cName: a.cName, target: a.target }))
    .sort((a, b) => compareCodeUnits(a.name, b.name));
  return { btf, names, decls, aliases };
}

function findRequested(btf: Btf, name: string): BtfType {
  for (const kind of ['struct', 'union', 'enum', 'enum64', 'typedef'] as const) {
    const t = btf.findByName(name, kind);
    if (t !== undefined) return t;
  }
  throw new OptionError(`type '${name}' is not a struct, union, enum or typedef of the object's BTF`, {
    option: 'types',
  });
}

/**
 * The fields of struct or union `id`, anonymous struct/union members flattened into their parent (as C
 * accesses them), unnamed bitfields (padding) skipped, each with a safe name unique within the aggregate.
 *
 * @throws BtfError when a member lies outside the aggregate or a non-bitfield member is not byte-aligned
 */
export function fieldsOf(btf: Btf, id: number): Field[] {
  const raw: Omit<Field, 'name'>[] = [];
  const walk = (compositeId: number, base: number, inUnion: boolean): void => {
    const union = resolve(btf, compositeId).kind === 'union';
    for (const m of btf.memberLayout(compositeId)) {
      const t = resolve(btf, m.type);
      if (m.name === '') {
        if (t.kind === 'struct' || t.kind === 'union') walk(t.id, base + m.bitOffset, inUnion || union);
        continue;
      }
      raw.push({
        cName: m.name,
        type: m.type,
        bitOffset: base + m.bitOffset,
        bitfieldSize: m.bitfieldSize,
        inUnion: inUnion || union,
      });
    }
  };
  const outer = resolve(btf, id);
  walk(outer.id, 0, false);
  const bits = 8 * btf.sizeOf(outer.id);
  for (const f of raw) {
    const end = f.bitOffset + (f.bitfieldSize > 0 ? f.bitfieldSize : 8 * btf.sizeOf(f.type));
    if ((f.bitfieldSize === 0 && f.bitOffset % 8 !== 0) || end > bits) {
      throw new BtfError(
        `member '${f.cName}' of type ${outer.id} lies outside its ${bits / 8} bytes or is misaligned`,
        {
          file: btf.file,
          section: '.BTF',
        },
      );
    }
  }
  const names = assignKeyed(raw.map((f, i) => [i, f.cName] as const));
  return raw.map((f, i) => ({ ...f, name: names.get(i) as string }));
}

/** TypeScript type of a bitfield of `bits` bits whose declared type is `type`. */
function bitfieldTsType(btf: Btf, type: number, bits: number): string {
  const t = resolve(btf, type);
  if (t.kind === 'int' && t.bool) return 'boolean';
  return bits > 32 ? 'bigint' : 'number';
}

/** The TypeScript type of C type `id` in a module planned by `plan`. */
export function tsTypeOf(plan: TypePlan, id: number): string {
  const s = shapeOf(plan.btf, id);
  switch (s.kind) {
    case 'int':
      return s.size <= 4 ? 'number' : 'bigint';
    case 'bool':
      return 'boolean';
    case 'float':
      return 'number';
    case 'ptr':
      return 'bigint';
    case 'enum':
      return plan.names.get(s.id) ?? (s.size === 8 ? 'bigint' : 'number');
    case 'composite': {
      const name = plan.names.get(s.id);
      if (name !== undefined) return name;
      const fields = fieldsOf(plan.btf, s.id).map((f) => `${f.name}: ${fieldTsType(plan, f)}`);
      return fields.length === 0 ? 'Record<string, never>' : `{ ${fields.join('; ')} }`;
    }
    case 'string':
      return 'string';
    case 'typed':
      return s.array;
    case 'tuple': {
      const elem = tsTypeOf(plan, s.elem);
      return s.count <= MAX_TUPLE ? `[${Array<string>(s.count).fill(elem).join(', ')}]` : `${elem}[]`;
    }
    case 'bytes':
      return 'Uint8Array';
  }
}

/** The TypeScript type of a field. */
export function fieldTsType(plan: TypePlan, f: Field): string {
  return f.bitfieldSize > 0 ? bitfieldTsType(plan.btf, f.type, f.bitfieldSize) : tsTypeOf(plan, f.type);
}

/** The C name of a type for documentation (`struct event`, `__u32`, `int`). */
function cBaseName(t: BtfType): string {
  switch (t.kind) {
    case 'void':
      return 'void';
    case 'struct':
    case 'union':
      return t.name === '' ? `${t.kind} {...}` : `${t.kind} ${t.name}`;
    case 'enum':
    case 'enum64':
      return t.name === '' ? 'enum {...}' : `enum ${t.name}`;
    case 'fwd':
      return `${t.fwdKind} ${t.name}`;
    default:
      return t.name === '' ? `(${t.kind})` : t.name;
  }
}

/**
 * A C declaration of `name` with type `id`, for documentation: `const volatile int target_pid`,
 * `char comm[16]`, `struct event *e`, `int (*table)[4]`. Not escaped: pass it through `commentText`.
 */
export function cDeclaration(btf: Btf, id: number, name: string, bitfieldSize = 0): string {
  const quals: string[] = [];
  let declarator = name;
  let cur = id;
  for (let depth = 0; depth < 64; depth++) {
    const t = btf.typeById(cur);
    switch (t.kind) {
      case 'const':
      case 'volatile':
      case 'restrict':
        quals.push(t.kind);
        cur = t.type;
        continue;
      case 'type_tag':
        cur = t.type;
        continue;
      case 'ptr': {
        const q = quals.splice(0).join(' ');
        declarator = `*${q === '' ? '' : `${q} `}${declarator}`;
        cur = t.type;
        continue;
      }
      case 'array':
        if (declarator.startsWith('*')) declarator = `(${declarator})`;
        declarator = `${declarator}[${t.nelems}]`;
        cur = t.type;
        continue;
      case 'func_proto': {
        if (declarator.startsWith('*')) declarator = `(${declarator})`;
        const params = t.params.map((p) => (p.type === 0 ? '...' : cDeclaration(btf, p.type, p.name).trim()));
        declarator = `${declarator}(${params.length === 0 ? 'void' : params.join(', ')})`;
        cur = t.returnType;
        continue;
      }
      default: {
        const q = quals.join(' ');
        const base = `${q === '' ? '' : `${q} `}${cBaseName(t)}`;
        const bits = bitfieldSize > 0 ? ` : ${bitfieldSize}` : '';
        return declarator === '' ? base : `${base} ${declarator}${bits}`;
      }
    }
  }
  return `${declarator} (type nesting too deep)`;
}
