/**
 * The bpf(2) system call: one checked entry point for every command.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import { errnoDescription, errnoName } from './errno.js';
import { errno, syscall3, syscall3p, syscallNumbers } from './libc.js';

/** Syscall number of bpf(2) on this architecture. */
const SYS_bpf = syscallNumbers.bpf;

/** bpf() command numbers (`enum bpf_cmd` of the kernel UAPI). */
export const BpfCmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
  PROG_STREAM_READ_BY_FD: 37,
} as const;

/** A bpf() command number. */
export type BpfCmdValue = (typeof BpfCmd)[keyof typeof BpfCmd];

const CMD_NAMES: string[] = [];
for (const [name, value] of Object.entries(BpfCmd)) CMD_NAMES[value] = `BPF_${name}`;

/** `'BPF_MAP_CREATE'` for 0. */
export function bpfCmdName(cmd: number): string {
  return CMD_NAMES[cmd] ?? `bpf cmd ${cmd}`;
}

/** Observer of every bpf() call, for tests and debug logs. Called after the syscall returns. */
export type BpfTraceHook = (cmd: number, attr: Buffer, size: number, result: number, errno: number) => void;

let traceHook: BpfTraceHook | undefined;

/** Installs (or with `undefined`, removes) the hook that sees every bpf() call. Returns the previous one. */
export function setBpfTraceHook(hook: BpfTraceHook | undefined): BpfTraceHook | undefined {
  const previous = traceHook;
  traceHook = hook;
  return previous;
}

/**
 * Decides whether a bpf() call fails without reaching the kernel: returns a positive errno to make the call
 * fail with it, or 0 to let it through. For fault-injection tests of the paths that clean up after a failure.
 */
export type BpfFaultHook = (cmd: number, attr: Buffer, size: number) => number;

let faultHook: BpfFaultHook | undefined;

/**
 * Installs (or with `undefined`, removes) the fault-injection hook consulted before every bpf() call.
 * Returns the previous one. A call the hook fails is still reported to the trace hook, with result -1.
 */
export function setBpfFaultHook(hook: BpfFaultHook | undefined): BpfFaultHook | undefined {
  const previous = faultHook;
  faultHook = hook;
  return previous;
}

/**
 * Calls bpf(cmd, attr, size) and returns its non-negative result, or `-errno` when it failed. For callers
 * that branch on the errno (probes, iteration ends) without paying for an exception.
 */
export function bpfRaw(cmd: BpfCmdValue, attr: Buffer, size: number): number {
  if (faultHook !== undefined) {
    const injected = faultHook(cmd, attr, size);
    if (injected > 0) {
      if (traceHook !== undefined) traceHook(cmd, attr, size, -1, injected);
      return -injected;
    }
  }
  let ret: number;
  let err = 0;
  // EINTR, and EAGAIN from a PROG_LOAD interrupted during verification, are worth a few more tries.
  for (let attempt = 0; ; attempt++) {
    ret = syscall3p(SYS_bpf, cmd, attr, size);
    if (ret >= 0) break;
    err = errno();
    const transient = err === 4 || (err === 11 && cmd === BpfCmd.PROG_LOAD);
    if (!transient || attempt >= 5) break;
  }
  if (traceHook !== undefined) traceHook(cmd, attr, size, ret, err);
  return ret < 0 ? -err : ret;
}

/**
 * {@link bpfRaw} for a long-lived attr buffer whose address the caller has looked up once (see
 * `addressOf`): the hot path of map element access, which saves koffi finding the buffer's address on every
 * call. Hooks, EINTR retries and errors behave as in {@link bpfRaw}.
 */
export function bpfRawAt(cmd: BpfCmdValue, attr: Buffer, address: number, size: number): number {
  if (faultHook !== undefined || traceHook !== undefined) return bpfRaw(cmd, attr, size);
  const ret = syscall3(SYS_bpf, cmd, address, size);
  if (ret >= 0) return ret;
  const err = errno();
  return err === 4 ? bpfRaw(cmd, attr, size) : -err;
}

/**
 * Calls bpf(cmd, attr, size) and returns its result (an FD, or 0). Throws {@link BpfError} with the command
 * name and errno on failure; `what` says which object the call was about, for the message.
 */
export function bpf(cmd: BpfCmdValue, attr: Buffer, size: number, what?: string): number {
  const ret = bpfRaw(cmd, attr, size);
  if (ret < 0) throw bpfFailure(cmd, -ret, what);
  return ret;
}

/** The error for a failed bpf() command. */
export function bpfFailure(cmd: number, err: number, what?: string): BpfError {
  const name = bpfCmdName(cmd);
  const code = errnoName(err);
  const subject = what === undefined ? '' : ` (${what})`;
  return new BpfError(`${name}${subject} failed: ${code} (${errnoDescription(err)})`, {
    code,
    errno: err,
    command: name,
  });
}
