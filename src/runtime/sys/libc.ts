/**
 * The koffi binding to libc. Every native call of bpf-skel goes through the functions declared here; the
 * rest of `src/runtime/sys` wraps them in typed, checked calls. Prototypes are fixed rather than variadic:
 * koffi calls a fixed prototype much faster, and `syscall(2)`, `fcntl(2)` and `ioctl(2)` read their integer
 * arguments from registers either way.
 *
 * Every function here returns the raw C result; read {@link errno} right after a failure.
 *
 * @module
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

/** `syscall(nr, a, b, c)` with a pointer (or buffer) in the second slot, as bpf() and most calls here use. */
export const syscall3p = libc.func('long syscall(long nr, long a, void *b, ulong c)') as (
  nr: number,
  a: number,
  b: Buffer | bigint | null,
  c: number | bigint,
) => number;

/**
 * `syscall(nr, a, b, c)` with integer arguments only, the pointer passed as a number address. The hot
 * paths (map element access) use it: koffi converts a number faster than it finds a buffer's address.
 */
export const syscall3 = libc.func('long syscall(long nr, long a, long b, ulong c)') as (
  nr: number,
  a: number,
  b: number,
  c: number,
) => number;

/** `syscall(nr, a, b, c, d, e)` with integer arguments only (pointers passed as bigint addresses). */
export const syscall5 = libc.func('long syscall(long nr, long a, long b, long c, long d, long e)') as (
  nr: number,
  a: number | bigint,
  b: number | bigint,
  c: number | bigint,
  d: number | bigint,
  e: number | bigint,
) => number;

/**
 * Numbers of the syscalls libc has no wrapper for, per CPU architecture (from the kernel's syscall tables).
 * arm64, riscv64 and loongarch64 share the asm-generic table.
 */
const SYSCALL_NUMBERS: Record<string, { bpf: number; perfEventOpen: number }> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  ppc64: { bpf: 361, perfEventOpen: 319 },
  s390x: { bpf: 351, perfEventOpen: 331 },
};
const ASM_GENERIC = { bpf: 280, perfEventOpen: 241 };

/** Numbers of the raw syscalls used here, for the running architecture. */
export const syscallNumbers = SYSCALL_NUMBERS[process.arch] ?? ASM_GENERIC;

/** `close(2)`. */
export const cClose = libc.func('int close(int fd)') as (fd: number) => number;

/** `fcntl(2)` with an integer third argument (F_GETFD, F_DUPFD_CLOEXEC, ...). */
export const cFcntl = libc.func('int fcntl(int fd, int cmd, long arg)') as (
  fd: number,
  cmd: number,
  arg: number,
) => number;

/** `openat(2)`; the path is passed as a NUL-terminated UTF-8 string. */
export const cOpenat = libc.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)') as (
  dirfd: number,
  path: string,
  flags: number,
  mode: number,
) => number;

/** `read(2)` into a buffer. */
export const cRead = libc.func('long read(int fd, void *buf, size_t count)') as (
  fd: number,
  buf: Uint8Array,
  count: number,
) => number;

/** `mmap(2)`; returns the address, or `MAP_FAILED` (2^64 - 1) on failure. */
export const cMmap = libc.func(
  'void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)',
) as (addr: bigint | null, len: number, prot: number, flags: number, fd: number, off: bigint) => bigint;

/** `munmap(2)`. */
export const cMunmap = libc.func('int munmap(void *addr, size_t len)') as (
  addr: bigint,
  len: number,
) => number;

/** `ioctl(2)` with an integer argument (or none: pass 0). */
export const cIoctl = libc.func('int ioctl(int fd, ulong request, long arg)') as (
  fd: number,
  request: number,
  arg: number,
) => number;

/** `epoll_create1(2)`. */
export const cEpollCreate1 = libc.func('int epoll_create1(int flags)') as (flags: number) => number;

/** `epoll_ctl(2)`; `event` points at one `struct epoll_event` (or is null for EPOLL_CTL_DEL). */
export const cEpollCtl = libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)') as (
  epfd: number,
  op: number,
  fd: number,
  event: Uint8Array | null,
) => number;

const epollWaitFn = libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)');

/** `epoll_wait(2)` on the calling thread. */
export const cEpollWait = epollWaitFn as (
  epfd: number,
  events: Uint8Array,
  max: number,
  timeout: number,
) => number;

/**
 * `epoll_wait(2)` on one of koffi's worker threads; `done` runs on the event loop with the result and the
 * errno of that call (`failure` is set when koffi itself could not make the call).
 */
export function cEpollWaitAsync(
  epfd: number,
  events: Uint8Array,
  max: number,
  timeout: number,
  done: (result: number, errno: number, failure?: unknown) => void,
): void {
  epollWaitFn.async(epfd, events, max, timeout, (failure: unknown, result: number) => {
    if (failure !== null && failure !== undefined) done(-1, 0, failure);
    else done(result, result < 0 ? koffi.errno() : 0);
  });
}

/** `getpagesize(3)`. */
export const cGetpagesize = libc.func('int getpagesize()') as () => number;

/** The calling thread's errno after the last native call. */
export function errno(): number {
  return koffi.errno();
}

/** Address of a Buffer's first byte, for attr fields that hold user pointers. */
export function addressOf(buf: Buffer | Uint8Array): bigint {
  return koffi.address(buf) as bigint;
}

/**
 * A zero-copy ArrayBuffer over native memory at `address` (for example an mmap()ed region). It stays valid
 * only while that memory is mapped.
 */
export function viewOf(address: bigint, length: number): ArrayBuffer {
  return koffi.view(address, length);
}

export { koffi, libc };

/** `socket(2)`. */
export const cSocket = libc.func('int socket(int domain, int type, int protocol)') as (
  domain: number,
  type: number,
  protocol: number,
) => number;

/** `bind(2)`; `addr` holds the socket address structure. */
export const cBind = libc.func('int bind(int fd, const void *addr, uint32_t len)') as (
  fd: number,
  addr: Uint8Array,
  len: number,
) => number;

/** `sendto(2)`; `addr` holds the destination socket address structure. */
export const cSendto = libc.func(
  'long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
) as (fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number) => number;

/** `recv(2)` into a buffer. */
export const cRecv = libc.func('long recv(int fd, void *buf, size_t len, int flags)') as (
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
) => number;
