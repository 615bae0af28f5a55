/**
 * File descriptor plumbing: close, close-on-exec duplicate, open (always `O_CLOEXEC`), read, and the
 * kernel's per-FD description in `/proc/self/fdinfo`.
 *
 * @module
 */
import { constants, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { OptionError } from '../../errors.js';
import { checkFd, checkS32 } from './attr.js';
import { Errno, syscallFailure } from './errno.js';
import { cClose, cFcntl, cOpenat, cRead, errno } from './libc.js';

/** `AT_FDCWD`: resolve a relative path against the current directory. */
export const AT_FDCWD = -100;

/** `O_CLOEXEC` (same value on x86-64 and arm64). */
export const O_CLOEXEC = 0o2000000;

/** `O_DIRECTORY` for this architecture. */
export const O_DIRECTORY = constants.O_DIRECTORY;

/** `O_RDONLY`. */
export const O_RDONLY = constants.O_RDONLY;

const F_GETFD = 1;
const F_DUPFD_CLOEXEC = 1030;

/** Closes `fd`. Throws a {@link BpfError} (`EBADF`) when it was not open. */
export function closeFd(fd: number): void {
  checkFd(fd, 'FD to close');
  // Linux releases the FD even when close() reports EINTR, so that is success.
  if (cClose(fd) < 0 && errno() !== Errno.EINTR) throw syscallFailure('close', errno(), `fd ${fd}`);
}

/**
 * A close-on-exec duplicate of `fd` numbered `min` or above (`fcntl(F_DUPFD_CLOEXEC)`), so that it never
 * lands on stdin, stdout or stderr by default.
 */
export function dupCloexec(fd: number, min = 3): number {
  checkFd(fd, 'FD to duplicate');
  checkFd(min, 'lowest FD number');
  const r = cFcntl(fd, F_DUPFD_CLOEXEC, min);
  if (r < 0) throw syscallFailure('fcntl(F_DUPFD_CLOEXEC)', errno(), `fd ${fd}`);
  return r;
}

/**
 * `openat(dirFd, path, flags | O_CLOEXEC, mode)`: returns the new FD. `dirFd` defaults to {@link AT_FDCWD}.
 */
export function openAt(path: string, flags: number, dirFd = AT_FDCWD, mode = 0): number {
  if (path.includes('\0')) throw new OptionError('path must not contain a NUL character', { option: 'path' });
  checkS32(flags, 'open flags');
  checkS32(dirFd, 'directory FD');
  const fd = cOpenat(dirFd, path, flags | O_CLOEXEC, mode);
  if (fd < 0) throw syscallFailure('openat', errno(), path);
  return fd;
}

/**
 * {@link openDir} that returns `-errno` instead of throwing, for callers that expect failure often (the
 * implicit token attempt of every load) and would otherwise pay for an exception each time.
 */
export function openDirRaw(path: string): number {
  if (path.includes('\0')) return -22;
  const fd = cOpenat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  return fd < 0 ? -errno() : fd;
}

/** Opens a directory read-only (`O_RDONLY | O_DIRECTORY | O_CLOEXEC`), e.g. a BPF FS for a token. */
export function openDir(path: string, dirFd = AT_FDCWD): number {
  return openAt(path, O_RDONLY | O_DIRECTORY, dirFd);
}

/**
 * Reads once from `fd` into `buf` (retrying on `EINTR`) and returns the byte count; 0 means end of file.
 * Throws on failure, including `EAGAIN` from a non-blocking FD with nothing to read.
 */
export function readFd(fd: number, buf: Uint8Array): number {
  checkFd(fd, 'FD to read');
  for (;;) {
    const n = cRead(fd, buf, buf.length);
    if (n >= 0) return n;
    const err = errno();
    if (err !== Errno.EINTR) throw syscallFailure('read', err, `fd ${fd}`);
  }
}

/** Reads `fd` to its end (for example a BPF iterator FD) and returns everything read. */
export function readToEnd(fd: number, chunkSize = 65536): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(chunkSize);
    const n = readFd(fd, chunk);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
  }
  return Buffer.concat(chunks, total);
}

/** Whether `fd` is an open file descriptor of this process. */
export function isFdOpen(fd: number): boolean {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) return false;
  return cFcntl(fd, F_GETFD, 0) >= 0;
}

/**
 * The `key: value` lines of `/proc/self/fdinfo/<fd>` (for BPF objects: `map_type`, `prog_tag`,
 * `link_type`, token `allowed_cmds`, ...). Values keep their text; repeated keys keep the last one.
 */
export function fdinfo(fd: number): Record<string, string> {
  checkFd(fd, 'FD');
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw syscallFailure('read fdinfo', code === 'ENOENT' ? Errno.EBADF : errnoFromCode(code), `fd ${fd}`);
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return out;
}

function errnoFromCode(code: string | undefined): number {
  const known = code === undefined ? undefined : (osConstants.errno as Record<string, number>)[code];
  return known ?? Errno.EIO;
}
