/**
 * `__kconfig` externs: where each lives in the `.kconfig` internal map, what C type it has, and how a
 * Kconfig value (`y`, `n`, `m`, a number, a quoted string) is written into it.
 *
 * The layout is libbpf's, which `bpftool gen skeleton` also assumes: externs sorted by alignment (largest
 * first), then size (smallest first), then name, each at the next offset aligned for it; the map is as large
 * as the end of the last one. The skeleton generator and the loader both call {@link kconfigLayout}.
 *
 * @module
 */
import type { Btf, BtfDatasec } from '../../btf/types.js';
import { BpfError } from '../../errors.js';

/** A `__kconfig` extern and its place in the `.kconfig` map. */
export interface KconfigVar {
  readonly name: string;
  /** BTF id of the `var`. */
  readonly varId: number;
  /** BTF id of the variable's type. */
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

/** The `.kconfig` map of an object. */
export interface KconfigLayout {
  /** BTF id of the `.kconfig` DATASEC. */
  readonly datasecId: number;
  /** Externs in layout order. */
  readonly vars: readonly KconfigVar[];
  /** Value size of the map in bytes. */
  readonly size: number;
}

/** How a Kconfig value is stored, by the extern's C type. */
export type KconfigValueKind =
  | { readonly kind: 'bool' }
  | { readonly kind: 'tristate' }
  | { readonly kind: 'char' }
  | { readonly kind: 'int'; readonly size: number; readonly signed: boolean }
  | { readonly kind: 'string'; readonly size: number };

/** Values `enum libbpf_tristate` gives `n`, `y` and `m`. */
const TRISTATE = { n: 0, y: 1, m: 2 } as const;

/** The `.kconfig` layout of `btf`, or undefined when the object declares no `__kconfig` extern. */
export function kconfigLayout(btf: Btf): KconfigLayout | undefined {
  const datasec = btf.findByName('.kconfig', 'datasec') as BtfDatasec | undefined;
  if (datasec === undefined) return undefined;
  const vars = [];
  for (const info of datasec.vars) {
    const v = btf.typeById(info.type);
    if (v.kind !== 'var') continue;
    vars.push({
      name: v.name,
      varId: v.id,
      type: v.type,
      size: btf.sizeOf(v.type),
      align: btf.alignOf(v.type),
    });
  }
  if (vars.length === 0) return undefined;
  vars.sort(
    (a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  let end = 0;
  const placed = vars.map((v) => {
    const offset = Math.ceil(end / v.align) * v.align;
    end = offset + v.size;
    return { ...v, offset };
  });
  return { datasecId: datasec.id, vars: placed, size: end };
}

/** How the extern of C type `typeId` stores its value, or undefined for a type Kconfig cannot fill. */
export function kconfigValueKind(btf: Btf, typeId: number): KconfigValueKind | undefined {
  const t = btf.resolve(typeId);
  if (t.kind === 'int') {
    if (t.bool) return t.size === 1 ? { kind: 'bool' } : undefined;
    // Any 1-byte integer is a char to Kconfig: clang does not mark `char` with BTF_INT_CHAR.
    if (t.size === 1) return { kind: 'char' };
    return t.size === 2 || t.size === 4 || t.size === 8
      ? { kind: 'int', size: t.size, signed: t.signed }
      : undefined;
  }
  if (t.kind === 'enum' && t.name === 'libbpf_tristate' && t.size === 4) return { kind: 'tristate' };
  if (t.kind === 'array') {
    const elem = btf.resolve(t.type);
    if (elem.kind === 'int' && elem.size === 1 && t.nelems > 0) return { kind: 'string', size: t.nelems };
  }
  return undefined;
}

/** Parses Kconfig text (`CONFIG_X=value` lines; comments and blank lines skipped) into name → raw value. */
export function parseKconfig(text: string, source: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq) : '';
    if (!/^CONFIG_[A-Za-z0-9_]+$/.test(name)) {
      throw new BpfError(`${source}, line ${i + 1}: expected CONFIG_NAME=value, got '${line}'`, {
        code: 'EINVAL',
        command: 'kconfig',
      });
    }
    values.set(name, line.slice(eq + 1));
  }
  return values;
}

/**
 * Writes Kconfig value `raw` of extern `v` into `out` (the `.kconfig` map value), as its C type wants it.
 *
 * @throws BpfError naming the extern when the value does not suit the type or does not fit
 */
export function writeKconfigValue(btf: Btf, v: KconfigVar, raw: string, out: DataView, source: string): void {
  const fail = (why: string): never => {
    throw new BpfError(`__kconfig extern '${v.name}' (value '${raw}' from ${source}): ${why}`, {
      code: 'EINVAL',
      command: 'kconfig',
    });
  };
  const kind =
    kconfigValueKind(btf, v.type) ?? fail('its C type is not bool, a tristate, an integer or char[N]');
  const tri = raw === 'y' || raw === 'n' || raw === 'm' ? raw : undefined;
  switch (kind.kind) {
    case 'bool':
      if (tri === undefined || tri === 'm') fail('a bool takes y or n');
      out.setUint8(v.offset, tri === 'y' ? 1 : 0);
      return;
    case 'tristate':
      if (tri === undefined) fail('a tristate takes y, n or m');
      out.setUint32(v.offset, TRISTATE[tri as keyof typeof TRISTATE], true);
      return;
    case 'char':
      if (tri !== undefined) {
        out.setUint8(v.offset, tri.charCodeAt(0));
        return;
      }
      writeInt(out, v.offset, 1, true, parseNumber(raw) ?? fail('expected y, n, m or a number'), fail);
      return;
    case 'int':
      if (tri !== undefined) fail('an integer extern takes a number, not y/n/m');
      writeInt(out, v.offset, kind.size, kind.signed, parseNumber(raw) ?? fail('expected a number'), fail);
      return;
    case 'string': {
      if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) fail('a char array takes a "string"');
      const bytes = new TextEncoder().encode(unescapeKconfig(raw.slice(1, -1)));
      // Like libbpf: a string longer than the array is cut, and the last byte always stays NUL.
      const n = Math.min(bytes.length, kind.size - 1);
      for (let i = 0; i < kind.size; i++) out.setUint8(v.offset + i, i < n ? bytes[i] : 0);
      return;
    }
  }
}

/** Kconfig's string escapes: `\"` and `\\`. */
function unescapeKconfig(s: string): string {
  return s.replace(/\\(["\\])/g, '$1');
}

/** A decimal, hex (`0x`) or octal (leading `0`) integer, possibly negative, or undefined. */
function parseNumber(raw: string): bigint | undefined {
  const m = /^(-?)(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(raw);
  if (m === null) return undefined;
  const body = m[2];
  const value =
    body.length > 1 && body.startsWith('0') && !body.startsWith('0x')
      ? BigInt(`0o${body.slice(1)}`)
      : BigInt(body);
  return m[1] === '-' ? -value : value;
}

function writeInt(
  out: DataView,
  offset: number,
  size: number,
  signed: boolean,
  value: bigint,
  fail: (why: string) => never,
): void {
  const bits = BigInt(size * 8);
  // As libbpf checks: the value must fit the type's width without loss (any 64-bit pattern fits 8 bytes).
  const fits =
    size === 8 ||
    (signed ? value >= -(1n << (bits - 1n)) && value < 1n << (bits - 1n) : value >= 0n && value < 1n << bits);
  if (!fits) fail(`does not fit in a${signed ? ' signed' : 'n unsigned'} ${size}-byte integer`);
  const u = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) out.setUint8(offset + i, Number((u >> BigInt(i * 8)) & 0xffn));
}
