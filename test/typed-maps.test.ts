/**
 * The typed map wrappers over every map type of the fixture corpus, on the real kernel: struct keys and
 * values round-trip through hash, LRU, LPM trie, array, per-CPU, queue, stack and bloom filter maps;
 * `take()` removes a key and returns its value in one step; RawMap handles stack traces, devmap and
 * cpumap as bytes; program arrays and maps of maps take FDs and read back ids; maps keyed or valued by FDs
 * (sk_storage and task_storage keyed by a socket and a pidfd, sockhash taking a socket FD and reading back
 * its cookie, cgroup_array taking a cgroup v2 FD) work; iteration survives BPF-side churn; wrong types,
 * codec sizes and load state get clear errors; buffers are reused and no FD leaks.
 */
import { describe, expect, it } from 'vitest';
import { BpfError, OptionError } from '../src/errors.js';
import type { Codec } from '../src/runtime/codec.js';
import { BpfObject } from '../src/runtime/object.js';
import { possibleCpuCount } from '../src/runtime/sys/cpus.js';
import { closeFd, openDir } from '../src/runtime/sys/fd.js';
import { mapInfo } from '../src/runtime/sys/info.js';
import { pidfdOpen } from '../src/runtime/sys/mount.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { AF_UNIX, SOCK_STREAM, socketPair } from '../src/runtime/sys/socket.js';
import {
  ArrayMap,
  BloomFilterMap,
  HashMap,
  MapOfMaps,
  PerCpuArrayMap,
  PerCpuHashMap,
  ProgArrayMap,
  PUSH_OVERWRITE,
  QueueMap,
  RawMap,
  StackMap,
} from '../src/runtime/typed-maps.js';
import { cgroup2Root } from './helpers/cgroup.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { evSample, le32, mapOf, prefix32Key, u32, u64 } from './helpers/maps.js';
import { FIXTURES } from './helpers/objects.js';
import { testScope } from './helpers/scope.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'typed map tests need root');
const scope = testScope();

// Codecs written by hand for the types of maps.bpf.c (the generator's codecs are tested on their own).
interface AddrPort {
  addr: number;
  port: number;
}
interface FlowKey {
  src: AddrPort;
  dst: AddrPort;
  kind: number;
  ifindex: number;
}
const flowKey: Codec<FlowKey> = {
  size: 24,
  decode: (v, o) => ({
    src: { addr: v.getUint32(o, true), port: v.getUint16(o + 4, true) },
    dst: { addr: v.getUint32(o + 8, true), port: v.getUint16(o + 12, true) },
    kind: v.getUint32(o + 16, true),
    ifindex: v.getUint32(o + 20, true),
  }),
  encode(x, v, o) {
    v.setUint32(o, x.src.addr, true);
    v.setUint16(o + 4, x.src.port, true);
    v.setUint32(o + 8, x.dst.addr, true);
    v.setUint16(o + 12, x.dst.port, true);
    v.setUint32(o + 16, x.kind, true);
    v.setUint32(o + 20, x.ifindex, true);
  },
};

interface FlowCounters {
  packets: bigint;
  bytes: bigint;
  firstSeen: number;
  proto: number;
  isIpv6: number;
  dropped: number;
  score: number;
  cookie: bigint;
  label: string;
  lo: number;
  hi: number;
}
const flowCounters: Codec<FlowCounters> = {
  size: 48,
  decode(v, o) {
    const bits = v.getUint32(o + 16, true);
    let label = '';
    for (let i = 0; i < 12 && v.getUint8(o + 32 + i) !== 0; i++)
      label += String.fromCharCode(v.getUint8(o + 32 + i));
    return {
      packets: v.getBigUint64(o, true),
      bytes: v.getBigUint64(o + 8, true),
      firstSeen: bits & 0xfffff,
      proto: (bits >>> 20) & 0xff,
      isIpv6: (bits >>> 28) & 1,
      dropped: bits >>> 29,
      score: v.getInt32(o + 20, true),
      cookie: v.getBigUint64(o + 24, true),
      label,
      lo: v.getUint16(o + 44, true),
      hi: v.getUint16(o + 46, true),
    };
  },
  encode(x, v, o) {
    v.setBigUint64(o, x.packets, true);
    v.setBigUint64(o + 8, x.bytes, true);
    v.setUint32(o + 16, (x.firstSeen | (x.proto << 20) | (x.isIpv6 << 28) | (x.dropped << 29)) >>> 0, true);
    v.setInt32(o + 20, x.score, true);
    v.setBigUint64(o + 24, x.cookie, true);
    for (let i = 0; i < 12; i++) v.setUint8(o + 32 + i, i < x.label.length ? x.label.charCodeAt(i) : 0);
    v.setUint16(o + 44, x.lo, true);
    v.setUint16(o + 46, x.hi, true);
  },
};

interface LpmKey {
  prefixlen: number;
  addr: [number, number, number, number];
}
const lpmKey: Codec<LpmKey> = {
  size: 8,
  decode: (v, o) => ({
    prefixlen: v.getUint32(o, true),
    addr: [v.getUint8(o + 4), v.getUint8(o + 5), v.getUint8(o + 6), v.getUint8(o + 7)],
  }),
  encode(x, v, o) {
    v.setUint32(o, x.prefixlen, true);
    for (let i = 0; i < 4; i++) v.setUint8(o + 4 + i, x.addr[i] ?? 0);
  },
};

const flow = (n: number): FlowKey => ({
  src: { addr: 0x0a000000 + n, port: 1000 + n },
  dst: { addr: 0x7f000001, port: 80 },
  kind: 6,
  ifindex: 1,
});
const counters = (n: number): FlowCounters => ({
  packets: BigInt(n),
  bytes: BigInt(n) * 1500n + (1n << 40n),
  firstSeen: 0xabcde,
  proto: 6,
  isIpv6: n & 1,
  dropped: 5,
  score: 1 - n,
  cookie: 0xfeedfacecafebeefn,
  label: `flow-${n}`,
  lo: n,
  hi: 0xffff,
});

describe.runIf(canRun)('typed maps', () => {
  it('HashMap: struct keys and values round-trip; set flags, delete, has, iteration, batches, clear', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const flows = new HashMap(mapOf(obj, 'flows'), flowKey, flowCounters);
    expect(flows.get(flow(1))).toBeUndefined();
    flows.set(flow(1), counters(1));
    expect(flows.get(flow(1))).toEqual(counters(1));
    expect(flows.has(flow(1))).toBe(true);
    expect(() => flows.set(flow(1), counters(2), 1)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => flows.set(flow(2), counters(2), 2)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(flows.setMany([...Array(300).keys()].map((i) => [flow(i), counters(i)] as const))).toBe(300);
    const all = [...flows];
    expect(all).toHaveLength(300);
    expect(new Set(all.map(([k]) => k.src.port)).size).toBe(300);
    for (const [k, v] of all) expect(v).toEqual(counters(k.src.port - 1000));
    expect([...flows.keys(7)]).toHaveLength(300);
    expect([...flows.values()].map((v) => v.packets).sort((a, b) => Number(a - b))[299]).toBe(299n);
    const chunks = [...(flows.entriesBatch(64) ?? [])];
    expect(chunks.flat()).toHaveLength(300);
    expect(chunks.every((c) => c.length <= 64)).toBe(true);
    expect(flows.getMany([flow(5), flow(999)])).toEqual([counters(5), undefined]);
    expect(flows.delete(flow(5))).toBe(true);
    expect(flows.delete(flow(5))).toBe(false);
    expect(flows.deleteMany([flow(6), flow(7), flow(5)])).toBe(2);
    expect(flows.getBytes(flow(8))?.length).toBe(48);
    expect(flows.clear()).toBe(297);
    expect([...flows]).toEqual([]);
  });

  it('HashMap over an LRU hash and over the pinned hash', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const lru = new HashMap(mapOf(obj, 'lru_hash'), u64, evSample);
    for (let i = 0n; i < 10n; i++) lru.set(i << 32n, { pid: Number(i), cpu: 1, ts: i * 7n });
    expect(lru.get(3n << 32n)).toEqual({ pid: 3, cpu: 1, ts: 21n });
    expect([...lru.keys()].sort()).toHaveLength(10);
    const pinned = new HashMap(mapOf(obj, 'pinned_hash'), u32, u64);
    pinned.set(7, 70n);
    expect([...pinned]).toEqual([[7, 70n]]);
  });

  it('HashMap over an LPM trie: longest-prefix get and iteration by key walk', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const lpm = new HashMap(mapOf(obj, 'lpm'), lpmKey, u32);
    lpm.set({ prefixlen: 8, addr: [10, 0, 0, 0] }, 8);
    lpm.set({ prefixlen: 16, addr: [10, 1, 0, 0] }, 16);
    expect(lpm.get({ prefixlen: 32, addr: [10, 1, 2, 3] })).toBe(16);
    expect(lpm.get({ prefixlen: 32, addr: [10, 2, 2, 3] })).toBe(8);
    expect(lpm.get({ prefixlen: 32, addr: [11, 0, 0, 0] })).toBeUndefined();
    const entries = [...lpm].sort((a, b) => a[1] - b[1]);
    expect(entries).toEqual([
      [{ prefixlen: 8, addr: [10, 0, 0, 0] }, 8],
      [{ prefixlen: 16, addr: [10, 1, 0, 0] }, 16],
    ]);
    expect(lpm.clear()).toBe(2);
    expect([...lpm]).toEqual([]);
  });

  it('ArrayMap: indices 0..maxEntries-1, no delete, clear to zero', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    for (const name of ['counters', 'mmapable']) {
      const arr = new ArrayMap(mapOf(obj, name), u64);
      expect(arr.length).toBe(mapOf(obj, name).maxEntries);
      arr.set(3, 33n);
      arr.setMany([
        [0, 1n],
        [1, 2n],
      ]);
      expect(arr.get(3)).toBe(33n);
      expect(arr.get(arr.length)).toBeUndefined();
      expect(() => arr.get(-1)).toThrow(OptionError);
      const all = [...arr];
      expect(all.map(([i]) => i)).toEqual([...Array(arr.length).keys()]);
      expect(all.slice(0, 4).map(([, v]) => v)).toEqual([1n, 2n, 0n, 33n]);
      expect(() => arr.delete(3)).toThrow(OptionError);
      expect(arr.clear()).toBe(arr.length);
      expect([...arr.values()].every((v) => v === 0n)).toBe(true);
    }
    const node0 = new ArrayMap(mapOf(obj, 'on_node0'), u32);
    node0.set(1, 0xdeadbeef);
    expect(node0.get(1)).toBe(0xdeadbeef);
  });

  it('per-CPU maps: one value per possible CPU, set per CPU or setAll', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const cpus = possibleCpuCount();
    const ph = new PerCpuHashMap(mapOf(obj, 'percpu_hash'), u32, evSample);
    expect(ph.cpus).toBe(cpus);
    const perCpu = [...Array(cpus).keys()].map((c) => ({ pid: 9, cpu: c, ts: BigInt(c) * 100n }));
    ph.set(9, perCpu);
    expect(ph.get(9)).toEqual(perCpu);
    ph.setAll(10, { pid: 10, cpu: 0, ts: 1n });
    expect(ph.get(10)).toEqual(Array(cpus).fill({ pid: 10, cpu: 0, ts: 1n }));
    expect(() => ph.set(11, perCpu.slice(1))).toThrow(OptionError);
    expect(new Map(ph.entries()).get(9)).toEqual(perCpu);

    const pa = new PerCpuArrayMap(mapOf(obj, 'percpu_array'), u64);
    pa.set(
      2,
      [...Array(cpus).keys()].map((c) => BigInt(c + 1)),
    );
    expect(pa.get(2)).toEqual([...Array(cpus).keys()].map((c) => BigInt(c + 1)));
    expect([...pa.keys()]).toEqual([0, 1, 2, 3]);
    pa.clear();
    expect(pa.get(2)).toEqual(Array(cpus).fill(0n));

    const lruPc = new PerCpuHashMap(mapOf(obj, 'lru_percpu_hash'), u32, u64);
    lruPc.setAll(1, 5n);
    expect(lruPc.get(1)).toEqual(Array(cpus).fill(5n));
    expect(() => new HashMap(mapOf(obj, 'percpu_hash'), u32, evSample)).toThrow(/PerCpuHashMap/);
  });

  it('QueueMap and StackMap: FIFO and LIFO, full, overwrite; BloomFilterMap', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const q = new QueueMap(mapOf(obj, 'queue'), evSample);
    expect(q.pop()).toBeUndefined();
    for (let i = 0; i < 32; i++) q.push({ pid: i, cpu: 0, ts: BigInt(i) });
    expect(() => q.push({ pid: 99, cpu: 0, ts: 0n })).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    q.push({ pid: 32, cpu: 0, ts: 32n }, PUSH_OVERWRITE);
    expect(q.peek()?.pid).toBe(1);
    expect([...q.drain()].map((s) => s.pid)).toEqual([...Array(32).keys()].map((i) => i + 1));
    const s = new StackMap(mapOf(obj, 'stack'), u64);
    s.push(1n);
    s.push(2n);
    expect(s.peek()).toBe(2n);
    expect(s.pop()).toBe(2n);
    expect(s.pop()).toBe(1n);
    expect(s.pop()).toBeUndefined();
    const bloom = new BloomFilterMap(mapOf(obj, 'bloom'), u32);
    for (let i = 0; i < 20; i++) bloom.add(i * 1000);
    for (let i = 0; i < 20; i++) expect(bloom.has(i * 1000)).toBe(true);
    const absent = [...Array(50).keys()].filter((i) => !bloom.has(7 + i * 13));
    expect(absent.length).toBeGreaterThan(0);
  });

  it('RawMap handles the rest as bytes: stack traces, devmap, cpumap', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const stacks = new RawMap(mapOf(obj, 'stacks'));
    expect([...stacks]).toEqual([]);
    const dev = new RawMap(mapOf(obj, 'devmap'));
    dev.set(new Uint8Array([0, 0, 0, 0]), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    expect([...(dev.get(new Uint8Array(4)) ?? [])]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    const out = new Uint8Array(8);
    expect(dev.lookupInto(new Uint8Array(4), out)).toBe(true);
    expect(out[0]).toBe(1);
    const cpu = new RawMap(mapOf(obj, 'cpumap'));
    cpu.set(new Uint8Array(4), new Uint8Array([192, 0, 0, 0, 0, 0, 0, 0]));
    expect(cpu.get(new Uint8Array(4))?.[0]).toBe(192);
    cpu.delete(new Uint8Array(4));
  });

  it('ProgArrayMap and MapOfMaps: write FDs, read ids', () => {
    const tail = scope.load('tailcall.bpf.o');
    const jmp = new ProgArrayMap(mapOf(tail, 'jmp_table'));
    const ids = new Map(jmp.entries());
    expect([...ids.keys()].sort()).toEqual([0, 2]);
    const prog = tail.programs.get('xdp_entry');
    if (prog === undefined) throw new Error('no xdp_entry');
    jmp.set(1, prog);
    expect(jmp.get(1)).toBeGreaterThan(0);
    expect(jmp.delete(1)).toBe(true);
    expect(jmp.get(1)).toBeUndefined();

    const mim = scope.load('mapinmap.bpf.o');
    const innerB = mapOf(mim, 'inner_b');
    const outer = new MapOfMaps(mapOf(mim, 'outer_arr'));
    expect(outer.get(2)).toBe(mapInfo(innerB.fd).id);
    outer.set(1, innerB);
    expect(outer.get(1)).toBe(mapInfo(innerB.fd).id);
    expect(outer.delete(1)).toBe(true);
    expect(outer.get(1)).toBeUndefined();
    const hash = new MapOfMaps(mapOf(mim, 'outer_hash'), u32);
    expect(new Map(hash.entries()).get(5)).toBe(mapInfo(innerB.fd).id);
  });

  it('iteration survives BPF-side inserts and deletes between steps: each key at most once, stable keys always', () => {
    const obj = scope.load('mapchurn.bpf.o');
    const prog = obj.programs.get('churn')?.fd ?? -1;
    const args = new BigUint64Array(3);
    const churn = (op: number, start: number, count: number): void => {
      args.set([BigInt(op), BigInt(start), BigInt(count)]);
      progTestRun(prog, { ctxIn: new Uint8Array(args.buffer) });
    };
    const table = new HashMap(mapOf(obj, 'table'), u32, u64);
    const prefixes = new HashMap(mapOf(obj, 'prefixes'), prefix32Key, u32);
    for (const [m, insert, remove, value] of [
      [table, 0, 1, (k: number) => BigInt(k) * 10n],
      [prefixes, 2, 3, (k: number) => k],
    ] as const) {
      churn(insert, 0, 2000); // 0..999 stay; 1000..1999 get deleted while iterating
      const seen = new Set<number>();
      let step = 0;
      for (const [k, v] of (m as HashMap<number, unknown>).entries(32)) {
        expect(seen.has(k)).toBe(false);
        seen.add(k);
        expect(v).toBe(value(k));
        if (++step % 50 === 0) {
          if (k >= 1000) churn(remove, k, 1); // the key the walk stands on: a key walk restarts
          churn(remove, 1000 + step, 50);
          churn(insert, 3000 + step, 20); // new keys: may or may not be seen
        }
      }
      for (let k = 0; k < 1000; k++) expect(seen.has(k)).toBe(true);
      (m as HashMap<number, unknown>).clear();
    }
  });

  it('checks map types, codec sizes and load state with clear errors', () => {
    const obj = scope.track(BpfObject.open(`${FIXTURES}maps.bpf.o`));
    const flows = new HashMap(mapOf(obj, 'flows'), flowKey, flowCounters);
    expect(() => flows.get(flow(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => new HashMap(mapOf(obj, 'flows'), u32, flowCounters)).toThrow(/key codec is 4 bytes/);
    expect(() => new ArrayMap(mapOf(obj, 'flows'), u64)).toThrow(OptionError);
    expect(() => new QueueMap(mapOf(obj, 'stack'), u64)).toThrow(/QueueMap takes queue/);
    expect(() => new HashMap(mapOf(obj, 'queue'), u32, evSample)).toThrow(/has no keys/);
    expect(() => new ProgArrayMap(mapOf(obj, 'flows'))).toThrow(BpfError);
  });

  it('reuses its buffers and leaks no FD', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const before = countOpenFds();
    const arr = new ArrayMap(mapOf(obj, 'counters'), u64);
    arr.set(0, 1n);
    expect(arr.getBytes(0)).toBe(arr.getBytes(1));
    for (let i = 0; i < 3; i++) [...arr.entries()];
    expect(countOpenFds()).toBe(before);
  });
});

describe.runIf(canRun)('take', () => {
  it('removes a key and returns its value in one step; undefined when absent', () => {
    const obj = scope.load('mapchurn.bpf.o');
    const table = new HashMap(mapOf(obj, 'table'), u32, u64);
    table.set(4, 40n);
    expect(table.take(4)).toBe(40n);
    expect(table.has(4)).toBe(false);
    expect(table.take(4)).toBeUndefined();
    // Keys written by the BPF side are taken the same way.
    const args = new BigUint64Array([0n, 100n, 3n]);
    progTestRun(obj.programs.get('churn')!.fd, { ctxIn: new Uint8Array(args.buffer) });
    expect([101, 100, 102].map((k) => table.take(k))).toEqual([1010n, 1000n, 1020n]);
    expect([...table]).toEqual([]);
  });
});

describe.runIf(canRun)('map types keyed or valued by FDs', () => {
  it('sk_storage and task_storage: values per socket and per task, deleted with the key', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const fds = countOpenFds();
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM);
    const pidfd = pidfdOpen(process.pid);
    try {
      const sk = new RawMap(mapOf(obj, 'sk_store'));
      sk.set(le32(a), new Uint8Array(16).fill(3));
      expect([...(sk.get(le32(a)) ?? [])]).toEqual(Array(16).fill(3));
      expect(sk.get(le32(b))).toBeUndefined();
      expect(sk.delete(le32(a))).toBe(true);
      expect(sk.get(le32(a))).toBeUndefined();
      const task = new HashMap(mapOf(obj, 'task_store'), u32, u64);
      task.set(pidfd, 77n);
      expect(task.get(pidfd)).toBe(77n);
      // Local storage has no lookup-and-delete: the kernel's refusal comes through, the value stays.
      expect(() => task.take(pidfd)).toThrow(expect.objectContaining({ code: 'ENOTSUPP' }));
      expect(task.get(pidfd)).toBe(77n);
      expect(task.delete(pidfd)).toBe(true);
      expect(task.get(pidfd)).toBeUndefined();
    } finally {
      closeFd(pidfd);
      closeFd(a);
      closeFd(b);
    }
    expect(countOpenFds()).toBe(fds);
  });

  it('sockhash: stores a socket by FD and reads back its cookie; cgroup_array takes a cgroup v2 FD', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM);
    try {
      const sh = new HashMap(mapOf(obj, 'sockhash'), u32, u64);
      sh.set(5, BigInt(a));
      sh.set(6, BigInt(b));
      const ca = sh.get(5);
      const cb = sh.get(6);
      expect(ca).toBeGreaterThan(0n);
      expect(cb).toBeGreaterThan(0n);
      expect(ca).not.toBe(cb);
      expect(new Set(sh.keys())).toEqual(new Set([5, 6]));
      expect(sh.delete(5)).toBe(true);
      expect(sh.get(5)).toBeUndefined();
    } finally {
      closeFd(a);
      closeFd(b);
    }
    const root = cgroup2Root();
    if (!requireKernel('cgroup v2', root !== undefined, 'no cgroup2 mount')) return;
    const cg = openDir(root as string);
    try {
      const arr = new RawMap(mapOf(obj, 'cgroups'));
      arr.set(le32(0), le32(cg));
      expect(arr.delete(le32(0))).toBe(true);
      expect(arr.delete(le32(0))).toBe(false);
      expect(() => arr.set(le32(0), le32(obj.maps.get('queue')!.fd))).toThrow(
        expect.objectContaining({ code: 'EBADF' }),
      );
    } finally {
      closeFd(cg);
    }
  });
});
