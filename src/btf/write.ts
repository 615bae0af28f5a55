/**
 * Serializer of a {@link Btf} to a raw BTF blob: header, type section, string section. Only the types this
 * BTF owns are written (for split BTF, those from `firstId` on). Names reuse their offset in the original
 * string table (or the base's) when present there; new names are appended. So writing unmodified parsed
 * BTF reproduces the input bytes, and edited BTF keeps the original strings in place.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import { BTF_HEADER_SIZE, BTF_MAGIC, trailingSize } from './parse.js';
import { type Btf, BtfKind, BtfLinkage, type BtfType } from './types.js';

const encoder = new TextEncoder();

/** Allocates string offsets: existing strings keep theirs, new ones are appended once each. */
function makeStringWriter(btf: Btf) {
  const { strings } = btf;
  const added = new Map<string, number>();
  const extra: Uint8Array[] = [];
  let next = strings.start + strings.bytes.length;
  return {
    offset(s: string): number {
      const existing = strings.offsetOf(s);
      if (existing >= 0) return existing;
      const known = added.get(s);
      if (known !== undefined) return known;
      if (s.includes('\0'))
        throw new BtfError(`name ${JSON.stringify(s)} contains a NUL byte`, { file: btf.file });
      const enc = encoder.encode(s);
      const off = next;
      extra.push(enc, new Uint8Array(1));
      next += enc.length + 1;
      added.set(s, off);
      return off;
    },
    bytes(): Uint8Array {
      const out = new Uint8Array(next - strings.start);
      out.set(strings.bytes, 0);
      let at = strings.bytes.length;
      for (const part of extra) {
        out.set(part, at);
        at += part.length;
      }
      return out;
    },
  };
}

function fail(t: BtfType, what: string, file: string | undefined): never {
  throw new BtfError(`cannot write type ${t.id} (${t.kind}${t.name ? ` '${t.name}'` : ''}): ${what}`, {
    file,
  });
}

function u32(t: BtfType, v: number, what: string, file: string | undefined): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) fail(t, `${what} ${v} is not a u32`, file);
  return v;
}

function vlenOf(t: BtfType, n: number, file: string | undefined): number {
  if (n > 0xffff) fail(t, `${n} entries exceed the vlen limit of 65535`, file);
  return n;
}

/**
 * Serializes `btf` (its own types and strings) to a raw BTF blob that `parseBtf` reads back equal.
 *
 * @throws BtfError when a type cannot be encoded (a field out of range, a dangling type id, ...)
 */
export function writeBtf(btf: Btf): Uint8Array {
  const { types, firstId, file } = btf;
  let typeLen = 0;
  for (let id = firstId; id < types.length; id++) {
    const t = types[id];
    if (t.kind === 'void') fail(t, 'void cannot be stored in the type section', file);
    typeLen += 12 + trailingSize(t.kind, entryCount(t));
  }
  const strw = makeStringWriter(btf);
  const typeBytes = new Uint8Array(typeLen);
  const view = new DataView(typeBytes.buffer);
  let at = 0;
  const put = (v: number) => {
    view.setUint32(at, v, true);
    at += 4;
  };
  for (let id = firstId; id < types.length; id++) {
    const t = types[id];
    if (t.id !== id) fail(t, `it sits at index ${id}`, file);
    const header = (vlen: number, kflag: boolean, sizeType: number) => {
      put(strw.offset(t.name));
      put(((kflag ? 1 : 0) << 31) | (BtfKind[t.kind] << 24) | vlen);
      put(u32(t, sizeType, 'size/type', file));
    };
    switch (t.kind) {
      case 'void':
        break;
      case 'int': {
        header(0, false, t.size);
        if (t.bits > 128 || t.bitOffset > 255 || t.bits < 0 || t.bitOffset < 0)
          fail(t, 'bad bits/bitOffset', file);
        const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
        put((enc << 24) | (t.bitOffset << 16) | t.bits);
        break;
      }
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
        header(0, false, t.type);
        break;
      case 'type_tag':
        header(0, t.attribute, t.type);
        break;
      case 'array':
        header(0, false, 0);
        put(u32(t, t.type, 'element type', file));
        put(u32(t, t.indexType, 'index type', file));
        put(u32(t, t.nelems, 'nelems', file));
        break;
      case 'struct':
      case 'union':
        header(vlenOf(t, t.members.length, file), t.kindFlag, t.size);
        for (const m of t.members) {
          put(strw.offset(m.name));
          put(u32(t, m.type, 'member type', file));
          if (t.kindFlag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff)
              fail(t, `member '${m.name}' offset/size too big`, file);
            put(((m.bitfieldSize << 24) | m.bitOffset) >>> 0);
          } else {
            if (m.bitfieldSize !== 0)
              fail(t, `member '${m.name}' has a bitfield size but kindFlag is off`, file);
            put(u32(t, m.bitOffset, 'member offset', file));
          }
        }
        break;
      case 'enum':
        header(vlenOf(t, t.values.length, file), t.signed, t.size);
        for (const v of t.values) {
          put(strw.offset(v.name));
          if (!Number.isInteger(v.value) || v.value < -0x8000_0000 || v.value > 0xffff_ffff) {
            fail(t, `value ${v.value} of '${v.name}' does not fit in 32 bits`, file);
          }
          put(v.value >>> 0);
        }
        break;
      case 'enum64':
        header(vlenOf(t, t.values.length, file), t.signed, t.size);
        for (const v of t.values) {
          put(strw.offset(v.name));
          if (v.value < -(1n << 63n) || v.value >= 1n << 64n)
            fail(t, `value of '${v.name}' exceeds 64 bits`, file);
          const raw = BigInt.asUintN(64, v.value);
          put(Number(raw & 0xffff_ffffn));
          put(Number(raw >> 32n));
        }
        break;
      case 'fwd':
        header(0, t.fwdKind === 'union', 0);
        break;
      case 'func':
        header(BtfLinkage[t.linkage], false, t.type);
        break;
      case 'func_proto':
        header(vlenOf(t, t.params.length, file), false, t.returnType);
        for (const p of t.params) {
          put(strw.offset(p.name));
          put(u32(t, p.type, 'parameter type', file));
        }
        break;
      case 'var':
        header(0, false, t.type);
        put(BtfLinkage[t.linkage]);
        break;
      case 'datasec':
        header(vlenOf(t, t.vars.length, file), false, t.size);
        for (const v of t.vars) {
          put(u32(t, v.type, 'var type', file));
          put(u32(t, v.offset, 'var offset', file));
          put(u32(t, v.size, 'var size', file));
        }
        break;
      case 'float':
        header(0, false, t.size);
        break;
      case 'decl_tag':
        header(0, t.attribute, t.type);
        if (!Number.isInteger(t.componentIdx) || t.componentIdx < -1) fail(t, 'bad componentIdx', file);
        put(t.componentIdx >>> 0);
        break;
    }
  }
  const strBytes = strw.bytes();
  const out = new Uint8Array(BTF_HEADER_SIZE + typeBytes.length + strBytes.length);
  const hv = new DataView(out.buffer);
  hv.setUint16(0, BTF_MAGIC, true);
  out[2] = 1;
  out[3] = 0;
  hv.setUint32(4, BTF_HEADER_SIZE, true);
  hv.setUint32(8, 0, true);
  hv.setUint32(12, typeBytes.length, true);
  hv.setUint32(16, typeBytes.length, true);
  hv.setUint32(20, strBytes.length, true);
  out.set(typeBytes, BTF_HEADER_SIZE);
  out.set(strBytes, BTF_HEADER_SIZE + typeBytes.length);
  return out;
}

function entryCount(t: BtfType): number {
  switch (t.kind) {
    case 'struct':
    case 'union':
      return t.members.length;
    case 'enum':
    case 'enum64':
      return t.values.length;
    case 'func_proto':
      return t.params.length;
    case 'datasec':
      return t.vars.length;
    default:
      return 0;
  }
}
