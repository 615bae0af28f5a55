/**
 * No allocation per call on the map hot path, on the real kernel: raw and typed element operations, and
 * queue push/pop, 50 000 calls at a time, leave the V8 heap where it was (the heap before and after plus
 * what every GC in between freed). A control that allocates is measured the same way, so the measure is
 * shown to see allocations.
 */
import { describe, expect, it } from 'vitest';
import { HashMap, QueueMap, RawMap } from '../src/runtime/typed-maps.js';
import { bytesPerCall } from './helpers/cost.js';
import { isRoot, requireKernel } from './helpers/kernel.js';
import { le32, mapOf, prefix32Key, u32, u64 } from './helpers/maps.js';
import { testScope } from './helpers/scope.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'map tests need root');
const scope = testScope();

describe.runIf(canRun)('hot path allocations', () => {
  it('the measure sees an allocation of a few dozen bytes per call', () => {
    let sink: unknown;
    expect(
      bytesPerCall(() => {
        sink = { a: sink, b: 2 };
      }),
    ).toBeGreaterThan(16);
  });

  it('raw and typed element operations allocate nothing per call', () => {
    const obj = scope.load('mapchurn.bpf.o');
    const map = mapOf(obj, 'table');
    const key = le32(1);
    const missing = le32(999_999);
    const value = new Uint8Array(8);
    const next = new Uint8Array(4);
    map.update(key, value);
    const raw = new RawMap(map);
    const typed = new HashMap(map, u32, u64);
    // An LPM trie of /32 prefixes with u32 values: a decoded value that is a small integer, not a bigint.
    const small = new HashMap(mapOf(obj, 'prefixes'), prefix32Key, u32);
    small.set(5, 7);
    expect(small.get(5)).toBe(7);
    const ops: Record<string, () => unknown> = {
      'BpfMap.lookup': () => map.lookup(key, value),
      'BpfMap.lookup (absent)': () => map.lookup(missing, value),
      'BpfMap.update': () => map.update(key, value),
      'BpfMap.delete (absent)': () => map.delete(missing),
      'BpfMap.nextKey': () => map.nextKey(key, next),
      'RawMap.lookupInto': () => raw.lookupInto(key, value),
      'HashMap.has': () => typed.has(1),
      'HashMap.getBytes': () => typed.getBytes(1),
      'HashMap.set': () => typed.set(1, 10n),
      'HashMap.delete (absent)': () => typed.delete(999_999),
      'HashMap.get (small-integer value)': () => small.get(5),
    };
    const measured = Object.fromEntries(
      Object.entries(ops).map(([name, fn]) => [name, Math.round(bytesPerCall(fn) * 100) / 100]),
    );
    for (const [name, bytes] of Object.entries(measured)) expect(bytes, name).toBeLessThan(1);
  });

  it('queue push and pop of a small-integer value allocate nothing per call', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const q = new QueueMap(mapOf(obj, 'queue'), {
      size: 16,
      decode: (v, o) => v.getUint32(o, true),
      encode: (x: number, v, o) => v.setUint32(o, x, true),
    });
    expect(
      bytesPerCall(() => {
        q.push(3);
        return q.pop();
      }),
    ).toBeLessThan(1);
  });
});
