/**
 * Socket calls bpf-skel needs: attaching a program to a socket as its filter (`SO_ATTACH_BPF`) and a
 * close-on-exec socket pair to exercise one.
 *
 * @module
 */
import { checkFd, checkS32 } from './attr.js';
import { syscallFailure } from './errno.js';
import { errno, libc } from './libc.js';

/** `SOL_SOCKET` (asm-generic, also x86-64 and arm64). */
export const SOL_SOCKET = 1;
/** `SO_ATTACH_BPF`: the option value is a program FD (`int`). */
export const SO_ATTACH_BPF = 50;
/** `SO_DETACH_BPF`, the same number as `SO_DETACH_FILTER`: removes the socket's filter. */
export const SO_DETACH_BPF = 27;

/** Address families and socket types for {@link socketPair}. */
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
/** `SOCK_NONBLOCK` and `SOCK_CLOEXEC`, or-ed into a socket type. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

const cSetsockopt = libc.func(
  'int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)',
) as (fd: number, level: number, optname: number, optval: Uint8Array, optlen: number) => number;

const cSocketpair = libc.func('int socketpair(int domain, int type, int protocol, void *sv)') as (
  domain: number,
  type: number,
  protocol: number,
  sv: Int32Array,
) => number;

const intOption = new Int32Array(1);
const intBytes = new Uint8Array(intOption.buffer);

/** `setsockopt(fd, level, name, &value, sizeof(int))`. */
export function setSockOptInt(fd: number, level: number, name: number, value: number, what: string): void {
  checkFd(fd, 'socket FD');
  intOption[0] = checkS32(value, what);
  if (cSetsockopt(fd, level, name, intBytes, 4) < 0) {
    throw syscallFailure('setsockopt', errno(), `${what}, socket fd ${fd}`);
  }
}

/** `SO_ATTACH_BPF`: runs `progFd` (a socket filter program) on every packet `socketFd` receives. */
export function socketAttachBpf(socketFd: number, progFd: number): void {
  setSockOptInt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, checkFd(progFd, 'program FD'), 'SO_ATTACH_BPF');
}

/** `SO_DETACH_BPF`: removes the socket's filter. Fails with `ENOENT` when it has none. */
export function socketDetachBpf(socketFd: number): void {
  setSockOptInt(socketFd, SOL_SOCKET, SO_DETACH_BPF, 0, 'SO_DETACH_BPF');
}

/** `socketpair(2)` with `SOCK_CLOEXEC` added: two connected sockets. */
export function socketPair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = new Int32Array(2);
  if (cSocketpair(domain, type | SOCK_CLOEXEC, protocol, sv) < 0) {
    throw syscallFailure('socketpair', errno(), `domain ${domain}, type ${type}`);
  }
  return [sv[0], sv[1]];
}
