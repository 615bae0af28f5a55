/**
 * The user-space producer of a BPF user ring buffer (`BPF_MAP_TYPE_USER_RINGBUF`): records written here are
 * read by BPF programs with `bpf_user_ringbuf_drain()`.
 *
 * The layout is the kernel ring buffer's with the roles swapped. Page 0 of the map holds the consumer
 * position, which only the kernel moves, so user space may map it read-only only. Page 1 holds the producer
 * position, followed by the data area mapped twice in a row (a record that wraps is contiguous); both are
 * mapped read-write. A record is an 8-byte header (32-bit length, bit 31 busy, bit 30 discarded; then 32 bits
 * of padding) followed by the bytes, 8-byte aligned. The producer writes the header with the busy bit,
 * publishes the new producer position with a release store, fills the record, then clears the busy bit (or
 * sets the discard bit) with another release store. The kernel checks each header against the producer
 * position and stops at the first busy record; it skips discarded ones. After draining it wakes pollers of
 * the map FD, which report `EPOLLOUT` while the ring is not full.
 *
 * @module
 */
import { BpfError, OptionError } from '../errors.js';
import type { Codec } from './codec.js';
import type { BpfMap } from './map.js';
import { mapRingPages } from './memory.js';
import { WAIT_SLICE_MS } from './ringbuf.js';
import { EpollFlag } from './sys/epoll.js';
import { pageSize } from './sys/mmap.js';
import { type EpollWaiter, waiterFor } from './waiter.js';

const BUSY_BIT = 0x80000000 | 0;
const DISCARD_BIT = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER_SIZE = 8;
const TWO_32 = 2 ** 32;
/** Largest sample the kernel hands to BPF: a dynptr's size is 24 bits. */
export const USER_RINGBUF_MAX_SAMPLE = 2 ** 24 - 1;

/**
 * A producer for one user ring buffer map, writing `T` records with `codec` (or, without one, byte arrays).
 *
 * - `push(value)` / `pushBytes(bytes)` write one record if there is room and return false if there is not.
 * - `pushWait` / `pushBytesWait` wait (on a worker thread, woken when a BPF program drains the ring) until
 *   there is room, or time out.
 * - `reserve(size)` hands out room for a record to fill in place in {@link view}; `submit(offset)` makes it
 *   visible to the kernel, `discard(offset)` makes the kernel skip it. Reservations may be completed in any
 *   order; the kernel reads records in reservation order and waits at the first one still reserved.
 *
 * The ring is mapped on first use, so it can be constructed before the object is loaded. One producer per
 * map: the producer position is kept here, not re-read from the map.
 */
export class UserRingBuffer<T = Uint8Array> implements Disposable {
  readonly map: BpfMap;
  /** Bytes of the data area. */
  readonly size: number;
  readonly #codec: Codec<T> | undefined;
  #mapped = false;
  #view!: DataView;
  #bytes!: Uint8Array;
  #headers!: Int32Array;
  #producerU32!: Uint32Array;
  #producerU64!: BigInt64Array;
  #consumerU32!: Uint32Array;
  /** Our producer position: the kernel never moves it. */
  #position = 0;
  #release: () => void = () => {};
  #base = 0;
  #waiter: EpollWaiter | undefined;
  #closed = false;

  constructor(map: BpfMap, codec?: Codec<T>) {
    if (map.type !== 'user_ringbuf') {
      throw new OptionError(
        `map '${map.name}' is of type ${map.type}; UserRingBuffer takes user_ringbuf maps`,
        { option: 'map' },
      );
    }
    const size = map.maxEntries;
    if (size <= 0 || size % pageSize() !== 0 || (size & (size - 1)) !== 0) {
      throw new BpfError(
        `user ring buffer '${map.name}' has ${size} bytes, not a power-of-2 number of pages`,
        { code: 'EINVAL' },
      );
    }
    this.map = map;
    this.size = size;
    this.#codec = codec;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The ring's memory: the data area starts at one page and is mapped twice in a row. Offsets from
   * {@link reserve} index it. Maps the ring if that has not happened yet.
   */
  get view(): DataView {
    this.#ensureMapped();
    return this.#view;
  }

  /** Bytes free for records now (each record takes its length plus 8, rounded up to 8). */
  available(): number {
    this.#ensureMapped();
    return this.size - this.#used();
  }

  /** Largest record length that {@link reserve} can ever grant on this ring. */
  get maxRecordSize(): number {
    return Math.min(this.size - HEADER_SIZE, USER_RINGBUF_MAX_SAMPLE);
  }

  /**
   * Reserves room for a record of `size` bytes. Returns the offset of its bytes in {@link view}, or -1 when
   * the ring lacks the room now. The record is invisible to the kernel until {@link submit}; the kernel stops
   * at it until then, so complete every reservation.
   *
   * @throws OptionError when `size` can never fit (see {@link maxRecordSize})
   */
  reserve(size: number): number {
    this.#ensureMapped();
    const total = this.#totalSize(size);
    if (this.size - this.#used() < total) return -1;
    const position = this.#position;
    const at = this.#base + (position % this.size);
    // Busy header first, with the true length: the kernel checks the length even of a busy record.
    Atomics.store(this.#headers, at >> 2, size | BUSY_BIT);
    Atomics.store(this.#headers, (at >> 2) + 1, 0);
    this.#publish(position + total);
    return at + HEADER_SIZE;
  }

  /** Makes the record reserved at `offset` visible to the kernel. */
  submit(offset: number): void {
    const index = this.#reservedHeader(offset, 'submit');
    // A release store after the record's bytes: the kernel reads the header with acquire semantics.
    Atomics.store(this.#headers, index, this.#headers[index] & LENGTH_MASK);
  }

  /** Gives up the record reserved at `offset`: the kernel skips it. */
  discard(offset: number): void {
    const index = this.#reservedHeader(offset, 'discard');
    Atomics.store(this.#headers, index, (this.#headers[index] & LENGTH_MASK) | DISCARD_BIT);
  }

  /** Writes `value` as one record; false when the ring is full. */
  push(value: T): boolean {
    const codec = this.#codec;
    if (codec === undefined) return this.pushBytes(asBytes(value, this.map.name));
    const at = this.reserve(codec.size);
    if (at < 0) return false;
    try {
      codec.encode(value, this.#view, at);
    } catch (err) {
      this.discard(at);
      throw err;
    }
    this.submit(at);
    return true;
  }

  /** Writes `bytes` as one record; false when the ring is full. */
  pushBytes(bytes: Uint8Array): boolean {
    const at = this.reserve(bytes.length);
    if (at < 0) return false;
    this.#bytes.set(bytes, at);
    this.submit(at);
    return true;
  }

  /**
   * Writes `value`, waiting up to `timeoutMs` (-1: until there is room or the ring is closed) for a BPF
   * program to drain enough of the ring. Resolves false on timeout or close.
   */
  async pushWait(value: T, timeoutMs = -1): Promise<boolean> {
    const size = this.#codec === undefined ? asBytes(value, this.map.name).length : this.#codec.size;
    return (await this.waitForSpace(size, timeoutMs)) && this.push(value);
  }

  /** {@link pushWait} for bytes. */
  async pushBytesWait(bytes: Uint8Array, timeoutMs = -1): Promise<boolean> {
    return (await this.waitForSpace(bytes.length, timeoutMs)) && this.pushBytes(bytes);
  }

  /**
   * Resolves true once a record of `size` bytes fits, false on timeout (`timeoutMs`, -1: none) or close.
   * Waits on a worker thread for the kernel's wakeup after a drain, so the event loop keeps running.
   *
   * @throws OptionError when `size` can never fit
   */
  async waitForSpace(size: number, timeoutMs = -1): Promise<boolean> {
    if (this.#closed) return false;
    this.#ensureMapped();
    const total = this.#totalSize(size);
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return false;
      if (this.size - this.#used() >= total) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#epollWait(Math.min(left, WAIT_SLICE_MS));
    }
  }

  /** Unmaps the ring and closes the epoll FD; pending waits resolve false. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#waiter?.close();
    this.#waiter = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #ensureMapped(): void {
    if (this.#closed) throw new BpfError(`user ring buffer '${this.map.name}' is closed`, { code: 'EBADF' });
    if (this.#mapped) return;
    // The kernel refuses a writable mapping of the consumer page (EPERM): only the producer side is ours.
    const pages = mapRingPages(this.map, 'producer');
    this.#release = pages.release;
    this.#consumerU32 = new Uint32Array(pages.consumer, 0, 2);
    this.#producerU32 = new Uint32Array(pages.producer, 0, 2);
    this.#producerU64 = new BigInt64Array(pages.producer, 0, 1);
    this.#headers = new Int32Array(pages.producer);
    this.#view = new DataView(pages.producer);
    this.#bytes = new Uint8Array(pages.producer);
    this.#base = pages.base;
    this.#position = Number(Atomics.load(this.#producerU64, 0));
    this.#mapped = true;
  }

  /** Bytes between the kernel's consumer position and ours; the gap is below 2^32, so low halves do. */
  #used(): number {
    return (this.#position - Atomics.load(this.#consumerU32, 0)) % TWO_32;
  }

  /** Room a record of `size` bytes takes, header included; throws when it can never fit. */
  #totalSize(size: number): number {
    if (!Number.isInteger(size) || size < 0 || size > this.maxRecordSize) {
      throw new OptionError(
        `user ring buffer '${this.map.name}': a record of ${String(size)} bytes does not fit (0 to ${this.maxRecordSize})`,
        { option: 'size' },
      );
    }
    return (size + HEADER_SIZE + 7) & ~7;
  }

  /** Stores the producer position, a release store after the record's busy header. */
  #publish(position: number): void {
    const high = Math.floor(position / TWO_32);
    if (high === this.#producerU32[1]) Atomics.store(this.#producerU32, 0, position >>> 0);
    // The high half changes once every 4 GiB: then one 64-bit store, so the kernel never sees a torn value.
    else Atomics.store(this.#producerU64, 0, BigInt(position));
    this.#position = position;
  }

  /** The header index of a record reserved at `offset` and not yet submitted or discarded. */
  #reservedHeader(offset: number, what: string): number {
    this.#ensureMapped();
    const index = (offset - HEADER_SIZE) >> 2;
    const inRange =
      Number.isInteger(offset) &&
      offset >= this.#base + HEADER_SIZE &&
      offset < this.#base + this.size + HEADER_SIZE &&
      (offset & 7) === 0;
    if (!inRange || (Atomics.load(this.#headers, index) & BUSY_BIT) === 0) {
      throw new OptionError(
        `user ring buffer '${this.map.name}': ${what}(${String(offset)}) names no reserved record`,
        { option: 'offset' },
      );
    }
    return index;
  }

  /** One epoll_wait for EPOLLOUT on a worker thread; concurrent callers share it. */
  #epollWait(timeoutMs: number): Promise<number> {
    // Edge-triggered: the map reports EPOLLOUT whenever the ring is not full, which would return at once
    // while a record still does not fit; an edge comes with each wakeup after a drain instead.
    this.#waiter ??= waiterFor(this.map.fd, EpollFlag.OUT | EpollFlag.ET);
    return this.#waiter.wait(timeoutMs);
  }
}

function asBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new OptionError(`user ring buffer '${name}' has no codec: push takes a Uint8Array`, {
    option: 'value',
  });
}
