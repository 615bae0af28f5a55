/**
 * BTF commands of bpf(): load a BTF blob into the kernel, open a kernel BTF object by id.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import {
  BTF_LOAD_ATTR,
  checkFd,
  checkU32,
  newAttrScratch,
  OBJ_ID_ATTR,
  putPointer,
  putS32,
  putU32,
} from './attr.js';
import { BpfCmd, bpf } from './bpf.js';
import { BPF_F_TOKEN_FD } from './consts.js';
import type { LoadLogResult } from './prog.js';

/** Options of {@link btfLoad}. */
export interface BtfLoadOptions {
  /** Receives the BTF verifier log. Required when `logLevel` is not 0. */
  logBuf?: Uint8Array;
  /** 0 = no log, 1 = on failure, 2 = everything. */
  logLevel?: number;
  /** A BPF token FD; when `>= 0` it goes into `btf_token_fd` and `BPF_F_TOKEN_FD` into `btf_flags`. */
  tokenFd?: number;
  /** Receives `btf_log_true_size`. */
  result?: LoadLogResult;
}

const loadAttr = newAttrScratch(BTF_LOAD_ATTR.size);

/** `BPF_BTF_LOAD`: uploads raw BTF (header, types, strings) and returns the BTF object's FD (close-on-exec). */
export function btfLoad(bytes: Uint8Array, opts: BtfLoadOptions = {}): number {
  const F = BTF_LOAD_ATTR.fields;
  const a = loadAttr.buf;
  a.fill(0);
  if (bytes.length === 0) throw new OptionError('BTF to load must not be empty', { option: 'bytes' });
  putPointer(a, F.btf, bytes);
  putU32(a, F.btf_size, bytes.length, 'BTF size');
  const logLevel = checkU32(opts.logLevel ?? 0, 'log level');
  if (logLevel !== 0) {
    if (opts.logBuf === undefined || opts.logBuf.length < 128) {
      throw new OptionError('a BTF log level needs a log buffer of at least 128 bytes', { option: 'logBuf' });
    }
    a.writeUInt32LE(logLevel, F.btf_log_level.offset);
    putU32(a, F.btf_log_size, opts.logBuf.length, 'log buffer size');
    putPointer(a, F.btf_log_buf, opts.logBuf);
  }
  if (opts.tokenFd !== undefined && opts.tokenFd >= 0) {
    putS32(a, F.btf_token_fd, checkFd(opts.tokenFd, 'token FD'), 'token FD');
    a.writeUInt32LE(BPF_F_TOKEN_FD, F.btf_flags.offset);
  }
  try {
    return bpf(BpfCmd.BTF_LOAD, a, BTF_LOAD_ATTR.size, `BTF of ${bytes.length} bytes`);
  } finally {
    if (opts.result !== undefined) opts.result.logTrueSize = a.readUInt32LE(F.btf_log_true_size.offset);
  }
}

const idAttr = newAttrScratch(OBJ_ID_ATTR.size);

/**
 * `BPF_BTF_GET_FD_BY_ID`: opens the BTF object with this id (vmlinux, a module, a loaded program's BTF).
 * With a token (`>= 0`) it goes into `fd_by_id_token_fd` and `BPF_F_TOKEN_FD` into `open_flags` (6.15+).
 */
export function btfGetFdById(id: number, tokenFd = -1): number {
  const F = OBJ_ID_ATTR.fields;
  const a = idAttr.buf;
  a.fill(0);
  putU32(a, F.btf_id, id, 'BTF id');
  if (tokenFd >= 0) {
    putS32(a, F.fd_by_id_token_fd, checkFd(tokenFd, 'token FD'), 'token FD');
    a.writeUInt32LE(BPF_F_TOKEN_FD, F.open_flags.offset);
  }
  return bpf(BpfCmd.BTF_GET_FD_BY_ID, a, OBJ_ID_ATTR.size, `BTF id ${id}`);
}
