/**
 * The map verbs of issue #6 on the real kernel, checked against bpftool where it can see the same map:
 * - `info()` agrees with bpftool's view of the map, before and after `freeze()`;
 * - `freeze()` makes user-space writes fail with EPERM and says why it cannot freeze a mapped map;
 * - `pin()`/`unpin()`/`BpfMap.fromPin()`: a pinned map outlives its object, bpftool reads what we wrote,
 *   the typed wrappers work on a map opened from its pin, access flags hold, and bad paths get errors
 *   that say what to do; no FD is left behind;
 * - `deleteMany()` deletes through `BPF_MAP_DELETE_BATCH`, skipping absent keys mid-batch, and falls back
 *   to single deletes where the kernel has no batch delete;
 * - iterating local storage (and other maps without a next-key operation) is a clear OptionError.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BpfError, OptionError } from '../src/errors.js';
import { BpfMap } from '../src/runtime/map.js';
import { BpfObject } from '../src/runtime/object.js';
import { BpfCmd } from '../src/runtime/sys/bpf.js';
import { possibleCpuCount } from '../src/runtime/sys/cpus.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { objPin } from '../src/runtime/sys/map.js';
import { pidfdOpen } from '../src/runtime/sys/mount.js';
import { AF_UNIX, SOCK_STREAM, socketPair } from '../src/runtime/sys/socket.js';
import { ArrayMap, HashMap, PerCpuHashMap, RawMap } from '../src/runtime/typed-maps.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { evSample, le32, mapOf, u32, u64 } from './helpers/maps.js';
import { FIXTURES } from './helpers/objects.js';
import { testScope } from './helpers/scope.js';
import { thrown } from './helpers/thrown.js';
import { bpfCallsDuring } from './helpers/trace.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'map tests need root');
const hasBpftool = requireKernel('bpftool', commandExists('bpftool'), 'bpftool is not installed');

const scope = testScope();

function bpftoolJson(...args: string[]): unknown {
  return JSON.parse(execFileSync('bpftool', [...args, '-j'], { encoding: 'utf8' }));
}

/** Counts the bpf() commands issued while `fn` runs. */
function countCommands(fn: () => void): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { cmd } of bpfCallsDuring(fn)) counts.set(cmd, (counts.get(cmd) ?? 0) + 1);
  return counts;
}

describe.runIf(canRun)('info() and freeze()', () => {
  it('info() is the kernel view of the map and agrees with bpftool, frozen flag included', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const m = mapOf(obj, 'lru_hash');
    const info = m.info();
    expect(info).toMatchObject({
      type: 'lru_hash',
      typeId: 9,
      name: 'lru_hash',
      keySize: 8,
      valueSize: 16,
      maxEntries: 256,
      flags: 0,
      frozen: false,
    });
    expect(info.id).toBeGreaterThan(0);
    expect(info.btfId).toBeGreaterThan(0);
    expect(info.btfKeyTypeId).toBeGreaterThan(0);
    expect(info.btfValueTypeId).toBeGreaterThan(0);
    m.freeze();
    expect(m.info().frozen).toBe(true);
    if (!hasBpftool) return;
    const shown = bpftoolJson('map', 'show', 'id', String(info.id)) as Record<string, unknown>;
    expect(shown).toMatchObject({
      id: info.id,
      type: info.type,
      name: info.name,
      flags: info.flags,
      bytes_key: info.keySize,
      bytes_value: info.valueSize,
      max_entries: info.maxEntries,
      btf_id: info.btfId,
      frozen: 1,
    });
  });

  it('after freeze() user-space writes fail with EPERM; reads work; freezing again does nothing', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const hash = new HashMap(mapOf(obj, 'lru_hash'), u64, evSample);
    hash.set(1n, { pid: 1, cpu: 2, ts: 3n });
    hash.map.freeze();
    const eperm = expect.objectContaining({ code: 'EPERM', errno: 1 });
    expect(() => hash.set(2n, { pid: 4, cpu: 5, ts: 6n })).toThrow(eperm);
    expect(() => hash.set(1n, { pid: 9, cpu: 9, ts: 9n })).toThrow(eperm);
    expect(() => hash.delete(1n)).toThrow(eperm);
    expect(() => hash.deleteMany([1n])).toThrow(eperm);
    expect(() => hash.setMany([[7n, { pid: 7, cpu: 7, ts: 7n }]])).toThrow(eperm);
    expect(hash.get(1n)).toEqual({ pid: 1, cpu: 2, ts: 3n });
    expect([...hash.keys()]).toEqual([1n]);
    hash.map.freeze();
    expect(hash.map.info().frozen).toBe(true);
    // An unfrozen map of the same object still takes writes.
    const other = new HashMap(mapOf(obj, 'pinned_hash'), u32, u64);
    other.set(1, 2n);
    expect(other.get(1)).toBe(2n);
  });

  it('freeze() says why it cannot freeze global data that is mapped writable', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const bss = mapOf(obj, '.bss');
    expect(() => bss.freeze()).toThrow(
      expect.objectContaining({ code: 'EBUSY', message: expect.stringMatching(/writable memory mappings/) }),
    );
    expect(bss.info().frozen).toBe(false);
    // .rodata was frozen at load.
    expect(mapOf(obj, '.rodata').info().frozen).toBe(true);
  });

  it('refuses map verbs on a map that is not loaded', () => {
    const obj = scope.track(BpfObject.open(`${FIXTURES}maps.bpf.o`));
    const m = mapOf(obj, 'flows');
    expect(() => m.info()).toThrow(/not loaded/);
    expect(() => m.freeze()).toThrow(/not loaded/);
    expect(() => m.pin('/sys/fs/bpf/flows')).toThrow(/not loaded/);
    expect(() => m.unpin()).toThrow(/not pinned/);
    expect(() => m.close()).toThrow(OptionError);
  });
});

describe.runIf(canRun)('pin(), unpin() and BpfMap.fromPin()', () => {
  it('a pinned map outlives its object; fromPin opens it with typed wrappers; bpftool reads it', () => {
    const fds = countOpenFds();
    const root = scope.bpffs();
    const obj = scope.load('maps.bpf.o', { pinRootPath: root });
    const lru = mapOf(obj, 'lru_hash');
    const counters = mapOf(obj, 'counters');
    const percpu = mapOf(obj, 'percpu_hash');
    const id = lru.info().id;
    new HashMap(lru, u64, evSample).set(0x0102n, { pid: 7, cpu: 1, ts: 99n });
    new ArrayMap(counters, u64).set(2, 42n);
    new PerCpuHashMap(percpu, u32, evSample).setAll(5, { pid: 5, cpu: 0, ts: 5n });
    const paths = { lru: join(root, 'lru'), counters: join(root, 'counters'), percpu: join(root, 'percpu') };
    lru.pin(paths.lru);
    lru.pin(paths.lru); // same path again: nothing to do
    counters.pin(paths.counters);
    percpu.pin(paths.percpu);
    expect(lru.pinnedPath).toBe(paths.lru);
    expect(existsSync(paths.lru)).toBe(true);
    obj.close();

    {
      using m = BpfMap.fromPin(paths.lru);
      expect(m).toMatchObject({
        name: 'lru_hash',
        kernelName: 'lru_hash',
        type: 'lru_hash',
        keySize: 8,
        valueSize: 16,
        maxEntries: 256,
        flags: 0,
        internal: false,
        pinnedPath: paths.lru,
      });
      expect(m.fd).toBeGreaterThan(0);
      expect(m.info().id).toBe(id);
      const hash = new HashMap(m, u64, evSample);
      expect(hash.get(0x0102n)).toEqual({ pid: 7, cpu: 1, ts: 99n });
      hash.set(3n, { pid: 3, cpu: 3, ts: 3n });
      expect(new Set(hash.keys())).toEqual(new Set([0x0102n, 3n]));

      using c = BpfMap.fromPin(paths.counters);
      expect(new ArrayMap(c, u64).get(2)).toBe(42n);
      using p = BpfMap.fromPin(paths.percpu);
      const values = new PerCpuHashMap(p, u32, evSample).get(5);
      expect(values).toHaveLength(possibleCpuCount());
      expect(values?.every((v) => v.ts === 5n)).toBe(true);

      if (hasBpftool) {
        expect(bpftoolJson('map', 'show', 'pinned', paths.lru)).toMatchObject({
          id,
          type: 'lru_hash',
          name: 'lru_hash',
          bytes_key: 8,
          bytes_value: 16,
          max_entries: 256,
        });
        const dump = bpftoolJson('map', 'dump', 'pinned', paths.lru) as Array<{
          formatted: { key: number; value: { pid: number; ts: number } };
        }>;
        expect(dump.map((e) => e.formatted.key).sort((x, y) => x - y)).toEqual([3, 0x0102]);
        expect(dump.find((e) => e.formatted.key === 0x0102)?.formatted.value).toMatchObject({
          pid: 7,
          ts: 99,
        });
      }
      m.unpin();
      expect(m.pinnedPath).toBeUndefined();
      expect(existsSync(paths.lru)).toBe(false);
      expect(() => m.unpin()).toThrow(/not pinned/);
      // Unpinned but still open: the map lives while this FD does.
      expect(hash.get(3n)).toEqual({ pid: 3, cpu: 3, ts: 3n });
      c.unpin();
      p.unpin();
    }
    expect(countOpenFds()).toBe(fds);
  });

  it('close() releases the FD once; the map is unusable afterwards; the pin stays', () => {
    const fds = countOpenFds();
    const root = scope.bpffs();
    const obj = scope.load('maps.bpf.o', { pinRootPath: root });
    const path = join(root, 'flows');
    mapOf(obj, 'flows').pin(path);
    const before = countOpenFds();
    const m = BpfMap.fromPin(path);
    expect(countOpenFds()).toBe(before + 1);
    m.close();
    expect(countOpenFds()).toBe(before);
    m.close();
    expect(m.fd).toBe(-1);
    expect(() => m.info()).toThrow(/is closed/);
    expect(() => m.lookup(new Uint8Array(24), new Uint8Array(48))).toThrow(/is closed/);
    expect(existsSync(path)).toBe(true);
    expect(() => mapOf(obj, 'flows').close()).toThrow(/belongs to its BpfObject/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('fromPin with read-only or write-only access refuses the other direction with EPERM', () => {
    const fds = countOpenFds();
    const root = scope.bpffs();
    const obj = scope.load('maps.bpf.o', { pinRootPath: root });
    const path = join(root, 'pinned_u32');
    const rw = new HashMap(mapOf(obj, 'pinned_hash'), u32, u64);
    rw.set(1, 10n);
    rw.map.pin(path);
    const eperm = expect.objectContaining({ code: 'EPERM' });
    {
      using ro = BpfMap.fromPin(path, { access: 'read-only' });
      const h = new HashMap(ro, u32, u64);
      expect(h.get(1)).toBe(10n);
      expect([...h.entries()]).toEqual([[1, 10n]]);
      expect(() => h.set(2, 20n)).toThrow(eperm);
      expect(() => ro.freeze()).toThrow(/no write access/);
    }
    {
      using wo = BpfMap.fromPin(path, { access: 'write-only' });
      const h = new HashMap(wo, u32, u64);
      h.set(2, 20n);
      expect(() => h.get(2)).toThrow(eperm);
    }
    expect(rw.get(2)).toBe(20n);
    expect(() => BpfMap.fromPin(path, { access: 'everything' as 'read-only' })).toThrow(OptionError);
    rw.map.unpin();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('bad paths get errors that say what to do, and leave no FD open', () => {
    const fds = countOpenFds();
    const root = scope.bpffs();
    const obj = scope.load('maps.bpf.o', { pinRootPath: root });
    const flows = mapOf(obj, 'flows');
    const plainDir = mkdtempSync(join(tmpdir(), 'bpf-skel-notbpffs-'));
    scope.defer(() => rmSync(plainDir, { recursive: true, force: true }));

    const offFs = join(plainDir, 'flows');
    expect(() => flows.pin(offFs)).toThrow(
      expect.objectContaining({
        name: 'OptionError',
        code: 'EPERM',
        message: expect.stringMatching(/is not on a BPF FS.*mount -t bpf/),
      }),
    );
    expect(flows.pinnedPath).toBeUndefined();
    expect(() => flows.pin(join(root, 'no', 'dir'))).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/does not exist/) }),
    );
    const path = join(root, 'flows');
    flows.pin(path);
    expect(() => mapOf(obj, 'counters').pin(path)).toThrow(
      expect.objectContaining({ code: 'EEXIST', message: expect.stringMatching(/pinned there already/) }),
    );
    expect(() => flows.pin(join(root, 'elsewhere'))).toThrow(/pinned at .* already; unpin\(\) it first/);

    expect(() => BpfMap.fromPin(join(root, 'missing'))).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/nothing is pinned/) }),
    );
    writeFileSync(offFs, 'not a pin');
    expect(() => BpfMap.fromPin(offFs)).toThrow(
      expect.objectContaining({ code: 'EACCES', message: expect.stringMatching(/not on a BPF FS/) }),
    );
    const progPath = join(root, 'prog');
    const prog = [...obj.programs.values()][0];
    objPin(prog?.fd ?? -1, progPath);
    expect(() => BpfMap.fromPin(progPath)).toThrow(/holds a program, not a map/);
    unlinkSync(progPath);

    // A pin removed behind our back: unpin() still succeeds and forgets it.
    unlinkSync(path);
    flows.unpin();
    expect(flows.pinnedPath).toBeUndefined();
    mkdirSync(join(root, 'sub'));
    flows.pin(join(root, 'sub', 'flows'));
    flows.unpin();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

describe.runIf(canRun)('deleteMany() with BPF_MAP_DELETE_BATCH', () => {
  it('deletes a batch at a time on a hash map, skipping absent and repeated keys mid-batch', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const hash = new HashMap(mapOf(obj, 'pinned_hash'), u32, u64);
    for (let k = 1; k <= 10; k++) hash.set(k, BigInt(k * 10));
    let deleted = 0;
    const calls = countCommands(() => {
      deleted = hash.deleteMany([1, 2, 99, 3, 100, 4, 4, 5], 3);
    });
    expect(deleted).toBe(5);
    expect(new Set(hash.keys())).toEqual(new Set([6, 7, 8, 9, 10]));
    // [1,2,99]: one call; [3,100,4]: stops at 100, then [4]; [4,5]: stops at 4, then [5].
    expect(calls.get(BpfCmd.MAP_DELETE_BATCH)).toBe(5);
    expect(calls.get(BpfCmd.MAP_DELETE_ELEM)).toBeUndefined();
    expect(hash.deleteMany([])).toBe(0);
    expect(hash.deleteMany([10, 9, 8, 7, 6])).toBe(5);
    expect([...hash.keys()]).toEqual([]);
    expect(() => hash.deleteMany([1], 0)).toThrow(OptionError);
  });

  it('deletes from a per-CPU hash in default batches, absent keys interleaved', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const m = new PerCpuHashMap(mapOf(obj, 'percpu_hash'), u32, evSample);
    const present = Array.from({ length: 100 }, (_, i) => i * 2);
    for (const k of present) m.setAll(k, { pid: k, cpu: 0, ts: 1n });
    // Every odd key is absent: 0, 1, 2, ... 199.
    const keys = Array.from({ length: 200 }, (_, i) => i);
    let deleted = 0;
    const calls = countCommands(() => {
      deleted = m.deleteMany(keys);
    });
    expect(deleted).toBe(100);
    expect([...m.keys()]).toEqual([]);
    // One call per absent key: each stops there, and the last absent key (199) ends the batch.
    expect(calls.get(BpfCmd.MAP_DELETE_BATCH)).toBe(100);
    expect(calls.get(BpfCmd.MAP_DELETE_ELEM)).toBeUndefined();
  });

  it('falls back to single deletes where the kernel has no batch delete (task_storage)', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const pidfd = pidfdOpen(process.pid);
    scope.defer(() => closeFd(pidfd));
    const task = new HashMap(mapOf(obj, 'task_store'), u32, u64);
    task.set(pidfd, 5n);
    let deleted = 0;
    const first = countCommands(() => {
      deleted = task.deleteMany([pidfd, pidfd]);
    });
    expect(deleted).toBe(1);
    expect(task.get(pidfd)).toBeUndefined();
    expect(first.get(BpfCmd.MAP_DELETE_BATCH)).toBe(1);
    expect(first.get(BpfCmd.MAP_DELETE_ELEM)).toBe(2);
    task.set(pidfd, 6n);
    const again = countCommands(() => {
      deleted = task.deleteMany([pidfd]);
    });
    expect(deleted).toBe(1);
    // The refusal is remembered: no second batch attempt.
    expect(again.get(BpfCmd.MAP_DELETE_BATCH)).toBeUndefined();
  });
});

describe.runIf(canRun)('iterating maps without a next-key operation', () => {
  it('local storage maps say they are read by key only; others name the missing operation', () => {
    const obj = scope.load('maps.bpf.o', { pinned: true });
    const [a, b] = socketPair(AF_UNIX, SOCK_STREAM);
    scope.defer(() => {
      closeFd(a);
      closeFd(b);
    });
    const sk = new RawMap(mapOf(obj, 'sk_store'));
    sk.set(le32(a), new Uint8Array(16).fill(1));
    const task = new HashMap(mapOf(obj, 'task_store'), u32, u64);
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['sk_store', () => [...sk.keys()], /'sk_store' \(sk_storage\).*read by key only.*a socket FD/],
      ['sk_store', () => [...sk], /'sk_store' \(sk_storage\) cannot be iterated/],
      ['sk_store', () => sk.clear(), /'sk_store' \(sk_storage\) cannot be iterated/],
      ['task_store', () => [...task.entries()], /'task_store' \(task_storage\).*read by key only.*a pidfd/],
      ['task_store', () => [...task.values()], /read by key only/],
      ['bloom', () => [...new RawMap(mapOf(obj, 'bloom')).keys()], /no next-key operation for bloom_filter/],
    ];
    for (const [name, run, message] of cases) {
      const caught = thrown(run);
      expect(caught, name).toBeInstanceOf(OptionError);
      expect((caught as OptionError).message).toMatch(message);
      expect((caught as BpfError).command).toBe('BPF_MAP_GET_NEXT_KEY');
      expect([95, 524]).toContain((caught as BpfError).errno);
    }
    // Access by key still works.
    expect(sk.get(le32(a))?.[0]).toBe(1);
    expect(sk.deleteMany([le32(a), le32(b)])).toBe(1);
  });
});
