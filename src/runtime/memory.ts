/**
 * Memory of mmapable maps shared with BPF programs. A view of unmapped memory would crash the process when
 * touched, and JavaScript cannot revoke an ArrayBuffer, so releasing a mapping first puts private zero pages
 * in its place (the map is freed at once; stale views read zeros), and the address range itself is unmapped
 * only when the garbage collector has dropped every view of it.
 *
 * @module
 */
import { MapMode, mmapFd, munmap, Prot, pageSize, remapAnonymous } from './sys/mmap.js';

/** A mapping of map memory. `buffer` is zero-copy; `unmap` releases the map (idempotent). */
export interface MapMapping {
  readonly buffer: ArrayBuffer;
  readonly unmap: () => void;
}

const collected = new FinalizationRegistry<{ address: bigint; length: number }>(({ address, length }) => {
  munmap(address, length);
});

/** Maps `size` bytes (rounded up to pages) of map `fd`, read-write and shared with the kernel. */
export function mmapMap(fd: number, size: number, offset = 0): MapMapping {
  const page = pageSize();
  const length = Math.ceil(size / page) * page;
  const m = mmapFd(fd, length, Prot.READ | Prot.WRITE, MapMode.SHARED, offset);
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
