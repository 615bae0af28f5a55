/**
 * Rounds of a C baseline and ours, interleaved.
 *
 * @module
 */

/**
 * Runs `rounds` rounds of `c` and `ours`, each round in the other order than the one before, so that drift
 * of the machine (clock frequency, caches, other load) falls on both sides alike.
 */
export function alternate(rounds: number, c: () => void, ours: () => void): void {
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      c();
      ours();
    } else {
      ours();
      c();
    }
  }
}
