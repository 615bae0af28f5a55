/**
 * perf_event_open(2) with `struct perf_event_attr` laid out from the kernel's BTF, the perf ioctls bpf-skel
 * needs, and the sysfs/tracefs ids that name events.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { BpfError, OptionError } from '../../errors.js';
import {
  checkFd,
  checkS32,
  checkU32,
  newAttrScratch,
  PERF_EVENT_ATTR_LAYOUT,
  putU32,
  putU64,
} from './attr.js';
import { Errno, syscallFailure } from './errno.js';
import { addressOf, cIoctl, errno, syscall5, syscallNumbers } from './libc.js';

/** `perf_event_attr.type` values (`enum perf_type_id`). */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

/** Software event configs (`enum perf_sw_ids`). */
export const PerfSwConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5,
  PAGE_FAULTS_MAJ: 6,
  ALIGNMENT_FAULTS: 7,
  EMULATION_FAULTS: 8,
  DUMMY: 9,
  BPF_OUTPUT: 10,
  CGROUP_SWITCHES: 11,
} as const;

/** `PERF_SAMPLE_RAW`: the sample type of BPF output events. */
export const PERF_SAMPLE_RAW = 1 << 10;

/** `PERF_FLAG_FD_CLOEXEC`, always set by {@link perfEventOpen}. */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/*
 * ioctl request numbers: dir << 30 | size << 16 | type << 8 | nr (the generic _IOC encoding of x86-64 and
 * arm64), with type '$' (0x24) for perf. ENABLE and DISABLE are _IO('$', 0) and _IO('$', 1), no argument;
 * SET_BPF is _IOW('$', 8, __u32): direction write (1), size 4, argument the program FD.
 */
const IOC_WRITE = 1;
function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** `PERF_EVENT_IOC_ENABLE` = 0x2400. */
export const PERF_EVENT_IOC_ENABLE = ioc(0, 0x24, 0, 0);
/** `PERF_EVENT_IOC_DISABLE` = 0x2401. */
export const PERF_EVENT_IOC_DISABLE = ioc(0, 0x24, 1, 0);
/** `PERF_EVENT_IOC_SET_BPF` = 0x40042408. */
export const PERF_EVENT_IOC_SET_BPF = ioc(IOC_WRITE, 0x24, 8, 4);

/** The fields of `struct perf_event_attr` bpf-skel sets; everything else stays 0. */
export interface PerfEventAttr {
  /** A {@link PerfType} value, or a dynamic PMU type from {@link pmuType} (kprobe, uprobe). */
  type: number;
  config: bigint | number;
  /** Sample every N events. Exclusive with `sampleFreq`. */
  samplePeriod?: bigint | number;
  /** Sample N times a second (sets the `freq` bit). Exclusive with `samplePeriod`. */
  sampleFreq?: bigint | number;
  sampleType?: bigint | number;
  readFormat?: bigint | number;
  /** Wake the reader every N events. Exclusive with `wakeupWatermark`. */
  wakeupEvents?: number;
  /** Wake the reader when N bytes are ready (sets the `watermark` bit). */
  wakeupWatermark?: number;
  disabled?: boolean;
  inherit?: boolean;
  pinned?: boolean;
  exclusive?: boolean;
  excludeUser?: boolean;
  excludeKernel?: boolean;
  excludeHv?: boolean;
  excludeIdle?: boolean;
  enableOnExec?: boolean;
  /** `precise_ip`, 0 to 3. */
  preciseIp?: number;
  bpType?: number;
  /** kprobe_func / uprobe_path (an address) or config1. */
  config1?: bigint | number;
  /** kprobe_addr / probe_offset or config2. */
  config2?: bigint | number;
  config3?: bigint | number;
}

const attr = newAttrScratch(PERF_EVENT_ATTR_LAYOUT.size);

const FLAG_BITS: ReadonlyArray<readonly [keyof PerfEventAttr, keyof typeof PERF_EVENT_ATTR_LAYOUT.fields]> = [
  ['disabled', 'disabled'],
  ['inherit', 'inherit'],
  ['pinned', 'pinned'],
  ['exclusive', 'exclusive'],
  ['excludeUser', 'exclude_user'],
  ['excludeKernel', 'exclude_kernel'],
  ['excludeHv', 'exclude_hv'],
  ['excludeIdle', 'exclude_idle'],
  ['enableOnExec', 'enable_on_exec'],
];

function fillPerfAttr(opts: PerfEventAttr): Buffer {
  const F = PERF_EVENT_ATTR_LAYOUT.fields;
  const a = attr.buf;
  a.fill(0);
  putU32(a, F.type, opts.type, 'perf event type');
  a.writeUInt32LE(PERF_EVENT_ATTR_LAYOUT.size, F.size.offset);
  putU64(a, F.config, opts.config, 'perf event config');
  if (opts.samplePeriod !== undefined && opts.sampleFreq !== undefined) {
    throw new OptionError('give either samplePeriod or sampleFreq, not both', { option: 'sampleFreq' });
  }
  if (opts.wakeupEvents !== undefined && opts.wakeupWatermark !== undefined) {
    throw new OptionError('give either wakeupEvents or wakeupWatermark, not both', {
      option: 'wakeupWatermark',
    });
  }
  let bits = 0n;
  const bit = (name: keyof typeof F): bigint => BigInt(1) << BigInt(F[name].bitOffset ?? 0);
  for (const [option, field] of FLAG_BITS) if (opts[option] === true) bits |= bit(field);
  if (opts.samplePeriod !== undefined) putU64(a, F.sample_period, opts.samplePeriod, 'sample period');
  if (opts.sampleFreq !== undefined) {
    putU64(a, F.sample_freq, opts.sampleFreq, 'sample frequency');
    bits |= bit('freq');
  }
  if (opts.wakeupEvents !== undefined) putU32(a, F.wakeup_events, opts.wakeupEvents, 'wakeup events');
  if (opts.wakeupWatermark !== undefined) {
    putU32(a, F.wakeup_watermark, opts.wakeupWatermark, 'wakeup watermark');
    bits |= bit('watermark');
  }
  if (opts.preciseIp !== undefined) {
    if (!Number.isInteger(opts.preciseIp) || opts.preciseIp < 0 || opts.preciseIp > 3) {
      throw new OptionError(`preciseIp must be 0 to 3, got ${opts.preciseIp}`, { option: 'preciseIp' });
    }
    bits |= BigInt(opts.preciseIp) << BigInt(F.precise_ip.bitOffset ?? 0);
  }
  a.writeBigUInt64LE(bits, F.disabled.offset);
  putU64(a, F.sample_type, opts.sampleType ?? 0, 'sample type');
  putU64(a, F.read_format, opts.readFormat ?? 0, 'read format');
  putU32(a, F.bp_type, opts.bpType ?? 0, 'breakpoint type');
  putU64(a, F.config1, opts.config1 ?? 0, 'config1');
  putU64(a, F.config2, opts.config2 ?? 0, 'config2');
  putU64(a, F.config3, opts.config3 ?? 0, 'config3');
  return a;
}

/**
 * perf_event_open(2): opens a perf event and returns its FD (always close-on-exec). `pid` -1 with a `cpu`
 * >= 0 watches every task on that CPU; `pid` >= 0 with `cpu` -1 watches one task anywhere.
 */
export function perfEventOpen(
  opts: PerfEventAttr,
  pid: number,
  cpu: number,
  groupFd = -1,
  flags = 0,
): number {
  checkS32(pid, 'pid');
  checkS32(cpu, 'cpu');
  checkS32(groupFd, 'group FD');
  const a = fillPerfAttr(opts);
  const fd = syscall5(
    syscallNumbers.perfEventOpen,
    addressOf(a),
    pid,
    cpu,
    groupFd,
    checkU32(flags, 'flags') | PERF_FLAG_FD_CLOEXEC,
  );
  if (fd < 0) {
    throw syscallFailure(
      'perf_event_open',
      errno(),
      `type ${opts.type}, config ${opts.config}, pid ${pid}, cpu ${cpu}`,
    );
  }
  return fd;
}

function perfIoctl(fd: number, request: number, arg: number, name: string): void {
  checkFd(fd, 'perf event FD');
  if (cIoctl(fd, request, arg) < 0) throw syscallFailure(`ioctl(${name})`, errno(), `perf event fd ${fd}`);
}

/** `PERF_EVENT_IOC_ENABLE`: starts counting or sampling. */
export function perfEventEnable(fd: number): void {
  perfIoctl(fd, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
}

/** `PERF_EVENT_IOC_DISABLE`: stops counting or sampling. */
export function perfEventDisable(fd: number): void {
  perfIoctl(fd, PERF_EVENT_IOC_DISABLE, 0, 'PERF_EVENT_IOC_DISABLE');
}

/** `PERF_EVENT_IOC_SET_BPF`: attaches a program to the event without a link (kernels before BPF perf links). */
export function perfEventSetBpf(fd: number, progFd: number): void {
  perfIoctl(fd, PERF_EVENT_IOC_SET_BPF, checkFd(progFd, 'program FD'), 'PERF_EVENT_IOC_SET_BPF');
}

/** Where tracefs is normally mounted. */
export const TRACEFS = '/sys/kernel/tracing';

const NAME = /^[A-Za-z0-9_.:-]+$/;

/**
 * The perf id of tracepoint `category:name`, from `<tracefs>/events/<category>/<name>/id` (for
 * `PerfType.TRACEPOINT` events). Throws `ENOENT` naming the cause: tracefs not mounted, or no such event.
 */
export function tracepointId(category: string, name: string, tracefs = TRACEFS): number {
  for (const [what, part] of [
    ['tracepoint category', category],
    ['tracepoint name', name],
  ] as const) {
    if (!NAME.test(part))
      throw new OptionError(`${what} '${part}' has characters a tracepoint name cannot have`, {
        option: what,
      });
  }
  const path = `${tracefs}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    let mounted = true;
    try {
      readFileSync(`${tracefs}/events/header_page`, 'utf8');
    } catch {
      mounted = false;
    }
    const why = mounted
      ? `no tracepoint ${category}:${name} (${path} is missing)`
      : `tracefs is not mounted at ${tracefs}`;
    throw new BpfError(`tracepoint ${category}:${name}: ${why}`, {
      code: 'ENOENT',
      errno: Errno.ENOENT,
      command: 'tracepoint id',
    });
  }
  const id = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(id) || id < 0)
    throw new BpfError(`${path} holds no id: '${text.trim()}'`, { code: 'EINVAL', command: 'tracepoint id' });
  return id;
}

const PMU_DIR = '/sys/bus/event_source/devices';

/** The dynamic `perf_event_attr.type` of a PMU such as `kprobe` or `uprobe`, from sysfs. */
export function pmuType(pmu: string): number {
  if (!NAME.test(pmu)) throw new OptionError(`PMU name '${pmu}' is not valid`, { option: 'pmu' });
  const path = `${PMU_DIR}/${pmu}/type`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new BpfError(`the kernel has no '${pmu}' PMU (${path} is missing)`, {
      code: 'ENOENT',
      errno: Errno.ENOENT,
      command: 'pmu type',
    });
  }
  return Number.parseInt(text.trim(), 10);
}

/**
 * The config bit a PMU format field occupies, from `<pmu>/format/<field>` (`config:0` gives 0), e.g. the
 * `retprobe` bit of the kprobe and uprobe PMUs.
 */
export function pmuConfigBit(pmu: string, field: string): number {
  if (!NAME.test(pmu) || !NAME.test(field)) {
    throw new OptionError(`PMU '${pmu}' format field '${field}' is not valid`, { option: 'field' });
  }
  const path = `${PMU_DIR}/${pmu}/format/${field}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    throw new BpfError(`PMU '${pmu}' has no format field '${field}' (${path} is missing)`, {
      code: 'ENOENT',
      errno: Errno.ENOENT,
      command: 'pmu format',
    });
  }
  const m = /^config:(\d+)$/.exec(text);
  if (m === null)
    throw new BpfError(`${path} is not a single config bit: '${text}'`, {
      code: 'EINVAL',
      command: 'pmu format',
    });
  return Number(m[1]);
}
