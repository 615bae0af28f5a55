/**
 * The error a call throws, as a value: for tests that check several properties of one error (its class,
 * code, errno, message) or that accept either an outcome or a specific error.
 *
 * @module
 */

/** The first error `fn` throws; undefined when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
