/**
 * epoll(7) for waiting on ring buffer and perf buffer FDs.
 *
 * A blocking {@link epollWait} stops the whole Node event loop for up to its timeout, so callers on the main
 * thread use timeout 0 (poll) or a short timeout; {@link epollWaitAsync} blocks a koffi worker thread instead
 * and leaves the event loop free, for consumers that wait indefinitely.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import { checkFd, checkS32 } from './attr.js';
import { Errno, syscallFailure } from './errno.js';
import { cEpollCreate1, cEpollCtl, cEpollWait, cEpollWaitAsync, errno } from './libc.js';

/** epoll event bits. */
export const EpollFlag = {
  IN: 0x1,
  PRI: 0x2,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  RDHUP: 0x2000,
  EXCLUSIVE: 0x10000000,
  ONESHOT: 0x40000000,
  ET: 0x80000000,
} as const;

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;

/** `struct epoll_event` is packed on x86-64 (12 bytes), naturally aligned elsewhere (16 bytes). */
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

/** `epoll_create1(EPOLL_CLOEXEC)`: a new epoll FD. */
export function epollCreate(): number {
  const fd = cEpollCreate1(EPOLL_CLOEXEC);
  if (fd < 0) throw syscallFailure('epoll_create1', errno());
  return fd;
}

const ctlEvent = Buffer.alloc(EVENT_SIZE);

function ctl(epfd: number, op: number, fd: number, events: number, data: number, name: string): void {
  checkFd(epfd, 'epoll FD');
  checkFd(fd, 'watched FD');
  ctlEvent.fill(0);
  ctlEvent.writeUInt32LE(events >>> 0, 0);
  ctlEvent.writeUInt32LE(checkS32(data, 'epoll data') >>> 0, DATA_OFFSET);
  if (cEpollCtl(epfd, op, fd, ctlEvent) < 0) throw syscallFailure(`epoll_ctl(${name})`, errno(), `fd ${fd}`);
}

/** `EPOLL_CTL_ADD`: watch `fd` for `events` ({@link EpollFlag} bits); `data` comes back with each event. */
export function epollAdd(epfd: number, fd: number, events: number, data: number): void {
  ctl(epfd, EPOLL_CTL_ADD, fd, events, data, 'EPOLL_CTL_ADD');
}

/** `EPOLL_CTL_MOD`: change what `fd` is watched for. */
export function epollModify(epfd: number, fd: number, events: number, data: number): void {
  ctl(epfd, EPOLL_CTL_MOD, fd, events, data, 'EPOLL_CTL_MOD');
}

/** `EPOLL_CTL_DEL`: stop watching `fd`. */
export function epollDelete(epfd: number, fd: number): void {
  checkFd(epfd, 'epoll FD');
  checkFd(fd, 'watched FD');
  if (cEpollCtl(epfd, EPOLL_CTL_DEL, fd, null) < 0)
    throw syscallFailure('epoll_ctl(EPOLL_CTL_DEL)', errno(), `fd ${fd}`);
}

/** A reusable array of ready events that a wait fills; read entries 0 to `count - 1`. */
export class EpollEvents {
  readonly capacity: number;
  /** Ready events of the last wait. */
  count = 0;
  readonly #bytes: Buffer;
  #waiting = false;

  constructor(capacity = 64) {
    if (!Number.isInteger(capacity) || capacity <= 0 || capacity > 65536) {
      throw new BpfError(`epoll event capacity must be 1 to 65536, got ${capacity}`, { code: 'EINVAL' });
    }
    this.capacity = capacity;
    this.#bytes = Buffer.alloc(capacity * EVENT_SIZE);
  }

  /** The event bits ({@link EpollFlag}) of ready entry `i`. */
  events(i: number): number {
    return this.#bytes.readUInt32LE(i * EVENT_SIZE);
  }

  /** The `data` given to {@link epollAdd} for ready entry `i`. */
  data(i: number): number {
    return this.#bytes.readInt32LE(i * EVENT_SIZE + DATA_OFFSET);
  }

  /**
   * `epoll_wait` on the calling thread, for at most `timeoutMs` (0 = just poll, -1 = forever: avoid on the
   * main thread). Returns the number of ready events (also in `count`); an interrupted wait returns 0.
   */
  wait(epfd: number, timeoutMs: number): number {
    this.#checkIdle(epfd);
    const n = cEpollWait(epfd, this.#bytes, this.capacity, checkS32(timeoutMs, 'timeout'));
    if (n < 0) {
      const err = errno();
      this.count = 0;
      if (err === Errno.EINTR) return 0;
      throw syscallFailure('epoll_wait', err, `epoll fd ${epfd}`);
    }
    this.count = n;
    return n;
  }

  /**
   * `epoll_wait` on a koffi worker thread: the event loop keeps running while it blocks. Resolves with the
   * number of ready events (also in `count`). No other wait may use this object until it settles.
   */
  waitAsync(epfd: number, timeoutMs: number): Promise<number> {
    this.#checkIdle(epfd);
    checkS32(timeoutMs, 'timeout');
    this.#waiting = true;
    return new Promise((resolve, reject) => {
      cEpollWaitAsync(epfd, this.#bytes, this.capacity, timeoutMs, (n, err, failure) => {
        this.#waiting = false;
        this.count = Math.max(n, 0);
        if (failure !== undefined) {
          reject(
            new BpfError(`epoll_wait on a worker thread failed: ${String(failure)}`, {
              code: 'EIO',
              command: 'epoll_wait',
              cause: failure,
            }),
          );
        } else if (n < 0 && err !== Errno.EINTR) {
          reject(syscallFailure('epoll_wait', err, `epoll fd ${epfd}`));
        } else {
          resolve(this.count);
        }
      });
    });
  }

  #checkIdle(epfd: number): void {
    checkFd(epfd, 'epoll FD');
    if (this.#waiting) {
      throw new BpfError('these EpollEvents are in use by a pending waitAsync', {
        code: 'EBUSY',
        errno: Errno.EBUSY,
      });
    }
  }
}

/** `epoll_wait` into `out` on the calling thread: see {@link EpollEvents.wait}. */
export function epollWait(epfd: number, out: EpollEvents, timeoutMs: number): number {
  return out.wait(epfd, timeoutMs);
}

/** `epoll_wait` into `out` on a worker thread: see {@link EpollEvents.waitAsync}. */
export function epollWaitAsync(epfd: number, out: EpollEvents, timeoutMs: number): Promise<number> {
  return out.waitAsync(epfd, timeoutMs);
}
