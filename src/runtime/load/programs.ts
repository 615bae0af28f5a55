/**
 * Loads one linked program: first without a verifier log (fast path), and on failure again with a log
 * that grows until the whole of it fits, so the error can show it.
 *
 * @module
 */
import { BpfError, VerifierError } from '../../errors.js';
import { errnoName } from '../sys/errno.js';
import { type LoadLogResult, type ProgLoadOptions, progLoad } from '../sys/prog.js';

/** Largest verifier log kept (the kernel caps log_size at UINT32_MAX >> 2). */
const MAX_LOG = 64 * 1024 * 1024;
const FIRST_LOG = 256 * 1024;

/**
 * Loads `opts`, returning the FD and the log (empty unless `logLevel` asked for one). Throws VerifierError
 * when the verifier rejected the program, BpfError for other failures.
 */
export function loadWithLog(
  opts: ProgLoadOptions,
  program: string,
  logLevel: number,
): { fd: number; log: string } {
  if (logLevel === 0) {
    try {
      return { fd: progLoad(opts), log: '' };
    } catch (err) {
      if (!(err instanceof BpfError) || (err.errno !== 13 && err.errno !== 22 && err.errno !== 7)) throw err;
    }
  }
  let size = FIRST_LOG;
  for (;;) {
    const logBuf = new Uint8Array(size);
    const result: LoadLogResult = { logTrueSize: 0 };
    try {
      const fd = progLoad({ ...opts, logLevel: logLevel || 1, logBuf, result });
      return { fd, log: logLevel === 0 ? '' : decodeLog(logBuf) };
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      const needed = result.logTrueSize;
      if (err.errno === 28 /* ENOSPC: log too small */ && size < MAX_LOG) {
        size = Math.min(MAX_LOG, needed > size ? needed : size * 4);
        continue;
      }
      const log = decodeLog(logBuf);
      const truncated = err.errno === 28;
      if (log === '' && !truncated) throw err;
      throw new VerifierError(verifierMessage(program, err.errno, log, truncated), {
        code: errnoName(err.errno),
        errno: err.errno,
        command: 'BPF_PROG_LOAD',
        program,
        log,
        truncated,
      });
    }
  }
}

function decodeLog(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end === -1 ? buf : buf.subarray(0, end)).trimEnd();
}

/** The message of a verifier rejection: its last lines, which say what went wrong and where. */
export function verifierMessage(program: string, errno: number, log: string, truncated: boolean): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !/^processed \d+ insns/.test(l));
  const tail = lines.slice(-8).map((l) => `  ${l}`);
  const more = truncated ? ' (log truncated)' : '';
  return [
    `the verifier rejected program '${program}' (${errnoName(errno)})${more}; the end of its log:`,
    ...tail,
    "The whole log is in the error's `log` property.",
  ].join('\n');
}
