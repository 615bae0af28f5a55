/**
 * The one error hierarchy of bpf-skel. Every failure that reaches a user is a {@link BpfError}: it carries a
 * Node-style `code` (`'EPERM'`, `'EBADELF'`, ...), the kernel `errno` when a syscall failed (0 otherwise) and
 * the `command` that failed (a bpf() command name such as `'BPF_PROG_LOAD'`, a syscall name, or the parsing
 * step), so callers can branch on data instead of parsing messages.
 *
 * @module
 */

/** Fields common to every bpf-skel error. */
export interface BpfErrorOptions {
  /** Node-style code, e.g. `'EPERM'`, or a bpf-skel code such as `'EBADELF'`. */
  code: string;
  /** The kernel errno when a syscall failed, else 0. */
  errno?: number;
  /** What failed: a bpf() command (`'BPF_MAP_CREATE'`), a syscall (`'openat'`) or a step (`'parse ELF'`). */
  command?: string;
  cause?: unknown;
}

/** Base class of every error bpf-skel throws. */
export class BpfError extends Error {
  override name = 'BpfError';
  readonly code: string;
  readonly errno: number;
  readonly command: string;
  constructor(message: string, opts: BpfErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    // Names in messages come from object files; one with terminal control sequences must not reach a
    // terminal as such. Every write of the message (the loader adds context as errors pass up) is escaped.
    let text = escapeControls(message);
    Object.defineProperty(this, 'message', {
      get: () => text,
      set: (value: string) => {
        text = escapeControls(value);
      },
      enumerable: false,
      configurable: true,
    });
    this.code = opts.code;
    this.errno = opts.errno ?? 0;
    this.command = opts.command ?? '';
  }
}

/** Where in an input file a parse error was found. */
export interface ParseLocation {
  /** File path, or `'<bytes>'` when parsing a buffer. */
  file?: string;
  /** Section name (`'.BTF'`, `'tracepoint/syscalls/sys_enter_getpid'`, ...). */
  section?: string;
  /** Byte offset within the file or section. */
  offset?: number;
}

/** Malformed input: an ELF file, BTF or BTF.ext blob that cannot be read. */
export class ParseError extends BpfError {
  override name = 'ParseError';
  readonly file: string | undefined;
  readonly section: string | undefined;
  readonly offset: number | undefined;
  /** The message without its location prefix. */
  readonly reason: string;
  constructor(message: string, code: string, where: ParseLocation = {}) {
    super(formatLocated(message, where), { code, command: code === 'EBADBTF' ? 'parse BTF' : 'parse ELF' });
    this.reason = message;
    this.file = where.file;
    this.section = where.section;
    this.offset = where.offset;
  }
}

/** A malformed ELF file (`code: 'EBADELF'`). */
export class ElfError extends ParseError {
  override name = 'ElfError';
  constructor(message: string, where: ParseLocation = {}) {
    super(message, 'EBADELF', where);
  }
}

/** Malformed BTF or BTF.ext (`code: 'EBADBTF'`). */
export class BtfError extends ParseError {
  override name = 'BtfError';
  constructor(message: string, where: ParseLocation = {}) {
    super(message, 'EBADBTF', where);
  }
}

/** The verifier rejected a program. `log` holds the whole verifier log. */
export class VerifierError extends BpfError {
  override name = 'VerifierError';
  readonly program: string;
  readonly log: string;
  readonly truncated: boolean;
  constructor(message: string, opts: BpfErrorOptions & { program: string; log: string; truncated: boolean }) {
    super(message, opts);
    this.program = opts.program;
    this.log = opts.log;
    this.truncated = opts.truncated;
  }
}

/** The running kernel lacks something the object needs; `feature` names it. */
export class FeatureMissingError extends BpfError {
  override name = 'FeatureMissingError';
  readonly feature: string;
  constructor(message: string, opts: BpfErrorOptions & { feature: string }) {
    super(message, opts);
    this.feature = opts.feature;
  }
}

/** A caller-supplied option is wrong or conflicts with another (`code: 'EINVAL'` unless stated). */
export class OptionError extends BpfError {
  override name = 'OptionError';
  readonly option: string;
  constructor(message: string, opts: Omit<BpfErrorOptions, 'code'> & { option: string; code?: string }) {
    super(message, { ...opts, code: opts.code ?? 'EINVAL' });
    this.option = opts.option;
  }
}

/** C0 controls but newline and tab, DEL, C1 controls and bidirectional overrides, which reorder text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what it is for.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with terminal control characters written as `\xNN` / `\uNNNN` escapes. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Puts `context: ` before the message of a {@link BpfError} (what the failing call was about, e.g.
 * `xdp on eth0`); other values pass unchanged. Returns `err`, for `throw withContext(err, ...)`.
 */
export function withContext(err: unknown, context: string): unknown {
  if (err instanceof BpfError) err.message = `${context}: ${err.message}`;
  return err;
}

/** Runs `fn` and returns what it returns; a {@link BpfError} it throws gets `context` (see {@link withContext}). */
export function inContext<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw withContext(err, context);
  }
}

function formatLocated(message: string, where: ParseLocation): string {
  const parts: string[] = [];
  if (where.file !== undefined) parts.push(where.file);
  if (where.section !== undefined) parts.push(`section ${where.section}`);
  if (where.offset !== undefined) parts.push(`offset ${where.offset} (0x${where.offset.toString(16)})`);
  return parts.length === 0 ? message : `${parts.join(', ')}: ${message}`;
}

/**
 * A CO-RE relocation that cannot be applied at all (`code: 'EINVAL'` unless stated, `command: 'CO-RE'`):
 * an ambiguous match, an instruction that does not hold what the relocation expects, a value that does not
 * fit. A relocation that merely finds no target is not an error: its instruction is poisoned instead.
 */
export class CoreRelocationError extends BpfError {
  override name = 'CoreRelocationError';
  /** ELF section of the relocated instruction. */
  readonly section: string;
  /** Byte offset of the instruction within the section. */
  readonly insnOff: number;
  /** Relocation kind (`'field_byte_offset'`, ...). */
  readonly relocation: string;
  /** The local type and access path in C syntax (`'struct task_struct.pid'`). */
  readonly access: string;
  constructor(
    message: string,
    opts: { section: string; insnOff: number; relocation: string; access: string; code?: string },
  ) {
    super(
      `CO-RE relocation ${opts.relocation} of ${opts.access} at instruction ${opts.insnOff / 8} of section '${opts.section}': ${message}`,
      { code: opts.code ?? 'EINVAL', command: 'CO-RE' },
    );
    this.section = opts.section;
    this.insnOff = opts.insnOff;
    this.relocation = opts.relocation;
    this.access = opts.access;
  }
}
