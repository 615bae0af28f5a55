/**
 * Multi-probe links: one `kprobe.multi` link over many kernel functions (fprobe), one `uprobe.multi` link
 * over many offsets of one binary.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { BpfError, FeatureMissingError, OptionError, withContext } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { AttachTypes } from '../sys/kinds.js';
import { linkCreate } from '../sys/link.js';
import { TRACEFS } from '../sys/perf.js';
import { resolveBinaryPath } from './binary-path.js';
import { globToRegExp, pickFunction, readNativeFunctions } from './native-elf.js';

/** `BPF_F_KPROBE_MULTI_RETURN` and `BPF_F_UPROBE_MULTI_RETURN`: return probes. */
const MULTI_RETURN = 1;

/** Options of {@link attachKprobeMulti}: exactly one of `pattern`, `symbols`, `addresses`. */
export interface KprobeMultiOptions {
  /** Kernel functions matching a shell pattern (`tcp_*`), from tracefs' available_filter_functions or kallsyms. */
  pattern?: string;
  symbols?: readonly string[];
  addresses?: readonly bigint[];
  /** One cookie per function (in the order of `symbols`/`addresses`). */
  cookies?: readonly bigint[];
  /** Return probes. Default false. */
  retprobe?: boolean;
}

function isNotSupported(err: unknown): err is BpfError {
  return err instanceof BpfError && (err.code === 'EOPNOTSUPP' || err.code === 'ENOTSUPP');
}

/** Kernel functions matching `pattern`: those ftrace can probe when tracefs lists them, else kallsyms text. */
function kernelFunctions(pattern: string): string[] {
  const re = globToRegExp(pattern);
  const names = new Set<string>();
  let list: string | undefined;
  try {
    list = readFileSync(`${TRACEFS}/available_filter_functions`, 'utf8');
  } catch {
    // Not mounted, or not readable (lockdown): fall back to the kernel's symbol table.
  }
  if (list !== undefined) {
    for (const line of list.split('\n')) {
      const name = line.split(' ')[0];
      if (name !== undefined && re.test(name)) names.add(name);
    }
  } else {
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const [, kind, name] = line.split(/\s+/);
      if ((kind === 't' || kind === 'T') && name !== undefined && re.test(name)) names.add(name);
    }
  }
  return [...names];
}

/**
 * Attaches a `kprobe.multi` (or `kprobe.session`) program to many kernel functions with one link. Needs
 * fprobe (`CONFIG_FPROBE`, Linux 5.18+).
 */
export function attachKprobeMulti(program: BpfProgram, opts: KprobeMultiOptions): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const given = [opts.pattern, opts.symbols, opts.addresses].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new OptionError('kprobe.multi needs exactly one of pattern, symbols, addresses', {
      option: 'pattern',
    });
  }
  const attachType = program.expectedAttachType ?? 'trace_kprobe_multi';
  const syms = opts.pattern !== undefined ? kernelFunctions(opts.pattern) : opts.symbols?.slice();
  if (syms !== undefined && syms.length === 0) {
    throw new BpfError(`kprobe.multi: no kernel function matches '${opts.pattern}'`, {
      code: 'ENOENT',
      command: 'resolve kprobe',
    });
  }
  const what = opts.pattern ?? `${syms?.length ?? opts.addresses?.length} functions`;
  const target = `${opts.retprobe ? 'kretprobe' : 'kprobe'}.multi ${what}`;
  try {
    const fd = linkCreate(progFd, 0, AttachTypes[attachType], 0, {
      kind: 'kprobe_multi',
      flags: opts.retprobe ? MULTI_RETURN : 0,
      syms,
      addrs: opts.addresses?.slice(),
      cookies: opts.cookies?.slice(),
    });
    return new BpfLink({ kind: 'link', type: 'kprobe_multi', fd, perfFd: -1 }, target, program);
  } catch (err) {
    if (isNotSupported(err)) {
      throw new FeatureMissingError(
        `${target}: kprobe.multi links are not supported by this kernel: they need fprobe (CONFIG_FPROBE, Linux 5.18+): ${err.message}`,
        {
          code: err.code,
          errno: err.errno,
          command: err.command,
          feature: 'kprobe.multi (CONFIG_FPROBE)',
          cause: err,
        },
      );
    }
    throw withContext(err, target);
  }
}

/** Options of {@link attachUprobeMulti}: the binary and exactly one of `pattern`, `funcs`, `offsets`. */
export interface UprobeMultiOptions {
  /** Executable or library: a path, or a library name such as `libc.so.6`. */
  binary: string;
  /** Functions matching a shell pattern. */
  pattern?: string;
  funcs?: readonly string[];
  /** File offsets. */
  offsets?: readonly bigint[];
  /** One cookie per probe. */
  cookies?: readonly bigint[];
  /** USDT semaphore offsets, one per probe. */
  refCtrOffsets?: readonly bigint[];
  retprobe?: boolean;
  /** Only this process. */
  pid?: number;
}

/** Attaches a `uprobe.multi` program to many functions of one binary with one link (Linux 6.6+). */
export function attachUprobeMulti(program: BpfProgram, opts: UprobeMultiOptions): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const given = [opts.pattern, opts.funcs, opts.offsets].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new OptionError('uprobe.multi needs exactly one of pattern, funcs, offsets', { option: 'pattern' });
  }
  const path = resolveBinaryPath(opts.binary);
  let offsets: bigint[];
  if (opts.offsets !== undefined) {
    offsets = opts.offsets.slice();
  } else {
    const all = readNativeFunctions(path);
    if (opts.pattern !== undefined) {
      const re = globToRegExp(opts.pattern);
      const names = [...new Set(all.filter((f) => re.test(f.name) && !f.ifunc).map((f) => f.name))];
      offsets = [...new Set(names.map((n) => pickFunction(all, path, n).fileOffset))];
      if (offsets.length === 0) {
        throw new BpfError(`${path} has no function matching '${opts.pattern}'`, {
          code: 'ENOENT',
          command: 'resolve uprobe',
        });
      }
    } else {
      offsets = (opts.funcs ?? []).map((n) => pickFunction(all, path, n).fileOffset);
    }
  }
  const attachType = program.expectedAttachType ?? 'trace_uprobe_multi';
  const target = `${opts.retprobe ? 'uretprobe' : 'uprobe'}.multi ${path}:${opts.pattern ?? `${offsets.length} offsets`}`;
  try {
    const fd = linkCreate(progFd, 0, AttachTypes[attachType], 0, {
      kind: 'uprobe_multi',
      path,
      offsets,
      cookies: opts.cookies?.slice(),
      refCtrOffsets: opts.refCtrOffsets?.slice(),
      flags: opts.retprobe ? MULTI_RETURN : 0,
      pid: opts.pid,
    });
    return new BpfLink({ kind: 'link', type: 'uprobe_multi', fd, perfFd: -1 }, target, program);
  } catch (err) {
    if (isNotSupported(err)) {
      throw new FeatureMissingError(
        `${target}: uprobe.multi links are not supported by this kernel (Linux 6.6+ with CONFIG_UPROBES): ${err.message}`,
        { code: err.code, errno: err.errno, command: err.command, feature: 'uprobe.multi', cause: err },
      );
    }
    throw withContext(err, target);
  }
}
