/**
 * The syscall layer on the real kernel: maps of each common kind with element, iteration and batch ops,
 * freeze, pinning on a private bpffs, hand-assembled programs (load, info, test run, verifier rejection),
 * BTF upload, mmap of an mmapable array, perf events, epoll on a ring buffer, links, cgroup attach, and no
 * FD left open at the end.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { BpfError, OptionError } from '../src/errors.js';
import {
  AttachFlag,
  BPF_F_TOKEN_FD,
  BpfCmd,
  btfData,
  btfGetFdById,
  btfInfo,
  btfLoad,
  closeFd,
  dupCloexec,
  ElemFlag,
  EpollEvents,
  EpollFlag,
  epollAdd,
  epollCreate,
  epollDelete,
  fdinfo,
  isFdOpen,
  iterCreate,
  type LoadLogResult,
  linkCreate,
  linkDetach,
  linkGetFdById,
  linkInfo,
  linkUpdate,
  MapFlag,
  MapMode,
  mapCreate,
  mapDelete,
  mapDeleteBatch,
  mapFreeze,
  mapGetFdById,
  mapGetNextId,
  mapGetNextKey,
  mapInfo,
  mapLookup,
  mapLookupAndDelete,
  mapLookupAndDeleteBatch,
  mapLookupBatch,
  mapUpdate,
  mapUpdateBatch,
  mmapFd,
  munmap,
  objGet,
  objPin,
  onlineCpus,
  openDir,
  PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_SET_BPF,
  PerfSwConfig,
  PerfType,
  Prot,
  pageSize,
  parseCpuList,
  perfEventDisable,
  perfEventEnable,
  perfEventOpen,
  perfEventSetBpf,
  possibleCpuCount,
  progAttach,
  progBindMap,
  progDetach,
  progGetFdById,
  progGetNextId,
  progInfo,
  progLoad,
  progQuery,
  progTestRun,
  rawTracepointOpen,
  readFd,
  readToEnd,
  remapAnonymous,
  setBpfTraceHook,
  tracepointId,
} from '../src/runtime/sys/index.js';
import { AttachTypes, LinkTypes, MapTypes, ProgramTypes } from '../src/runtime/sys/kinds.js';
import { viewOf } from '../src/runtime/sys/libc.js';
import {
  countOpenFds,
  ensureTracefs,
  isRoot,
  requireKernel,
  skipUnlessKernel,
  tempBpffs,
} from './helpers/kernel.js';
import { bpfCallsDuring } from './helpers/trace.js';

// ---- a tiny assembler for hand-written programs ----

function insn(code: number, dst: number, src: number, off: number, imm: number): Uint8Array {
  const b = Buffer.alloc(8);
  b[0] = code;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}
const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const movReg = (dst: number, src: number) => insn(0xbf, dst, src, 0, 0);
const addImm = (dst: number, imm: number) => insn(0x07, dst, 0, 0, imm);
const stDw = (dst: number, off: number, imm: number) => insn(0x7a, dst, 0, off, imm);
const call = (helper: number) => insn(0x85, 0, 0, 0, helper);
const exit = () => insn(0x95, 0, 0, 0, 0);
/** `r<dst> = map` by FD (ld_imm64 with BPF_PSEUDO_MAP_FD): two instruction slots. */
const ldMapFd = (dst: number, fd: number) => Buffer.concat([insn(0x18, dst, 1, 0, fd), insn(0, 0, 0, 0, 0)]);
const prog = (...insns: Uint8Array[]) => new Uint8Array(Buffer.concat(insns));

const BPF_FUNC_ringbuf_output = 130;

function u32Key(n: number): Uint8Array {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, n, true);
  return k;
}
function u64Value(n: bigint): Uint8Array {
  const v = new Uint8Array(8);
  new DataView(v.buffer).setBigUint64(0, n, true);
  return v;
}
const readU64 = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);
const readU32 = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

/** Runs `body` with FDs that are closed afterwards whatever happens. */
function withFds<T>(body: (keep: (fd: number) => number) => T): T {
  const fds: number[] = [];
  try {
    return body((fd) => {
      fds.push(fd);
      return fd;
    });
  } finally {
    for (const fd of fds.reverse()) closeFd(fd);
  }
}

function expectBpfError(f: () => unknown, code: string, command?: string): BpfError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    const err = e as BpfError;
    expect(err.code, err.message).toBe(code);
    if (command !== undefined) expect(err.command).toBe(command);
    return err;
  }
  throw new Error(`expected a BpfError ${code}`);
}

const canBpf = requireKernel('bpf() as root', isRoot(), 'tests need root for bpf()');

describe.runIf(canBpf)('syscall layer on the real kernel', () => {
  let fdsAtStart = 0;
  beforeAll(() => {
    // Loaded before counting: parsing kernel BTF and mounting tracefs open nothing that stays open.
    loadKernelBtf();
    fdsAtStart = countOpenFds();
  });

  describe('maps', () => {
    it('creates each common map type with the asked geometry', () => {
      const cases = [
        { type: MapTypes.hash, keySize: 4, valueSize: 8, maxEntries: 16 },
        { type: MapTypes.array, keySize: 4, valueSize: 8, maxEntries: 4 },
        { type: MapTypes.percpu_hash, keySize: 4, valueSize: 8, maxEntries: 16 },
        { type: MapTypes.percpu_array, keySize: 4, valueSize: 8, maxEntries: 4 },
        { type: MapTypes.lru_hash, keySize: 8, valueSize: 16, maxEntries: 32 },
        { type: MapTypes.queue, keySize: 0, valueSize: 8, maxEntries: 8 },
        { type: MapTypes.stack, keySize: 0, valueSize: 8, maxEntries: 8 },
        { type: MapTypes.lpm_trie, keySize: 8, valueSize: 8, maxEntries: 8, flags: MapFlag.NO_PREALLOC },
        { type: MapTypes.bloom_filter, keySize: 0, valueSize: 8, maxEntries: 8, mapExtra: 3n },
        { type: MapTypes.ringbuf, keySize: 0, valueSize: 0, maxEntries: pageSize() * 4 },
      ];
      withFds((keep) => {
        for (const c of cases) {
          const fd = keep(mapCreate({ ...c, name: `m_${c.type}` }));
          const info = mapInfo(fd);
          expect(info).toMatchObject({
            type: c.type,
            keySize: c.keySize,
            valueSize: c.valueSize,
            maxEntries: c.maxEntries,
            mapFlags: c.flags ?? 0,
            name: `m_${c.type}`,
            mapExtra: c.mapExtra ?? 0n,
          });
          expect(fdinfo(fd).map_type).toBe(String(c.type));
        }
      });
    });

    it('looks up, updates, deletes and iterates a hash map', () => {
      withFds((keep) => {
        const fd = keep(
          mapCreate({ type: MapTypes.hash, keySize: 4, valueSize: 8, maxEntries: 16, name: 'h' }),
        );
        const value = new Uint8Array(8);
        expect(mapLookup(fd, u32Key(1), value)).toBe(false);
        for (let i = 1; i <= 5; i++) mapUpdate(fd, u32Key(i), u64Value(BigInt(i * 100)), ElemFlag.NOEXIST);
        expect(mapLookup(fd, u32Key(3), value)).toBe(true);
        expect(readU64(value)).toBe(300n);
        expectBpfError(
          () => mapUpdate(fd, u32Key(3), u64Value(1n), ElemFlag.NOEXIST),
          'EEXIST',
          'BPF_MAP_UPDATE_ELEM',
        );
        expectBpfError(() => mapUpdate(fd, u32Key(9), u64Value(1n), ElemFlag.EXIST), 'ENOENT');
        mapUpdate(fd, u32Key(3), u64Value(333n), ElemFlag.EXIST);
        expect(mapLookup(fd, u32Key(3), value)).toBe(true);
        expect(readU64(value)).toBe(333n);

        const keys: number[] = [];
        const next = new Uint8Array(4);
        let cur: Uint8Array | null = null;
        while (mapGetNextKey(fd, cur, next)) {
          keys.push(readU32(next));
          cur = Uint8Array.from(next);
        }
        expect(keys.sort()).toEqual([1, 2, 3, 4, 5]);

        expect(mapDelete(fd, u32Key(2))).toBe(true);
        expect(mapDelete(fd, u32Key(2))).toBe(false);
        expect(mapLookupAndDelete(fd, u32Key(4), value)).toBe(true);
        expect(readU64(value)).toBe(400n);
        expect(mapLookup(fd, u32Key(4), value)).toBe(false);
      });
    });

    it('refuses a reused buffer once it is detached, and takes flags above 2^32', () => {
      withFds((keep) => {
        const fd = keep(mapCreate({ type: MapTypes.hash, keySize: 4, valueSize: 8, maxEntries: 4 }));
        const key = u32Key(7);
        const value = u64Value(0x1_0000_0002n);
        mapUpdate(fd, key, value);
        // Same objects again: the cached addresses are used. Then the value's memory is transferred away.
        expect(mapLookup(fd, key, value)).toBe(true);
        structuredClone(value.buffer, { transfer: [value.buffer as ArrayBuffer] });
        expect(value.byteLength).toBe(0);
        expect(() => mapLookup(fd, key, value)).toThrow(OptionError);
        // A flags word with high bits set reaches the kernel whole (and is refused there as unknown).
        expectBpfError(() => mapUpdate(fd, key, u64Value(1n), 1n << 40n), 'EINVAL', 'BPF_MAP_UPDATE_ELEM');
        expect(mapLookup(fd, key, new Uint8Array(8))).toBe(true);
      });
    });

    it('keeps per-CPU values, one slot per possible CPU', () => {
      const cpus = possibleCpuCount();
      withFds((keep) => {
        const fd = keep(mapCreate({ type: MapTypes.percpu_array, keySize: 4, valueSize: 8, maxEntries: 2 }));
        const values = new Uint8Array(8 * cpus);
        for (let c = 0; c < cpus; c++) values.set(u64Value(BigInt(10 + c)), c * 8);
        mapUpdate(fd, u32Key(1), values);
        const out = new Uint8Array(8 * cpus);
        expect(mapLookup(fd, u32Key(1), out)).toBe(true);
        for (let c = 0; c < cpus; c++) expect(readU64(out, c * 8)).toBe(BigInt(10 + c));
      });
    });

    it('pushes and pops queues in FIFO and stacks in LIFO order', () => {
      withFds((keep) => {
        const queue = keep(mapCreate({ type: MapTypes.queue, keySize: 0, valueSize: 8, maxEntries: 4 }));
        const stack = keep(mapCreate({ type: MapTypes.stack, keySize: 0, valueSize: 8, maxEntries: 4 }));
        for (const fd of [queue, stack]) for (const n of [1n, 2n, 3n]) mapUpdate(fd, null, u64Value(n));
        const v = new Uint8Array(8);
        const drain = (fd: number) => {
          const got: bigint[] = [];
          while (mapLookupAndDelete(fd, null, v)) got.push(readU64(v));
          return got;
        };
        expect(mapLookup(queue, null, v)).toBe(true);
        expect(readU64(v)).toBe(1n);
        expect(drain(queue)).toEqual([1n, 2n, 3n]);
        expect(drain(stack)).toEqual([3n, 2n, 1n]);
      });
    });

    it('does batch update, lookup in chunks, lookup-and-delete and delete', () => {
      withFds((keep) => {
        const fd = keep(mapCreate({ type: MapTypes.hash, keySize: 4, valueSize: 8, maxEntries: 64 }));
        const n = 40;
        const keys = new Uint8Array(4 * n);
        const values = new Uint8Array(8 * n);
        for (let i = 0; i < n; i++) {
          keys.set(u32Key(i), i * 4);
          values.set(u64Value(BigInt(i) * 7n), i * 8);
        }
        expect(mapUpdateBatch(fd, keys, values, n)).toBe(n);

        const chunk = 16;
        const outKeys = new Uint8Array(4 * chunk);
        const outValues = new Uint8Array(8 * chunk);
        const token = new Uint8Array(4);
        const token2 = new Uint8Array(4);
        const seen = new Map<number, bigint>();
        let inBatch: Uint8Array | null = null;
        for (let round = 0; round < 10; round++) {
          const outBatch: Uint8Array = inBatch === token ? token2 : token;
          const r = mapLookupBatch(fd, { inBatch, outBatch, keys: outKeys, values: outValues, count: chunk });
          for (let i = 0; i < r.count; i++) seen.set(readU32(outKeys, i * 4), readU64(outValues, i * 8));
          if (r.done) break;
          inBatch = outBatch;
        }
        expect(seen.size).toBe(n);
        for (const [k, v] of seen) expect(v).toBe(BigInt(k) * 7n);

        expect(mapDeleteBatch(fd, keys, 10)).toBe(10);
        const r = mapLookupAndDeleteBatch(fd, {
          inBatch: null,
          outBatch: token,
          keys: outKeys,
          values: outValues,
          count: chunk,
        });
        expect(r.count).toBeGreaterThan(0);
        let left = 0;
        const next = new Uint8Array(4);
        for (let cur: Uint8Array | null = null; mapGetNextKey(fd, cur, next); cur = Uint8Array.from(next))
          left++;
        expect(left).toBe(n - 10 - r.count);
      });
    });

    it('refuses updates after freeze with EPERM', () => {
      withFds((keep) => {
        const fd = keep(mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 8, maxEntries: 2 }));
        mapUpdate(fd, u32Key(0), u64Value(5n));
        mapFreeze(fd);
        const err = expectBpfError(
          () => mapUpdate(fd, u32Key(0), u64Value(6n)),
          'EPERM',
          'BPF_MAP_UPDATE_ELEM',
        );
        expect(err.errno).toBe(1);
        expect(err.message).toContain('operation not permitted');
        const v = new Uint8Array(8);
        expect(mapLookup(fd, u32Key(0), v)).toBe(true);
        expect(readU64(v)).toBe(5n);
      });
    });

    it('pins and gets objects on a private bpffs, by path and relative to a directory FD', () => {
      using fs = tempBpffs();
      withFds((keep) => {
        const fd = keep(
          mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1, name: 'pinned' }),
        );
        objPin(fd, `${fs.path}/m`);
        const again = keep(objGet(`${fs.path}/m`));
        expect(mapInfo(again).id).toBe(mapInfo(fd).id);
        const dir = keep(openDir(fs.path));
        objPin(fd, 'rel', dir);
        const rel = keep(objGet('rel', MapFlag.RDONLY, dir));
        expect(mapInfo(rel).id).toBe(mapInfo(fd).id);
        expectBpfError(() => mapUpdate(rel, u32Key(0), new Uint8Array(4)), 'EPERM');
        expectBpfError(() => objGet(`${fs.path}/missing`), 'ENOENT', 'BPF_OBJ_GET');
        expectBpfError(() => objPin(fd, `${fs.path}/m`), 'EEXIST', 'BPF_OBJ_PIN');
      });
    });

    it('walks map ids and opens maps by id', () => {
      withFds((keep) => {
        const fd = keep(mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1 }));
        const id = mapInfo(fd).id;
        const ids: number[] = [];
        for (let cur = mapGetNextId(0); cur !== undefined; cur = mapGetNextId(cur)) ids.push(cur);
        expect(ids).toContain(id);
        expect(mapInfo(keep(mapGetFdById(id))).id).toBe(id);
        expectBpfError(() => mapGetFdById(0x7fffffff), 'ENOENT', 'BPF_MAP_GET_FD_BY_ID');
      });
    });

    it('rejects bad input with typed errors before any syscall', () => {
      const calls = bpfCallsDuring(() => {
        expect(() =>
          mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1, name: 'x'.repeat(16) }),
        ).toThrow(OptionError);
        expect(() => mapCreate({ type: MapTypes.array, keySize: -1, valueSize: 4, maxEntries: 1 })).toThrow(
          OptionError,
        );
        expect(() => mapLookup(-1, u32Key(0), new Uint8Array(4))).toThrow(OptionError);
        expect(() => mapLookup(3, new Uint8Array(0), new Uint8Array(4))).toThrow(/empty/);
        expect(() =>
          progLoad({ type: ProgramTypes.socket_filter, insns: new Uint8Array(5), license: 'GPL' }),
        ).toThrow(OptionError);
        expect(() => objPin(3, 'a\0b')).toThrow(OptionError);
      });
      expect(calls.map((c) => c.cmd)).toEqual([]);
    });

    it('reports the command and errno when the kernel refuses', () => {
      withFds((keep) => {
        const epfd = keep(epollCreate());
        const err = expectBpfError(
          () => mapLookup(epfd, u32Key(0), new Uint8Array(4)),
          'EINVAL',
          'BPF_MAP_LOOKUP_ELEM',
        );
        expect(err.message).toContain(`map fd ${epfd}`);
        expectBpfError(
          () => mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 0 }),
          'EINVAL',
          'BPF_MAP_CREATE',
        );
      });
    });
  });

  describe('attr as the kernel receives it', () => {
    /** Runs `f` (expected to fail in the kernel) and returns a copy of the attr of the first `cmd` call. */
    function captured(cmd: number, f: () => unknown): Buffer {
      const seen: Buffer[] = [];
      const previous = setBpfTraceHook((c, attr, size) => {
        if (c === cmd) seen.push(Buffer.from(attr.subarray(0, size)));
      });
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
      } finally {
        setBpfTraceHook(previous);
      }
      expect(seen.length, `bpf cmd ${cmd} was called`).toBe(1);
      return seen[0]!;
    }
    const u64At = (address: bigint, count: number) =>
      Array.from(new BigUint64Array(viewOf(address, count * 8)));
    const strAt = (address: bigint) => {
      const bytes = new Uint8Array(viewOf(address, 256));
      return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString();
    };

    it('carries a token in the four token commands, with BPF_F_TOKEN_FD in each flag word', () => {
      withFds((keep) => {
        // Any open FD that is not a token: the kernel refuses it, but the attr it saw is what counts here.
        const fake = keep(epollCreate());
        const cases: [number, () => unknown, number, number][] = [
          [
            BpfCmd.MAP_CREATE,
            () => mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1, tokenFd: fake }),
            76,
            16,
          ],
          [
            BpfCmd.PROG_LOAD,
            () =>
              progLoad({
                type: ProgramTypes.socket_filter,
                insns: prog(movImm(0, 0), exit()),
                license: 'GPL',
                tokenFd: fake,
              }),
            144,
            44,
          ],
          [BpfCmd.BTF_LOAD, () => btfLoad(new Uint8Array(24), { tokenFd: fake }), 36, 32],
          [BpfCmd.BTF_GET_FD_BY_ID, () => btfGetFdById(0x7ffffff0, fake), 12, 8],
        ];
        for (const [cmd, call, tokenAt, flagsAt] of cases) {
          const attr = captured(cmd, call);
          expect(attr.readInt32LE(tokenAt), `token field of cmd ${cmd}`).toBe(fake);
          expect(attr.readUInt32LE(flagsAt) & BPF_F_TOKEN_FD, `flag word of cmd ${cmd}`).toBe(BPF_F_TOKEN_FD);
        }
        const plain = captured(BpfCmd.BTF_GET_FD_BY_ID, () => btfGetFdById(0x7ffffff0));
        expect(plain.readUInt32LE(8)).toBe(0);
        expect(plain.readInt32LE(12)).toBe(0);
        const noToken = captured(BpfCmd.MAP_CREATE, () =>
          mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 0, tokenFd: -1 }),
        );
        expect(noToken.readUInt32LE(16) & BPF_F_TOKEN_FD).toBe(0);
        expect(noToken.readInt32LE(76)).toBe(0);
      });
    });

    it('fills the kprobe_multi, uprobe_multi, tcx, tracing and netfilter parts of link_create', () => {
      withFds((keep) => {
        const notProg = keep(epollCreate());
        const link = (attachType: number, extra: Parameters<typeof linkCreate>[4], target = 0) =>
          captured(BpfCmd.LINK_CREATE, () => linkCreate(notProg, target, attachType, 0, extra));

        let a = link(AttachTypes.trace_kprobe_multi, {
          kind: 'kprobe_multi',
          flags: 1,
          syms: ['do_sys_open', 'ksys_read'],
          cookies: [5n, 6n],
        });
        expect([a.readUInt32LE(0), a.readUInt32LE(8), a.readUInt32LE(16), a.readUInt32LE(20)]).toEqual([
          notProg,
          AttachTypes.trace_kprobe_multi,
          1,
          2,
        ]);
        expect(u64At(a.readBigUInt64LE(24), 2).map(strAt)).toEqual(['do_sys_open', 'ksys_read']);
        expect(a.readBigUInt64LE(32)).toBe(0n);
        expect(u64At(a.readBigUInt64LE(40), 2)).toEqual([5n, 6n]);

        a = link(AttachTypes.trace_uprobe_multi, {
          kind: 'uprobe_multi',
          path: '/bin/true',
          offsets: [0x10n, 0x20n],
          refCtrOffsets: [1n, 2n],
          pid: 77,
          flags: 1,
        });
        expect(strAt(a.readBigUInt64LE(16))).toBe('/bin/true');
        expect(u64At(a.readBigUInt64LE(24), 2)).toEqual([0x10n, 0x20n]);
        expect(u64At(a.readBigUInt64LE(32), 2)).toEqual([1n, 2n]);
        expect(a.readBigUInt64LE(40)).toBe(0n);
        expect([a.readUInt32LE(48), a.readUInt32LE(52), a.readUInt32LE(56)]).toEqual([2, 1, 77]);
        expect(a.length).toBe(60);

        a = link(AttachTypes.tcx_ingress, { kind: 'tcx', relativeFdOrId: 9, expectedRevision: 3n }, 1);
        expect([a.readUInt32LE(4), a.readUInt32LE(16), a.readBigUInt64LE(24)]).toEqual([1, 9, 3n]);

        a = link(AttachTypes.trace_fentry, { kind: 'tracing', targetBtfId: 1234, cookie: 0xabcn });
        expect([a.readUInt32LE(16), a.readBigUInt64LE(24)]).toEqual([1234, 0xabcn]);

        a = link(AttachTypes.netfilter, { kind: 'netfilter', pf: 2, hooknum: 1, priority: -100, flags: 0 });
        expect([a.readUInt32LE(16), a.readUInt32LE(20), a.readInt32LE(24)]).toEqual([2, 1, -100]);

        expect(() =>
          linkCreate(notProg, 0, AttachTypes.trace_kprobe_multi, 0, {
            kind: 'kprobe_multi',
            syms: ['a'],
            cookies: [],
          }),
        ).toThrow(OptionError);
        expect(() =>
          linkCreate(notProg, 0, AttachTypes.trace_kprobe_multi, 0, { kind: 'kprobe_multi' }),
        ).toThrow(OptionError);
      });
    });
  });

  describe('programs', () => {
    it('loads a socket filter whose info and tag agree with bpftool', (ctx) => {
      withFds((keep) => {
        const fd = keep(
          progLoad({
            type: ProgramTypes.socket_filter,
            insns: prog(movImm(0, 0), exit()),
            license: 'GPL',
            name: 'ret0',
          }),
        );
        const info = progInfo(fd);
        expect(info).toMatchObject({
          type: ProgramTypes.socket_filter,
          name: 'ret0',
          xlatedProgLen: 16,
          mapIds: [],
          gplCompatible: true,
        });
        expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
        expect(fdinfo(fd).prog_tag).toBe(info.tag);
        expect(progInfo(keep(progGetFdById(info.id))).tag).toBe(info.tag);
        const ids: number[] = [];
        for (let cur = progGetNextId(0); cur !== undefined; cur = progGetNextId(cur)) ids.push(cur);
        expect(ids).toContain(info.id);
        skipUnlessKernel(
          ctx,
          'bpftool',
          existsSync('/usr/sbin/bpftool') || existsSync('/usr/bin/bpftool'),
          'bpftool not installed',
        );
        const shown = JSON.parse(
          execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(info.id)], { encoding: 'utf8' }),
        );
        expect(shown).toMatchObject({ id: info.id, tag: info.tag, name: 'ret0', type: 'socket_filter' });
      });
    });

    it('lists the maps a program uses, and binds more', () => {
      withFds((keep) => {
        const a = keep(mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1 }));
        const b = keep(mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 4, maxEntries: 1 }));
        const fd = keep(
          progLoad({
            type: ProgramTypes.socket_filter,
            insns: prog(ldMapFd(1, a), movImm(0, 0), exit()),
            license: 'GPL',
          }),
        );
        expect(progInfo(fd).mapIds).toEqual([mapInfo(a).id]);
        progBindMap(fd, b);
        expect(progInfo(fd).mapIds.sort()).toEqual([mapInfo(a).id, mapInfo(b).id].sort());
      });
    });

    it('test-runs a program and returns its r0', () => {
      withFds((keep) => {
        const fd = keep(
          progLoad({ type: ProgramTypes.socket_filter, insns: prog(movImm(0, 7), exit()), license: 'GPL' }),
        );
        const packet = new Uint8Array(64).fill(0xab);
        const out = new Uint8Array(128);
        const r = progTestRun(fd, { dataIn: packet, dataOut: out, repeat: 5 });
        expect(r.retval).toBe(7);
        expect(r.dataSizeOut).toBe(64);
        // Socket filters run above L2: the kernel hands back the payload after a zeroed Ethernet header.
        expect(out.subarray(14, 64)).toEqual(packet.subarray(14));
      });
    });

    it('gives EACCES and a verifier log for a bad program, and the log size it needed', () => {
      const logBuf = new Uint8Array(65536);
      const result: LoadLogResult = { logTrueSize: -1 };
      const err = expectBpfError(
        () =>
          progLoad({
            type: ProgramTypes.socket_filter,
            insns: prog(exit()),
            license: 'GPL',
            name: 'bad',
            logLevel: 1,
            logBuf,
            result,
          }),
        'EACCES',
        'BPF_PROG_LOAD',
      );
      expect(err.message).toContain("program 'bad'");
      const log = Buffer.from(logBuf).toString('utf8', 0, logBuf.indexOf(0));
      expect(log).toMatch(/R0 !read_ok/);
      expect(result.logTrueSize).toBe(log.length + 1);

      const small = new Uint8Array(128);
      const tooSmall: LoadLogResult = { logTrueSize: -1 };
      const padded = prog(...Array.from({ length: 40 }, () => movImm(1, 1)), exit());
      expect(() =>
        progLoad({
          type: ProgramTypes.socket_filter,
          insns: padded,
          license: 'GPL',
          logLevel: 2,
          logBuf: small,
          result: tooSmall,
        }),
      ).toThrow(BpfError);
      expect(tooSmall.logTrueSize).toBeGreaterThan(small.length);
    });
  });

  describe('BTF', () => {
    /** A minimal BTF blob: one `int` type. */
    function intBtf(): Uint8Array {
      const strings = Buffer.from('\0int\0');
      const types = Buffer.alloc(16);
      types.writeUInt32LE(1, 0); // name_off
      types.writeUInt32LE(1 << 24, 4); // kind INT, vlen 0
      types.writeUInt32LE(4, 8); // size
      types.writeUInt32LE((1 << 24) | 32, 12); // signed, 32 bits
      const header = Buffer.alloc(24);
      header.writeUInt16LE(0xeb9f, 0);
      header[2] = 1;
      header.writeUInt32LE(24, 4);
      header.writeUInt32LE(0, 8);
      header.writeUInt32LE(types.length, 12);
      header.writeUInt32LE(types.length, 16);
      header.writeUInt32LE(strings.length, 20);
      return new Uint8Array(Buffer.concat([header, types, strings]));
    }

    it('loads BTF, reads it back and opens it by id', () => {
      withFds((keep) => {
        const bytes = intBtf();
        const fd = keep(btfLoad(bytes));
        const info = btfInfo(fd);
        expect(info).toMatchObject({ btfSize: bytes.length, kernelBtf: false, name: '' });
        expect(btfData(fd)).toEqual(bytes);
        expect(btfInfo(keep(btfGetFdById(info.id))).id).toBe(info.id);
      });
    });

    it('reads the kernel BTF object by walking BTF ids', async () => {
      const { btfGetNextId } = await import('../src/runtime/sys/info.js');
      withFds((keep) => {
        const first = btfGetNextId(0);
        expect(first).toBeDefined();
        const info = btfInfo(keep(btfGetFdById(first!)));
        expect(info).toMatchObject({ name: 'vmlinux', kernelBtf: true });
      });
    });

    it('rejects malformed BTF with EINVAL and a log', () => {
      const bytes = intBtf();
      Buffer.from(bytes.buffer).writeUInt32LE(0x0f << 24, 24 + 4); // an unknown kind
      const logBuf = new Uint8Array(4096);
      expectBpfError(() => btfLoad(bytes, { logBuf, logLevel: 1 }), 'EINVAL', 'BPF_BTF_LOAD');
      expect(Buffer.from(logBuf).toString('utf8', 0, logBuf.indexOf(0)).length).toBeGreaterThan(0);
    });
  });

  describe('mmap, perf events, epoll', () => {
    it('maps an mmapable array: writes through the view are seen by lookups and back', () => {
      withFds((keep) => {
        const fd = keep(
          mapCreate({
            type: MapTypes.array,
            keySize: 4,
            valueSize: 8,
            maxEntries: 4,
            flags: MapFlag.MMAPABLE,
          }),
        );
        const m = mmapFd(fd, pageSize(), Prot.READ | Prot.WRITE, MapMode.SHARED);
        try {
          const view = new DataView(m.view);
          view.setBigUint64(2 * 8, 0xdeadbeefn, true);
          const v = new Uint8Array(8);
          expect(mapLookup(fd, u32Key(2), v)).toBe(true);
          expect(readU64(v)).toBe(0xdeadbeefn);
          mapUpdate(fd, u32Key(1), u64Value(77n));
          expect(view.getBigUint64(8, true)).toBe(77n);
        } finally {
          munmap(m.address, m.length);
        }
        expect(() => mmapFd(fd, pageSize(), Prot.READ, MapMode.SHARED, 1)).toThrow(OptionError);

        // Replacing the mapping with zero pages detaches views from the map without invalidating them.
        const r = mmapFd(fd, pageSize(), Prot.READ | Prot.WRITE, MapMode.SHARED);
        try {
          remapAnonymous(r.address, r.length);
          const stale = new DataView(r.view);
          expect(stale.getBigUint64(8, true)).toBe(0n);
          stale.setBigUint64(8, 1n, true);
          const v = new Uint8Array(8);
          expect(mapLookup(fd, u32Key(1), v)).toBe(true);
          expect(readU64(v)).toBe(77n);
        } finally {
          munmap(r.address, r.length);
        }
      });
    });

    it('opens, enables, reads and disables a software CPU clock event', () => {
      expect(PERF_EVENT_IOC_ENABLE).toBe(0x2400);
      expect(PERF_EVENT_IOC_DISABLE).toBe(0x2401);
      expect(PERF_EVENT_IOC_SET_BPF).toBe(0x40042408);
      withFds((keep) => {
        const fd = keep(
          perfEventOpen({ type: PerfType.SOFTWARE, config: PerfSwConfig.TASK_CLOCK, disabled: true }, 0, -1),
        );
        expect(fdinfo(fd).flags).toMatch(/^0*2\d{6}$/);
        const count = new Uint8Array(8);
        expect(readFd(fd, count)).toBe(8);
        expect(readU64(count)).toBe(0n);
        perfEventEnable(fd);
        const until = Date.now() + 5;
        while (Date.now() < until) {
          // spin so the task clock advances
        }
        perfEventDisable(fd);
        readFd(fd, count);
        expect(readU64(count)).toBeGreaterThan(0n);
      });
    });

    it('attaches a perf_event program by ioctl and by link, and reads the link back', () => {
      withFds((keep) => {
        const progFd = keep(
          progLoad({ type: ProgramTypes.perf_event, insns: prog(movImm(0, 0), exit()), license: 'GPL' }),
        );
        const cpu = onlineCpus()[0]!;
        // Page faults, not the CPU clock: 6.18 reports cpu-clock under a PMU type of its own.
        const attr = {
          type: PerfType.SOFTWARE,
          config: PerfSwConfig.PAGE_FAULTS,
          samplePeriod: 1_000_000,
          disabled: true,
        };
        perfEventSetBpf(keep(perfEventOpen(attr, -1, cpu)), progFd);
        const link = keep(
          linkCreate(progFd, keep(perfEventOpen(attr, -1, cpu)), AttachTypes.perf_event, 0, {
            kind: 'perf_event',
            bpfCookie: 42n,
          }),
        );
        const info = linkInfo(link);
        expect(info).toMatchObject({
          kind: 'perf_event',
          linkType: LinkTypes.perf_event,
          progId: progInfo(progFd).id,
          eventType: 6,
          perfType: PerfType.SOFTWARE,
          config: BigInt(PerfSwConfig.PAGE_FAULTS),
          cookie: 42n,
        });
        expect(linkInfo(keep(linkGetFdById(info.id))).id).toBe(info.id);
      });
    });

    it('wakes epoll (sync and async) when a program writes to a ring buffer', async () => {
      const fds: number[] = [];
      try {
        const ring = mapCreate({
          type: MapTypes.ringbuf,
          keySize: 0,
          valueSize: 0,
          maxEntries: pageSize() * 4,
        });
        fds.push(ring);
        const writer = progLoad({
          type: ProgramTypes.socket_filter,
          license: 'GPL',
          insns: prog(
            stDw(10, -8, 0x1234),
            ldMapFd(1, ring),
            movReg(2, 10),
            addImm(2, -8),
            movImm(3, 8),
            movImm(4, 0),
            call(BPF_FUNC_ringbuf_output),
            movImm(0, 0),
            exit(),
          ),
        });
        fds.push(writer);
        const epfd = epollCreate();
        fds.push(epfd);
        epollAdd(epfd, ring, EpollFlag.IN, 99);
        const events = new EpollEvents(4);
        expect(events.wait(epfd, 0)).toBe(0);

        progTestRun(writer, { dataIn: new Uint8Array(64) });
        expect(events.wait(epfd, 100)).toBe(1);
        expect(events.data(0)).toBe(99);
        expect(events.events(0) & EpollFlag.IN).toBe(EpollFlag.IN);

        // Consume the record so the next one wakes the reader again: advance the consumer position.
        const consumer = mmapFd(ring, pageSize(), Prot.READ | Prot.WRITE, MapMode.SHARED);
        const producer = mmapFd(ring, pageSize(), Prot.READ, MapMode.SHARED, pageSize());
        try {
          new DataView(consumer.view).setBigUint64(
            0,
            new DataView(producer.view).getBigUint64(0, true),
            true,
          );
        } finally {
          munmap(producer.address, producer.length);
          munmap(consumer.address, consumer.length);
        }

        const pending = events.waitAsync(epfd, 2000);
        expect(() => events.wait(epfd, 0)).toThrow(/in use/);
        setTimeout(() => progTestRun(writer, { dataIn: new Uint8Array(64) }), 20);
        expect(await pending).toBe(1);
        expect(events.data(0)).toBe(99);
        epollDelete(epfd, ring);
        expect(events.wait(epfd, 0)).toBe(0);
      } finally {
        for (const fd of fds.reverse()) closeFd(fd);
      }
    });
  });

  describe('links and attach points', () => {
    it('opens a raw tracepoint link and reads its name back', () => {
      withFds((keep) => {
        const progFd = keep(
          progLoad({ type: ProgramTypes.raw_tracepoint, insns: prog(movImm(0, 0), exit()), license: 'GPL' }),
        );
        const link = keep(rawTracepointOpen('sys_enter', progFd));
        expect(linkInfo(link)).toMatchObject({
          kind: 'raw_tracepoint',
          tpName: 'sys_enter',
          progId: progInfo(progFd).id,
        });
      });
    });

    it('creates an iterator link over bpf maps and reads the iterator to its end', (ctx) => {
      const target = loadKernelBtf().findByName('bpf_iter_bpf_map', 'func');
      skipUnlessKernel(ctx, 'bpf_map iterator', target !== undefined, 'no bpf_iter_bpf_map in kernel BTF');
      withFds((keep) => {
        const progFd = keep(
          progLoad({
            type: ProgramTypes.tracing,
            expectedAttachType: AttachTypes.trace_iter,
            attachBtfId: target!.id,
            insns: prog(movImm(0, 0), exit()),
            license: 'GPL',
          }),
        );
        const link = keep(linkCreate(progFd, 0, AttachTypes.trace_iter));
        expect(linkInfo(link)).toMatchObject({ kind: 'iter', targetName: 'bpf_map' });
        expect(readToEnd(keep(iterCreate(link)))).toHaveLength(0);
      });
    });

    it('attaches to a cgroup with and without a link, and queries it', (ctx) => {
      const root = '/sys/fs/cgroup/unified';
      const isCgroup2 = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .some((l) => l.split(' ')[1] === root && l.split(' ')[2] === 'cgroup2');
      skipUnlessKernel(ctx, 'cgroup v2', isCgroup2, `no cgroup2 mounted at ${root}`);
      const dir = `${root}/bpf-skel-sys-${process.pid}`;
      mkdirSync(dir);
      try {
        withFds((keep) => {
          const cg = keep(openDir(dir));
          const progFd = keep(
            progLoad({
              type: ProgramTypes.cgroup_skb,
              expectedAttachType: AttachTypes.cgroup_inet_ingress,
              insns: prog(movImm(0, 1), exit()),
              license: 'GPL',
            }),
          );
          const id = progInfo(progFd).id;
          progAttach(cg, progFd, AttachTypes.cgroup_inet_ingress, { flags: AttachFlag.ALLOW_MULTI });
          const q = progQuery(cg, AttachTypes.cgroup_inet_ingress);
          expect(q.progIds).toEqual([id]);
          expect(q.attachFlags).toBe(AttachFlag.ALLOW_MULTI);
          progDetach(cg, progFd, AttachTypes.cgroup_inet_ingress);
          expect(progQuery(cg, AttachTypes.cgroup_inet_ingress).progIds).toEqual([]);

          const link = keep(linkCreate(progFd, cg, AttachTypes.cgroup_inet_ingress));
          const info = linkInfo(link);
          expect(info).toMatchObject({
            kind: 'cgroup',
            attachType: AttachTypes.cgroup_inet_ingress,
            progId: id,
          });
          expect(progQuery(cg, AttachTypes.cgroup_inet_ingress).progIds).toEqual([id]);
          const other = keep(
            progLoad({
              type: ProgramTypes.cgroup_skb,
              expectedAttachType: AttachTypes.cgroup_inet_ingress,
              insns: prog(movImm(0, 1), movImm(1, 0), exit()),
              license: 'GPL',
            }),
          );
          linkUpdate(link, other, { oldProgFd: progFd, flags: AttachFlag.REPLACE });
          expect(progQuery(cg, AttachTypes.cgroup_inet_ingress).progIds).toEqual([progInfo(other).id]);
          expectBpfError(
            () => linkUpdate(link, other, { oldProgFd: progFd, flags: AttachFlag.REPLACE }),
            'EPERM',
            'BPF_LINK_UPDATE',
          );
          linkDetach(link);
          expect(progQuery(cg, AttachTypes.cgroup_inet_ingress).progIds).toEqual([]);
        });
      } finally {
        rmdirSync(dir);
      }
    });
  });

  describe('FDs, CPUs, tracepoints', () => {
    it('duplicates close-on-exec above 2, opens directories, tells open from closed', () => {
      withFds((keep) => {
        const dir = keep(openDir('/tmp'));
        const dup = keep(dupCloexec(dir));
        expect(dup).toBeGreaterThanOrEqual(3);
        expect(keep(dupCloexec(dir, 100))).toBeGreaterThanOrEqual(100);
        expect(isFdOpen(dup)).toBe(true);
      });
      expectBpfError(() => openDir('/etc/hostname'), 'ENOTDIR', 'openat');
      const fd = openDir('/tmp');
      closeFd(fd);
      expect(isFdOpen(fd)).toBe(false);
      expectBpfError(() => closeFd(fd), 'EBADF', 'close');
      expectBpfError(() => fdinfo(fd), 'EBADF');
    });

    it('parses CPU lists and counts possible CPUs', () => {
      expect(parseCpuList('0-3,5,7-8\n')).toEqual([0, 1, 2, 3, 5, 7, 8]);
      expect(parseCpuList('0')).toEqual([0]);
      expect(() => parseCpuList('0-x')).toThrow(BpfError);
      expect(() => parseCpuList('3-1')).toThrow(BpfError);
      expect(possibleCpuCount()).toBe(
        parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')).length,
      );
    });

    it('finds tracepoint ids in tracefs and explains when it cannot', () => {
      const tracefs = ensureTracefs();
      const id = tracepointId('syscalls', 'sys_enter_getpid', tracefs);
      expect(id).toBe(Number(readFileSync(`${tracefs}/events/syscalls/sys_enter_getpid/id`, 'utf8')));
      expect(() => tracepointId('syscalls', 'no_such_event', tracefs)).toThrow(
        /no tracepoint syscalls:no_such_event/,
      );
      expect(() => tracepointId('syscalls', 'sys_enter_getpid', '/tmp')).toThrow(
        /tracefs is not mounted at \/tmp/,
      );
      expect(() => tracepointId('../x', 'y')).toThrow(OptionError);
    });
  });

  it('leaves no FD open', () => {
    expect(countOpenFds()).toBe(fdsAtStart);
  });
});
