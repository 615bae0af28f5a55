/**
 * Recording the bpf() calls a piece of code makes, through the syscall layer's trace hook.
 *
 * @module
 */
import { setBpfTraceHook } from '../../src/runtime/sys/bpf.js';

/** One bpf() call: its command, a copy of its attr, and its result (-1 when it failed). */
export interface BpfCall {
  readonly cmd: number;
  readonly attr: Buffer;
  readonly result: number;
}

/** The bpf() calls `run` makes, in order. The previous hook is back afterwards, also when `run` throws. */
export function bpfCallsDuring(run: () => void): BpfCall[] {
  const calls: BpfCall[] = [];
  const previous = setBpfTraceHook((cmd, attr, _size, result) => {
    calls.push({ cmd, attr: Buffer.from(attr), result });
  });
  try {
    run();
  } finally {
    setBpfTraceHook(previous);
  }
  return calls;
}
