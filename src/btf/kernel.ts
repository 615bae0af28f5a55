/**
 * The running kernel's BTF: `/sys/kernel/btf/vmlinux` and split module BTF in `/sys/kernel/btf/<module>`.
 * Each is read and parsed once per process.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseElf } from '../elf/reader.js';
import { BtfError } from '../errors.js';
import { parseBtf } from './parse.js';
import type { Btf } from './types.js';

/** Where the kernel exposes its BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

let vmlinux: Btf | undefined;
const modules = new Map<string, Btf>();

function readOrThrow(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BtfError(`cannot read kernel BTF (${code}); is CONFIG_DEBUG_INFO_BTF enabled?`, { file: path });
  }
}

/** The kernel's own BTF (`/sys/kernel/btf/vmlinux`), parsed on first use and cached. */
export function loadKernelBtf(): Btf {
  vmlinux ??= parseBtf(readOrThrow(`${KERNEL_BTF_DIR}/vmlinux`), { file: `${KERNEL_BTF_DIR}/vmlinux` });
  return vmlinux;
}

/**
 * A module's BTF (`/sys/kernel/btf/<name>`), parsed as split BTF over {@link loadKernelBtf} and cached.
 *
 * @throws BtfError when the module is not loaded, has no BTF, or its BTF is malformed
 */
export function loadModuleBtf(name: string): Btf {
  if (name === '' || name === 'vmlinux' || name.includes('/') || name === '.' || name === '..') {
    throw new BtfError(`'${name}' is not a kernel module name`, { file: KERNEL_BTF_DIR });
  }
  let btf = modules.get(name);
  if (btf === undefined) {
    const path = `${KERNEL_BTF_DIR}/${name}`;
    btf = parseBtf(readOrThrow(path), { base: loadKernelBtf(), file: path });
    modules.set(name, btf);
  }
  return btf;
}

/** Names of the loaded kernel modules that have BTF (the entries of `/sys/kernel/btf` but vmlinux). */
export function kernelModulesWithBtf(): string[] {
  try {
    return readdirSync(KERNEL_BTF_DIR)
      .filter((n) => n !== 'vmlinux')
      .sort();
  } catch {
    return [];
  }
}

/**
 * BTF from a file: raw BTF (starts with the BTF magic) or an ELF file with a `.BTF` section (a vmlinux
 * image, an object). Used for a custom target BTF in place of the kernel's.
 *
 * @throws BtfError / ElfError when the file cannot be read or holds no BTF
 */
export function readBtfFile(path: string, opts: { base?: Btf } = {}): Btf {
  const bytes = readOrThrow(path);
  if (bytes.length >= 2 && bytes[0] === 0x9f && bytes[1] === 0xeb)
    return parseBtf(bytes, { base: opts.base, file: path });
  const elf = parseElf(bytes, path, { anyMachine: true });
  const section = elf.sectionByName('.BTF');
  if (section === undefined)
    throw new BtfError('file has neither raw BTF nor a .BTF section', { file: path });
  return parseBtf(section.data, { base: opts.base, file: path });
}
