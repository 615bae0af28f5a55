/**
 * Where the binary of a uprobe is: a path is used as given; a bare library name (`libc.so.6`) is looked up
 * in `LD_LIBRARY_PATH`, the dynamic linker's cache (`ldconfig -p`) and the usual library directories; a
 * bare program name in `PATH`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BpfError } from '../../errors.js';

/** The `ldconfig -p` tag of this architecture's libraries. */
const LDCONFIG_ARCH: Record<string, string> = { x64: 'x86-64', arm64: 'AArch64' };

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return isFile(path);
  } catch {
    return false;
  }
}

let ldCache: Map<string, string> | undefined;

/** Library name to path, from the dynamic linker's cache (this architecture's entries only). */
function ldconfigEntries(): Map<string, string> {
  if (ldCache !== undefined) return ldCache;
  const entries = new Map<string, string>();
  let text = '';
  for (const cmd of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      text = execFileSync(cmd, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      break;
    } catch {
      // Try the next location; without ldconfig the directory search below still runs.
    }
  }
  const arch = LDCONFIG_ARCH[process.arch];
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+) \(([^)]*)\) => (\S+)$/.exec(line);
    if (m === null) continue;
    const [, name, tags, path] = m;
    const tagged64 = arch !== undefined && tags.includes(arch);
    if (!entries.has(name) && (tagged64 || (arch === undefined && !tags.includes(','))))
      entries.set(name, path);
  }
  ldCache = entries;
  return entries;
}

function systemLibraryDirs(): string[] {
  const multi = MULTIARCH[process.arch];
  const system = ['/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];
  if (multi !== undefined) system.unshift(`/lib/${multi}`, `/usr/lib/${multi}`);
  return system;
}

/**
 * The path of the binary a uprobe names. Names containing `/` are returned as they are (the kernel
 * resolves relative ones against the working directory); names containing `.so` are libraries; other
 * names are programs in `PATH`.
 *
 * @throws BpfError `ENOENT` naming where it looked
 */
export function resolveBinaryPath(name: string): string {
  if (name === '')
    throw new BpfError('uprobe binary name is empty', { code: 'EINVAL', command: 'resolve uprobe' });
  if (name.includes('/')) return name;
  if (name.includes('.so')) {
    const dirs = systemLibraryDirs();
    const env = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
    for (const dir of env) if (isFile(join(dir, name))) return join(dir, name);
    const cached = ldconfigEntries().get(name);
    if (cached !== undefined && isFile(cached)) return cached;
    for (const dir of dirs) if (isFile(join(dir, name))) return join(dir, name);
    throw new BpfError(
      `library '${name}' not found in LD_LIBRARY_PATH, the ldconfig cache or ${dirs.join(', ')}`,
      { code: 'ENOENT', command: 'resolve uprobe' },
    );
  }
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of path) if (isExecutable(join(dir, name))) return join(dir, name);
  throw new BpfError(`program '${name}' not found in PATH (${path.join(delimiter)})`, {
    code: 'ENOENT',
    command: 'resolve uprobe',
  });
}
