/**
 * The typed model of BTF: one interface per kind, joined in the discriminated union {@link BtfType} on
 * `kind`. Every type carries its `id` (its index in {@link Btf.types}); id 0 is `void`.
 *
 * Types are immutable plain data. To edit BTF (fill in DATASEC sizes, change linkage, sanitize kinds), build
 * new type objects with spread copies and make a new {@link Btf} with {@link Btf.withTypes}; then serialize it
 * with `writeBtf`. Names are decoded strings; the writer maps them back to string-table offsets, reusing the
 * original offset of an unchanged string and appending new ones.
 *
 * @module
 */

/** Name of a BTF kind. */
export type BtfKindName =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/** Kind numbers as stored in `btf_type.info` bits 24-28 (`BTF_KIND_*` of the kernel UAPI). */
export const BtfKind = {
  void: 0,
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const satisfies Record<BtfKindName, number>;

/** Linkage of a `func` (`enum btf_func_linkage`): 0 static, 1 global, 2 extern. */
export type BtfFuncLinkage = 'static' | 'global' | 'extern';

/** Linkage of a `var` (`enum btf_var_linkage` / `BTF_VAR_*`): 0 static, 1 global (allocated), 2 extern. */
export type BtfVarLinkage = 'static' | 'global' | 'extern';

/** Numeric values of {@link BtfFuncLinkage} and {@link BtfVarLinkage}. */
export const BtfLinkage = { static: 0, global: 1, extern: 2 } as const;

interface BtfTypeBase {
  /** Type id: the index of this type in {@link Btf.types}. */
  readonly id: number;
  /** Name, `''` when anonymous. */
  readonly name: string;
}

/** `void` (id 0 only; never stored in the type section). */
export interface BtfVoid extends BtfTypeBase {
  readonly kind: 'void';
}

/** An integer type. `bits` and `bitOffset` describe a legacy bitfield when they differ from `size * 8` / 0. */
export interface BtfInt extends BtfTypeBase {
  readonly kind: 'int';
  /** Size in bytes (1, 2, 4, 8 or 16). */
  readonly size: number;
  /** `BTF_INT_SIGNED`. */
  readonly signed: boolean;
  /** `BTF_INT_CHAR`: a C character type (used for `char[N]` as string). */
  readonly char: boolean;
  /** `BTF_INT_BOOL`. */
  readonly bool: boolean;
  /** Number of value bits (`BTF_INT_BITS`), at most 128 and at most `size * 8`. */
  readonly bits: number;
  /** Bit offset of the value within the storage (`BTF_INT_OFFSET`), normally 0. */
  readonly bitOffset: number;
}

/** A pointer to `type`. */
export interface BtfPtr extends BtfTypeBase {
  readonly kind: 'ptr';
  readonly type: number;
}

/** `type[nelems]`; `indexType` is the (integer) index type clang records. */
export interface BtfArray extends BtfTypeBase {
  readonly kind: 'array';
  /** Element type id. */
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

/**
 * A member of a struct or union. `bitOffset` is the offset of the member from the start of the aggregate, in
 * bits. When the aggregate's `kindFlag` is set, `bitfieldSize` is the width of a bitfield member (0 for an
 * ordinary member); when it is clear, `bitfieldSize` is always 0 and a bitfield is described by an `int`
 * member type whose `bits`/`bitOffset` narrow it (use `memberLayout` for the effective values either way).
 */
export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  readonly bitfieldSize: number;
}

/** A struct or union of `size` bytes. */
export interface BtfComposite extends BtfTypeBase {
  readonly kind: 'struct' | 'union';
  readonly size: number;
  /** The `kind_flag` bit: member offsets carry bitfield sizes (see {@link BtfMember}). */
  readonly kindFlag: boolean;
  readonly members: readonly BtfMember[];
}

/** A struct (see {@link BtfComposite}). */
export type BtfStruct = BtfComposite & { readonly kind: 'struct' };
/** A union (see {@link BtfComposite}). */
export type BtfUnion = BtfComposite & { readonly kind: 'union' };

/** An enumerator of a 32-bit enum. `value` is read as signed when the enum is signed, else unsigned. */
export interface BtfEnumValue {
  readonly name: string;
  readonly value: number;
}

/** An enum whose enumerators fit in 32 bits; `size` is the storage size in bytes (1, 2, 4 or 8). */
export interface BtfEnum extends BtfTypeBase {
  readonly kind: 'enum';
  readonly size: number;
  /** The `kind_flag` bit: the enum's values are signed. */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

/** An enumerator of a 64-bit enum. `value` is read as signed when the enum is signed, else unsigned. */
export interface BtfEnum64Value {
  readonly name: string;
  readonly value: bigint;
}

/** An enum with 64-bit enumerators. */
export interface BtfEnum64 extends BtfTypeBase {
  readonly kind: 'enum64';
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnum64Value[];
}

/** A forward declaration (`struct foo;` or `union foo;`). */
export interface BtfFwd extends BtfTypeBase {
  readonly kind: 'fwd';
  /** Which aggregate is declared (`kind_flag` 0: struct, 1: union). */
  readonly fwdKind: 'struct' | 'union';
}

/** A typedef naming `type`. */
export interface BtfTypedef extends BtfTypeBase {
  readonly kind: 'typedef';
  readonly type: number;
}

/** A `volatile`, `const` or `restrict` qualifier on `type` (always anonymous). */
export interface BtfQualifier extends BtfTypeBase {
  readonly kind: 'volatile' | 'const' | 'restrict';
  readonly type: number;
}

/** A `volatile` qualifier. */
export type BtfVolatile = BtfQualifier & { readonly kind: 'volatile' };
/** A `const` qualifier. */
export type BtfConst = BtfQualifier & { readonly kind: 'const' };
/** A `restrict` qualifier. */
export type BtfRestrict = BtfQualifier & { readonly kind: 'restrict' };

/** A `btf_type_tag("name")` (or, with `attribute`, a type attribute) on `type`. */
export interface BtfTypeTag extends BtfTypeBase {
  readonly kind: 'type_tag';
  readonly type: number;
  /** The `kind_flag` bit: the tag is a type attribute (`__attribute__((name))`) rather than a type tag. */
  readonly attribute: boolean;
}

/** A function: `type` is the id of its `func_proto`. */
export interface BtfFunc extends BtfTypeBase {
  readonly kind: 'func';
  readonly type: number;
  readonly linkage: BtfFuncLinkage;
}

/** A parameter of a function prototype. A final `{ name: '', type: 0 }` marks a variadic prototype. */
export interface BtfParam {
  readonly name: string;
  readonly type: number;
}

/** A function prototype. */
export interface BtfFuncProto extends BtfTypeBase {
  readonly kind: 'func_proto';
  /** Return type id (0 for `void`). */
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

/** A global variable of `type`. */
export interface BtfVar extends BtfTypeBase {
  readonly kind: 'var';
  readonly type: number;
  readonly linkage: BtfVarLinkage;
}

/** A variable placed in a data section: `type` is the id of a `var` (or a `func` for `.ksyms`). */
export interface BtfVarSecinfo {
  readonly type: number;
  /** Byte offset of the variable in the section (clang leaves 0 in objects; the loader fills it in). */
  readonly offset: number;
  readonly size: number;
}

/** A data section (`.data`, `.bss`, `.rodata`, `.maps`, `.kconfig`, ...). */
export interface BtfDatasec extends BtfTypeBase {
  readonly kind: 'datasec';
  /** Section size in bytes (clang leaves 0 in objects; the loader fills it in). */
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

/** A floating-point type of `size` bytes (2, 4, 8, 12 or 16). */
export interface BtfFloat extends BtfTypeBase {
  readonly kind: 'float';
  readonly size: number;
}

/**
 * A `btf_decl_tag("name")` (or, with `attribute`, a declaration attribute) on `type`: on the type itself when
 * `componentIdx` is -1, else on its member / parameter number `componentIdx`.
 */
export interface BtfDeclTag extends BtfTypeBase {
  readonly kind: 'decl_tag';
  readonly type: number;
  readonly componentIdx: number;
  /** The `kind_flag` bit: the tag is an attribute (`__attribute__((name))`) rather than a decl tag. */
  readonly attribute: boolean;
}

/** Any BTF type, discriminated on `kind`. */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfTypedef
  | BtfQualifier
  | BtfTypeTag
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

/** The type of a given kind name, e.g. `BtfTypeOfKind<'struct'>` is {@link BtfComposite}. */
export type BtfTypeOfKind<K extends BtfKindName> = BtfType & { readonly kind: K };

/** The string table of a BTF blob (of the split part only, when split; offsets continue from the base). */
export interface BtfStrings {
  /** Offset of this table's first byte: 0, or the base's string table length for split BTF. */
  readonly start: number;
  /** This table's bytes (starts with a NUL unless split). */
  readonly bytes: Uint8Array;
  /** Whether `offset` lies inside this table or the base's. */
  has(offset: number): boolean;
  /** The NUL-terminated string at `offset` (base strings included for split BTF); BtfError when out of range. */
  get(offset: number): string;
  /** The offset of `s` in this table or the base's, or -1 when absent. */
  offsetOf(s: string): number;
}

/** Effective layout of a struct/union member, whichever bitfield encoding the aggregate uses. */
export interface BtfMemberLayout {
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the aggregate, in bits. */
  readonly bitOffset: number;
  /** Bitfield width in bits, or 0 for an ordinary member. */
  readonly bitfieldSize: number;
}

/** Parsed (or built) BTF. Instances are immutable; see {@link Btf.withTypes} for edits. */
export interface Btf {
  /** Every type, index = id; `types[0]` is void. For split BTF the base's types come first. */
  readonly types: readonly BtfType[];
  /** First id owned by this BTF: 1, or the base's type count for split BTF. */
  readonly firstId: number;
  /** The base BTF of split BTF (module BTF over vmlinux), else undefined. */
  readonly base: Btf | undefined;
  readonly strings: BtfStrings;
  /** The file this was read from, for error messages. */
  readonly file: string | undefined;
  /** The type with `id`; BtfError when there is none. */
  typeById(id: number): BtfType;
  /** The first type named `name` (of `kind`, when given), or undefined. Base types are searched too. */
  findByName<K extends BtfKindName>(name: string, kind: K): BtfTypeOfKind<K> | undefined;
  findByName(name: string): BtfType | undefined;
  /** Every type named `name` (of `kind`, when given). */
  findAllByName(name: string, kind?: BtfKindName): readonly BtfType[];
  /** The type `id` with typedef, const, volatile, restrict and type_tag layers skipped (BtfError on a cycle). */
  resolve(id: number): BtfType;
  /** Id of {@link Btf.resolve}'s result. */
  resolveId(id: number): number;
  /** Size in bytes of type `id` (BtfError for types without a size: func, func_proto, fwd, void...). */
  sizeOf(id: number): number;
  /** Alignment in bytes of type `id` (1 for packed aggregates). */
  alignOf(id: number): number;
  /** Effective member layouts of struct/union `id` (offsets in bits; bitfield widths resolved). */
  memberLayout(id: number): readonly BtfMemberLayout[];
  /**
   * A new Btf with the same base and string table and these types (index = id; entries below `firstId`
   * must be the base's). Each type's `id` must equal its index. Use it to edit: copy, change, rebuild.
   */
  withTypes(types: readonly BtfType[]): Btf;
}
