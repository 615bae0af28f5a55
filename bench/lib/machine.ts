/**
 * The machine a benchmark ran on: CPU, cores, kernel, Node and libbpf versions, and the commit.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';

/** Where the numbers come from; printed above the table and stored with every JSON result. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  readonly libbpf: string;
  readonly bpftool: string;
  readonly clang: string;
  readonly commit: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The libbpf version of libbpf-dev's headers (what bench/c links against). */
function libbpfVersion(): string {
  try {
    const h = readFileSync('/usr/include/bpf/libbpf_version.h', 'utf8');
    const major = /LIBBPF_MAJOR_VERSION\s+(\d+)/.exec(h)?.[1];
    const minor = /LIBBPF_MINOR_VERSION\s+(\d+)/.exec(h)?.[1];
    return major !== undefined && minor !== undefined ? `${major}.${minor}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Describes this machine; `root` is the repository, for the commit. */
export function describeMachine(root: string): Machine {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    kernel: release(),
    node: process.version,
    libbpf: libbpfVersion(),
    bpftool: run('bpftool', ['version']).split('\n')[0] ?? 'unknown',
    clang: (run('clang', ['--version']).split('\n')[0] ?? 'unknown').replace(/^Debian /, ''),
    commit: run('git', ['rev-parse', '--short', 'HEAD'], root),
  };
}
