/**
 * Memory of mmapable maps shared with BPF programs. A view of unmapped memory would crash the process when
 * touched, and JavaScript cannot revoke an ArrayBuffer, so releasing a mapping first puts private zero pages
 * in its place (the map is freed at once; stale views read zeros), and the address range itself is unmapped
 * only when the garbage collector has dropped every view of it.
 *
 * @module
 */
import { BpfError } from '../errors.js';
import type { BpfMap } from './map.js';
import { MapMode, mmapFd, munmap, Prot, pageSize, remapAnonymous } from './sys/mmap.js';

/** A mapping of map memory. `buffer` is zero-copy; `unmap` releases the map (idempotent). */
export interface MapMapping {
  readonly buffer: ArrayBuffer;
  readonly unmap: () => void;
}

const collected = new FinalizationRegistry<{ address: bigint; length: number }>(({ address, length }) => {
  munmap(address, length);
});

/**
 * Maps `size` bytes (rounded up to pages) of map `fd` at `offset`, shared with the kernel: read-write, or
 * read-only for pages the kernel will not let user space write (a ring buffer's producer side).
 */
export function mmapMap(fd: number, size: number, offset = 0, writable = true): MapMapping {
  const page = pageSize();
  const length = Math.ceil(size / page) * page;
  const m = mmapFd(fd, length, writable ? Prot.READ | Prot.WRITE : Prot.READ, MapMode.SHARED, offset);
  const range = { address: m.address, length };
  collected.register(m.view, range);
  let released = false;
  return {
    buffer: m.view,
    unmap() {
      if (released) return;
      released = true;
      remapAnonymous(range.address, range.length);
    },
  };
}

/** The pages of a ring buffer map: the consumer position page, and the producer page with the data twice. */
export interface RingPages {
  readonly consumer: ArrayBuffer;
  /** The producer position page followed by the data area mapped twice (records that wrap read straight on). */
  readonly producer: ArrayBuffer;
  /** Offset of the data area within {@link RingPages.producer}: one page. */
  readonly base: number;
  release(): void;
}

/**
 * Maps ring buffer `map` (ringbuf or user_ringbuf): the kernel lets user space write only its own side's
 * position, so `writable` names the side that is mapped read-write.
 *
 * @throws BpfError when the map is not loaded
 */
export function mapRingPages(map: BpfMap, writable: 'consumer' | 'producer'): RingPages {
  const fd = map.fd;
  if (fd < 0) throw new BpfError(`map '${map.name}' is not loaded; call load() first`, { code: 'EBADF' });
  const page = pageSize();
  const consumer = mmapMap(fd, page, 0, writable === 'consumer');
  let producer: MapMapping;
  try {
    producer = mmapMap(fd, page + 2 * map.maxEntries, page, writable === 'producer');
  } catch (err) {
    consumer.unmap();
    throw err;
  }
  return {
    consumer: consumer.buffer,
    producer: producer.buffer,
    base: page,
    release() {
      producer.unmap();
      consumer.unmap();
    },
  };
}
