/**
 * Perf buffers: {@link PerfEventArray} (the map's slots) and {@link PerfBuffer}, a consumer of the per-CPU
 * perf rings that BPF programs write with `bpf_perf_event_output`.
 *
 * For each CPU the consumer opens a `PERF_COUNT_SW_BPF_OUTPUT` software event with `PERF_SAMPLE_RAW`, maps
 * its ring (one metadata page, then 2^n data pages), stores the event FD in the map at the CPU's index and
 * enables it. The metadata page holds `data_head` (written by the kernel) and `data_tail` (written by us);
 * records are `struct perf_event_header` {u32 type; u16 misc; u16 size} followed by the body:
 * `PERF_RECORD_SAMPLE` carries {u32 size; raw bytes}, `PERF_RECORD_LOST` {u64 id; u64 lost}. The data area
 * is mapped once, so a record that wraps past its end is copied into a scratch buffer before decoding (or
 * before an in-place view is aimed at it).
 *
 * @module
 */
import { BpfError, OptionError } from '../errors.js';
import type { Codec } from './codec.js';
import { inPlaceCursor } from './in-place.js';
import type { BpfMap } from './map.js';
import { mmapMap } from './memory.js';
import { onlineCpus } from './sys/cpus.js';
import { EpollFlag } from './sys/epoll.js';
import { closeFd } from './sys/fd.js';
import { mapInfo } from './sys/info.js';
import { mapDelete, mapUpdate } from './sys/map.js';
import { pageSize } from './sys/mmap.js';
import {
  PERF_SAMPLE_RAW,
  PerfSwConfig,
  PerfType,
  perfEventDisable,
  perfEventEnable,
  perfEventOpen,
} from './sys/perf.js';
import { type EpollWaiter, newEpollWaiter } from './waiter.js';

/* Offsets in `struct perf_event_mmap_page` (kernel BTF): data_head 1024, data_tail 1032, data_offset 1040,
 * data_size 1048, all __u64. */
const DATA_HEAD = 1024 / 8;
const DATA_TAIL = 1032 / 8;
const DATA_OFFSET = 1040 / 8;
const DATA_SIZE = 1048 / 8;

/** `enum perf_event_type` values this consumer reads. */
const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
const HEADER_SIZE = 8;
/** A record's size is a u16: no record is longer. */
const MAX_RECORD = 0xffff;

/** How long one worker-thread wait lasts before a closed buffer notices (see ringbuf's `WAIT_SLICE_MS`). */
const WAIT_SLICE_MS = 500;

/** Called with each sample's raw bytes (`length` at `offset` of `view`, valid during the call) and its CPU. */
export type RawSampleHandler = (view: DataView, offset: number, length: number, cpu: number) => void;

/** Called with each decoded sample and the CPU it came from. */
export type SampleHandler<T> = (sample: T, cpu: number) => void;

/** Called when the kernel dropped `count` samples on `cpu` because its ring was full. */
export type LostHandler = (count: number, cpu: number) => void;

/** Options of {@link PerfBuffer}. */
export interface PerfBufferOptions {
  /** Data pages per CPU ring, a power of 2 (default 8). */
  pageCount?: number;
  /** CPUs to open rings on (default: every online CPU below the map's size). */
  cpus?: readonly number[];
  /** Wake the consumer after this many samples (default 1: every sample). */
  wakeupEvents?: number;
}

/** A perf event array's slots: one perf event FD per CPU. */
export class PerfEventArray {
  readonly map: BpfMap;

  constructor(map: BpfMap) {
    if (map.type !== 'perf_event_array') {
      throw new OptionError(
        `map '${map.name}' is of type ${map.type}; PerfEventArray takes perf_event_array maps`,
        {
          option: 'map',
        },
      );
    }
    this.map = map;
  }

  /** Slots in the loaded map (libbpf-style arrays declared without a size get one per possible CPU). */
  get length(): number {
    return mapInfo(loadedFd(this.map)).maxEntries;
  }

  /** Stores perf event FD `perfFd` at `index` (usually a CPU number). */
  set(index: number, perfFd: number): void {
    const key = new Uint32Array([index]);
    const value = new Uint32Array([perfFd]);
    mapUpdate(loadedFd(this.map), u8(key), u8(value), 0);
  }

  /** Empties slot `index`; false when it was empty. */
  delete(index: number): boolean {
    return mapDelete(loadedFd(this.map), u8(new Uint32Array([index])));
  }

  /** Opens a {@link PerfBuffer} on this array decoding samples with `codec` (raw copies without one). */
  open<T = Uint8Array>(codec?: Codec<T>, opts?: PerfBufferOptions): PerfBuffer<T> {
    return new PerfBuffer<T>(this.map, codec, opts);
  }
}

function u8(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function loadedFd(map: BpfMap): number {
  if (map.fd < 0) throw new BpfError(`map '${map.name}' is not loaded; call load() first`, { code: 'EBADF' });
  return map.fd;
}

interface CpuRing {
  readonly cpu: number;
  readonly fd: number;
  readonly meta: BigInt64Array;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly dataOffset: number;
  readonly dataSize: number;
  readonly unmap: () => void;
  tail: number;
}

/**
 * A consumer of a perf event array: one perf ring per CPU, one epoll over them all. `consume(onSample,
 * onLost)` drains every ring now (`consumeInPlace` the same with one typed view re-aimed at each sample,
 * `consumeRaw` with the bytes); `poll` waits on a worker thread first; `for await` yields decoded samples,
 * reading the rings only when its queue is empty. {@link lost} counts samples the kernel dropped.
 *
 * Closing empties the map slots it filled, disables and closes the events, unmaps the rings and closes the
 * epoll FD.
 */
export class PerfBuffer<T = Uint8Array> implements Disposable, AsyncIterable<T> {
  readonly map: BpfMap;
  /** Samples dropped by the kernel so far, over all CPUs. */
  lost = 0;
  readonly #decode: (view: DataView, offset: number, length: number) => T;
  readonly #rings: CpuRing[] = [];
  readonly #waiter: EpollWaiter;
  readonly #scratch = new Uint8Array(MAX_RECORD + 1);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  #closed = false;
  #wake: () => void = () => {};
  readonly #closing: Promise<void>;
  readonly #codec: Codec<T> | undefined;
  /** The sample handler of the in-place consume running now, called by {@link #inPlaceRaw}. */
  #inPlaceHandler: SampleHandler<T> | undefined;
  /** Aims this buffer's one in-place view at each sample and calls {@link #inPlaceHandler}; made once. */
  #inPlaceRaw: RawSampleHandler | undefined;

  constructor(map: BpfMap, codec?: Codec<T>, opts: PerfBufferOptions = {}) {
    const slots = new PerfEventArray(map).length;
    const pages = opts.pageCount ?? 8;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new OptionError(`pageCount must be a power of 2, got ${pages}`, { option: 'pageCount' });
    }
    const cpus = opts.cpus ?? onlineCpus().filter((c) => c < slots);
    for (const c of cpus) {
      if (!Number.isInteger(c) || c < 0 || c >= slots) {
        throw new OptionError(`CPU ${c} has no slot in perf event array '${map.name}' (${slots} slots)`, {
          option: 'cpus',
        });
      }
    }
    this.map = map;
    this.#decode = codec === undefined ? copySample : decodeSample(codec, map.name);
    this.#codec = codec;
    this.#closing = new Promise((resolve) => {
      this.#wake = resolve;
    });
    this.#waiter = newEpollWaiter(Math.max(cpus.length, 1));
    try {
      for (const cpu of cpus) this.#open(cpu, pages, opts.wakeupEvents ?? 1);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The CPUs this buffer reads. */
  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Drains every CPU's ring; returns how many samples were handled. */
  consume(onSample: SampleHandler<T>, onLost?: LostHandler): number {
    const decode = this.#decode;
    return this.consumeRaw(
      (view, offset, length, cpu) => onSample(decode(view, offset, length), cpu),
      onLost,
    );
  }

  /**
   * Drains every CPU's ring handing each sample to `onSample` as a typed view that reads its fields from the
   * ring's memory when they are read (a sample that wraps around the end of its ring is first copied into
   * a scratch buffer): nothing is allocated per sample. The buffer makes one view (the codec's `inPlace`)
   * and re-aims it at each sample, so it is valid only during the call; copy what must outlive it. A sample
   * shorter than the codec's size is skipped with a `BpfError` (`EMSGSIZE`), as by {@link consume}.
   * Returns how many samples were handled.
   *
   * @throws OptionError when the buffer has no codec or its codec has no `inPlace` (a codec generated for a
   *   struct or union has one)
   */
  consumeInPlace(onSample: SampleHandler<Readonly<T>>, onLost?: LostHandler): number {
    const outer = this.#inPlaceHandler;
    this.#inPlaceHandler = onSample;
    try {
      this.#inPlaceRaw ??= this.#makeInPlaceRaw();
      return this.consumeRaw(this.#inPlaceRaw, onLost);
    } finally {
      this.#inPlaceHandler = outer;
    }
  }

  /** The raw handler of in-place consumes: aims the buffer's view at the sample and passes it on. */
  #makeInPlaceRaw(): RawSampleHandler {
    const name = this.map.name;
    const aim = inPlaceCursor(this.#codec, `perf buffer '${name}'`);
    const need = (this.#codec as Codec<T>).size;
    return (view, offset, length, cpu) => {
      if (length < need) throw shortSample(name, length, need);
      (this.#inPlaceHandler as SampleHandler<T>)(aim(view, offset), cpu);
    };
  }

  /** Drains every CPU's ring handing out raw sample bytes; returns how many samples were handled. */
  consumeRaw(onSample: RawSampleHandler, onLost?: LostHandler): number {
    let n = 0;
    for (const ring of this.#rings) {
      if (this.#closed) break;
      n += this.#drain(ring, onSample, onLost);
    }
    return n;
  }

  /**
   * Waits up to `timeoutMs` (-1: until samples come or the buffer is closed) on a worker thread, then drains.
   * Resolves with how many samples were handled.
   */
  async poll(timeoutMs: number, onSample: SampleHandler<T>, onLost?: LostHandler): Promise<number> {
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return 0;
      const n = this.consume(onSample, onLost);
      if (n > 0) return n;
      // Lost-sample records alone wake the wait but hand out no sample: wait again for what is left.
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.wait(left === Number.POSITIVE_INFINITY ? -1 : left))) return 0;
    }
  }

  /**
   * Waits up to `timeoutMs` (-1: until samples come or the buffer is closed) on a worker thread, consuming
   * nothing. Resolves true when some CPU's ring has samples (or lost-sample records), false on timeout or
   * close: the async loop of {@link consumeInPlace} and {@link consumeRaw}.
   */
  async wait(timeoutMs = -1): Promise<boolean> {
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return false;
      if (this.#rings.some((r) => Number(Atomics.load(r.meta, DATA_HEAD)) !== r.tail)) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await Promise.race([this.#waiter.wait(Math.min(left, WAIT_SLICE_MS)), this.#closing]);
    }
  }

  /** Samples as the loop asks for them; ends when the buffer is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    const queue: T[] = [];
    const push: SampleHandler<T> = (s) => {
      queue.push(s);
    };
    while (!this.#closed) {
      if (queue.length === 0) {
        if ((await this.poll(-1, push)) === 0) continue;
      }
      // Yield what one drain gave; the rings are read again only when it is used up.
      for (let i = 0; i < queue.length; i++) yield queue[i] as T;
      queue.length = 0;
    }
  }

  /** Releases everything (see the class notes). Idempotent; pending polls resolve with 0. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const ring of this.#rings.splice(0)) {
      for (const step of [
        // After the object closed its maps there is no slot left to empty.
        () => this.map.fd >= 0 && mapDelete(this.map.fd, u8(new Uint32Array([ring.cpu]))),
        () => perfEventDisable(ring.fd),
        ring.unmap,
        () => closeFd(ring.fd),
      ]) {
        try {
          step();
        } catch (err) {
          errors.push(err);
        }
      }
    }
    this.#waiter.close();
    this.#wake();
    if (errors.length > 0) throw errors[0];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(cpu: number, pages: number, wakeupEvents: number): void {
    const page = pageSize();
    const fd = perfEventOpen(
      {
        type: PerfType.SOFTWARE,
        config: PerfSwConfig.BPF_OUTPUT,
        sampleType: PERF_SAMPLE_RAW,
        samplePeriod: 1,
        wakeupEvents,
      },
      -1,
      cpu,
    );
    let mapping: ReturnType<typeof mmapMap>;
    try {
      mapping = mmapMap(fd, (pages + 1) * page);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    const meta = new BigInt64Array(mapping.buffer, 0, page / 8);
    const dataOffset = Number(meta[DATA_OFFSET]) || page;
    const dataSize = Number(meta[DATA_SIZE]) || pages * page;
    const ring: CpuRing = {
      cpu,
      fd,
      meta,
      view: new DataView(mapping.buffer),
      bytes: new Uint8Array(mapping.buffer),
      dataOffset,
      dataSize,
      unmap: mapping.unmap,
      tail: Number(Atomics.load(meta, DATA_TAIL)),
    };
    this.#rings.push(ring);
    const key = u8(new Uint32Array([cpu]));
    const value = u8(new Uint32Array([fd]));
    mapUpdate(loadedFd(this.map), key, value, 0);
    this.#waiter.add(fd, EpollFlag.IN, cpu);
    perfEventEnable(fd);
  }

  #drain(ring: CpuRing, onSample: RawSampleHandler, onLost: LostHandler | undefined): number {
    const head = Number(Atomics.load(ring.meta, DATA_HEAD));
    let tail = ring.tail;
    if (head === tail) return 0;
    const { view, bytes, dataOffset, dataSize } = ring;
    let n = 0;
    try {
      while (tail < head) {
        const at = tail % dataSize;
        let rv = view;
        let base = dataOffset + at;
        // The header itself may wrap: read its size from the scratch copy too then.
        let size: number;
        let type: number;
        if (at + HEADER_SIZE <= dataSize) {
          type = view.getUint32(base, true);
          size = view.getUint16(base + 6, true);
        } else {
          this.#copyWrapped(bytes, dataOffset, dataSize, at, HEADER_SIZE);
          type = this.#scratchView.getUint32(0, true);
          size = this.#scratchView.getUint16(6, true);
        }
        if (size < HEADER_SIZE) {
          throw new BpfError(`perf ring of CPU ${ring.cpu}: record of ${size} bytes at ${tail}`, {
            code: 'EIO',
          });
        }
        if (at + size > dataSize) {
          this.#copyWrapped(bytes, dataOffset, dataSize, at, size);
          rv = this.#scratchView;
          base = 0;
        }
        // Counted as consumed before the handler runs, so a handler that throws cannot stall the ring; the
        // memory stays the consumer's until the tail is published below.
        tail += size;
        if (type === PERF_RECORD_SAMPLE) {
          const length = rv.getUint32(base + HEADER_SIZE, true);
          n++;
          onSample(rv, base + HEADER_SIZE + 4, Math.min(length, size - HEADER_SIZE - 4), ring.cpu);
        } else if (type === PERF_RECORD_LOST) {
          const lost = Number(rv.getBigUint64(base + HEADER_SIZE + 8, true));
          this.lost += lost;
          onLost?.(lost, ring.cpu);
        }
      }
    } finally {
      ring.tail = tail;
      if (!this.#closed) Atomics.store(ring.meta, DATA_TAIL, BigInt(tail));
    }
    return n;
  }

  /** Copies `length` bytes at ring offset `at`, wrapping at the end of the data area, into the scratch. */
  #copyWrapped(bytes: Uint8Array, dataOffset: number, dataSize: number, at: number, length: number): void {
    const first = Math.min(length, dataSize - at);
    this.#scratch.set(bytes.subarray(dataOffset + at, dataOffset + at + first), 0);
    this.#scratch.set(bytes.subarray(dataOffset, dataOffset + length - first), first);
  }
}

function copySample<T>(view: DataView, offset: number, length: number): T {
  const start = view.byteOffset + offset;
  return new Uint8Array(view.buffer.slice(start, start + length)) as T;
}

function decodeSample<T>(
  codec: Codec<T>,
  name: string,
): (view: DataView, offset: number, length: number) => T {
  const need = codec.size;
  return (view, offset, length) => {
    if (length < need) throw shortSample(name, length, need);
    return codec.decode(view, offset);
  };
}

function shortSample(name: string, length: number, need: number): BpfError {
  return new BpfError(
    `perf buffer '${name}': a sample of ${length} bytes is shorter than the ${need} bytes its type needs`,
    { code: 'EMSGSIZE' },
  );
}
