/**
 * What every figure gets from the runner: where things are, how long to run, and a progress log.
 *
 * @module
 */
import { join } from 'node:path';

/** Shared settings of one benchmark run. */
export interface BenchContext {
  /** The repository root. */
  readonly root: string;
  /** bench/out: C baselines, built objects, compiled children (gitignored). */
  readonly out: string;
  /** A temporary directory for generated files, removed at the end of the run. */
  readonly tmp: string;
  /** `--quick`: fewer rounds and smaller sizes, for a smoke check. */
  readonly quick: boolean;
  /** Progress on stderr. */
  log(message: string): void;
}

/** Path of a C baseline binary. */
export function cBin(ctx: BenchContext, name: string): string {
  return join(ctx.out, name);
}

/** Path of a test fixture object. */
export function fixture(ctx: BenchContext, name: string): string {
  return join(ctx.root, 'test', 'fixtures', `${name}.bpf.o`);
}

/** Path of a benchmark object under bench/bpf. */
export function benchObject(ctx: BenchContext, name: string): string {
  return join(ctx.root, 'bench', 'bpf', `${name}.bpf.o`);
}
