/**
 * Program commands of bpf(): load, test run, bind a map, query attached programs.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import {
  checkFd,
  checkU32,
  cString,
  newAttrScratch,
  PROG_ATTACH_ATTR,
  PROG_BIND_MAP_ATTR,
  PROG_LOAD_ATTR,
  PROG_QUERY_ATTR,
  PROG_TEST_RUN_ATTR,
  putObjName,
  putPointer,
  putS32,
  putU32,
} from './attr.js';
import { BpfCmd, bpf } from './bpf.js';
import { BPF_F_TOKEN_FD, BPF_INSN_SIZE } from './consts.js';

/** `func_info` or `line_info` records for `BPF_PROG_LOAD`: `count` records of `recSize` bytes in `bytes`. */
export interface BtfExtRecords {
  bytes: Uint8Array;
  recSize: number;
  count: number;
}

/** Filled by {@link progLoad} and `btfLoad` whether the call succeeded or not. */
export interface LoadLogResult {
  /**
   * Bytes the whole verifier log needs, NUL included (`log_true_size`, kernel 6.4+; 0 on older kernels).
   * When a load fails with `ENOSPC` the log buffer was too small: retry with this size.
   */
  logTrueSize: number;
}

/** Options of {@link progLoad}; field names follow `BPF_PROG_LOAD`. */
export interface ProgLoadOptions {
  /** A {@link ProgType} value. */
  type: number;
  /** An {@link AttachType} value (0 when the program type needs none). */
  expectedAttachType?: number;
  /** The instructions, 8 bytes each. */
  insns: Uint8Array;
  license: string;
  /** At most 15 bytes; `''` for none. */
  name?: string;
  kernVersion?: number;
  /** `prog_flags` ({@link ProgFlag} bits). */
  flags?: number;
  /** 0 = no log, 1 = on failure, 2 = everything; 4 adds statistics. */
  logLevel?: number;
  /** Receives the verifier log as a NUL-terminated string. Required when `logLevel` is not 0. */
  logBuf?: Uint8Array;
  btfFd?: number;
  funcInfo?: BtfExtRecords;
  lineInfo?: BtfExtRecords;
  attachBtfId?: number;
  /** FD of the BTF object (vmlinux or a module) `attachBtfId` belongs to. Exclusive with `attachProgFd`. */
  attachBtfObjFd?: number;
  /** FD of the program an extension (freplace) or fentry/fexit targets. Exclusive with `attachBtfObjFd`. */
  attachProgFd?: number;
  ifindex?: number;
  /** FDs (maps, module BTFs) the instructions refer to by index. */
  fdArray?: Int32Array;
  /** A BPF token FD; when `>= 0` it goes into `prog_token_fd` and `BPF_F_TOKEN_FD` into `prog_flags`. */
  tokenFd?: number;
  /** Receives `log_true_size`. */
  result?: LoadLogResult;
}

const loadAttr = newAttrScratch(PROG_LOAD_ATTR.size);

function putRecords(a: Buffer, records: BtfExtRecords | undefined, kind: 'func_info' | 'line_info'): void {
  if (records === undefined || records.count === 0) return;
  const F = PROG_LOAD_ATTR.fields;
  const [recSize, ptr, cnt] =
    kind === 'func_info'
      ? [F.func_info_rec_size, F.func_info, F.func_info_cnt]
      : [F.line_info_rec_size, F.line_info, F.line_info_cnt];
  checkU32(records.recSize, `${kind} record size`);
  checkU32(records.count, `${kind} count`);
  if (records.bytes.length < records.recSize * records.count) {
    throw new OptionError(
      `${kind}: ${records.count} records of ${records.recSize} bytes need ${records.recSize * records.count} bytes, got ${records.bytes.length}`,
      { option: kind },
    );
  }
  a.writeUInt32LE(records.recSize, recSize.offset);
  a.writeUInt32LE(records.count, cnt.offset);
  putPointer(a, ptr, records.bytes);
}

/**
 * `BPF_PROG_LOAD`: loads a program and returns its FD (close-on-exec). Throws {@link BpfError} with the
 * kernel's errno on failure (`EACCES`/`EINVAL` when the verifier rejects it; the log is then in `logBuf`).
 */
export function progLoad(opts: ProgLoadOptions): number {
  const F = PROG_LOAD_ATTR.fields;
  const a = loadAttr.buf;
  const name = opts.name ?? '';
  a.fill(0);
  if (opts.insns.length === 0 || opts.insns.length % BPF_INSN_SIZE !== 0) {
    throw new OptionError(`program '${name}': instructions must be a non-empty multiple of 8 bytes`, {
      option: 'insns',
    });
  }
  if (opts.attachBtfObjFd !== undefined && opts.attachProgFd !== undefined) {
    throw new OptionError(`program '${name}': attachBtfObjFd and attachProgFd share one field; give one`, {
      option: 'attachProgFd',
    });
  }
  const license = cString(opts.license, 'license');
  let flags = checkU32(opts.flags ?? 0, 'program flags');
  putU32(a, F.prog_type, opts.type, 'program type');
  a.writeUInt32LE(opts.insns.length / BPF_INSN_SIZE, F.insn_cnt.offset);
  putPointer(a, F.insns, opts.insns);
  putPointer(a, F.license, license);
  const logLevel = checkU32(opts.logLevel ?? 0, 'log level');
  if (logLevel !== 0) {
    if (opts.logBuf === undefined || opts.logBuf.length < 128) {
      throw new OptionError(`program '${name}': a log level needs a log buffer of at least 128 bytes`, {
        option: 'logBuf',
      });
    }
    a.writeUInt32LE(logLevel, F.log_level.offset);
    putU32(a, F.log_size, opts.logBuf.length, 'log buffer size');
    putPointer(a, F.log_buf, opts.logBuf);
  }
  putU32(a, F.kern_version, opts.kernVersion ?? 0, 'kernel version');
  putObjName(a, F.prog_name, name, 'program name');
  putU32(a, F.prog_ifindex, opts.ifindex ?? 0, 'ifindex');
  putU32(a, F.expected_attach_type, opts.expectedAttachType ?? 0, 'expected attach type');
  if (opts.btfFd !== undefined && opts.btfFd >= 0)
    putU32(a, F.prog_btf_fd, checkFd(opts.btfFd, 'BTF FD'), 'fd');
  putRecords(a, opts.funcInfo, 'func_info');
  putRecords(a, opts.lineInfo, 'line_info');
  putU32(a, F.attach_btf_id, opts.attachBtfId ?? 0, 'attach BTF id');
  const attachFd = opts.attachProgFd ?? opts.attachBtfObjFd;
  if (attachFd !== undefined && attachFd >= 0)
    putU32(a, F.attach_prog_fd, checkFd(attachFd, 'attach FD'), 'fd');
  if (opts.fdArray !== undefined && opts.fdArray.length > 0) {
    putPointer(
      a,
      F.fd_array,
      new Uint8Array(opts.fdArray.buffer, opts.fdArray.byteOffset, opts.fdArray.byteLength),
    );
  }
  if (opts.tokenFd !== undefined && opts.tokenFd >= 0) {
    putS32(a, F.prog_token_fd, checkFd(opts.tokenFd, 'token FD'), 'token FD');
    flags |= BPF_F_TOKEN_FD;
  }
  a.writeUInt32LE(flags >>> 0, F.prog_flags.offset);
  try {
    return bpf(
      BpfCmd.PROG_LOAD,
      a,
      PROG_LOAD_ATTR.size,
      name === '' ? `program of type ${opts.type}` : `program '${name}'`,
    );
  } finally {
    if (opts.result !== undefined) opts.result.logTrueSize = a.readUInt32LE(F.log_true_size.offset);
  }
}

/** Inputs of {@link progTestRun}. Buffers left out are not passed. */
export interface ProgTestRunOptions {
  /** Packet (or other data) given to the program. */
  dataIn?: Uint8Array;
  /** Receives the data after the run. */
  dataOut?: Uint8Array;
  /** Context given to the program (e.g. `struct __sk_buff`, or raw tracepoint arguments). */
  ctxIn?: Uint8Array;
  /** Receives the context after the run. */
  ctxOut?: Uint8Array;
  /** Runs, for a timing average (0 counts as 1). */
  repeat?: number;
  /** {@link TestRunFlag} bits. */
  flags?: number;
  /** With `TestRunFlag.RUN_ON_CPU`: the CPU to run on. */
  cpu?: number;
  /** For XDP live frames: packets per batch. */
  batchSize?: number;
}

/** What {@link progTestRun} reports. */
export interface ProgTestRunResult {
  /** The program's return value (`r0`). */
  retval: number;
  /** Average run time in nanoseconds. */
  duration: number;
  /** Bytes written to `dataOut` (the full size, which may exceed the buffer when it was too small). */
  dataSizeOut: number;
  /** Bytes written to `ctxOut`. */
  ctxSizeOut: number;
}

const testAttr = newAttrScratch(PROG_TEST_RUN_ATTR.size);

/** `BPF_PROG_TEST_RUN`: runs a loaded program once (or `repeat` times) on the given input. */
export function progTestRun(progFd: number, opts: ProgTestRunOptions = {}): ProgTestRunResult {
  const F = PROG_TEST_RUN_ATTR.fields;
  const a = testAttr.buf;
  a.fill(0);
  putU32(a, F.prog_fd, checkFd(progFd, 'program FD'), 'program FD');
  if (opts.dataIn !== undefined) {
    a.writeUInt32LE(opts.dataIn.length, F.data_size_in.offset);
    putPointer(a, F.data_in, opts.dataIn);
  }
  if (opts.dataOut !== undefined) {
    a.writeUInt32LE(opts.dataOut.length, F.data_size_out.offset);
    putPointer(a, F.data_out, opts.dataOut);
  }
  if (opts.ctxIn !== undefined) {
    a.writeUInt32LE(opts.ctxIn.length, F.ctx_size_in.offset);
    putPointer(a, F.ctx_in, opts.ctxIn);
  }
  if (opts.ctxOut !== undefined) {
    a.writeUInt32LE(opts.ctxOut.length, F.ctx_size_out.offset);
    putPointer(a, F.ctx_out, opts.ctxOut);
  }
  putU32(a, F.repeat, opts.repeat ?? 0, 'repeat');
  putU32(a, F.flags, opts.flags ?? 0, 'test run flags');
  putU32(a, F.cpu, opts.cpu ?? 0, 'cpu');
  putU32(a, F.batch_size, opts.batchSize ?? 0, 'batch size');
  bpf(BpfCmd.PROG_TEST_RUN, a, PROG_TEST_RUN_ATTR.size, `program fd ${progFd}`);
  return {
    retval: a.readUInt32LE(F.retval.offset),
    duration: a.readUInt32LE(F.duration.offset),
    dataSizeOut: a.readUInt32LE(F.data_size_out.offset),
    ctxSizeOut: a.readUInt32LE(F.ctx_size_out.offset),
  };
}

const bindAttr = newAttrScratch(PROG_BIND_MAP_ATTR.size);

/** `BPF_PROG_BIND_MAP`: keeps `mapFd`'s map alive as long as the program (e.g. `.rodata` read via BTF). */
export function progBindMap(progFd: number, mapFd: number): void {
  const F = PROG_BIND_MAP_ATTR.fields;
  const a = bindAttr.buf;
  a.fill(0);
  putU32(a, F.prog_fd, checkFd(progFd, 'program FD'), 'program FD');
  putU32(a, F.map_fd, checkFd(mapFd, 'map FD'), 'map FD');
  bpf(BpfCmd.PROG_BIND_MAP, a, PROG_BIND_MAP_ATTR.size, `program fd ${progFd}, map fd ${mapFd}`);
}

/** Options of {@link progAttach}. */
export interface ProgAttachOptions {
  /** {@link AttachFlag} bits (`ALLOW_MULTI`, `REPLACE`, `BEFORE`, ...). */
  flags?: number;
  /** With `AttachFlag.REPLACE`: the program to replace. */
  replaceProgFd?: number;
  /** With `BEFORE`/`AFTER`: the FD (or with `AttachFlag.ID`, the id) of the program to place next to. */
  relativeFdOrId?: number;
  /** Fail with `ESTALE` unless the attach point is at this revision (0: do not check). */
  expectedRevision?: bigint;
}

const attachAttr = newAttrScratch(PROG_ATTACH_ATTR.size);

function fillAttach(target: number, progFd: number, attachType: number, opts: ProgAttachOptions): Buffer {
  const F = PROG_ATTACH_ATTR.fields;
  const a = attachAttr.buf;
  a.fill(0);
  putU32(a, F.target_fd, checkU32(target, 'attach target'), 'attach target');
  putU32(a, F.attach_bpf_fd, progFd, 'program FD');
  putU32(a, F.attach_type, attachType, 'attach type');
  putU32(a, F.attach_flags, opts.flags ?? 0, 'attach flags');
  if (opts.replaceProgFd !== undefined)
    putU32(a, F.replace_bpf_fd, opts.replaceProgFd, 'replaced program FD');
  if (opts.relativeFdOrId !== undefined) putU32(a, F.relative_fd, opts.relativeFdOrId, 'relative FD or id');
  if (opts.expectedRevision !== undefined)
    a.writeBigUInt64LE(opts.expectedRevision, F.expected_revision.offset);
  return a;
}

/**
 * `BPF_PROG_ATTACH`: attaches a program to `target` (a cgroup FD, a sockmap FD, a netns FD for flow
 * dissectors, or an ifindex for tcx) without a link.
 */
export function progAttach(
  target: number,
  progFd: number,
  attachType: number,
  opts: ProgAttachOptions = {},
): void {
  const a = fillAttach(target, checkFd(progFd, 'program FD'), attachType, opts);
  bpf(BpfCmd.PROG_ATTACH, a, PROG_ATTACH_ATTR.size, `program fd ${progFd} to target ${target}`);
}

/** `BPF_PROG_DETACH`: undoes {@link progAttach}. `progFd` may be 0 where the attach point holds one program. */
export function progDetach(
  target: number,
  progFd: number,
  attachType: number,
  opts: ProgAttachOptions = {},
): void {
  const a = fillAttach(target, checkU32(progFd, 'program FD'), attachType, opts);
  bpf(BpfCmd.PROG_DETACH, a, PROG_ATTACH_ATTR.size, `program fd ${progFd} from target ${target}`);
}

/** What {@link progQuery} found at an attach point. */
export interface ProgQueryResult {
  /** Attach flags of the attach point (cgroup: `ALLOW_OVERRIDE`/`ALLOW_MULTI`). */
  attachFlags: number;
  /** Ids of the attached programs, in order. */
  progIds: number[];
  /** Ids of the links holding them (0 for programs attached without a link), when the kernel reports them. */
  linkIds: number[];
  /** Revision of the attach point (tcx, netkit, cgroup on 6.14+). */
  revision: bigint;
}

const queryAttr = newAttrScratch(PROG_QUERY_ATTR.size);

/**
 * `BPF_PROG_QUERY`: lists the programs attached at `target` for `attachType`, up to `max` of them.
 * `queryFlags` may be `QUERY_EFFECTIVE` for cgroups.
 */
export function progQuery(target: number, attachType: number, queryFlags = 0, max = 64): ProgQueryResult {
  const F = PROG_QUERY_ATTR.fields;
  const a = queryAttr.buf;
  const ids = new Uint32Array(checkU32(max, 'max programs'));
  const links = new Uint32Array(max);
  a.fill(0);
  putU32(a, F.target_fd, checkU32(target, 'query target'), 'query target');
  putU32(a, F.attach_type, attachType, 'attach type');
  putU32(a, F.query_flags, queryFlags, 'query flags');
  putPointer(a, F.prog_ids, new Uint8Array(ids.buffer));
  a.writeUInt32LE(max, F.prog_cnt.offset);
  putPointer(a, F.link_ids, new Uint8Array(links.buffer));
  bpf(BpfCmd.PROG_QUERY, a, PROG_QUERY_ATTR.size, `target ${target}, attach type ${attachType}`);
  const count = Math.min(a.readUInt32LE(F.prog_cnt.offset), max);
  return {
    attachFlags: a.readUInt32LE(F.attach_flags.offset),
    progIds: Array.from(ids.subarray(0, count)),
    linkIds: Array.from(links.subarray(0, count)),
    revision: a.readBigUInt64LE(F.revision.offset),
  };
}
