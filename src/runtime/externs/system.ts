/**
 * What the running system says about itself for externs: its Kconfig (`/proc/config.gz`, else
 * `/boot/config-$(uname -r)`), its version code, and kernel symbol addresses (`/proc/kallsyms`).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { BpfError } from '../../errors.js';
import { parseKconfig } from './kconfig.js';

/** The running kernel's configuration and where it came from. */
export interface KernelConfig {
  readonly values: ReadonlyMap<string, string>;
  readonly source: string;
}

/**
 * Reads the running kernel's Kconfig.
 *
 * @throws BpfError (`ENOENT`) when neither `/proc/config.gz` nor `/boot/config-<release>` can be read
 */
export function readKernelConfig(): KernelConfig {
  const gz = '/proc/config.gz';
  const boot = `/boot/config-${release()}`;
  let text: string | undefined;
  let source = gz;
  try {
    text = gunzipSync(readFileSync(gz)).toString('utf8');
  } catch {
    try {
      text = readFileSync(boot, 'utf8');
      source = boot;
    } catch {
      throw new BpfError(
        `cannot read the kernel configuration from ${gz} (CONFIG_IKCONFIG_PROC) or ${boot}; set the __kconfig values with the kconfig option`,
        { code: 'ENOENT', command: 'kconfig' },
      );
    }
  }
  // A kernel's own config has only CONFIG_ lines and comments, but skip anything odd rather than fail on it.
  const clean = text
    .split('\n')
    .filter((l) => /^CONFIG_[A-Za-z0-9_]+=/.test(l))
    .join('\n');
  return { values: parseKconfig(clean, source), source };
}

/**
 * `LINUX_KERNEL_VERSION` as `KERNEL_VERSION(a, b, c)` gives it: `(a << 16) + (b << 8) + min(c, 255)`. Ubuntu
 * reports the upstream version it is based on in `/proc/version_signature`, which wins when present.
 */
export function kernelVersionCode(): number {
  let version = release();
  try {
    // "Ubuntu 5.15.0-91.101-generic 5.15.131": the last field is the upstream version.
    const fields = readFileSync('/proc/version_signature', 'utf8').trim().split(/\s+/);
    version = fields[fields.length - 1] ?? version;
  } catch {
    // Not Ubuntu: uname's release is the version.
  }
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (m === null) {
    throw new BpfError(`cannot read a kernel version from '${version}'`, {
      code: 'EINVAL',
      command: 'kconfig',
    });
  }
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

/** Kernel symbol addresses by name, from `/proc/kallsyms` (the first address of a name wins). */
export interface Kallsyms {
  /** The symbol's address; 0 for every symbol when {@link restricted}. */
  address(name: string): bigint | undefined;
  /** Whether addresses are hidden (kernel.kptr_restrict, or no CAP_SYSLOG): names only. */
  readonly restricted: boolean;
}

/**
 * Reads `/proc/kallsyms`.
 *
 * @throws BpfError when it cannot be read
 */
export function readKallsyms(): Kallsyms {
  const path = '/proc/kallsyms';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BpfError(`cannot read ${path} (${code}) to resolve __ksym addresses`, {
      code,
      command: 'ksym',
      cause: err,
    });
  }
  const addresses = new Map<string, bigint>();
  let nonZero = false;
  for (const line of text.split('\n')) {
    // "ffffffff814d58f0 T bpf_prog_put" or "... t name\t[module]".
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first <= 0 || second < 0) continue;
    const end = line.indexOf('\t', second + 1);
    const name = line.slice(second + 1, end < 0 ? undefined : end);
    if (addresses.has(name)) continue;
    const addr = BigInt(`0x${line.slice(0, first)}`);
    if (addr !== 0n) nonZero = true;
    addresses.set(name, addr);
  }
  return { address: (name) => addresses.get(name), restricted: !nonZero && addresses.size > 0 };
}

/** Prefix of syscall entry points per architecture (`__x64_sys_bpf`), as `arch/<arch>` names them. */
const SYSCALL_PREFIX: Partial<Record<NodeJS.Architecture, string>> = {
  x64: '__x64_',
  ia32: '__ia32_',
  arm64: '__arm64_',
  s390x: '__s390x_',
  riscv64: '__riscv_',
};

/**
 * `LINUX_HAS_SYSCALL_WRAPPER`: whether syscalls enter through `pt_regs` wrappers (`__x64_sys_bpf`), which
 * `BPF_KSYSCALL` needs to know. libbpf finds out by opening a kprobe; this looks the wrapper up in kallsyms,
 * which also works on kernels without kprobes.
 */
export function hasSyscallWrapper(kallsyms: () => Kallsyms): boolean {
  const prefix = SYSCALL_PREFIX[process.arch];
  if (prefix === undefined) return false;
  return kallsyms().address(`${prefix}sys_bpf`) !== undefined;
}
