/**
 * Parser of raw BTF blobs (the `.BTF` section of an object, `/sys/kernel/btf/*`), including split BTF over
 * a base. Every field is bounds-checked and every referenced type id validated.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import { checkTypes, makeBtf } from './btf.js';
import { makeStrings } from './strings.js';
import type {
  Btf,
  BtfEnum64Value,
  BtfEnumValue,
  BtfFuncLinkage,
  BtfKindName,
  BtfMember,
  BtfParam,
  BtfType,
  BtfVarSecinfo,
} from './types.js';

/** `btf_header.magic`. */
export const BTF_MAGIC = 0xeb9f;
/** Size of the version-1 `struct btf_header`. */
export const BTF_HEADER_SIZE = 24;

/** Kind names by kind number. */
export const KIND_NAMES: readonly BtfKindName[] = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
];

const LINKAGES: readonly BtfFuncLinkage[] = ['static', 'global', 'extern'];
/** Bits of `btf_type.info` that no kind uses (between vlen, kind and kind_flag). */
const INFO_UNUSED = 0x60ff0000;
/** Kinds that may set `kind_flag`. */
const KFLAG_KINDS = new Set<BtfKindName>([
  'struct',
  'union',
  'enum',
  'enum64',
  'fwd',
  'decl_tag',
  'type_tag',
]);
/** Kinds whose vlen counts trailing records (func uses vlen for its linkage). */
const VLEN_KINDS = new Set<BtfKindName>([
  'struct',
  'union',
  'enum',
  'enum64',
  'func_proto',
  'datasec',
  'func',
]);

/** Options of {@link parseBtf}. */
export interface ParseBtfOptions {
  /** Base BTF of split BTF (e.g. vmlinux under a module's BTF): type ids and string offsets continue from it. */
  base?: Btf;
  /** File name for error messages. */
  file?: string;
}

/** The parsed `struct btf_header`, offsets relative to the blob start. */
interface BtfSections {
  typeStart: number;
  typeEnd: number;
  strStart: number;
  strEnd: number;
}

function readHeader(bytes: Uint8Array, view: DataView, file: string | undefined): BtfSections {
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new BtfError(`truncated BTF header: ${bytes.length} bytes, need ${BTF_HEADER_SIZE}`, {
      file,
      offset: 0,
    });
  }
  const magic = view.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    const hint = magic === 0x9feb ? ' (big-endian BTF is not supported)' : '';
    throw new BtfError(`bad BTF magic 0x${magic.toString(16)}, expected 0xeb9f${hint}`, { file, offset: 0 });
  }
  if (bytes[2] !== 1) throw new BtfError(`unsupported BTF version ${bytes[2]}`, { file, offset: 2 });
  if (bytes[3] !== 0)
    throw new BtfError(`unsupported BTF header flags 0x${bytes[3].toString(16)}`, { file, offset: 3 });
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < BTF_HEADER_SIZE || hdrLen > bytes.length) {
    throw new BtfError(`BTF hdr_len ${hdrLen} is out of range (${BTF_HEADER_SIZE}..${bytes.length})`, {
      file,
      offset: 4,
    });
  }
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) throw new BtfError('unknown non-zero BTF header fields', { file, offset: i });
  }
  const dataLen = bytes.length - hdrLen;
  const typeOff = view.getUint32(8, true);
  const typeLen = view.getUint32(12, true);
  const strOff = view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  if (typeOff % 4 !== 0 || typeLen % 4 !== 0) {
    throw new BtfError(`BTF type section (offset ${typeOff}, length ${typeLen}) is not 4-byte aligned`, {
      file,
      offset: 8,
    });
  }
  if (typeOff > dataLen || typeLen > dataLen - typeOff) {
    throw new BtfError(
      `BTF type section (offset ${typeOff}, length ${typeLen}) runs past the end of the data (${dataLen} bytes)`,
      { file, offset: 8 },
    );
  }
  if (strOff > dataLen || strLen > dataLen - strOff) {
    throw new BtfError(
      `BTF string section (offset ${strOff}, length ${strLen}) runs past the end of the data (${dataLen} bytes)`,
      { file, offset: 16 },
    );
  }
  if (typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    throw new BtfError('BTF type and string sections overlap', { file, offset: 8 });
  }
  return {
    typeStart: hdrLen + typeOff,
    typeEnd: hdrLen + typeOff + typeLen,
    strStart: hdrLen + strOff,
    strEnd: hdrLen + strOff + strLen,
  };
}

/**
 * Parses a raw BTF blob. With `opts.base`, parses split BTF: ids start at the base's type count and string
 * offsets at the base's string table length.
 *
 * @throws BtfError naming the offset (within `bytes`) of the first problem
 */
export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const { base, file } = opts;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sec = readHeader(bytes, view, file);

  const strBytes = bytes.subarray(sec.strStart, sec.strEnd);
  const strStart = base === undefined ? 0 : base.strings.start + base.strings.bytes.length;
  if (base === undefined && (strBytes.length === 0 || strBytes[0] !== 0)) {
    throw new BtfError('BTF string section must start with an empty string', { file, offset: sec.strStart });
  }
  if (strBytes.length > 0 && strBytes[strBytes.length - 1] !== 0) {
    throw new BtfError('BTF string section does not end with a NUL byte', { file, offset: sec.strEnd - 1 });
  }
  const strings = makeStrings(strBytes, strStart, base?.strings, file);

  const firstId = base === undefined ? 1 : base.types.length;
  const types: BtfType[] = base === undefined ? [{ kind: 'void', id: 0, name: '' }] : base.types.slice();
  const recordOffsets: number[] = [];

  let at = sec.typeStart;
  const end = sec.typeEnd;
  const name = (off: number, where: number): string => {
    if (!strings.has(off)) {
      throw new BtfError(`name offset ${off} is outside the string table`, { file, offset: where });
    }
    return strings.get(off);
  };

  while (at < end) {
    const id = types.length;
    const start = at;
    if (end - at < 12) throw new BtfError(`type ${id} record is truncated`, { file, offset: at });
    const nameOff = view.getUint32(at, true);
    const info = view.getUint32(at + 4, true);
    const sizeType = view.getUint32(at + 8, true);
    at += 12;
    const kindNum = (info >>> 24) & 0x1f;
    const kind = KIND_NAMES[kindNum];
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    if (kind === undefined || kindNum === 0) {
      throw new BtfError(`type ${id} has unknown kind ${kindNum}`, { file, offset: start + 4 });
    }
    if ((info & INFO_UNUSED) !== 0) {
      throw new BtfError(
        `type ${id} (${kind}) sets unused info bits 0x${(info & INFO_UNUSED).toString(16)}`,
        {
          file,
          offset: start + 4,
        },
      );
    }
    if (kflag && !KFLAG_KINDS.has(kind)) {
      throw new BtfError(`type ${id} (${kind}) sets kind_flag`, { file, offset: start + 4 });
    }
    if (vlen !== 0 && !VLEN_KINDS.has(kind)) {
      throw new BtfError(`type ${id} (${kind}) has vlen ${vlen}, expected 0`, { file, offset: start + 4 });
    }
    const recLen = trailingSize(kind, vlen);
    if (recLen > end - at) {
      throw new BtfError(
        `type ${id} (${kind}, vlen ${vlen}) needs ${recLen} more bytes, past the end of the type section`,
        { file, offset: start },
      );
    }
    const typeName = name(nameOff, start);
    let t: BtfType;
    switch (kind) {
      case 'int': {
        const enc = view.getUint32(at, true);
        const bits = enc & 0xff;
        const bitOffset = (enc >>> 16) & 0xff;
        if ((enc & 0xf000ff00) !== 0) {
          throw new BtfError(`int type ${id} sets unused encoding bits`, { file, offset: at });
        }
        if (bits > 128 || bits + bitOffset > sizeType * 8) {
          throw new BtfError(
            `int type ${id}: ${bits} bits at offset ${bitOffset} do not fit in ${sizeType} bytes`,
            {
              file,
              offset: at,
            },
          );
        }
        const e = enc >>> 24;
        t = {
          kind,
          id,
          name: typeName,
          size: sizeType,
          signed: (e & 1) !== 0,
          char: (e & 2) !== 0,
          bool: (e & 4) !== 0,
          bits,
          bitOffset,
        };
        break;
      }
      case 'ptr':
      case 'typedef':
        t = { kind, id, name: typeName, type: sizeType };
        break;
      case 'volatile':
      case 'const':
      case 'restrict':
        t = { kind, id, name: typeName, type: sizeType };
        break;
      case 'type_tag':
        t = { kind, id, name: typeName, type: sizeType, attribute: kflag };
        break;
      case 'array':
        requireZero(sizeType, id, kind, start, file);
        t = {
          kind,
          id,
          name: typeName,
          type: view.getUint32(at, true),
          indexType: view.getUint32(at + 4, true),
          nelems: view.getUint32(at + 8, true),
        };
        break;
      case 'struct':
      case 'union': {
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = at + i * 12;
          const off = view.getUint32(m + 8, true);
          members[i] = {
            name: name(view.getUint32(m, true), m),
            type: view.getUint32(m + 4, true),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        t = { kind, id, name: typeName, size: sizeType, kindFlag: kflag, members };
        break;
      }
      case 'enum': {
        const values: BtfEnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = at + i * 8;
          values[i] = {
            name: name(view.getUint32(v, true), v),
            value: kflag ? view.getInt32(v + 4, true) : view.getUint32(v + 4, true),
          };
        }
        t = { kind, id, name: typeName, size: sizeType, signed: kflag, values };
        break;
      }
      case 'enum64': {
        const values: BtfEnum64Value[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = at + i * 12;
          const lo = BigInt(view.getUint32(v + 4, true));
          const hi = BigInt(view.getUint32(v + 8, true));
          const raw = (hi << 32n) | lo;
          values[i] = { name: name(view.getUint32(v, true), v), value: kflag ? BigInt.asIntN(64, raw) : raw };
        }
        t = { kind, id, name: typeName, size: sizeType, signed: kflag, values };
        break;
      }
      case 'fwd':
        requireZero(sizeType, id, kind, start, file);
        t = { kind, id, name: typeName, fwdKind: kflag ? 'union' : 'struct' };
        break;
      case 'func': {
        const linkage = LINKAGES[vlen];
        if (linkage === undefined) {
          throw new BtfError(`func type ${id} has unknown linkage ${vlen}`, { file, offset: start + 4 });
        }
        t = { kind, id, name: typeName, type: sizeType, linkage };
        break;
      }
      case 'func_proto': {
        const params: BtfParam[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const p = at + i * 8;
          params[i] = { name: name(view.getUint32(p, true), p), type: view.getUint32(p + 4, true) };
        }
        t = { kind, id, name: typeName, returnType: sizeType, params };
        break;
      }
      case 'var': {
        const linkage = LINKAGES[view.getUint32(at, true)];
        if (linkage === undefined) {
          throw new BtfError(`var type ${id} has unknown linkage ${view.getUint32(at, true)}`, {
            file,
            offset: at,
          });
        }
        t = { kind, id, name: typeName, type: sizeType, linkage };
        break;
      }
      case 'datasec': {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = at + i * 12;
          vars[i] = {
            type: view.getUint32(v, true),
            offset: view.getUint32(v + 4, true),
            size: view.getUint32(v + 8, true),
          };
        }
        t = { kind, id, name: typeName, size: sizeType, vars };
        break;
      }
      case 'float':
        t = { kind, id, name: typeName, size: sizeType };
        break;
      case 'decl_tag': {
        const componentIdx = view.getInt32(at, true);
        if (componentIdx < -1) {
          throw new BtfError(`decl_tag type ${id} has component_idx ${componentIdx}`, { file, offset: at });
        }
        t = { kind, id, name: typeName, type: sizeType, componentIdx, attribute: kflag };
        break;
      }
      default:
        throw new BtfError(`type ${id} has unsupported kind ${kind}`, { file, offset: start + 4 });
    }
    at += recLen;
    types.push(t);
    recordOffsets.push(start);
  }

  checkTypes(types, firstId, (id) => ({ file, offset: recordOffsets[id - firstId] }));
  return makeBtf({ types, firstId, base, strings, file });
}

function requireZero(
  sizeType: number,
  id: number,
  kind: BtfKindName,
  start: number,
  file: string | undefined,
): void {
  if (sizeType !== 0) {
    throw new BtfError(`type ${id} (${kind}) has non-zero size/type field ${sizeType}`, {
      file,
      offset: start + 8,
    });
  }
}

/** Bytes that follow the 12-byte `btf_type` for a type of `kind` with `vlen`. */
export function trailingSize(kind: BtfKindName, vlen: number): number {
  switch (kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 4;
    case 'array':
      return 12;
    case 'struct':
    case 'union':
    case 'datasec':
    case 'enum64':
      return 12 * vlen;
    case 'enum':
    case 'func_proto':
      return 8 * vlen;
    default:
      return 0;
  }
}
