/**
 * Consumers of BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`): {@link RingBuffer} for one ring and
 * {@link RingBufferSet} for several rings behind one epoll.
 *
 * The kernel lets user space map a ring buffer as: one read-write page holding the consumer position,
 * then, read-only, one page holding the producer position followed by the data area mapped twice in a row,
 * so that a record wrapping past the end is contiguous in memory. Each record starts with an 8-byte header
 * whose first 32 bits hold the length, bit 31 set while the producer still writes it (busy) and bit 30 when
 * it was discarded; records start 8-byte aligned. The consumer reads records from its position up to the
 * producer position and publishes its new position (every 64 records and when it stops), which frees the
 * space for the producer. Records are decoded in place, straight from the mapping.
 *
 * @module
 */
import { BpfError, OptionError } from '../errors.js';
import type { Codec } from './codec.js';
import { inPlaceCursor } from './in-place.js';
import type { BpfMap } from './map.js';
import { mapRingPages } from './memory.js';
import { EpollFlag } from './sys/epoll.js';
import { pageSize } from './sys/mmap.js';
import { type EpollWaiter, newEpollWaiter, waiterFor } from './waiter.js';

const BUSY_BIT = 0x80000000 | 0;
const DISCARD_BIT = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER_SIZE = 8;
const TWO_32 = 2 ** 32;

/**
 * How long one worker-thread `epoll_wait` of an async consumer lasts before it checks again whether it was
 * closed. Waiting is a blocked thread, not polling: this only bounds how long a closed consumer keeps a
 * libuv worker thread (and the process alive).
 */
export const WAIT_SLICE_MS = 500;

/** Records consumed between two stores of the consumer position (a power of 2, minus 1). */
const PUBLISH_EVERY_MASK = 63;

/** Most records one drain hands out, so that the record count stays a small integer. */
const MAX_BATCH = 0x7fffffff;

/**
 * Whether record headers may be read with plain loads. The kernel's producer clears the busy bit with a
 * release store after writing the record, and its documentation asks the consumer to read the header with
 * acquire semantics (`smp_load_acquire`) before the record. On x86-64 every load already has acquire
 * semantics (loads are ordered with later loads and stores), so the kernel's own `smp_load_acquire` there is
 * a plain load plus a compiler barrier; V8 keeps typed-array accesses in program order. `Atomics.load` costs
 * a call per record in V8, so plain loads are used where the hardware orders them; elsewhere (arm64) the
 * header load must be a real acquire.
 */
const PLAIN_ACQUIRE = process.arch === 'x64';

/**
 * Called with each record of a raw consume: `length` bytes at `offset` of `view`, a view of the ring's memory
 * valid only during the call. Return `false` to stop after this record.
 */
export type RawRecordHandler = (view: DataView, offset: number, length: number) => unknown;

/** Called with each decoded record; return `false` to stop after it. */
export type RecordHandler<T> = (record: T) => unknown;

/**
 * Called with each record as an in-place view (see {@link RingBuffer.consumeInPlace}) and the record's
 * length in bytes; return `false` to stop after it. The view is valid only during the call.
 */
export type InPlaceRecordHandler<T> = (record: Readonly<T>, length: number) => unknown;

/** A promise settled from outside: how close() ends pending waits. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A consumer of one ring buffer map, yielding `T` records decoded by `codec` (or, without a codec, copies of
 * the record bytes as `Uint8Array`).
 *
 * - `consume(cb)` drains what is there now, synchronously, decoding each record in place;
 *   `consumeRaw(cb)` hands out the bytes without decoding and allocates nothing; `consumeInPlace(cb)` hands
 *   out one typed view re-aimed at each record, which reads only the fields the handler reads.
 * - `poll(timeoutMs, cb)` waits for records on a worker thread (the event loop keeps running), then drains;
 *   `wait(timeoutMs)` only waits, for a loop around `consumeInPlace` or `consumeRaw`.
 * - `for await (const r of ring)` yields records one at a time and reads the ring only when the loop asks
 *   for the next one, so a slow consumer leaves records in the ring (where the producer sees the space
 *   taken) rather than queueing them in memory. `close()` ends the loop.
 *
 * A record whose handler throws still counts as consumed, so one bad record cannot stall the stream. A
 * record shorter than the codec's size is skipped with a `BpfError` (`EMSGSIZE`).
 *
 * The consumer owns its mappings and epoll FD, not the map: close it before (or with) the object.
 */
export class RingBuffer<T = Uint8Array> implements Disposable, AsyncIterable<T> {
  readonly map: BpfMap;
  /** Bytes of the data area. */
  readonly size: number;
  readonly #decode: (view: DataView, offset: number, length: number) => T;
  // The mappings are made on first use, so a skeleton can construct its rings before load().
  #mapped = false;
  #consumerU32!: Uint32Array;
  #consumerU64!: BigInt64Array;
  #producerU32!: Uint32Array;
  #headers!: Int32Array;
  #data!: DataView;
  #release: () => void = () => {};
  /** Offset of the data area in the read-only mapping. */
  #base = 0;
  #waiter: EpollWaiter | undefined;
  #closed = false;
  readonly #closing = deferred();
  #taken: T | undefined;
  readonly #codec: Codec<T> | undefined;
  /** The handler of the in-place consume running now, called by {@link #inPlaceRaw}. */
  #inPlaceHandler: InPlaceRecordHandler<T> | undefined;
  /** Aims this ring's one in-place view at each record and calls {@link #inPlaceHandler}; made once. */
  #inPlaceRaw: RawRecordHandler | undefined;

  constructor(map: BpfMap, codec?: Codec<T>) {
    if (map.type !== 'ringbuf') {
      throw new OptionError(`map '${map.name}' is of type ${map.type}; RingBuffer takes ringbuf maps`, {
        option: 'map',
      });
    }
    const page = pageSize();
    const size = map.maxEntries;
    if (size <= 0 || size % page !== 0 || (size & (size - 1)) !== 0) {
      throw new BpfError(`ring buffer '${map.name}' has ${size} bytes, not a power-of-2 number of pages`, {
        code: 'EINVAL',
      });
    }
    this.map = map;
    this.size = size;
    this.#decode = codec === undefined ? copyRecord : decodeWith(codec, map.name);
    this.#codec = codec;
  }

  /** Maps the ring's pages the first time it is read (the map must be loaded by then). */
  #ensureMapped(): void {
    if (this.#mapped) return;
    const pages = mapRingPages(this.map, 'consumer');
    this.#release = pages.release;
    this.#consumerU32 = new Uint32Array(pages.consumer, 0, 2);
    this.#consumerU64 = new BigInt64Array(pages.consumer, 0, 1);
    this.#producerU32 = new Uint32Array(pages.producer, 0, 2);
    this.#headers = new Int32Array(pages.producer);
    this.#data = new DataView(pages.producer);
    this.#base = pages.base;
    this.#mapped = true;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes written by the producer and not yet consumed (headers and discarded records included). */
  pending(): number {
    if (this.#closed) return 0;
    this.#ensureMapped();
    // The producer is at most the ring size ahead, so the low 32 bits give the exact difference.
    return (Atomics.load(this.#producerU32, 0) - Atomics.load(this.#consumerU32, 0)) >>> 0;
  }

  /** Hands every available record (at most `max`) to `handler`, decoded; returns how many it got. */
  consume(handler: RecordHandler<T>, max = Number.POSITIVE_INFINITY): number {
    return this.#drain(undefined, handler, max);
  }

  /** Hands every available record (at most `max`) to `handler` as bytes, without copying or decoding. */
  consumeRaw(handler: RawRecordHandler, max = Number.POSITIVE_INFINITY): number {
    return this.#drain(handler, undefined, max);
  }

  /**
   * Hands every available record (at most `max`) to `handler` as a typed view that reads its fields from
   * the ring's memory, where the record lies, when they are read: nothing is decoded beyond the fields the
   * handler reads, and nothing is allocated per record. The ring makes one view (the codec's `inPlace`) and
   * re-aims it at each record, so the view is valid only during the call: kept past it, it reads whatever
   * record it was last aimed at, or bytes the producer has since overwritten. Copy what must outlive the
   * call (`codec.decode` copies a whole record). A record shorter than the codec's size is skipped with a
   * `BpfError` (`EMSGSIZE`), as by {@link consume}.
   *
   * @throws OptionError when the ring has no codec or its codec has no `inPlace` (a codec generated for a
   *   struct or union has one)
   */
  consumeInPlace(handler: InPlaceRecordHandler<T>, max = Number.POSITIVE_INFINITY): number {
    const outer = this.#inPlaceHandler;
    this.#inPlaceHandler = handler;
    try {
      this.#inPlaceRaw ??= this.#makeInPlaceRaw();
      return this.#drain(this.#inPlaceRaw, undefined, max);
    } finally {
      this.#inPlaceHandler = outer;
    }
  }

  /**
   * The raw handler of in-place consumes: it aims the ring's view at the record and passes it on, so
   * in-place consumes share the raw path's loop. Made once per ring; the user's handler is read from a field
   * so that a consume allocates nothing either.
   */
  #makeInPlaceRaw(): RawRecordHandler {
    const name = this.map.name;
    const aim = inPlaceCursor(this.#codec, `ring buffer '${name}'`);
    const need = (this.#codec as Codec<T>).size;
    return (view, offset, length) => {
      if (length < need) throw shortRecord(name, length, need);
      return (this.#inPlaceHandler as InPlaceRecordHandler<T>)(aim(view, offset), length);
    };
  }

  /**
   * Waits up to `timeoutMs` (-1: until records come or the ring is closed) on a worker thread for records,
   * then consumes them with `handler`. Resolves with how many were consumed (0 on timeout or close).
   */
  async poll(timeoutMs: number, handler: RecordHandler<T>): Promise<number> {
    if (this.pending() === 0 && !(await this.#waitReadable(timeoutMs))) return 0;
    return this.#closed ? 0 : this.consume(handler);
  }

  /**
   * Waits up to `timeoutMs` (-1: until records come or the ring is closed) on a worker thread, consuming
   * nothing. Resolves true when records are there, false on timeout or close. The async loop of
   * {@link consumeInPlace} and {@link consumeRaw}:
   *
   * ```ts
   * while (await ring.wait()) ring.consumeInPlace((e) => console.log(e.pid));
   * ```
   */
  wait(timeoutMs = -1): Promise<boolean> {
    return this.#waitReadable(timeoutMs);
  }

  /** Records, one at a time, as the loop asks for them; ends when the ring is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    const take: RecordHandler<T> = (record) => {
      this.#taken = record;
    };
    while (!this.#closed) {
      if (this.#drain(undefined, take, 1) === 1) {
        const record = this.#taken as T;
        this.#taken = undefined;
        yield record;
      } else {
        await this.#waitReadable(-1);
      }
    }
  }

  /**
   * Unmaps the ring and closes the epoll FD; pending waits and async loops end. Idempotent. Views handed out
   * earlier read zeros from now on.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#waiter?.close();
    this.#waiter = undefined;
    this.#closing.resolve();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Resolves true once records may be there, false on timeout or close. `timeoutMs` -1 waits until then,
   * in {@link WAIT_SLICE_MS} slices so that a closed ring frees its worker thread soon.
   */
  async #waitReadable(timeoutMs: number): Promise<boolean> {
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return false;
      if (this.pending() > 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const ready = await Promise.race([
        this.#epollWait(Math.min(left, WAIT_SLICE_MS)),
        this.#closing.promise,
      ]);
      if (this.#closed) return false;
      if (typeof ready === 'number' && ready > 0) return true;
    }
  }

  /** One epoll_wait on a worker thread; concurrent callers share it. */
  #epollWait(timeoutMs: number): Promise<number> {
    this.#waiter ??= waiterFor(this.map.fd, EpollFlag.IN);
    return this.#waiter.wait(timeoutMs);
  }

  /**
   * The consume loop, shared by the raw and the decoded paths. Each path calls its handler from its own call
   * site, so each site sees one kind of handler and the JIT can inline it. Positions are tracked as the low
   * 32 bits of the consumer position plus the bytes consumed since: the producer is never more than the ring
   * size (below 2^32) ahead, so 32-bit differences are exact and the loop stays in small-integer arithmetic.
   */
  #drain(raw: RawRecordHandler | undefined, typed: RecordHandler<T> | undefined, max: number): number {
    if (this.#closed) return 0;
    this.#ensureMapped();
    const headers = this.#headers;
    const data = this.#data;
    const base = this.#base;
    const mask = this.size - 1;
    const decode = this.#decode;
    const producerLow = this.#producerU32;
    // Start from the shared consumer page, not a private copy: another consumer of the map may have moved it.
    const start = Atomics.load(this.#consumerU32, 0);
    const high = Atomics.load(this.#consumerU32, 1);
    const startOffset = start & mask;
    let avail = (Atomics.load(producerLow, 0) - start) >>> 0;
    const limit = Math.min(max, MAX_BATCH);
    let done = 0;
    let n = 0;
    try {
      while (n < limit) {
        if (done >= avail) {
          avail = (Atomics.load(producerLow, 0) - start) >>> 0;
          if (done >= avail) break;
        }
        const at = base + ((startOffset + done) & mask);
        const header = PLAIN_ACQUIRE ? headers[at >> 2] : Atomics.load(headers, at >> 2);
        if ((header & BUSY_BIT) !== 0) break;
        const length = header & LENGTH_MASK;
        // Advanced before the handler runs, so a record whose handler throws still counts as consumed.
        done += (length + HEADER_SIZE + 7) & ~7;
        if ((header & DISCARD_BIT) !== 0) continue;
        n++;
        const result =
          raw !== undefined
            ? raw(data, at + HEADER_SIZE, length)
            : (typed as RecordHandler<T>)(decode(data, at + HEADER_SIZE, length));
        if (result === false) break;
        // Hand space back to the producer in batches: one store per record costs more than the record.
        if ((n & PUBLISH_EVERY_MASK) === 0) this.#publish(high, start + done);
      }
    } finally {
      this.#publish(high, start + done);
    }
    return n;
  }

  /**
   * Stores the consumer position `high * 2^32 + low`, freeing the space before it for the producer. `high` is
   * the high half when the drain started; `low` may have carried past 2^32 since.
   */
  #publish(high: number, low: number): void {
    if (low < TWO_32) Atomics.store(this.#consumerU32, 0, low);
    // The high half changes once every 4 GiB: then one 64-bit store, so the kernel never sees a torn value.
    else Atomics.store(this.#consumerU64, 0, BigInt(high * TWO_32 + low));
  }
}

function copyRecord<T>(view: DataView, offset: number, length: number): T {
  const start = view.byteOffset + offset;
  return new Uint8Array(view.buffer.slice(start, start + length)) as T;
}

function decodeWith<T>(codec: Codec<T>, name: string): (view: DataView, offset: number, length: number) => T {
  const need = codec.size;
  return (view, offset, length) => {
    if (length < need) throw shortRecord(name, length, need);
    return codec.decode(view, offset);
  };
}

function shortRecord(name: string, length: number, need: number): BpfError {
  return new BpfError(
    `ring buffer '${name}': a record of ${length} bytes is shorter than the ${need} bytes its type needs; skipped`,
    { code: 'EMSGSIZE' },
  );
}

interface Member {
  readonly ring: RingBuffer<unknown>;
  readonly handler: RecordHandler<unknown>;
}

/**
 * Several ring buffers behind one epoll FD: one worker-thread wait serves them all. Each ring has its own
 * record handler. The set owns the rings added to it: `close()` closes them too.
 */
export class RingBufferSet implements Disposable {
  readonly #members: Member[] = [];
  readonly #waiter = newEpollWaiter(64);
  readonly #closing = deferred();
  #closed = false;

  /** The rings in the set, in the order they were added. */
  get rings(): readonly RingBuffer<unknown>[] {
    return this.#members.map((m) => m.ring);
  }

  /** Adds `ring`, whose records go to `handler`. */
  add<T>(ring: RingBuffer<T>, handler: RecordHandler<T>): this {
    if (this.#closed) throw new BpfError('this RingBufferSet is closed', { code: 'EBADF' });
    if (ring.closed) throw new OptionError(`ring buffer '${ring.map.name}' is closed`, { option: 'ring' });
    this.#waiter.add(ring.map.fd, EpollFlag.IN, this.#members.length);
    this.#members.push({ ring, handler } as Member);
    return this;
  }

  /** Drains every ring now; returns how many records were handled. */
  consume(): number {
    let n = 0;
    for (const m of this.#members) n += m.ring.consume(m.handler);
    return n;
  }

  /**
   * Waits up to `timeoutMs` (-1: until records come or the set is closed) on a worker thread for any ring to
   * have records, then drains the ready ones. Resolves with how many records were handled.
   */
  async poll(timeoutMs: number): Promise<number> {
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return 0;
      const now = this.consume();
      if (now > 0) return now;
      const left = deadline - Date.now();
      if (left <= 0) return 0;
      await Promise.race([this.#waiter.wait(Math.min(left, WAIT_SLICE_MS)), this.#closing.promise]);
    }
  }

  /** Closes the epoll FD and every ring; a pending poll resolves with 0. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter.close();
    for (const m of this.#members) m.ring.close();
    this.#closing.resolve();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
