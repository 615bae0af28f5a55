/**
 * Figures 2 and 3: single-element map access (array and hash, u32 key, u64 value, 1024 entries) through
 * bpf-skel's raw `BpfMap.lookup/update` on byte buffers and its typed `ArrayMap`/`HashMap` `get/set`,
 * against libbpf's `bpf_map_lookup_elem`/`bpf_map_update_elem`; and reading a whole map with
 * `BPF_MAP_LOOKUP_BATCH`, per element, against C's single-element loop (and, for reference, libbpf's own
 * `bpf_map_lookup_batch`).
 *
 * @module
 */
import type { Codec } from '../../src/runtime/codec.js';
import type { BpfMap } from '../../src/runtime/map.js';
import { BpfObject } from '../../src/runtime/object.js';
import { mapLookupBatch } from '../../src/runtime/sys/map.js';
import { ArrayMap, HashMap } from '../../src/runtime/typed-maps.js';
import { type BenchContext, benchObject, cBin } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

const ENTRIES = 1024;
const BATCH = 256;
/** Whole-map reads per timed batch round (as bench/c/batch.c). */
const PASSES = 20;

const u32: Codec<number> = {
  size: 4,
  decode: (view, offset) => view.getUint32(offset, true),
  encode: (value, view, offset) => view.setUint32(offset, value, true),
};
const u64: Codec<bigint> = {
  size: 8,
  decode: (view, offset) => view.getBigUint64(offset, true),
  encode: (value, view, offset) => view.setBigUint64(offset, value, true),
};

type Kind = 'array' | 'hash';
type Op = 'lookup' | 'update';

interface CMaps {
  array: Record<Op, number[]>;
  hash: Record<Op, number[]>;
}
interface CBatch {
  array: number[];
  hash: number[];
}

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

/** ns/op of `ops` typed operations through a generated-style codec. */
function typedRound(map: ArrayMap<bigint> | HashMap<number, bigint>, op: Op, ops: number): number {
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

/** Figure 2 and 3 rows. */
export function mapsFigure(ctx: BenchContext): Row[] {
  const ops = ctx.quick ? 20_000 : 100_000;
  const rounds = ctx.quick ? 3 : 11;
  ctx.log(`maps: ${ops} ops x ${rounds} rounds; batch ${BATCH} x ${PASSES} passes`);
  const obj = BpfObject.open(benchObject(ctx, 'maps_bench'));
  try {
    obj.load();
    return measure(ctx, obj, ops, rounds);
  } finally {
    obj.close();
  }
}

function measure(ctx: BenchContext, obj: BpfObject, ops: number, rounds: number): Row[] {
  const arrayMap = obj.maps.get('bench_array');
  const hashMap = obj.maps.get('bench_hash');
  if (arrayMap === undefined || hashMap === undefined) throw new Error('maps_bench.bpf.o lacks its maps');
  const raw = { array: arrayMap, hash: hashMap };
  const typed = { array: new ArrayMap(raw.array, u64), hash: new HashMap(raw.hash, u32, u64) };
  // Fill the hash so lookups hit and updates replace, as the C baseline does.
  for (let i = 0; i < ENTRIES; i++) typed.hash.set(i, 0n);

  const kinds: Kind[] = ['array', 'hash'];
  const opsList: Op[] = ['lookup', 'update'];
  const key = (k: Kind, o: Op): string => `${k}/${o}`;
  const s = {
    raw: new Map<string, number[]>(),
    typed: new Map<string, number[]>(),
    c: new Map<string, number[]>(),
    rawBatch: new Map<Kind, number[]>(),
    typedBatch: new Map<Kind, number[]>(),
    cBatch: new Map<Kind, number[]>(),
  };
  const push = <K>(m: Map<K, number[]>, k: K, v: number): void => {
    const list = m.get(k) ?? [];
    list.push(v);
    m.set(k, list);
  };
  const runOurs = (): void => {
    for (const k of kinds) {
      for (const o of opsList) {
        push(s.raw, key(k, o), rawRound(raw[k], o, ops));
        push(s.typed, key(k, o), typedRound(typed[k], o, ops));
      }
      push(s.rawBatch, k, rawBatchRound(raw[k]));
      push(s.typedBatch, k, typedBatchRound(typed[k]));
    }
  };
  const runC = (): void => {
    const m = runJson<CMaps>(cBin(ctx, 'maps'), [String(ops), '1']);
    for (const k of kinds) for (const o of opsList) push(s.c, key(k, o), m[k][o][0]);
    const b = runJson<CBatch>(cBin(ctx, 'batch'), [String(BATCH), '1']);
    for (const k of kinds) push(s.cBatch, k, b[k][0]);
  };
  // Warm-up: JIT and caches, untimed.
  for (const k of kinds) {
    for (const o of opsList) {
      rawRound(raw[k], o, 2000);
      typedRound(typed[k], o, 2000);
    }
  }
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      runC();
      runOurs();
    } else {
      runOurs();
      runC();
    }
  }

  const rows: Row[] = [];
  const get = <K>(m: Map<K, number[]>, k: K): number[] => m.get(k) ?? [];
  for (const k of kinds) {
    for (const o of opsList) {
      const c = summarize(get(s.c, key(k, o)));
      rows.push({
        id: `map/${k}/${o}/raw`,
        label: `${k} ${o}, raw BpfMap.${o}`,
        unit: 'ns/op',
        ours: summarize(get(s.raw, key(k, o))),
        c,
        goal: { kind: 'ratio-max', value: 1.3 },
      });
      rows.push({
        id: `map/${k}/${o}/typed`,
        label: `${k} ${o}, typed ${k === 'array' ? 'ArrayMap' : 'HashMap'}.${o === 'lookup' ? 'get' : 'set'}`,
        unit: 'ns/op',
        ours: summarize(get(s.typed, key(k, o))),
        c,
        goal: { kind: 'ratio-max', value: 1.3 },
      });
    }
  }
  for (const k of kinds) {
    const cSingle = summarize(get(s.c, key(k, 'lookup')));
    rows.push({
      id: `batch/${k}/raw`,
      label: `${k} batch lookup (${BATCH}/call), raw`,
      unit: 'ns/elem',
      ours: summarize(get(s.rawBatch, k)),
      c: cSingle,
      note: 'C = single-element bpf_map_lookup_elem loop',
    });
    rows.push({
      id: `batch/${k}/typed`,
      label: `${k} batch lookup, typed entries()`,
      unit: 'ns/elem',
      ours: summarize(get(s.typedBatch, k)),
      c: cSingle,
      note: 'C = single-element bpf_map_lookup_elem loop',
    });
    rows.push({
      id: `batch/${k}/raw-vs-libbpf-batch`,
      label: `${k} batch lookup, raw vs libbpf batch`,
      unit: 'ns/elem',
      ours: summarize(get(s.rawBatch, k)),
      c: summarize(get(s.cBatch, k)),
      note: 'C = libbpf bpf_map_lookup_batch, same batch size (reference)',
    });
  }
  return rows;
}
