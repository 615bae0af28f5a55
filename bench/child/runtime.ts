/**
 * What `bpf-skel/runtime` resolves to for skeletons the benchmark compiles: the runtime entry, from the
 * compiled sources in bench/out/dist.
 *
 * @module
 */
export * from '../../src/runtime/index.js';
