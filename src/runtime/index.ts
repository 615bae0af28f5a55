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
export type { Codec } from './codec.js';
export type { AttachType, LinkType, MapType, ProgramType } from './kinds.js';
export { BpfMap, type MapMemory } from './map.js';
export { BpfObject, type TokenState } from './object.js';
export type { OpenOptions } from './options.js';
export type { Feature, FeatureCache } from './probes.js';
export { BpfProgram } from './program.js';
