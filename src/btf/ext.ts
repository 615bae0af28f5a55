/**
 * Parser of `.BTF.ext`: per-ELF-section function info, line info and CO-RE relocation records, whose
 * strings and type ids refer to the object's `.BTF`.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import type { Btf } from './types.js';

/** `btf_ext_header.magic` (same as BTF). */
const BTF_EXT_MAGIC = 0xeb9f;
/** Header size without, and with, the CO-RE relocation fields. */
const HEADER_MIN = 24;
const HEADER_CORE = 32;
const FUNC_INFO_MIN = 8;
const LINE_INFO_MIN = 16;
const CORE_RELO_MIN = 16;

/** What a CO-RE relocation computes (`enum bpf_core_relo_kind`). */
export type BtfCoreReloKind =
  | 'field_byte_offset'
  | 'field_byte_size'
  | 'field_exists'
  | 'field_signed'
  | 'field_lshift_u64'
  | 'field_rshift_u64'
  | 'type_id_local'
  | 'type_id_target'
  | 'type_exists'
  | 'type_size'
  | 'enumval_exists'
  | 'enumval_value'
  | 'type_matches';

/** Numeric values of {@link BtfCoreReloKind} (`BPF_CORE_*`). */
export const BtfCoreReloKinds = {
  field_byte_offset: 0,
  field_byte_size: 1,
  field_exists: 2,
  field_signed: 3,
  field_lshift_u64: 4,
  field_rshift_u64: 5,
  type_id_local: 6,
  type_id_target: 7,
  type_exists: 8,
  type_size: 9,
  enumval_exists: 10,
  enumval_value: 11,
  type_matches: 12,
} as const satisfies Record<BtfCoreReloKind, number>;

const CORE_KIND_NAMES = Object.keys(BtfCoreReloKinds) as BtfCoreReloKind[];

/** A `bpf_func_info` record: the function starting at `insnOff`. */
export interface BtfFuncInfo {
  /** Byte offset of the function's first instruction within its ELF section (as clang stores it). */
  readonly insnOff: number;
  /** Id of the `func` type. */
  readonly typeId: number;
}

/** A `bpf_line_info` record. */
export interface BtfLineInfo {
  /** Byte offset of the instruction within its ELF section. */
  readonly insnOff: number;
  /** String-table offsets of the file name and source line (the kernel wants these offsets). */
  readonly fileNameOff: number;
  readonly lineOff: number;
  readonly fileName: string;
  readonly line: string;
  readonly lineNum: number;
  readonly column: number;
}

/** A `bpf_core_relo` record. */
export interface BtfCoreRelo {
  /** Byte offset of the relocated instruction within its ELF section. */
  readonly insnOff: number;
  /** Local (object BTF) type id the relocation is about. */
  readonly typeId: number;
  readonly accessStrOff: number;
  /** The access string, e.g. `'0:1:2'`. */
  readonly accessStr: string;
  /** The access string's indices (`'0:1:2'` gives `[0, 1, 2]`). */
  readonly access: readonly number[];
  readonly kind: BtfCoreReloKind;
}

/** Records of one kind for one ELF section. */
export interface BtfExtSection<R> {
  /** ELF section name (e.g. `'tracepoint/syscalls/sys_enter_write'`, `'.text'`). */
  readonly section: string;
  readonly records: readonly R[];
}

/** A parsed `.BTF.ext`. Each list keeps the order of the file; a section appears at most once per list. */
export interface BtfExt {
  readonly funcInfo: readonly BtfExtSection<BtfFuncInfo>[];
  readonly lineInfo: readonly BtfExtSection<BtfLineInfo>[];
  readonly coreRelo: readonly BtfExtSection<BtfCoreRelo>[];
  /** Record sizes declared in the file (0 for an absent subsection). */
  readonly funcInfoRecSize: number;
  readonly lineInfoRecSize: number;
  readonly coreReloRecSize: number;
}

interface Ctx {
  view: DataView;
  btf: Btf;
  file: string | undefined;
}

/**
 * Parses a `.BTF.ext` section against the object's parsed `.BTF`: section names, file names, lines and
 * access strings are looked up in `btf`'s string table; func_info type ids must name `func` types and
 * CO-RE type ids must exist.
 *
 * @throws BtfError with the offset (within `bytes`) of the first problem
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, opts: { file?: string } = {}): BtfExt {
  const file = opts.file ?? btf.file;
  const loc = (offset: number) => ({ file, section: '.BTF.ext', offset });
  if (bytes.length < HEADER_MIN) {
    throw new BtfError(`truncated BTF.ext header: ${bytes.length} bytes, need ${HEADER_MIN}`, loc(0));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  if (magic !== BTF_EXT_MAGIC) {
    const hint = magic === 0x9feb ? ' (big-endian BTF.ext is not supported)' : '';
    throw new BtfError(`bad BTF.ext magic 0x${magic.toString(16)}, expected 0xeb9f${hint}`, loc(0));
  }
  if (bytes[2] !== 1) throw new BtfError(`unsupported BTF.ext version ${bytes[2]}`, loc(2));
  if (bytes[3] !== 0) throw new BtfError(`unsupported BTF.ext flags 0x${bytes[3].toString(16)}`, loc(3));
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < HEADER_MIN || hdrLen > bytes.length) {
    throw new BtfError(`BTF.ext hdr_len ${hdrLen} is out of range (${HEADER_MIN}..${bytes.length})`, loc(4));
  }
  const ctx: Ctx = { view, btf, file };

  const sub = (fieldAt: number, name: string, minRec: number) => {
    const off = view.getUint32(fieldAt, true);
    const len = view.getUint32(fieldAt + 4, true);
    if (len === 0) return undefined;
    const dataLen = bytes.length - hdrLen;
    if (off > dataLen || len > dataLen - off) {
      throw new BtfError(
        `BTF.ext ${name} subsection (offset ${off}, length ${len}) runs past the end (${dataLen} bytes)`,
        loc(fieldAt),
      );
    }
    if (len < 4)
      throw new BtfError(`BTF.ext ${name} subsection is too short for its record size`, loc(fieldAt));
    const start = hdrLen + off;
    const recSize = view.getUint32(start, true);
    if (recSize < minRec || recSize % 4 !== 0) {
      throw new BtfError(
        `BTF.ext ${name} record size ${recSize} is invalid (at least ${minRec}, multiple of 4)`,
        loc(start),
      );
    }
    return { start: start + 4, end: start + len, recSize };
  };

  const fi = sub(8, 'func_info', FUNC_INFO_MIN);
  const li = sub(16, 'line_info', LINE_INFO_MIN);
  const cr = hdrLen >= HEADER_CORE ? sub(24, 'core_relo', CORE_RELO_MIN) : undefined;

  const funcInfo = fi === undefined ? [] : readSections(ctx, 'func_info', fi, (at) => readFuncInfo(ctx, at));
  const lineInfo = li === undefined ? [] : readSections(ctx, 'line_info', li, (at) => readLineInfo(ctx, at));
  const coreRelo = cr === undefined ? [] : readSections(ctx, 'core_relo', cr, (at) => readCoreRelo(ctx, at));
  return {
    funcInfo,
    lineInfo,
    coreRelo,
    funcInfoRecSize: fi?.recSize ?? 0,
    lineInfoRecSize: li?.recSize ?? 0,
    coreReloRecSize: cr?.recSize ?? 0,
  };
}

function stringAt(ctx: Ctx, offset: number, what: string, at: number): string {
  if (!ctx.btf.strings.has(offset)) {
    throw new BtfError(`${what} string offset ${offset} is outside the BTF string table`, {
      file: ctx.file,
      section: '.BTF.ext',
      offset: at,
    });
  }
  return ctx.btf.strings.get(offset);
}

function readSections<R>(
  ctx: Ctx,
  name: string,
  sub: { start: number; end: number; recSize: number },
  read: (at: number) => R,
): BtfExtSection<R>[] {
  const out: BtfExtSection<R>[] = [];
  const seen = new Map<string, R[]>();
  let at = sub.start;
  while (at < sub.end) {
    if (sub.end - at < 8) {
      throw new BtfError(`truncated ${name} section header`, {
        file: ctx.file,
        section: '.BTF.ext',
        offset: at,
      });
    }
    const section = stringAt(ctx, ctx.view.getUint32(at, true), `${name} section name`, at);
    const count = ctx.view.getUint32(at + 4, true);
    if (count === 0) {
      throw new BtfError(`${name} for section '${section}' has no records`, {
        file: ctx.file,
        section: '.BTF.ext',
        offset: at + 4,
      });
    }
    at += 8;
    if (count > (sub.end - at) / sub.recSize) {
      throw new BtfError(
        `${name} for section '${section}': ${count} records run past the end of the subsection`,
        {
          file: ctx.file,
          section: '.BTF.ext',
          offset: at - 4,
        },
      );
    }
    let records = seen.get(section);
    if (records === undefined) {
      records = [];
      seen.set(section, records);
      out.push({ section, records });
    }
    for (let i = 0; i < count; i++, at += sub.recSize) records.push(read(at));
  }
  return out;
}

function readFuncInfo(ctx: Ctx, at: number): BtfFuncInfo {
  const typeId = ctx.view.getUint32(at + 4, true);
  const t = ctx.btf.types[typeId];
  if (t === undefined || t.kind !== 'func') {
    throw new BtfError(
      `func_info type id ${typeId} is not a func (${t === undefined ? 'no such type' : t.kind})`,
      {
        file: ctx.file,
        section: '.BTF.ext',
        offset: at + 4,
      },
    );
  }
  return { insnOff: ctx.view.getUint32(at, true), typeId };
}

function readLineInfo(ctx: Ctx, at: number): BtfLineInfo {
  const fileNameOff = ctx.view.getUint32(at + 4, true);
  const lineOff = ctx.view.getUint32(at + 8, true);
  const lineCol = ctx.view.getUint32(at + 12, true);
  return {
    insnOff: ctx.view.getUint32(at, true),
    fileNameOff,
    lineOff,
    fileName: stringAt(ctx, fileNameOff, 'line_info file name', at + 4),
    line: stringAt(ctx, lineOff, 'line_info line', at + 8),
    lineNum: lineCol >>> 10,
    column: lineCol & 0x3ff,
  };
}

function readCoreRelo(ctx: Ctx, at: number): BtfCoreRelo {
  const where = (o: number) => ({ file: ctx.file, section: '.BTF.ext', offset: at + o });
  const typeId = ctx.view.getUint32(at + 4, true);
  if (typeId >= ctx.btf.types.length) {
    throw new BtfError(
      `core_relo type id ${typeId} does not exist (${ctx.btf.types.length} types)`,
      where(4),
    );
  }
  const accessStrOff = ctx.view.getUint32(at + 8, true);
  const accessStr = stringAt(ctx, accessStrOff, 'core_relo access', at + 8);
  if (!/^\d+(:\d+)*$/.test(accessStr)) {
    throw new BtfError(`core_relo access string '${accessStr}' is malformed`, where(8));
  }
  const kindNum = ctx.view.getUint32(at + 12, true);
  const kind = CORE_KIND_NAMES[kindNum];
  if (kind === undefined) throw new BtfError(`core_relo has unknown kind ${kindNum}`, where(12));
  return {
    insnOff: ctx.view.getUint32(at, true),
    typeId,
    accessStrOff,
    accessStr,
    access: accessStr.split(':').map(Number),
    kind,
  };
}
