/**
 * The BpfLink contract on the real kernel: pin, reopen from the pin, unpin; update and info on kernel
 * links and clear refusals on the others; idempotent detach and `using`; no FD left behind. Also the
 * edges of auto-attach (sections without a target, programs not loaded), extension targets found in a
 * program's BTF, and a sockmap attachment detached through PROG_DETACH.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpfError, OptionError } from '../src/errors.js';
import {
  attachFreplace,
  attachIter,
  attachRawTracepoint,
  attachSockmap,
  autoAttach,
  programFuncBtfId,
} from '../src/runtime/attach/index.js';
import { BpfLink } from '../src/runtime/link.js';
import { BpfObject } from '../src/runtime/object.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { linkGetFdById, progInfo } from '../src/runtime/sys/info.js';
import { AttachTypes } from '../src/runtime/sys/kinds.js';
import { progQuery } from '../src/runtime/sys/prog.js';
import { countOpenFds, isRoot, requireKernel, tempBpffs } from './helpers/kernel.js';
import { FIXTURES, loadFixture } from './helpers/objects.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'links need root');

describe.runIf(canRun)('BpfLink', () => {
  it('pins a link so it outlives its FD, reopens it from the pin, and unpins it', () => {
    const fds = countOpenFds();
    using fs = tempBpffs();
    const obj = loadFixture('attach_trace.bpf.o');
    const link = attachRawTracepoint(obj.programs.get('count_raw_tp')!, 'sys_enter');
    const { id, progId } = link.info();
    const path = join(fs.path, 'raw_tp_link');
    link.pin(path);
    expect(link.pinnedPath).toBe(path);
    expect(existsSync(path)).toBe(true);
    link.detach();
    // Still attached through the pin: reopen it and find the same link and program.
    const stillThere = linkGetFdById(id);
    closeFd(stillThere);
    const again = BpfLink.fromPin(path);
    expect(again.type).toBe('raw_tracepoint');
    expect(again.pinnedPath).toBe(path);
    expect(again.info()).toMatchObject({ id, progId, kind: 'raw_tracepoint', tpName: 'sys_enter' });
    again.unpin();
    expect(existsSync(path)).toBe(false);
    expect(() => again.unpin()).toThrow(/not pinned/);
    again.detach();
    expect(() => linkGetFdById(id)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => BpfLink.fromPin(join(fs.path, 'missing'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
    obj.close();
    fs[Symbol.dispose]();
    expect(countOpenFds()).toBe(fds);
  });

  it('closes explicit links with the object, except through a pin', () => {
    const fds = countOpenFds();
    using fs = tempBpffs();
    const obj = loadFixture('attach_trace.bpf.o');
    const prog = obj.programs.get('count_raw_tp')!;
    const plain = attachRawTracepoint(prog, 'sys_enter');
    const early = attachRawTracepoint(prog, 'sys_exit');
    const pinned = attachRawTracepoint(prog, 'sys_enter');
    const path = join(fs.path, 'kept');
    pinned.pin(path);
    const ids = [plain, early, pinned].map((l) => l.info().id);
    early.detach();
    obj.close();
    expect([plain.detached, early.detached, pinned.detached]).toEqual([true, true, true]);
    // The kernel dropped the unpinned links; the pinned one is still there.
    expect(() => linkGetFdById(ids[0]!)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => linkGetFdById(ids[1]!)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const kept = BpfLink.fromPin(path);
    expect(kept.info().id).toBe(ids[2]);
    kept.unpin();
    kept.detach();
    expect(() => linkGetFdById(ids[2]!)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    fs[Symbol.dispose]();
    expect(countOpenFds()).toBe(fds);
  });

  it('detaches on dispose, refuses use after detach, and leaves no FD behind', () => {
    const fds = countOpenFds();
    const obj = loadFixture('attach_trace.bpf.o');
    const prog = obj.programs.get('count_raw_tp')!;
    let id = 0;
    {
      using link = attachRawTracepoint(prog, 'sys_enter');
      id = link.info().id;
      expect(link.fd).toBeGreaterThan(2);
      expect(link.perfFd).toBe(-1);
    }
    expect(() => linkGetFdById(id)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const link = attachRawTracepoint(prog, 'sys_enter');
    link.detach();
    expect(() => link.info()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => link.pin('/sys/fs/bpf/x')).toThrow(/detached/);
    expect(() => link.update(prog)).toThrow(/detached/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('refuses to attach a program that is not loaded, and returns undefined for sections without a target', () => {
    const obj = BpfObject.open(`${FIXTURES}sections.bpf.o`);
    expect(() => autoAttach(obj.programs.get('tp_openat')!)).toThrow(/not loaded/);
    const untargeted = [
      'sock_filter',
      'xdp_pass',
      'tc_ok',
      'cg_skb_ingress',
      'syscall_prog',
      'on_perf_event',
    ];
    for (const p of obj.programs.values()) p.autoload = untargeted.includes(p.name);
    obj.load();
    for (const name of untargeted) {
      expect(autoAttach(obj.programs.get(name)!)).toBeUndefined();
    }
    obj.close();
  });

  it('passes the kernel refusal of an update through as a BpfError', () => {
    const obj = loadFixture('attach_trace.bpf.o');
    const a = obj.programs.get('count_raw_tp')!;
    const link = attachIter(obj.programs.get('dump_task')!);
    // A task iterator link cannot take a raw_tp program: the kernel's errno comes through.
    expect(() => link.update(a)).toThrow(BpfError);
    link.detach();
    obj.close();
  });

  it('finds an extension target in a loaded program BTF by function name', () => {
    const obj = loadFixture('subprogs.bpf.o');
    const prog = obj.programs.get('run_calls')!;
    const id = programFuncBtfId(prog.fd, 'mix');
    const btf = obj.spec.btf!;
    expect(btf.typeById(id)).toMatchObject({ kind: 'func', name: 'mix' });
    expect(() => programFuncBtfId(prog.fd, 'no_such_func')).toThrow(/no function 'no_such_func'/);
    // A program that is not an extension cannot be attached as one.
    expect(() => attachFreplace(prog, prog.fd, 'mix')).toThrow(BpfError);
    expect(() => attachFreplace(prog, prog.fd)).toThrow(/both/);
    obj.close();
  });

  it('attaches a stream verdict program to a sockmap with PROG_ATTACH and detaches it', () => {
    const fds = countOpenFds();
    const obj = BpfObject.open(`${FIXTURES}attach_net.bpf.o`);
    obj.load();
    const prog = obj.programs.get('sockmap_verdict')!;
    const map = obj.maps.get('socks')!;
    const link = attachSockmap(prog, map);
    expect(link.type).toBe('prog_attach');
    expect(() => link.info()).toThrow(OptionError);
    expect(() => link.pin('/sys/fs/bpf/nope')).toThrow(/not a kernel link/);
    const type = AttachTypes.sk_skb_stream_verdict;
    expect(progQuery(map.fd, type).progIds).toEqual([progInfo(prog.fd).id]);
    link.detach();
    expect(progQuery(map.fd, type).progIds).toEqual([]);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});
