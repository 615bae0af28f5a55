/**
 * The native test binary of the attach tests (test/bins/uprobe_target.c), built with gcc at test time
 * into test/tmp, and a way to run it so that a test can attach to it by pid before it does anything.
 *
 * @module
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const SOURCE = join(ROOT, 'test/bins/uprobe_target.c');
const OUT_DIR = join(ROOT, 'test/tmp', `attach-bins-${process.pid}`);

/** Builds the target (`pie: false` gives a fixed-address executable, whose addresses are not file offsets). */
export function buildTarget(opts: { pie: boolean }): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const out = join(OUT_DIR, opts.pie ? 'target-pie' : 'target-nopie');
  execFileSync('gcc', ['-O1', '-Wall', opts.pie ? '-pie' : '-no-pie', '-o', out, SOURCE], { stdio: 'pipe' });
  return out;
}

/** Removes what {@link buildTarget} made. */
export function removeTargets(): void {
  rmSync(OUT_DIR, { recursive: true, force: true });
}

/** A started target, blocked until {@link StartedTarget.go}. */
export interface StartedTarget {
  readonly pid: number;
  /** Lets it run its calls and waits for it to exit; resolves to what it printed. */
  go(): Promise<string>;
}

/** Starts the target for `n` calls of each kind, waiting on stdin before making any of them. */
export function startTarget(path: string, n: number): StartedTarget {
  const child = spawn(path, [String(n), 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`target exited with ${code}`)),
    );
  });
  if (child.pid === undefined) throw new Error(`cannot start ${path}`);
  return {
    pid: child.pid,
    go() {
      child.stdin.end('g');
      return exited;
    },
  };
}

/** Runs the target to completion (`n` calls of each kind) and returns what it printed. */
export function runTarget(path: string, n: number): Promise<string> {
  return startTarget(path, n).go();
}
