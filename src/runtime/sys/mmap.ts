/**
 * Memory mapping of BPF map FDs (mmapable arrays, ring buffers, arenas) and perf buffers, with zero-copy
 * views over the mapped memory.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import { checkFd } from './attr.js';
import { syscallFailure } from './errno.js';
import { cGetpagesize, cMmap, cMunmap, errno, viewOf } from './libc.js';

/** `PROT_*` bits of mmap(2). */
export const Prot = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;

/** `MAP_*` flags of mmap(2) (same values on x86-64 and arm64). */
export const MapMode = {
  SHARED: 0x1,
  PRIVATE: 0x2,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  NORESERVE: 0x4000,
} as const;

const MAP_FAILED = (1n << 64n) - 1n;

let cachedPageSize = 0;

/** The system page size in bytes. */
export function pageSize(): number {
  if (cachedPageSize === 0) cachedPageSize = cGetpagesize();
  return cachedPageSize;
}

/** A live mapping. `view` is valid only until {@link munmap}: touching it afterwards crashes the process. */
export interface Mapping {
  address: bigint;
  length: number;
  /** Zero-copy view of the mapped bytes. */
  view: ArrayBuffer;
}

/**
 * `mmap(NULL, length, prot, flags, fd, offset)`. `offset` must be a multiple of the page size (ring buffers
 * map their data area at one page).
 */
export function mmapFd(fd: number, length: number, prot: number, flags: number, offset = 0): Mapping {
  checkFd(fd, 'FD to map');
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw new OptionError(`mmap length must be a positive integer, got ${String(length)}`, {
      option: 'length',
    });
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % pageSize() !== 0) {
    throw new OptionError(`mmap offset must be a multiple of the page size (${pageSize()}), got ${offset}`, {
      option: 'offset',
    });
  }
  const address = cMmap(null, length, prot, flags, fd, BigInt(offset));
  if (address === MAP_FAILED) throw syscallFailure('mmap', errno(), `fd ${fd}, ${length} bytes at ${offset}`);
  return { address, length, view: viewOf(address, length) };
}

/** `munmap(address, length)`. Every view of the region must be dropped before; none may be used after. */
export function munmap(address: bigint, length: number): void {
  if (cMunmap(address, length) < 0) {
    throw syscallFailure('munmap', errno(), `0x${address.toString(16)}, ${length} bytes`);
  }
}

/**
 * Replaces `length` bytes at `address` with private zero pages (`MAP_FIXED | MAP_ANONYMOUS`): whatever was
 * mapped there (map memory) is released, while the address range stays valid for views still pointing at it.
 */
export function remapAnonymous(address: bigint, length: number): void {
  const flags = MapMode.PRIVATE | MapMode.FIXED | MapMode.ANONYMOUS;
  const got = cMmap(address, length, Prot.READ | Prot.WRITE, flags, -1, 0n);
  if (got === MAP_FAILED)
    throw syscallFailure('mmap', errno(), `anonymous remap of 0x${address.toString(16)}`);
}
