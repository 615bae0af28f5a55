/**
 * Map-access child, run with plain `node` from bench/out/dist (compiled JavaScript, as an application runs
 * the runtime): loads the map benchmark object, warms the JIT up untimed, then times one round of each
 * measurement and prints them as JSON. One process per round, as the C baselines.
 *
 *   node bench/out/dist/bench/child/maps.js OBJECT OPS
 *
 * @module
 */
import type { BpfMap } from '../../src/runtime/map.js';
import { BpfObject } from '../../src/runtime/object.js';
import { uint32Codec as u32, uint64Codec as u64 } from '../../src/runtime/skeleton-support.js';
import { mapLookupBatch } from '../../src/runtime/sys/map.js';
import { ArrayMap, HashMap } from '../../src/runtime/typed-maps.js';
import { BATCH, ENTRIES, type Kind, type MapsChildResult, type Op, PASSES } from './maps-shape.js';

const WARMUP_OPS = 20_000;

/** ns/op of `ops` raw single-element operations, the same loop as bench/c/maps.c. */
function rawRound(map: BpfMap, op: Op, ops: number): number {
  const key = new Uint8Array(4);
  const keyView = new DataView(key.buffer);
  const value = new Uint8Array(8);
  const valueView = new DataView(value.buffer);
  const t0 = process.hrtime.bigint();
  if (op === 'lookup') {
    for (let i = 0; i < ops; i++) {
      keyView.setUint32(0, i & (ENTRIES - 1), true);
      if (!map.lookup(key, value)) throw new Error(`lookup of ${i & (ENTRIES - 1)} in ${map.name} missed`);
    }
  } else {
    for (let i = 0; i < ops; i++) {
      keyView.setUint32(0, i & (ENTRIES - 1), true);
      valueView.setUint32(0, i, true);
      map.update(key, value);
    }
  }
  return Number(process.hrtime.bigint() - t0) / ops;
}

/*
 * ns/op of `ops` typed operations, one function per map class: each loop's call site then sees one class,
 * as in an application, where a line of code reads one map. (Closures made from one function literal share
 * the JIT's feedback, so the loop is written out twice rather than made by a factory.)
 */
function typedArrayRound(map: ArrayMap<bigint>, op: Op, ops: number): number {
  const t0 = process.hrtime.bigint();
  if (op === 'lookup') {
    for (let i = 0; i < ops; i++) {
      if (map.get(i & (ENTRIES - 1)) === undefined) throw new Error(`get(${i & (ENTRIES - 1)}) missed`);
    }
  } else {
    for (let i = 0; i < ops; i++) map.set(i & (ENTRIES - 1), BigInt(i));
  }
  return Number(process.hrtime.bigint() - t0) / ops;
}

function typedHashRound(map: HashMap<number, bigint>, op: Op, ops: number): number {
  const t0 = process.hrtime.bigint();
  if (op === 'lookup') {
    for (let i = 0; i < ops; i++) {
      if (map.get(i & (ENTRIES - 1)) === undefined) throw new Error(`get(${i & (ENTRIES - 1)}) missed`);
    }
  } else {
    for (let i = 0; i < ops; i++) map.set(i & (ENTRIES - 1), BigInt(i));
  }
  return Number(process.hrtime.bigint() - t0) / ops;
}

/** ns/element of reading the whole map `PASSES` times with raw BPF_MAP_LOOKUP_BATCH calls. */
function rawBatchRound(map: BpfMap): number {
  const keys = new Uint8Array(4 * BATCH);
  const values = new Uint8Array(8 * BATCH);
  const inBatch = new Uint8Array(8);
  const outBatch = new Uint8Array(8);
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) {
    let first = true;
    for (;;) {
      const got = mapLookupBatch(map.fd, {
        inBatch: first ? null : inBatch,
        outBatch,
        keys,
        values,
        count: BATCH,
      });
      n += got.count;
      if (got.done) break;
      inBatch.set(outBatch);
      first = false;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (n !== PASSES * ENTRIES)
    throw new Error(`batch read ${n} elements of ${map.name}, expected ${PASSES * ENTRIES}`);
  return ns / n;
}

/** ns/element of iterating the typed map (`entries()`: batches, decoded `[key, value]` pairs). */
function typedBatchRound(map: ArrayMap<bigint> | HashMap<number, bigint>): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) for (const _ of map.entries(BATCH)) n++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (n !== PASSES * ENTRIES) throw new Error(`entries() gave ${n} elements of ${map.map.name}`);
  return ns / n;
}

function main(): void {
  const [object, opsText] = process.argv.slice(2);
  const ops = Number(opsText);
  if (object === undefined || !(ops > 0)) throw new Error('usage: maps.js OBJECT OPS');
  const obj = BpfObject.open(object);
  try {
    obj.load();
    const arrayMap = obj.maps.get('bench_array');
    const hashMap = obj.maps.get('bench_hash');
    const mmapMap = obj.maps.get('bench_mmap');
    if (arrayMap === undefined || hashMap === undefined || mmapMap === undefined) {
      throw new Error(`${object} lacks its maps`);
    }
    const mmapTyped = new ArrayMap(mmapMap, u64);
    const raw = { array: arrayMap, hash: hashMap };
    const typed = { array: new ArrayMap(arrayMap, u64), hash: new HashMap(hashMap, u32, u64) };
    const typedRounds: Record<Kind, (op: Op, n: number) => number> = {
      array: (op, n) => typedArrayRound(typed.array, op, n),
      hash: (op, n) => typedHashRound(typed.hash, op, n),
    };
    // Fill the hash so lookups hit and updates replace, as the C baseline does.
    for (let i = 0; i < ENTRIES; i++) typed.hash.set(i, 0n);
    const kinds: Kind[] = ['array', 'hash'];
    const opsList: Op[] = ['lookup', 'update'];
    for (const k of kinds) {
      for (const o of opsList) {
        rawRound(raw[k], o, WARMUP_OPS);
        typedRounds[k](o, WARMUP_OPS);
      }
      rawBatchRound(raw[k]);
      typedBatchRound(typed[k]);
    }
    for (const o of opsList) typedArrayRound(mmapTyped, o, WARMUP_OPS);
    const result: MapsChildResult = {
      raw: { array: { lookup: 0, update: 0 }, hash: { lookup: 0, update: 0 } },
      typed: { array: { lookup: 0, update: 0 }, hash: { lookup: 0, update: 0 } },
      typedMmap: { lookup: 0, update: 0 },
      rawBatch: { array: 0, hash: 0 },
      typedBatch: { array: 0, hash: 0 },
    };
    for (const k of kinds) {
      for (const o of opsList) {
        result.raw[k][o] = rawRound(raw[k], o, ops);
        result.typed[k][o] = typedRounds[k](o, ops);
      }
      result.rawBatch[k] = rawBatchRound(raw[k]);
      result.typedBatch[k] = typedBatchRound(typed[k]);
    }
    for (const o of opsList) result.typedMmap[o] = typedArrayRound(mmapTyped, o, ops);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    obj.close();
  }
}

main();
