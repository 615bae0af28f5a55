/**
 * The bpf-skel runtime: load eBPF objects from TypeScript with raw syscalls, no libbpf. Generated skeletons
 * import from here (`bpf-skel/runtime`) and nothing else.
 *
 * @module
 */
export {
  BpfError,
  BtfError,
  ElfError,
  FeatureMissingError,
  OptionError,
  ParseError,
  VerifierError,
} from '../errors.js';
export * from './attach/index.js';
export type { Codec, InPlace } from './codec.js';
export { BpfLink, type BpfLinkType } from './link.js';
export { BpfMap, type FromPinOptions, type MapInfo, type MapMemory } from './map.js';
export { BpfObject, type TokenState } from './object.js';
export type { OpenOptions } from './options.js';
export {
  type LostHandler,
  PerfBuffer,
  type PerfBufferOptions,
  PerfEventArray,
  type RawSampleHandler,
  type SampleHandler,
} from './perfbuf.js';
export type { Feature, FeatureCache } from './probes.js';
export { BpfProgram } from './program.js';
export {
  type RawRecordHandler,
  type RecordHandler,
  RingBuffer,
  RingBufferSet,
  WAIT_SLICE_MS,
} from './ringbuf.js';
export * from './skeleton-support.js';
export type { AttachType, LinkType, MapType, ProgramType } from './sys/kinds.js';
export { type PerfEventAttr, PerfSwConfig, PerfType, perfEventOpen } from './sys/perf.js';
export {
  ArrayMap,
  BloomFilterMap,
  DEFAULT_BATCH_SIZE,
  HashMap,
  KeyValueMap,
  MapOfMaps,
  PerCpuArrayMap,
  PerCpuHashMap,
  ProgArrayMap,
  PUSH_OVERWRITE,
  perCpuCodec,
  QueueMap,
  RawMap,
  StackMap,
} from './typed-maps.js';
export { USER_RINGBUF_MAX_SAMPLE, UserRingBuffer } from './user-ringbuf.js';
