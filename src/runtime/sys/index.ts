/**
 * The syscall layer: typed, checked wrappers over bpf() and the other system calls the loader needs. The
 * only part of bpf-skel that talks to koffi.
 *
 * @module
 */
export * from './attr.js';
export {
  BpfCmd,
  type BpfCmdValue,
  type BpfTraceHook,
  bpf,
  bpfCmdName,
  bpfFailure,
  bpfRaw,
  setBpfTraceHook,
} from './bpf.js';
export * from './btf.js';
export * from './consts.js';
export * from './cpus.js';
export * from './epoll.js';
export { Errno, errnoDescription, errnoName, syscallFailure } from './errno.js';
export * from './fd.js';
export * from './info.js';
export * from './link.js';
export * from './map.js';
export * from './mmap.js';
export * from './perf.js';
export * from './prog.js';
