/**
 * The koffi binding to libc. Every native call of bpf-skel goes through the functions declared here; the
 * rest of `src/runtime/sys` wraps them in typed, checked calls. Prototypes are fixed rather than variadic:
 * koffi calls a fixed prototype much faster, and `syscall(2)` reads its arguments from registers either way.
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

/** `syscall(nr, a, b, c, d, e)` with integer arguments only (pointers passed as bigint addresses). */
export const syscall5 = libc.func('long syscall(long nr, long a, long b, long c, long d, long e)') as (
  nr: number,
  a: number | bigint,
  b: number | bigint,
  c: number | bigint,
  d: number | bigint,
  e: number | bigint,
) => number;

/** The calling thread's errno after the last native call. */
export function errno(): number {
  return koffi.errno();
}

/** Address of a Buffer's first byte, for attr fields that hold user pointers. */
export function addressOf(buf: Buffer | Uint8Array): bigint {
  return koffi.address(buf) as bigint;
}

export { koffi, libc };
