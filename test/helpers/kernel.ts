/**
 * Helpers for tests that need the real kernel: feature gating that skips with a reason (or fails under
 * `BPF_SKEL_REQUIRE_KERNEL=1`), shell commands in a private mount namespace with a fresh bpffs, tracefs
 * for tracepoint ids, private bpffs instances for in-process pinning, and open-FD counting for leak checks.
 *
 * Namespaces are only ever entered by child processes started under util-linux `unshare`: Node is
 * multithreaded, so unshare()/setns() inside it would be refused or apply to one thread only.
 *
 * @module
 */
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** True when `BPF_SKEL_REQUIRE_KERNEL=1`: a missing kernel feature then fails a test instead of skipping it. */
export const REQUIRE_KERNEL = process.env.BPF_SKEL_REQUIRE_KERNEL === '1';

/** The part of vitest's test context that {@link skipUnlessKernel} needs. */
export interface SkippableContext {
  skip(note?: string): never;
}

/** Thrown by {@link requireKernel} when a feature is missing and `BPF_SKEL_REQUIRE_KERNEL=1`. */
export class KernelFeatureRequiredError extends Error {
  override name = 'KernelFeatureRequiredError';
  constructor(
    readonly feature: string,
    readonly why: string,
  ) {
    super(`kernel feature "${feature}" is required (BPF_SKEL_REQUIRE_KERNEL=1) but missing: ${why}`);
  }
}

/**
 * Gate on a kernel (or host) feature. Returns `true` when `available`. Otherwise prints
 * `skip: <feature>: <why>` to stderr and returns `false`, or, when `BPF_SKEL_REQUIRE_KERNEL=1`, throws a
 * {@link KernelFeatureRequiredError} so the test (or, at collection time, the file) fails.
 *
 * Typical uses: `describe.runIf(requireKernel('bpf()', isRoot(), 'not root'))(...)`, or inside a test
 * {@link skipUnlessKernel}.
 */
export function requireKernel(feature: string, available: boolean, why: string): boolean {
  if (available) return true;
  if (REQUIRE_KERNEL) throw new KernelFeatureRequiredError(feature, why);
  process.stderr.write(`skip: ${feature}: ${why}\n`);
  return false;
}

/**
 * {@link requireKernel} for use inside a test: when the feature is missing, skips the running test with the
 * reason as its note (or throws under `BPF_SKEL_REQUIRE_KERNEL=1`).
 */
export function skipUnlessKernel(
  ctx: SkippableContext,
  feature: string,
  available: boolean,
  why: string,
): void {
  if (!requireKernel(feature, available, why)) ctx.skip(`${feature}: ${why}`);
}

/** True when the process runs as root (bpf() with full privileges, mounts, namespaces). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** True when `name` is an executable on `PATH`. */
export function commandExists(name: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return dirs.some((dir) => existsSync(join(dir, name)));
}

/** The outcome of a {@link runPrivileged} command. */
export interface PrivilegedResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runPrivileged}. */
export interface PrivilegedOptions {
  /** Extra environment for the command (merged over this process's); pass paths here instead of quoting. */
  env?: Record<string, string>;
  /** Also mount tracefs at /sys/kernel/tracing inside the namespace. */
  tracefs?: boolean;
  /** Working directory; defaults to this process's. */
  cwd?: string;
  /** Data written to the command's stdin. */
  input?: string | Uint8Array;
  /** Kill the command after this long. Default 30 s. */
  timeoutMs?: number;
  /** Throw when the command exits non-zero (default `true`); with `false`, return the result regardless. */
  check?: boolean;
}

/** A {@link runPrivileged} command that exited non-zero, with its output. */
export class PrivilegedCommandError extends Error {
  override name = 'PrivilegedCommandError';
  constructor(
    readonly script: string,
    readonly result: PrivilegedResult,
  ) {
    super(
      `privileged command exited with status ${result.status}: ${script}\n--- stdout ---\n${result.stdout}` +
        `\n--- stderr ---\n${result.stderr}`,
    );
  }
}

/**
 * Runs `script` with `sh -c` in a new private mount namespace (util-linux `unshare -m --propagation
 * private`) in which a fresh bpffs is mounted at /sys/fs/bpf (and tracefs at /sys/kernel/tracing with
 * `tracefs: true`). Everything mounted or pinned there disappears when the command exits; the host's mounts
 * are untouched. Synchronous. Throws {@link PrivilegedCommandError} on a non-zero exit unless
 * `check: false`.
 */
export function runPrivileged(script: string, opts: PrivilegedOptions = {}): PrivilegedResult {
  const mounts = ['mount -t bpf bpf /sys/fs/bpf'];
  if (opts.tracefs) mounts.push('mount -t tracefs tracefs /sys/kernel/tracing');
  const wrapped = `set -e; ${mounts.join('; ')}; set +e\n${script}`;
  const child: SpawnSyncReturns<string> = spawnSync(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', wrapped],
    {
      encoding: 'utf8',
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      input: opts.input,
      timeout: opts.timeoutMs ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (child.error) throw child.error;
  const result: PrivilegedResult = {
    // Shell convention for a command killed by a signal (e.g. by the timeout): 128 + signal number.
    status: child.status ?? 128 + (child.signal ? constants.signals[child.signal] : 0),
    stdout: child.stdout,
    stderr: child.stderr,
  };
  if (opts.check !== false && result.status !== 0) throw new PrivilegedCommandError(script, result);
  return result;
}

/** Where tracefs is expected, and where {@link ensureTracefs} mounts it. */
export const TRACEFS = '/sys/kernel/tracing';

function mountedFsTypeAt(path: string): string | undefined {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, fsType] = line.split(' ');
    if (mountPoint === path) return fsType;
  }
  return undefined;
}

/**
 * Makes sure tracefs is mounted at /sys/kernel/tracing in this process's mount namespace and returns that
 * path. Idempotent. It is left mounted on purpose: other test workers may be reading tracepoint ids from it
 * at the same time, and a mounted tracefs changes nothing else on the machine.
 */
export function ensureTracefs(): string {
  if (mountedFsTypeAt(TRACEFS) !== 'tracefs') {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS], { stdio: 'pipe' });
    } catch (err) {
      // Another worker may have won the race; only a mount that is still missing is an error.
      if (mountedFsTypeAt(TRACEFS) !== 'tracefs') throw err;
    }
  }
  return TRACEFS;
}

/**
 * The id of tracepoint `<category>/<name>` (what perf_event_open's `config` takes for
 * `PERF_TYPE_TRACEPOINT`), read from tracefs after {@link ensureTracefs}.
 */
export function tracepointId(category: string, name: string): number {
  const dir = ensureTracefs();
  return Number.parseInt(readFileSync(join(dir, 'events', category, name, 'id'), 'utf8'), 10);
}

/** A bpffs instance of this test's own, mounted on a temporary directory; unmounted on dispose. */
export interface TempBpffs extends Disposable {
  readonly path: string;
}

/**
 * Mounts a new bpffs instance on a fresh temporary directory in this process's mount namespace, for tests
 * whose in-process code pins objects. Each call gets its own instance, so nothing is shared with other
 * tests; disposing it unmounts (lazily, so open FDs do not block) and removes the directory.
 */
export function tempBpffs(): TempBpffs {
  const path = mkdtempSync(join(tmpdir(), 'bpf-skel-bpffs-'));
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', path], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(path);
    throw err;
  }
  let mounted = true;
  return {
    path,
    [Symbol.dispose]() {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      rmdirSync(path);
    },
  };
}

/**
 * Open file descriptors of this process, by number, with what each refers to (`readlink` of
 * /proc/self/fd/N: a path, `anon_inode:bpf-map`, `socket:[...]`...). The descriptor used to read the
 * directory itself is left out.
 */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      fds.set(Number(entry), readlinkSync(`/proc/self/fd/${entry}`));
    } catch {
      // The directory's own descriptor is closed by the time we read its link.
    }
  }
  return fds;
}

/** How many file descriptors this process has open (see {@link openFds}); compare before and after. */
export function countOpenFds(): number {
  return openFds().size;
}
