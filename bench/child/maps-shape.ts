/**
 * What the map-access child (bench/child/maps.ts) measures and prints, shared with the figure that runs it.
 *
 * @module
 */

/** Entries of each map; the loops walk keys `i & (ENTRIES - 1)` as bench/c/maps.c does. */
export const ENTRIES = 1024;
/** Elements per BPF_MAP_LOOKUP_BATCH call (as bench/c/batch.c). */
export const BATCH = 256;
/** Whole-map reads per timed batch round (as bench/c/batch.c). */
export const PASSES = 20;

export type Kind = 'array' | 'hash';
export type Op = 'lookup' | 'update';

/** What one child run prints: ns/op (single-element) and ns/element (batch) per map kind. */
export interface MapsChildResult {
  raw: Record<Kind, Record<Op, number>>;
  typed: Record<Kind, Record<Op, number>>;
  /** Typed access to the same array declared `BPF_F_MMAPABLE` (`bench_mmap`), which is read in memory. */
  typedMmap: Record<Op, number>;
  rawBatch: Record<Kind, number>;
  typedBatch: Record<Kind, number>;
}
