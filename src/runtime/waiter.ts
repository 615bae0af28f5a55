/**
 * Waiting for ring and perf buffers without blocking the event loop: an epoll set whose `epoll_wait` runs on
 * a worker thread, with at most one wait in flight; callers that ask meanwhile share it.
 *
 * @module
 */
import { EpollEvents, epollAdd, epollCreate } from './sys/epoll.js';
import { closeFd } from './sys/fd.js';

/** An epoll set and its single in-flight asynchronous wait. */
export interface EpollWaiter {
  /** The ready events of the last wait (`count`, `data(i)`, `events(i)`). */
  readonly events: EpollEvents;
  /** Watches `fd` for `flags` ({@link EpollFlag}); `data` comes back in ready events. */
  add(fd: number, flags: number, data: number): void;
  /** Waits up to `timeoutMs` on a worker thread; resolves with the number of ready events. */
  wait(timeoutMs: number): Promise<number>;
  /** Closes the epoll FD (a wait in flight ends with its timeout). */
  close(): void;
}

/** A new waiter with room for `capacity` ready events per wait. */
export function newEpollWaiter(capacity: number): EpollWaiter {
  const events = new EpollEvents(capacity);
  const epfd = epollCreate();
  let pending: Promise<number> | undefined;
  return {
    events,
    add(fd, flags, data) {
      epollAdd(epfd, fd, flags, data);
    },
    wait(timeoutMs) {
      pending ??= events.waitAsync(epfd, Math.ceil(timeoutMs)).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    close() {
      closeFd(epfd);
    },
  };
}

/** A waiter watching the one FD `fd` for `flags` (closed again if watching it fails). */
export function waiterFor(fd: number, flags: number): EpollWaiter {
  const waiter = newEpollWaiter(1);
  try {
    waiter.add(fd, flags, 0);
  } catch (err) {
    waiter.close();
    throw err;
  }
  return waiter;
}
