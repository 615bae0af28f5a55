/**
 * The contract between generated skeleton code and the runtime: a codec reads and writes one C value of a
 * fixed size at an offset of a DataView. The generator emits one monomorphic codec per C type; the runtime's
 * typed maps, data sections and ring buffers only move bytes and call these.
 *
 * @module
 */

/** Encodes and decodes values of one C type, `size` bytes each, little-endian. */
export interface Codec<T> {
  /** Size of the C type in bytes (`sizeof`). */
  readonly size: number;
  /** Reads the value stored at `offset`. */
  decode(view: DataView, offset: number): T;
  /** Writes `value` at `offset`; bytes of padding are left as they are. */
  encode(value: T, view: DataView, offset: number): void;
  /**
   * True when `encode` writes every one of the `size` bytes (a scalar, a struct without padding), so a
   * buffer needs no zeroing before it: typed maps then skip that step on their hot path.
   */
  readonly dense?: boolean;
}
