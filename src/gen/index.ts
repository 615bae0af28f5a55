/**
 * The generator: from a compiled `.bpf.o` to a typed TypeScript skeleton (`generateSkeleton`) or to the
 * types and codecs of its BTF alone (`generateTypes`).
 *
 * @module
 */
export {
  AUTO_INLINE_LIMIT,
  baseNameOf,
  type EmbedMode,
  type GeneratedSkeleton,
  generateSkeleton,
  generateTypes,
  type SkeletonOptions,
  type TypesOptions,
} from './skeleton.js';
