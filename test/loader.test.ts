/**
 * The loader on real objects and the real kernel: global data reaches the kernel and stays live, subprograms
 * and callbacks run, tail calls and map-in-map follow their static initialisers, and open() is parse-only.
 */

import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeatureMissingError } from '../src/errors.js';
import { BpfObject } from '../src/runtime/object.js';
import { setBpfTraceHook } from '../src/runtime/sys/bpf.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { mapInfo } from '../src/runtime/sys/info.js';
import { MapTypes } from '../src/runtime/sys/kinds.js';
import { linkCreate } from '../src/runtime/sys/link.js';
import { mapCreate, objPin } from '../src/runtime/sys/map.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { countOpenFds, isRoot, requireKernel, tempBpffs } from './helpers/kernel.js';
import { bpfCallsDuring } from './helpers/trace.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.bpf.o`, import.meta.url).pathname;

/** Offsets of variables within their section, from the object's BTF (so the test does not hard-code them). */
function varOffset(obj: BpfObject, section: string, name: string): number {
  const btf = obj.spec.btf!;
  const sec = btf.findByName(section, 'datasec')!;
  const elfSec = obj.spec.elf.sectionByName(section)!;
  const sym = obj.spec.elf.symbolsOf(elfSec.index).find((s) => s.name === name);
  if (sym === undefined || !sec.vars.some((v) => btf.typeById(v.type).name === name)) {
    throw new Error(`no variable ${name} in ${section}`);
  }
  return sym.value;
}

describe('open() is parse-only', () => {
  it('makes no bpf() call and reports programs and maps', () => {
    const calls = bpfCallsDuring(() => {
      using obj = BpfObject.open(fixture('globals'));
      expect([...obj.programs.keys()]).toEqual(['copy_globals']);
      expect([...obj.maps.keys()].sort()).toEqual(
        ['.bss', '.data', '.data.foo', '.rodata', '.rodata.bar'].sort(),
      );
      expect(obj.maps.get('.rodata')!.kernelName).toBe('globals.rodata');
      expect(obj.maps.get('.data.foo')!.kernelName).toBe('.data.foo');
      expect(obj.tokenFd).toBe(-1);
    });
    expect(calls.length).toBe(0);
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root (or a token)'))('load', () => {
  it('sends values set before load, and exposes live .data/.bss after', () => {
    using obj = BpfObject.open(fixture('globals'), { bpfTokenPath: '' });
    const rodata = obj.maps.get('.rodata')!;
    const ro = rodata.dataView();
    expect(rodata.isWritable()).toBe(true);
    // Defaults from the C initialisers are there before load.
    expect(ro.getBigUint64(varOffset(obj, '.rodata', 'ro_u64'), true)).toBe(0xdeadbeefcafef00dn);
    ro.setBigUint64(varOffset(obj, '.rodata', 'ro_u64'), 0x0123456789abcdefn, true);
    obj.maps
      .get('.rodata.bar')!
      .dataView()
      .setInt32(varOffset(obj, '.rodata.bar', 'bar_limit'), -7, true);
    obj.load();

    const run = progTestRun(obj.programs.get('copy_globals')!.fd);
    expect(run.retval).toBe(0);
    const bss = obj.maps.get('.bss')!.dataView();
    expect(bss.getBigUint64(varOffset(obj, '.bss', 'out_ro_u64'), true)).toBe(0x0123456789abcdefn);
    expect(bss.getInt32(varOffset(obj, '.bss', 'out_bar_limit'), true)).toBe(-7);
    expect(bss.getUint32(varOffset(obj, '.bss', 'runs'), true)).toBe(1);
    // .data is live both ways: the program bumped it, and what we write the program sees.
    const data = obj.maps.get('.data')!.dataView();
    const u64 = varOffset(obj, '.data', 'data_u64');
    expect(data.getBigUint64(u64, true)).toBe(0x0102030405060709n);
    data.setBigUint64(u64, 5n, true);
    progTestRun(obj.programs.get('copy_globals')!.fd);
    expect(bss.getBigUint64(varOffset(obj, '.bss', 'out_data_u64'), true)).toBe(5n);
    expect(
      obj.maps
        .get('.data.foo')!
        .dataView()
        .getInt32(varOffset(obj, '.data.foo', 'foo_counter'), true),
    ).toBe(44);
    // .rodata is frozen: read-only after load.
    expect(rodata.isWritable()).toBe(false);
    expect(rodata.dataView().getBigUint64(varOffset(obj, '.rodata', 'ro_u64'), true)).toBe(
      0x0123456789abcdefn,
    );
  });

  it('links static and global subprograms and bpf_loop callbacks', () => {
    using obj = BpfObject.open(fixture('subprogs'), { bpfTokenPath: '' });
    obj.load();
    const bss = obj.maps.get('.bss')!.dataView();
    progTestRun(obj.programs.get('run_loop')!.fd);
    expect(bss.getUint32(varOffset(obj, '.bss', 'sum_result'), true)).toBe(90);
    const calls = progTestRun(obj.programs.get('run_calls')!.fd);
    expect(bss.getUint32(varOffset(obj, '.bss', 'square_result'), true)).toBe(49);
    expect(calls.retval).toBe(39);
  });

  it('fills a program array from its static initialiser', () => {
    using obj = BpfObject.open(fixture('tailcall'), { bpfTokenPath: '' });
    obj.load();
    const bss = obj.maps.get('.bss')!.dataView();
    const slot = varOffset(obj, '.bss', 'slot');
    const ran = varOffset(obj, '.bss', 'ran');
    const packet = new Uint8Array(64);
    const entry = obj.programs.get('xdp_entry')!.fd;
    const outcomes: [number, number, number][] = [];
    for (const s of [0, 1, 2]) {
      bss.setUint32(slot, s, true);
      bss.setUint32(ran, 0, true);
      const r = progTestRun(entry, { dataIn: packet, dataOut: new Uint8Array(64) });
      outcomes.push([s, r.retval, bss.getUint32(ran, true)]);
    }
    // XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3.
    expect(outcomes).toEqual([
      [0, 1, 100],
      [1, 2, 0],
      [2, 3, 102],
    ]);
  });

  it('fills array and hash of maps from their static initialisers', () => {
    using obj = BpfObject.open(fixture('mapinmap'), { bpfTokenPath: '' });
    obj.load();
    const bss = obj.maps.get('.bss')!.dataView();
    progTestRun(obj.programs.get('lookup')!.fd);
    expect(bss.getUint32(varOffset(obj, '.bss', 'arr_found'), true)).toBe(1);
    expect(bss.getUint32(varOffset(obj, '.bss', 'hash_found'), true)).toBe(1);
    // Slot 1 was left empty by the initialiser.
    bss.setUint32(varOffset(obj, '.bss', 'arr_slot'), 1, true);
    progTestRun(obj.programs.get('lookup')!.fd);
    expect(bss.getUint32(varOffset(obj, '.bss', 'arr_found'), true)).toBe(0);
  });

  it("loads an extension against a loaded program, looking the function up in that program's BTF", (ctx) => {
    using target = BpfObject.open(fixture('subprogs'), { bpfTokenPath: '' });
    target.load();
    const runCalls = target.programs.get('run_calls')!;
    expect(progTestRun(runCalls.fd).retval).toBe(39);
    const targetBtf = target.spec.btf!;
    const mixId = targetBtf.findByName('mix', 'func')!.id;

    using ext = BpfObject.open(fixture('freplace'), { bpfTokenPath: '' });
    const newMix = ext.programs.get('new_mix')!;
    expect(newMix.type).toBe('ext');
    expect(() => BpfObject.open(fixture('freplace'), { bpfTokenPath: '' }).load()).toThrow(/setAttachTarget/);
    newMix.setAttachTarget(runCalls.fd);

    const seen: { cmd: number; attachBtfId?: number; attachProgFd?: number }[] = [];
    const previous = setBpfTraceHook((cmd, attr) => {
      // PROG_LOAD: attach_btf_id @108, attach_prog_fd @112 (checked against BTF in sys-layout).
      seen.push(
        cmd === 5
          ? { cmd, attachBtfId: attr.readUInt32LE(108), attachProgFd: attr.readUInt32LE(112) }
          : { cmd },
      );
    });
    let error: unknown;
    try {
      ext.load();
    } catch (e) {
      error = e;
    } finally {
      setBpfTraceHook(previous);
    }
    expect(seen.some((c) => c.cmd === 19)).toBe(true); // BPF_BTF_GET_FD_BY_ID of the target's BTF
    // The object's own BTF keeps the target's type numbering only by chance; compare by what the kernel got.
    const load = seen.filter((c) => c.cmd === 5).at(-1)!;
    expect(load.attachProgFd).toBe(runCalls.fd);
    expect(load.attachBtfId).toBe(mixId);
    if (error !== undefined) {
      // This kernel refuses trampoline programs even to root (see architecture.md); the error must say so.
      expect(error).toBeInstanceOf(FeatureMissingError);
      expect((error as FeatureMissingError).feature).toBe('BPF trampolines');
      expect((error as Error).message).toMatch(/CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS/);
      process.stderr.write('skip: freplace replacement: this kernel refuses trampoline programs\n');
      ctx.skip('this kernel refuses trampoline programs: the replacement cannot be observed');
    }
    const link = linkCreate(newMix.fd, 0, 0);
    try {
      expect(progTestRun(runCalls.fd).retval).toBe(4242);
    } finally {
      closeFd(link);
    }
    expect(progTestRun(runCalls.fd).retval).toBe(39);
  });

  it('pins maps by name, reuses a compatible pin and refuses an incompatible one', () => {
    using bpffs = tempBpffs();
    const pin = join(bpffs.path, 'pinned_hash');
    const first = BpfObject.open(fixture('maps'), { bpfTokenPath: '', pinRootPath: bpffs.path });
    first.load();
    expect(existsSync(pin)).toBe(true);
    const id = mapInfo(first.maps.get('pinned_hash')!.fd).id;
    first.close();
    // The pin keeps the map: a second object reuses it rather than making a new one.
    using second = BpfObject.open(fixture('maps'), { bpfTokenPath: '', pinRootPath: bpffs.path });
    second.load();
    expect(mapInfo(second.maps.get('pinned_hash')!.fd).id).toBe(id);
    second.close();

    unlinkSync(pin);
    const other = mapCreate({ type: MapTypes.array, keySize: 4, valueSize: 8, maxEntries: 1 });
    objPin(other, pin);
    closeFd(other);
    const fds = countOpenFds();
    const third = BpfObject.open(fixture('maps'), { bpfTokenPath: '', pinRootPath: bpffs.path });
    expect(() => third.load()).toThrow(/pinned at .*pinned_hash is incompatible: type 2 \(object wants 1\)/);
    third.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('leaves programs of ? sections unloaded unless asked', () => {
    using obj = BpfObject.open(fixture('autoload'), { bpfTokenPath: '' });
    const off = obj.programs.get('off_by_default')!;
    expect(off.autoload).toBe(false);
    off.autoload = true;
    obj.load();
    expect(off.fd).toBeGreaterThan(2);
    expect(progTestRun(off.fd).retval).toBe(2);
    expect(obj.programs.get('tp_getpid_off')!.fd).toBe(-1);
    expect(() => {
      off.autoload = false;
    }).toThrow(/before load/);
  });
});
