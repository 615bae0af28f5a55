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
  /**
   * Zero-copy access, where the generator provides it (structs and unions): objects of type `T` that read
   * their fields from the bytes they are pointed at, lazily, each time a field is read. Ring and perf
   * buffers use it to hand out records where they lie, allocating nothing per record.
   */
  readonly inPlace?: InPlace<T>;
}

/**
 * Makes and re-aims in-place views of one C type. A view is a `T` whose properties are getters reading the
 * `size` bytes at the offset of the DataView it was last pointed at: it is valid only while those bytes are
 * (for a ring buffer record, during the callback that got it) and it is read-only. Reading a field twice
 * reads the bytes twice; arrays and strings are copied out when read.
 */
export interface InPlace<T> {
  /** A new view of the value stored at `offset` of `view`. */
  create(view: DataView, offset: number): T;
  /** Re-aims `record`, a view this object created, at the value stored at `offset` of `view`. */
  point(record: T, view: DataView, offset: number): void;
}
