/**
 * BPF CO-RE: relocating a program's field offsets, sizes, existence checks, type and enumerator queries
 * from the object's BTF to the target kernel's.
 *
 * @module
 */
export type { ApplyCoreArgs, CoreOutcome, CoreResult } from './apply.js';
export { applyCoreRelocations } from './apply.js';
export type { CoreCandidateCache } from './candidates.js';
export { newCoreCandidateCache, sharedCoreCandidateCache } from './candidates.js';
export { essentialName } from './names.js';
export { CORE_POISON_IMM } from './patch.js';
export type { InsnOrigin } from './poison.js';
export { describePoison } from './poison.js';
