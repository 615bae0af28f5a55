/**
 * BPF C compiled at test time, for the few programs a test keeps next to its checks instead of in
 * test/fixtures/: clang with the fixtures' vmlinux.h and libbpf's headers, warnings as errors.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './objects.js';

const OUT_DIR = join(FIXTURES, '..', 'tmp', `compiled-${process.pid}`);

/**
 * Compiles `source` as `<name>.bpf.c` into an object under test/tmp and returns the object's path. Throws
 * with clang's output when it does not compile.
 */
export function compileBpf(name: string, source: string): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const src = join(OUT_DIR, `${name}.bpf.c`);
  const out = join(OUT_DIR, `${name}.bpf.o`);
  writeFileSync(src, source);
  const args = ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', FIXTURES];
  args.push('-I/usr/include/x86_64-linux-gnu', '-Wall', '-Werror', '-c', src, '-o', out);
  execFileSync('clang', args, { stdio: 'pipe' });
  return out;
}

/** Removes everything {@link compileBpf} made in this process. */
export function removeCompiled(): void {
  rmSync(OUT_DIR, { recursive: true, force: true });
}
