/**
 * What the sandbox parent and its child say to each other: one JSON object per line over a socket the child
 * inherits as FD 3. The child is untrusted only in the sense that it may crash; every line is checked.
 *
 * @module
 */

/** The FD number of the parent-child channel in the child. */
export const CHANNEL_FD = 3;

/** Exit status of the child when setting up the sandbox failed (the command never ran). */
export const SETUP_FAILED_STATUS = 125;

/** What the child is asked to set up, passed as its first argument (JSON). */
export interface ChildConfig {
  /** Make a BPF FS at all. */
  readonly mount: boolean;
  /** Absolute directory to mount it on (created if missing). */
  readonly at: string;
}

/** A failure, as data that crosses the channel and becomes a `BpfError` again in the parent. */
export interface FailureMessage {
  readonly type: 'error';
  readonly message: string;
  readonly code: string;
  readonly errno: number;
  readonly command: string;
}

/** Child to parent. */
export type ChildMessage =
  | { readonly type: 'fsfd'; readonly fd: number }
  | { readonly type: 'mounted'; readonly at: string }
  | { readonly type: 'ready' }
  | FailureMessage;

/** Parent to child. */
export type ParentMessage =
  | { readonly type: 'configured' }
  | { readonly type: 'abort'; readonly message: string };

/** One line of the channel. */
export function encodeMessage(message: ChildMessage | ParentMessage): string {
  return `${JSON.stringify(message)}\n`;
}

function parseObject(line: string, from: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`sandbox: malformed message from the ${from}: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(
      `sandbox: message from the ${from} is not an object: ${JSON.stringify(line.slice(0, 200))}`,
    );
  }
  return value as Record<string, unknown>;
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function isFdNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Reads a child message; throws on anything that is not one. */
export function decodeChildMessage(line: string): ChildMessage {
  const m = parseObject(line, 'child');
  switch (m.type) {
    case 'fsfd':
      if (isFdNumber(m.fd)) return { type: 'fsfd', fd: m.fd };
      break;
    case 'mounted':
      if (isString(m.at)) return { type: 'mounted', at: m.at };
      break;
    case 'ready':
      return { type: 'ready' };
    case 'error':
      if (isString(m.message) && isString(m.code) && typeof m.errno === 'number' && isString(m.command)) {
        return { type: 'error', message: m.message, code: m.code, errno: m.errno, command: m.command };
      }
      break;
  }
  throw new Error(`sandbox: unexpected message from the child: ${JSON.stringify(line.slice(0, 200))}`);
}

/** Reads a parent message; throws on anything that is not one. */
export function decodeParentMessage(line: string): ParentMessage {
  const m = parseObject(line, 'parent');
  if (m.type === 'configured') return { type: 'configured' };
  if (m.type === 'abort' && isString(m.message)) return { type: 'abort', message: m.message };
  throw new Error(`sandbox: unexpected message from the parent: ${JSON.stringify(line.slice(0, 200))}`);
}

/** The child's arguments: `<config JSON> -- <command...>`. */
export function childArgs(config: ChildConfig, command: readonly string[]): string[] {
  return [JSON.stringify(config), '--', ...command];
}

/** Inverse of {@link childArgs}. */
export function parseChildArgs(args: readonly string[]): { config: ChildConfig; command: string[] } {
  const [json, separator, ...command] = args;
  if (json === undefined || separator !== '--' || command.length === 0) {
    throw new Error('sandbox child: usage: child <config JSON> -- <command...>');
  }
  const m = parseObject(json, 'parent');
  if (typeof m.mount !== 'boolean' || !isString(m.at)) throw new Error(`sandbox child: bad config ${json}`);
  return { config: { mount: m.mount, at: m.at }, command };
}
