/**
 * Running the C baselines and other child processes of the benchmark.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Runs `cmd args` and returns its stdout; throws with its stderr when it fails. */
export function runText(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; input?: string } = {},
): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Runs a baseline that prints one JSON object and returns it parsed. */
export function runJson<T>(cmd: string, args: readonly string[], cwd?: string): T {
  return JSON.parse(runText(cmd, args, { cwd })) as T;
}

/**
 * Wall time of one run of `cmd args` in nanoseconds, its stdout written to `stdoutFile` (else discarded);
 * throws when it fails.
 */
export function timeProcess(cmd: string, args: readonly string[], stdoutFile?: string): number {
  const fd = stdoutFile === undefined ? 'ignore' : openSync(stdoutFile, 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    const ns = Number(process.hrtime.bigint() - t0);
    if (r.error !== undefined) throw r.error;
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr}`);
    return ns;
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}
