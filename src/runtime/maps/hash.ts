/**
 * {@link HashMap}: typed access to hash maps, LRU hashes, LPM tries and any other map with plain keys and
 * values.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { Codec } from '../codec.js';
import type { BpfMap } from '../map.js';
import { KeyValueMap } from './keyvalue.js';
import { checkCodecSize, PER_CPU_TYPES } from './layout.js';

/**
 * A map of `K` to `V` (hash, lru_hash, lpm_trie, ...). For an LPM trie the key includes `prefixlen` and
 * `get` is a longest-prefix match. See {@link KeyValueMap} for iteration and batches.
 */
export class HashMap<K, V> extends KeyValueMap<K, V> {
  constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    if ((PER_CPU_TYPES as readonly string[]).includes(map.type)) {
      throw new OptionError(`map '${map.name}' is ${map.type}: use PerCpuHashMap, whose values are per CPU`, {
        option: 'map',
      });
    }
    if (map.keySize === 0) {
      throw new OptionError(`map '${map.name}' (${map.type}) has no keys; HashMap needs a key/value map`, {
        option: 'map',
      });
    }
    checkCodecSize(map, key, map.keySize, 'key');
    checkCodecSize(map, value, map.valueSize, 'value');
    super(map, key, value);
  }
}
