/**
 * Deterministic input mutation for parser fuzz tests: a seeded PRNG and a mutator that derives damaged copies
 * of real files (bit flips, bytes set to 0/0xff/random, truncations, interesting 32-bit values spliced at
 * header and offset fields). Same seed, same inputs: a failure reproduces from its seed and index.
 */

/** A seeded PRNG returning uint32 values (mulberry32). */
export type Rng = () => number;

/** A deterministic PRNG from a 32-bit seed. */
export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** 32-bit values that tend to break bounds checks (sizes, offsets, sign edges). */
export const INTERESTING_U32: readonly number[] = [
  0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff,
];

/** One kind of damage. */
export type MutationKind = 'bitflip' | 'zero' | 'ones' | 'random' | 'truncate' | 'splice32' | 'splice-hot';

const KINDS: readonly MutationKind[] = [
  'bitflip',
  'zero',
  'ones',
  'random',
  'truncate',
  'splice32',
  'splice-hot',
];

/** A mutated copy and what was done to it (for failure messages). */
export interface Mutation {
  readonly bytes: Uint8Array;
  readonly description: string;
}

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng() % list.length];
}

/**
 * A mutated copy of `input`. `hotOffsets` are byte offsets of fields worth hitting (header fields, section
 * offsets, lengths): `splice-hot` writes an interesting little-endian u32 at one of them. Each call applies
 * one to three mutations.
 */
export function mutate(input: Uint8Array, rng: Rng, hotOffsets: readonly number[] = []): Mutation {
  let bytes = input.slice();
  const done: string[] = [];
  const rounds = 1 + (rng() % 3);
  for (let r = 0; r < rounds && bytes.length > 0; r++) {
    const kind = pick(rng, KINDS);
    const at = rng() % bytes.length;
    switch (kind) {
      case 'bitflip':
        bytes[at] ^= 1 << (rng() % 8);
        done.push(`bitflip@${at}`);
        break;
      case 'zero':
        bytes[at] = 0;
        done.push(`zero@${at}`);
        break;
      case 'ones':
        bytes[at] = 0xff;
        done.push(`ones@${at}`);
        break;
      case 'random':
        bytes[at] = rng() & 0xff;
        done.push(`random@${at}`);
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        done.push(`truncate@${at}`);
        break;
      case 'splice32':
      case 'splice-hot': {
        const hot = kind === 'splice-hot' && hotOffsets.length > 0;
        const pos = hot ? pick(rng, hotOffsets) : at & ~3;
        if (pos + 4 > bytes.length) break;
        const v = pick(rng, INTERESTING_U32);
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(pos, v >>> 0, true);
        done.push(`${kind}@${pos}=0x${v.toString(16)}`);
        break;
      }
    }
  }
  return { bytes, description: done.join(',') };
}

/** `count` mutated copies of `input` from `seed`. */
export function* mutations(
  input: Uint8Array,
  count: number,
  seed: number,
  hotOffsets: readonly number[] = [],
): Generator<Mutation & { index: number }> {
  const rng = makeRng(seed);
  for (let index = 0; index < count; index++) yield { ...mutate(input, rng, hotOffsets), index };
}
