/**
 * What the tools' command lines share: integer options with a range, the error report that ends a run,
 * and the interval wait of the histogram tools.
 *
 * @module
 */
import { BpfError } from 'bpf-skel/runtime';

/** A bad command line: the message says which option and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `text` as an integer in `min..max`; `fallback` when the option was not given. */
export function intOption(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be an integer in ${min}..${max}, not '${text}'`);
  }
  return n;
}

/**
 * Runs `parse` (which calls `util.parseArgs`), turning its errors (unknown option, missing value) into a
 * {@link UsageError}.
 */
export function parseCommandLine<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((err as Error).message);
    throw err;
  }
}

/**
 * Reports what ended a run and sets the exit status: usage errors with the usage text (status 2), kernel
 * errors by their message (status 1), anything else in full.
 */
export function reportFailure(tool: string, usage: string, err: unknown): void {
  if (err instanceof UsageError) {
    console.error(`${tool}: ${err.message}\n${usage}`);
    process.exitCode = 2;
    return;
  }
  console.error(err instanceof BpfError ? `${tool}: ${err.message}` : err);
  process.exitCode = 1;
}

/** An interval of a histogram tool: `done` resolves after it, or at once on Ctrl-C. */
export interface Interval {
  readonly done: Promise<void>;
  /** Whether Ctrl-C ended it (the tool then prints and stops). */
  interrupted(): boolean;
}

/** Waits `ms` (0: until Ctrl-C) or until Ctrl-C, whichever comes first. */
export function interval(ms: number): Interval {
  let hit = false;
  const done = new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onSignal = () => {
      hit = true;
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', onSignal);
    if (ms > 0) {
      timer = setTimeout(() => {
        process.off('SIGINT', onSignal);
        resolve();
      }, ms);
    }
  });
  return { done, interrupted: () => hit };
}
