/**
 * errno numbers of Linux x86-64/arm64 (asm-generic) and their names, for Node-style error codes, plus the
 * error every failed non-bpf() syscall turns into.
 *
 * @module
 */
import { BpfError } from '../../errors.js';

/** Name and short meaning of each errno bpf-skel may meet. */
const TABLE: Record<number, readonly [string, string]> = {
  1: ['EPERM', 'operation not permitted'],
  2: ['ENOENT', 'no such file, entry or object'],
  3: ['ESRCH', 'no such process'],
  4: ['EINTR', 'interrupted system call'],
  5: ['EIO', 'input/output error'],
  6: ['ENXIO', 'no such device or address'],
  7: ['E2BIG', 'argument too big'],
  8: ['ENOEXEC', 'exec format error'],
  9: ['EBADF', 'bad file descriptor'],
  10: ['ECHILD', 'no child processes'],
  11: ['EAGAIN', 'resource temporarily unavailable'],
  12: ['ENOMEM', 'out of memory'],
  13: ['EACCES', 'permission denied'],
  14: ['EFAULT', 'bad address'],
  16: ['EBUSY', 'device or resource busy'],
  17: ['EEXIST', 'already exists'],
  18: ['EXDEV', 'invalid cross-device link'],
  19: ['ENODEV', 'no such device'],
  20: ['ENOTDIR', 'not a directory'],
  21: ['EISDIR', 'is a directory'],
  22: ['EINVAL', 'invalid argument'],
  23: ['ENFILE', 'too many open files in system'],
  24: ['EMFILE', 'too many open files'],
  25: ['ENOTTY', 'inappropriate ioctl for device'],
  27: ['EFBIG', 'file too large'],
  28: ['ENOSPC', 'no space left'],
  29: ['ESPIPE', 'illegal seek'],
  30: ['EROFS', 'read-only file system'],
  32: ['EPIPE', 'broken pipe'],
  34: ['ERANGE', 'result out of range'],
  35: ['EDEADLK', 'resource deadlock would occur'],
  36: ['ENAMETOOLONG', 'name too long'],
  38: ['ENOSYS', 'function not implemented'],
  39: ['ENOTEMPTY', 'directory not empty'],
  40: ['ELOOP', 'too many levels of symbolic links'],
  61: ['ENODATA', 'no data available'],
  75: ['EOVERFLOW', 'value too large for defined data type'],
  88: ['ENOTSOCK', 'not a socket'],
  95: ['EOPNOTSUPP', 'operation not supported'],
  110: ['ETIMEDOUT', 'timed out'],
  114: ['EALREADY', 'operation already in progress'],
  115: ['EINPROGRESS', 'operation now in progress'],
  125: ['ECANCELED', 'operation canceled'],
  524: ['ENOTSUPP', 'operation not supported by the kernel'],
};

/** Numeric values of the errnos bpf-skel branches on. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  EINPROGRESS: 115,
  ENOTSUPP: 524,
} as const;

/** `'EPERM'` for 1; `'E<n>'` for numbers without a name here. */
export function errnoName(errno: number): string {
  return TABLE[errno]?.[0] ?? `E${errno}`;
}

/** A short meaning of an errno (`'operation not permitted'` for 1), or `'error <n>'`. */
export function errnoDescription(errno: number): string {
  return TABLE[errno]?.[1] ?? `error ${errno}`;
}

/**
 * The error for a failed syscall other than bpf(): `call` names it (`'openat'`, `'perf_event_open'`), `what`
 * says which object it was about.
 */
export function syscallFailure(call: string, errno: number, what?: string): BpfError {
  const code = errnoName(errno);
  const subject = what === undefined ? '' : ` (${what})`;
  return new BpfError(`${call}${subject} failed: ${code} (${errnoDescription(errno)})`, {
    code,
    errno,
    command: call,
  });
}
