/**
 * bpf-skel: typed TypeScript skeletons for eBPF objects, and the pure-TypeScript runtime that loads them.
 *
 * @module
 */
export * from './runtime/index.js';
