/**
 * BTF built from scratch, e.g. the small blobs a loader writes to probe kernel features.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import { checkTypes, makeBtf } from './btf.js';
import { makeStrings } from './strings.js';
import type { Btf, BtfType } from './types.js';

/**
 * A new {@link Btf} holding `types` (index = id; each type's `id` must equal its index). Without a base,
 * `types[0]` must be void; with a base, the first `base.types.length` entries must be the base's. Its string
 * table is empty: `writeBtf` adds every name.
 *
 * @throws BtfError when ids do not match positions or a type refers to a missing id
 */
export function createBtf(types: readonly BtfType[], opts: { base?: Btf; file?: string } = {}): Btf {
  const { base, file } = opts;
  const firstId = base === undefined ? 1 : base.types.length;
  if (base === undefined) {
    if (types[0]?.kind !== 'void') throw new BtfError('createBtf: types[0] must be void', { file });
  } else {
    for (let id = 0; id < firstId; id++) {
      if (types[id] !== base.types[id])
        throw new BtfError(`createBtf: type ${id} must be the base's`, { file });
    }
  }
  checkTypes(types, firstId, (id) => ({ file, section: `type ${id}` }));
  const strStart = base === undefined ? 0 : base.strings.start + base.strings.bytes.length;
  const strings = makeStrings(
    base === undefined ? new Uint8Array(1) : new Uint8Array(0),
    strStart,
    base?.strings,
    file,
  );
  return makeBtf({ types, firstId, base, strings, file });
}
