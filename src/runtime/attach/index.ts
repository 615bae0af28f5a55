/**
 * Attaching programs: auto-attach by section name, and one function per kind of hook with its options.
 * Every function returns a {@link BpfLink} whose `detach()` undoes the attachment.
 *
 * @module
 */
export { autoAttach } from './auto.js';
export { resolveBinaryPath } from './binary-path.js';
export { attachCgroup, type CgroupOptions } from './cgroup.js';
export { attachIter, BpfIterLink, type CgroupIterOrder, type IterOptions } from './iter.js';
export {
  attachKprobeMulti,
  attachUprobeMulti,
  type KprobeMultiOptions,
  type UprobeMultiOptions,
} from './multi.js';
export { functionOffset, type NativeFunction, readNativeFunctions } from './native-elf.js';
export {
  type Anchor,
  attachNetns,
  attachSkLookup,
  attachSocketFilter,
  attachSockmap,
  attachTcx,
  attachXdp,
  type Interface,
  ifindexOf,
  type Placement,
  type XdpOptions,
} from './net.js';
export {
  attachKprobe,
  attachKsyscall,
  attachPerfEvent,
  attachTracepoint,
  attachUprobe,
  type CookieOption,
  type KprobeOptions,
  type PerfEventAttachOptions,
  syscallFunction,
  type UprobeOptions,
} from './probes.js';
export { attachStructOps, StructOpsLink } from './struct-ops.js';
export { attachTc, destroyTcHook, type TcDirection, TcLink, type TcOptions } from './tc.js';
export { attachFreplace, attachRawTracepoint, attachTracing, programFuncBtfId } from './tracing.js';
export {
  attachUsdt,
  encodeUsdtSpec,
  parseUsdtArgs,
  readUsdtProbes,
  type UsdtArg,
  type UsdtArgLocation,
  UsdtLink,
  type UsdtOptions,
  type UsdtProbe,
} from './usdt.js';
