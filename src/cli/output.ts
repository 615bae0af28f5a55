/**
 * How the CLI writes to the terminal: colour only on a TTY (and never with `NO_COLOR`), a progress line
 * that rewrites itself on a TTY and stays silent elsewhere, JSON for tools, and the one-line error message.
 *
 * @module
 */
import { BpfError } from '../errors.js';

/** The stream properties output decisions depend on (a `process.stdout`/`stderr` fits). */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Text decorations; each returns its input unchanged when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * Whether to colour what goes to `stream`: only a terminal, and not when `NO_COLOR` is set to anything
 * non-empty (https://no-color.org) or `TERM` is `dumb`.
 */
export function colorEnabled(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

/** SGR sequence pairs; the closing codes reset only what was set, so styles nest. */
function sgr(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
}

/** The style for `stream`. */
export function styleFor(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): Style {
  const on = colorEnabled(stream, env);
  return {
    enabled: on,
    bold: sgr(on, 1, 22),
    dim: sgr(on, 2, 22),
    red: sgr(on, 31, 39),
    green: sgr(on, 32, 39),
    yellow: sgr(on, 33, 39),
    cyan: sgr(on, 36, 39),
  };
}

/** Writes `value` as indented JSON and a newline. `undefined` members are dropped, as JSON.stringify does. */
export function writeJson(stream: OutputStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A status line that is replaced as work goes on. */
export interface Progress {
  /** Shows `text` in place of the previous status (TTY only). */
  update(text: string): void;
  /** Removes the status line; then writes `line` (if any) as a normal line, on any stream. */
  done(line?: string): void;
}

/**
 * A progress line on `stream`. On a terminal it is one line rewritten in place (carriage return, clear to
 * end of line); elsewhere updates are dropped so logs and pipes see only the final lines.
 */
export function progress(stream: OutputStream): Progress {
  const live = stream.isTTY === true;
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    update(text) {
      if (!live) return;
      clear();
      stream.write(text);
      shown = true;
    },
    done(line) {
      clear();
      if (line !== undefined) stream.write(`${line}\n`);
    },
  };
}

/** Wrong use of the command line found after parsing (yargs reports the rest): one line, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The message for a failure that ends the CLI: one line for bpf-skel's typed errors (they say what and
 * where), the stack for anything else (a bug worth reporting).
 */
export function errorMessage(err: unknown, style: Style): string {
  const prefix = style.red(style.bold('bpf-skel:'));
  if (err instanceof BpfError || err instanceof UsageError) return `${prefix} ${err.message}`;
  if (err instanceof Error) return `${prefix} ${err.stack ?? err.message}`;
  return `${prefix} ${String(err)}`;
}

/** The exit status for a failure: 1 for typed errors (bad input, kernel refusal), 2 for usage and bugs. */
export function exitCodeFor(err: unknown): number {
  return err instanceof BpfError ? 1 : 2;
}
