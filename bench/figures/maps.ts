/**
 * Figures 2 and 3: single-element map access (array and hash, u32 key, u64 value, 1024 entries) through
 * bpf-skel's raw `BpfMap.lookup/update` on byte buffers and its typed `ArrayMap`/`HashMap` `get/set`,
 * against libbpf's `bpf_map_lookup_elem`/`bpf_map_update_elem`; and reading a whole map with
 * `BPF_MAP_LOOKUP_BATCH`, per element, against C's single-element loop (and, for reference, libbpf's own
 * `bpf_map_lookup_batch`).
 *
 * @module
 */
import { join } from 'node:path';
import { BATCH, type Kind, type MapsChildResult, type Op, PASSES } from '../child/maps-shape.js';
import { type BenchContext, benchObject, cBin } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { alternate } from '../lib/rounds.js';
import { summarize } from '../lib/stats.js';

interface CMaps {
  array: Record<Op, number[]>;
  hash: Record<Op, number[]>;
}
interface CBatch {
  array: number[];
  hash: number[];
}

/**
 * Figure 2 and 3 rows. `dist` is bench/out/dist: ours run in a plain `node` child per round (compiled
 * runtime, as an application runs it), alternating with the C baselines.
 */
export function mapsFigure(ctx: BenchContext, dist: string): Row[] {
  const ops = ctx.quick ? 20_000 : 100_000;
  const rounds = ctx.quick ? 3 : 11;
  ctx.log(`maps: ${ops} ops x ${rounds} rounds; batch ${BATCH} x ${PASSES} passes`);
  const object = benchObject(ctx, 'maps_bench');
  const child = join(dist, 'bench', 'child', 'maps.js');
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
    typedMmap: new Map<Op, number[]>(),
  };
  const push = <K>(m: Map<K, number[]>, k: K, v: number): void => {
    const list = m.get(k) ?? [];
    list.push(v);
    m.set(k, list);
  };
  const runOurs = (): void => {
    const m = runJson<MapsChildResult>(process.execPath, [child, object, String(ops)]);
    for (const k of kinds) {
      for (const o of opsList) {
        push(s.raw, key(k, o), m.raw[k][o]);
        push(s.typed, key(k, o), m.typed[k][o]);
      }
      push(s.rawBatch, k, m.rawBatch[k]);
      push(s.typedBatch, k, m.typedBatch[k]);
    }
    for (const o of opsList) push(s.typedMmap, o, m.typedMmap[o]);
  };
  const runC = (): void => {
    const m = runJson<CMaps>(cBin(ctx, 'maps'), [String(ops), '1']);
    for (const k of kinds) for (const o of opsList) push(s.c, key(k, o), m[k][o][0]);
    const b = runJson<CBatch>(cBin(ctx, 'batch'), [String(BATCH), '1']);
    for (const k of kinds) push(s.cBatch, k, b[k][0]);
  };
  alternate(rounds, runC, runOurs);

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
  for (const o of opsList) {
    rows.push({
      id: `map/mmap/${o}/typed`,
      label: `array ${o}, typed ArrayMap.${o === 'lookup' ? 'get' : 'set'}, BPF_F_MMAPABLE (memory)`,
      unit: 'ns/op',
      ours: summarize(get(s.typedMmap, o)),
      c: summarize(get(s.c, key('array', o))),
      goal: { kind: 'ratio-max', value: 1.3 },
      note: 'C = bpf_map_lookup_elem/bpf_map_update_elem on the array: libbpf has no typed access to memory',
    });
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
