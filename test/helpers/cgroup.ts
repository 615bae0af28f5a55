/**
 * cgroup v2 for tests: where the hierarchy is mounted, and a test cgroup of this process's own under it
 * that child processes can be started in.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';

/** The cgroup v2 mount point (a pure v2 system, or the `unified` part of a hybrid one); undefined if none. */
export function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2') return mountPoint;
  }
  return undefined;
}

/** A cgroup made by {@link createTestCgroup}. */
export interface TestCgroup {
  /** Its directory in the cgroup v2 hierarchy. */
  readonly path: string;
  /** Runs a bash script in a child process that first moves itself into this cgroup; waits for it. */
  run(script: string): void;
  /** Removes the cgroup (it must have no processes left); safe to call more than once. */
  remove(): void;
}

/** Makes cgroup `bpfskel-<tag>-<pid>` under the cgroup v2 root; throws when there is no cgroup v2 mount. */
export function createTestCgroup(tag: string): TestCgroup {
  const root = cgroup2Root();
  if (root === undefined) throw new Error('no cgroup2 mount');
  const path = `${root}/bpfskel-${tag}-${process.pid}`;
  mkdirSync(path);
  let removed = false;
  return {
    path,
    run(script) {
      // The shell moves itself in, then becomes bash: every process of the script is in the cgroup.
      execFileSync('sh', ['-c', 'echo $$ > "$CG/cgroup.procs" && exec bash -c "$0"', script], {
        env: { ...process.env, CG: path },
        stdio: 'pipe',
      });
    },
    remove() {
      if (removed) return;
      removed = true;
      rmdirSync(path);
    },
  };
}
