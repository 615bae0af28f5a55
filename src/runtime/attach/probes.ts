/**
 * Attachments through perf events: tracepoints, kprobes, syscall kprobes, uprobes, and programs on perf
 * events the caller opened (sampling, counters).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { BpfError, FeatureMissingError, inContext } from '../../errors.js';
import { type BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { toU64 } from '../sys/attr.js';
import { dupCloexec } from '../sys/fd.js';
import { addressOf } from '../sys/libc.js';
import {
  type PerfEventAttr,
  PerfType,
  perfEventOpen,
  pmuConfigBit,
  pmuType,
  TRACEFS,
  tracepointId,
} from '../sys/perf.js';
import { resolveBinaryPath } from './binary-path.js';
import { functionOffset } from './native-elf.js';
import { attachToPerfEvent } from './perf-link.js';

/** A BPF cookie: a value the program reads with `bpf_get_attach_cookie()`. */
export interface CookieOption {
  /** Default 0. */
  cookie?: bigint;
}

/** Where tracefs may be: its own mount, or under debugfs on older systems. */
const TRACEFS_DIRS = [TRACEFS, '/sys/kernel/debug/tracing'];

function tracepointIdAnywhere(category: string, name: string): number {
  let first: unknown;
  for (const dir of TRACEFS_DIRS) {
    try {
      return tracepointId(category, name, dir);
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

/**
 * Attaches a `tracepoint` program to tracepoint `category:name` (`syscalls`, `sys_enter_getpid`). Needs
 * tracefs mounted (at /sys/kernel/tracing) to read the tracepoint's id.
 */
export function attachTracepoint(
  program: BpfProgram,
  category: string,
  name: string,
  opts: CookieOption = {},
): BpfLink {
  loadedFd(program, 'attach');
  const target = `tracepoint ${category}:${name}`;
  const id = tracepointIdAnywhere(category, name);
  const perfFd = openProbe({ type: PerfType.TRACEPOINT, config: id }, -1, 0, target);
  return attachToPerfEvent(program, perfFd, toU64(opts.cookie ?? 0n, 'cookie'), target);
}

/** Options of {@link attachPerfEvent}. */
export type PerfEventAttachOptions = CookieOption;

/**
 * Attaches a `perf_event` (or tracing-type) program to a perf event the caller opened, e.g. a sampling
 * CPU clock. The link holds its own duplicate of `perfFd`: the caller still owns (and closes) `perfFd`.
 */
export function attachPerfEvent(
  program: BpfProgram,
  perfFd: number,
  opts: PerfEventAttachOptions = {},
): BpfLink {
  loadedFd(program, 'attach');
  const cookie = toU64(opts.cookie ?? 0n, 'cookie');
  return attachToPerfEvent(program, dupCloexec(perfFd), cookie, `perf event fd ${perfFd}`);
}

/** The type of a dynamic probe PMU, or a FeatureMissingError naming the kernel option that provides it. */
function probePmu(pmu: 'kprobe' | 'uprobe'): number {
  try {
    return pmuType(pmu);
  } catch (err) {
    const config = pmu === 'kprobe' ? 'CONFIG_KPROBES' : 'CONFIG_UPROBES';
    const events = pmu === 'kprobe' ? 'CONFIG_KPROBE_EVENTS' : 'CONFIG_UPROBE_EVENTS';
    throw new FeatureMissingError(
      `${pmu}s are not available: the kernel has no ${pmu} PMU (/sys/bus/event_source/devices/${pmu}); it needs ${config} and ${events} (Linux 4.17+)`,
      { code: 'EOPNOTSUPP', command: 'perf_event_open', feature: `${pmu}s (${config})`, cause: err },
    );
  }
}

/** perf_event_open() for a probe, with the probe named in the error. */
function openProbe(attr: PerfEventAttr, pid: number, cpu: number, target: string): number {
  return inContext(target, () => perfEventOpen(attr, pid, cpu));
}

/** Config bit that turns a kprobe or uprobe into a return probe. */
function retprobeBit(pmu: 'kprobe' | 'uprobe'): bigint {
  return 1n << BigInt(pmuConfigBit(pmu, 'retprobe'));
}

/** Options of {@link attachKprobe}. */
export interface KprobeOptions extends CookieOption {
  /** Probe this many bytes into the function. Default 0. */
  offset?: number;
  /** A return probe (kretprobe). Default false. */
  retprobe?: boolean;
}

/** Attaches a `kprobe` program to kernel function `func` (through the kprobe PMU). */
export function attachKprobe(program: BpfProgram, func: string, opts: KprobeOptions = {}): BpfLink {
  loadedFd(program, 'attach');
  const retprobe = opts.retprobe === true;
  const target = `${retprobe ? 'kretprobe' : 'kprobe'} ${func}${opts.offset ? `+${opts.offset}` : ''}`;
  const cookie = toU64(opts.cookie ?? 0n, 'cookie');
  const type = probePmu('kprobe');
  const name = Buffer.from(`${func}\0`, 'utf8');
  const keep = [name];
  const perfFd = openProbe(
    {
      type,
      config: retprobe ? retprobeBit('kprobe') : 0n,
      config1: addressOf(name),
      config2: toU64(opts.offset ?? 0, 'kprobe offset'),
    },
    -1,
    0,
    target,
  );
  keep.length = 0;
  return attachToPerfEvent(program, perfFd, cookie, target);
}

const SYSCALL_PREFIX: Record<string, string> = { x64: '__x64_sys_', arm64: '__arm64_sys_' };

/**
 * The kernel function behind system call `name`: `__x64_sys_<name>` (or the arm64 twin) on kernels with
 * syscall wrappers, else `sys_<name>`.
 */
export function syscallFunction(name: string): string {
  const prefix = SYSCALL_PREFIX[process.arch];
  if (prefix !== undefined) {
    let kallsyms = '';
    try {
      kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    } catch {
      return `${prefix}${name}`;
    }
    if (kallsyms.includes(` ${prefix}${name}\n`)) return `${prefix}${name}`;
  }
  return `sys_${name}`;
}

/** Attaches a `ksyscall` program to system call `name` (`openat`): a kprobe on its kernel entry. */
export function attachKsyscall(
  program: BpfProgram,
  name: string,
  opts: CookieOption & { retprobe?: boolean } = {},
): BpfLink {
  loadedFd(program, 'attach');
  // Without the PMU the symbol lookup is pointless; fail first with the clearer reason.
  probePmu('kprobe');
  return attachKprobe(program, syscallFunction(name), opts);
}

/** Options of {@link attachUprobe}. */
export interface UprobeOptions extends CookieOption {
  /** The executable or library: a path, or a library name such as `libc.so.6`. */
  binary: string;
  /** Function whose entry (plus `offset`) to probe; without it, `offset` is a file offset. */
  func?: string;
  /** Bytes past the function's start, or the file offset when there is no `func`. Default 0. */
  offset?: number | bigint;
  /** A return probe (uretprobe). Default false. */
  retprobe?: boolean;
  /** Only this process (default: every process that runs the binary). */
  pid?: number;
  /** File offset of a USDT semaphore to increment while the probe is attached. */
  refCtrOffset?: number | bigint;
}

/**
 * Attaches a `uprobe` program to a function of an executable or shared library (through the uprobe PMU).
 * The function's file offset comes from the binary's `.symtab` or `.dynsym`.
 */
export function attachUprobe(program: BpfProgram, opts: UprobeOptions): BpfLink {
  loadedFd(program, 'attach');
  const retprobe = opts.retprobe === true;
  const path = resolveBinaryPath(opts.binary);
  const extra = toU64(opts.offset ?? 0, 'uprobe offset');
  const offset = opts.func === undefined ? extra : functionOffset(path, opts.func) + extra;
  const where =
    opts.func === undefined ? `0x${offset.toString(16)}` : `${opts.func}${extra ? `+${extra}` : ''}`;
  const target = `${retprobe ? 'uretprobe' : 'uprobe'} ${path}:${where}${opts.pid === undefined ? '' : ` pid ${opts.pid}`}`;
  const cookie = toU64(opts.cookie ?? 0n, 'cookie');
  const type = probePmu('uprobe');
  let config = retprobe ? retprobeBit('uprobe') : 0n;
  if (opts.refCtrOffset !== undefined) {
    const ref = toU64(opts.refCtrOffset, 'ref_ctr offset');
    if (ref >= 1n << 32n) {
      throw new BpfError(`${target}: ref_ctr offset ${ref} does not fit the PMU's 32 bits`, {
        code: 'EINVAL',
        command: 'perf_event_open',
      });
    }
    config |= ref << 32n;
  }
  const pathBuf = Buffer.from(`${path}\0`, 'utf8');
  const keep = [pathBuf];
  const pid = opts.pid ?? -1;
  const perfFd = openProbe(
    { type, config, config1: addressOf(pathBuf), config2: offset },
    pid,
    pid >= 0 ? -1 : 0,
    target,
  );
  keep.length = 0;
  return attachToPerfEvent(program, perfFd, cookie, target);
}
