/**
 * The cursor ring and perf buffers read records in place with: one view of the codec's `inPlace`, re-aimed
 * at each record.
 *
 * @module
 */
import { OptionError } from '../errors.js';
import type { Codec } from './codec.js';

/**
 * A function that aims one view at the record at `offset` of `view` and returns it; the view is made on
 * the first call and re-aimed on every later one, so a consume allocates nothing per record.
 *
 * @param what the buffer, for the message (`ring buffer 'events'`)
 * @throws OptionError when `codec` is missing or has no `inPlace` (a codec generated for a struct or union
 *   has one)
 */
export function inPlaceCursor<T>(
  codec: Codec<T> | undefined,
  what: string,
): (view: DataView, offset: number) => T {
  const inPlace = codec?.inPlace;
  if (inPlace === undefined) {
    throw new OptionError(
      `${what}: consumeInPlace needs a codec with inPlace views (one generated for a struct or union)`,
      { option: 'codec' },
    );
  }
  let record: T | undefined;
  return (view, offset) => {
    if (record === undefined) record = inPlace.create(view, offset);
    else inPlace.point(record, view, offset);
    return record;
  };
}
