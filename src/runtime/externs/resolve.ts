/**
 * Resolves an object's externs against the running kernel at load: `__kconfig` values into the bytes of the
 * `.kconfig` map, `__ksym` variables and kfuncs into BTF ids (of vmlinux or a module) or kallsyms addresses.
 * A strong extern that cannot be resolved fails the load naming it; a `__weak` one becomes zero (a weak
 * kfunc's calls are poisoned, so code behind `bpf_ksym_exists()` still verifies).
 *
 * @module
 */
import { kernelModulesWithBtf, loadKernelBtf, loadModuleBtf } from '../../btf/kernel.js';
import type { Btf, BtfType } from '../../btf/types.js';
import type { ElfFile } from '../../elf/types.js';
import { BpfError, OptionError } from '../../errors.js';
import { typesCompatible } from '../core/compat.js';
import { openModuleBtf } from '../module-btf.js';
import { closeFd } from '../sys/fd.js';
import { collectExterns, type ExternSpec } from './collect.js';
import { type KconfigLayout, kconfigLayout, parseKconfig, writeKconfigValue } from './kconfig.js';
import {
  hasSyscallWrapper,
  type Kallsyms,
  type KernelConfig,
  kernelVersionCode,
  readKallsyms,
  readKernelConfig,
} from './system.js';

/** What an extern resolved to; the linker patches each instruction that uses it accordingly. */
export type ExternValue =
  | { readonly kind: 'kconfig'; readonly offset: number }
  | {
      readonly kind: 'btf';
      readonly func: boolean;
      /** BTF id in vmlinux or the module's BTF. */
      readonly btfId: number;
      /** FD of the module's BTF object, 0 for vmlinux. */
      readonly btfFd: number;
      /** Index of `btfFd` in the program's `fd_array`, 0 for vmlinux. */
      readonly fdIndex: number;
    }
  | { readonly kind: 'address'; readonly address: bigint }
  | { readonly kind: 'missing_func'; readonly index: number };

/** The resolved externs of an object. */
export interface ResolvedExterns {
  /** Value of the `.kconfig` map, undefined when there is none. */
  readonly kconfig: Uint8Array | undefined;
  readonly layout: KconfigLayout | undefined;
  readonly values: ReadonlyMap<string, ExternValue>;
  /** `fd_array` of every program (module BTF FDs of kfuncs), undefined when no kfunc lives in a module. */
  readonly fdArray: Int32Array | undefined;
  /** Module BTF FDs opened for this object; the caller closes them. */
  readonly fds: readonly number[];
}

/** What resolution needs from the loader. */
export interface ExternContext {
  /** The `kconfig` open option: `CONFIG_X=value` lines that override the running kernel's config. */
  readonly kconfig: string | undefined;
  /** Whether the kernel has `bpf_get_attach_cookie()` (`LINUX_HAS_BPF_COOKIE`). */
  readonly hasBpfCookie: () => boolean;
  readonly tokenFd: number;
}

/**
 * Resolves every extern of an object.
 *
 * @throws BpfError naming a strong extern that cannot be resolved, or one whose type does not match the
 *   kernel's; OptionError for a malformed `kconfig` option
 */
export function resolveExterns(elf: ElfFile, btf: Btf | undefined, ctx: ExternContext): ResolvedExterns {
  const externs = collectExterns(elf, btf);
  const values = new Map<string, ExternValue>();
  const fds: number[] = [];
  if (btf === undefined || externs.length === 0) {
    return { kconfig: undefined, layout: undefined, values, fdArray: undefined, fds };
  }
  let kallsyms: Kallsyms | undefined;
  const syms = () => {
    kallsyms ??= readKallsyms();
    return kallsyms;
  };
  try {
    const layout = kconfigLayout(btf);
    const kconfig = layout === undefined ? undefined : fillKconfig(btf, layout, externs, ctx, syms);
    for (const v of layout?.vars ?? []) values.set(v.name, { kind: 'kconfig', offset: v.offset });
    const modules = new ModuleBtfs(ctx.tokenFd, fds);
    // Extern indices as libbpf numbers them: `__kconfig` ones in layout order, then `__ksym` ones by name.
    const ksyms = externs
      .filter((e) => e.kind === 'ksym')
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const first = layout?.vars.length ?? 0;
    ksyms.forEach((ext, i) => {
      values.set(ext.name, resolveKsym(btf, ext, first + i, syms, modules));
    });
    return { kconfig, layout, values, fdArray: modules.fdArray(), fds };
  } catch (err) {
    for (const fd of fds) closeFd(fd);
    throw err;
  }
}

function fillKconfig(
  btf: Btf,
  layout: KconfigLayout,
  externs: readonly ExternSpec[],
  ctx: ExternContext,
  kallsyms: () => Kallsyms,
): Uint8Array {
  const bytes = new Uint8Array(Math.max(layout.size, 1));
  const out = new DataView(bytes.buffer);
  const weak = new Map(externs.filter((e) => e.kind === 'kconfig').map((e) => [e.name, e.weak]));
  let user: Map<string, string>;
  try {
    user = parseKconfig(ctx.kconfig ?? '', 'the kconfig option');
  } catch (err) {
    throw new OptionError((err as Error).message, { option: 'kconfig', cause: err });
  }
  let system: KernelConfig | undefined;
  let systemError: BpfError | undefined;
  const systemConfig = (): KernelConfig | undefined => {
    if (system === undefined && systemError === undefined) {
      try {
        system = readKernelConfig();
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        systemError = err;
      }
    }
    return system;
  };
  for (const v of layout.vars) {
    const isWeak = weak.get(v.name) ?? false;
    let raw: string | undefined;
    let source = 'the kconfig option';
    if (v.name.startsWith('LINUX_')) {
      source = 'the running kernel';
      raw = virtualValue(v.name, ctx, kallsyms);
    } else {
      raw = user.get(v.name);
      if (raw === undefined) {
        const sys = systemConfig();
        raw = sys?.values.get(v.name);
        source = sys?.source ?? 'the kernel config';
      }
    }
    if (raw === undefined) {
      if (isWeak) continue;
      const where = v.name.startsWith('LINUX_')
        ? 'it is not a value bpf-skel provides (LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER, LINUX_HAS_BPF_COOKIE)'
        : systemError !== undefined
          ? systemError.message
          : `it is not set in ${system?.source ?? 'the kernel config'} nor by the kconfig option`;
      throw new BpfError(
        `__kconfig extern '${v.name}' has no value: ${where}. Declare it __weak to default to 0`,
        {
          code: 'ENOENT',
          command: 'kconfig',
        },
      );
    }
    writeKconfigValue(btf, v, raw, out, source);
  }
  return bytes;
}

/** The values of libbpf's virtual `LINUX_*` externs, as Kconfig text. */
function virtualValue(name: string, ctx: ExternContext, kallsyms: () => Kallsyms): string | undefined {
  switch (name) {
    case 'LINUX_KERNEL_VERSION':
      return String(kernelVersionCode());
    case 'LINUX_HAS_SYSCALL_WRAPPER':
      return hasSyscallWrapper(kallsyms) ? 'y' : 'n';
    case 'LINUX_HAS_BPF_COOKIE':
      return ctx.hasBpfCookie() ? 'y' : 'n';
    default:
      return undefined;
  }
}

function resolveKsym(
  btf: Btf,
  ext: ExternSpec & { kind: 'ksym' },
  index: number,
  kallsyms: () => Kallsyms,
  modules: ModuleBtfs,
): ExternValue {
  const fail = (why: string, code = 'ENOENT'): never => {
    throw new BpfError(`__ksym extern '${ext.name}': ${why}`, { code, command: 'ksym' });
  };
  if (ext.typeless) {
    const syms = kallsyms();
    if (syms.restricted) {
      fail('/proc/kallsyms hides addresses here (kernel.kptr_restrict, or no CAP_SYSLOG)', 'EPERM');
    }
    const address = syms.address(ext.name);
    if (address !== undefined) return { kind: 'address', address };
    if (ext.weak) return { kind: 'address', address: 0n };
    return fail('not found in /proc/kallsyms. Declare it __weak to default to 0');
  }
  const kind = ext.func ? 'func' : 'var';
  const local = btf.typeById(ext.btfId) as BtfType & { type: number };
  const found = findKernelType(ext.name, kind, modules);
  if (found === undefined) {
    if (!ext.weak) {
      return fail(
        `the kernel's BTF has no ${ext.func ? 'kfunc' : 'variable'} of that name. Declare it __weak (and test it with bpf_ksym_exists()) to load without it`,
      );
    }
    return ext.func ? { kind: 'missing_func', index } : { kind: 'address', address: 0n };
  }
  const target = found.btf.typeById(found.id) as BtfType & { type: number };
  if (!typesCompatible(btf, local.type, found.btf, target.type)) {
    fail(
      `its declared type does not match the kernel's ${kind} '${ext.name}' (BTF id ${found.id})`,
      'EINVAL',
    );
  }
  return { kind: 'btf', func: ext.func, btfId: found.id, btfFd: found.fd, fdIndex: found.fdIndex };
}

interface KernelType {
  readonly btf: Btf;
  readonly id: number;
  readonly fd: number;
  readonly fdIndex: number;
}

function findKernelType(name: string, kind: 'func' | 'var', modules: ModuleBtfs): KernelType | undefined {
  const vmlinux = loadKernelBtf();
  const t = vmlinux.findByName(name, kind);
  if (t !== undefined) return { btf: vmlinux, id: t.id, fd: 0, fdIndex: 0 };
  return modules.find(name, kind);
}

/** Module BTF, read only when a ksym is not in vmlinux; FDs opened only for the modules that are used. */
class ModuleBtfs {
  readonly #tokenFd: number;
  readonly #fds: number[];
  #names: string[] | undefined;
  readonly #opened = new Map<string, { fd: number; fdIndex: number }>();
  readonly #array: number[] = [0];

  constructor(tokenFd: number, fds: number[]) {
    this.#tokenFd = tokenFd;
    this.#fds = fds;
  }

  find(name: string, kind: 'func' | 'var'): KernelType | undefined {
    this.#names ??= kernelModulesWithBtf();
    for (const module of this.#names) {
      const btf = loadModuleBtf(module);
      const t = btf.findAllByName(name, kind).find((x) => x.id >= btf.firstId);
      if (t === undefined) continue;
      const { fd, fdIndex } = this.#open(module);
      return { btf, id: t.id, fd, fdIndex };
    }
    return undefined;
  }

  fdArray(): Int32Array | undefined {
    return this.#array.length > 1 ? Int32Array.from(this.#array) : undefined;
  }

  #open(module: string): { fd: number; fdIndex: number } {
    const known = this.#opened.get(module);
    if (known !== undefined) return known;
    const fd = openModuleBtf(module, this.#tokenFd);
    this.#fds.push(fd);
    // Index 0 of fd_array means vmlinux to the verifier, so modules start at 1.
    const entry = { fd, fdIndex: this.#array.length };
    this.#array.push(fd);
    this.#opened.set(module, entry);
    return entry;
  }
}
