/**
 * Function probes and trampolines on the real kernel: uprobe.multi with one BPF cookie per function and a
 * pid filter; and, for what this kernel may lack, either a working attachment or the typed error plus what
 * was sent: kprobe/kretprobe and ksyscall/kretsyscall (the syscall's kernel function from kallsyms, and
 * CONFIG_KPROBES), kprobe.multi (the `BPF_LINK_CREATE` attributes, cookies included, and CONFIG_FPROBE),
 * fentry/fexit/fmod_ret/lsm (the `PROG_LOAD` attributes against kernel BTF, and the "BPF trampolines"
 * FeatureMissingError). Uprobes in depth (offsets, return probes, patterns) are in attach-uprobe.test.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { FeatureMissingError } from '../src/errors.js';
import {
  attachKprobe,
  attachKprobeMulti,
  attachUprobeMulti,
  autoAttach,
  syscallFunction,
} from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { LINK_CREATE_ATTR, PROG_LOAD_ATTR } from '../src/runtime/sys/attr.js';
import { setBpfTraceHook } from '../src/runtime/sys/bpf.js';
import { AttachTypes, ProgramTypes } from '../src/runtime/sys/kinds.js';
import { getU64 } from './bins/globals.js';
import { buildTarget, removeTargets, startTarget } from './bins/target.js';
import { compileBpf, removeCompiled } from './helpers/clang.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { FIXTURES, loadFixture } from './helpers/objects.js';
import { thrown } from './helpers/thrown.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'attach tests need root');
const hasTools = requireKernel(
  'clang and gcc',
  ['clang', 'gcc'].every(commandExists),
  'the uprobe.multi test compiles its BPF program and its target',
);

/** A uprobe.multi program with no home in the fixtures: it sums the cookies of the probes it runs for. */
const UPROBE_MULTI_SOURCE = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 umulti_hits = 0;
__u64 umulti_cookies = 0;

SEC("uprobe.multi")
int sum_cookies(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&umulti_hits, 1);
	__sync_fetch_and_add(&umulti_cookies, bpf_get_attach_cookie(ctx));
	return 0;
}
`;

describe.runIf(canRun && hasTools)('uprobe.multi with cookies', () => {
  let object = '';
  let pie = '';
  beforeAll(() => {
    object = compileBpf('uprobe_multi', UPROBE_MULTI_SOURCE);
    pie = buildTarget({ pie: true });
  });
  afterAll(() => {
    removeTargets();
    removeCompiled();
  });

  it('uprobe.multi: one cookie per function reaches the program, and pid limits it to one process', async () => {
    const fds = countOpenFds();
    const obj = loadFixture(object);
    const a = startTarget(pie, 4);
    const b = startTarget(pie, 6);
    const link = attachUprobeMulti(obj.programs.get('sum_cookies')!, {
      binary: pie,
      funcs: ['bpfskel_probe_target', 'bpfskel_other'],
      cookies: [1n, 1000n],
      pid: a.pid,
    });
    expect(link.info()).toMatchObject({ kind: 'uprobe_multi', count: 2, path: pie, pid: a.pid });
    await Promise.all([a.go(), b.go()]);
    // Process a only: four calls of bpfskel_probe_target (cookie 1) and one of bpfskel_other (cookie 1000).
    expect(getU64(obj, 'umulti_hits')).toBe(5n);
    expect(getU64(obj, 'umulti_cookies')).toBe(4n + 1000n);
    link.detach();
    expect(() =>
      attachUprobeMulti(obj.programs.get('sum_cookies')!, {
        binary: pie,
        funcs: ['bpfskel_probe_target'],
        cookies: [1n, 2n],
      }),
    ).toThrow(/one entry per probe/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

describe.runIf(canRun)('attachments this kernel may lack', () => {
  const hasKprobes = (() => {
    try {
      statSync('/sys/bus/event_source/devices/kprobe/type');
      return true;
    } catch {
      return false;
    }
  })();

  /** sections_unloadable.bpf.o with only the named programs loaded. */
  const unloadable = (...names: string[]): BpfObject => loadFixture('sections_unloadable.bpf.o', names);

  it('kprobe and ksyscall: attach, or a FeatureMissingError naming CONFIG_KPROBES', () => {
    const fds = countOpenFds();
    const obj = unloadable('kprobe_unlinkat', 'ksyscall_getpid');
    for (const name of ['kprobe_unlinkat', 'ksyscall_getpid']) {
      const prog = obj.programs.get(name)!;
      if (hasKprobes) {
        const link = autoAttach(prog)!;
        expect(link.type).toBe('perf_event');
        link.detach();
        continue;
      }
      const caught = thrown(() => autoAttach(prog));
      expect(caught).toBeInstanceOf(FeatureMissingError);
      expect((caught as FeatureMissingError).message).toMatch(/CONFIG_KPROBES/);
      expect((caught as FeatureMissingError).feature).toMatch(/kprobe/);
    }
    const explicit = (): void =>
      attachKprobe(obj.programs.get('kprobe_unlinkat')!, 'do_unlinkat', { retprobe: true }).detach();
    if (hasKprobes) explicit();
    else expect(explicit).toThrow(/CONFIG_KPROBES/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it("ksyscall/kretsyscall: the syscall's kernel function from kallsyms; attach or CONFIG_KPROBES", () => {
    const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    const wrapped = / __x64_sys_getpid$/m.test(kallsyms);
    if (process.arch === 'x64')
      expect(syscallFunction('getpid')).toBe(wrapped ? '__x64_sys_getpid' : 'sys_getpid');
    expect(syscallFunction('no_such_syscall_xyz')).toBe('sys_no_such_syscall_xyz');
    const obj = unloadable('ksyscall_getpid', 'kretsyscall_getpid');
    for (const name of ['ksyscall_getpid', 'kretsyscall_getpid']) {
      const prog = obj.programs.get(name)!;
      if (hasKprobes) {
        const link = autoAttach(prog)!;
        expect(link.target).toContain(syscallFunction('getpid'));
        expect(link.target.startsWith(name === 'ksyscall_getpid' ? 'kprobe ' : 'kretprobe ')).toBe(true);
        link.detach();
        continue;
      }
      const err = thrown(() => autoAttach(prog));
      expect(err).toBeInstanceOf(FeatureMissingError);
      expect((err as FeatureMissingError).feature).toBe('kprobes (CONFIG_KPROBES)');
      expect((err as Error).message).toMatch(/CONFIG_KPROBES/);
    }
    obj.close();
  });

  it('kprobe.multi: attach, or a FeatureMissingError naming CONFIG_FPROBE', () => {
    const obj = unloadable('kprobe_multi_unlink');
    const prog = obj.programs.get('kprobe_multi_unlink')!;
    try {
      const link = autoAttach(prog)!;
      expect(link.type).toBe('kprobe_multi');
      link.detach();
    } catch (err) {
      expect(err).toBeInstanceOf(FeatureMissingError);
      expect((err as Error).message).toMatch(/CONFIG_FPROBE/);
    }
    expect(() => attachKprobeMulti(prog, { pattern: 'no_such_function_*' })).toThrow(
      /no kernel function matches/,
    );
    obj.close();
  });

  it('kprobe.multi: BPF_LINK_CREATE carries symbols, return flag and cookies; attach or CONFIG_FPROBE', () => {
    const fds = countOpenFds();
    const obj = unloadable('kprobe_multi_unlink', 'kretprobe_multi_unlink');
    const F = LINK_CREATE_ATTR.fields;
    const sent: Buffer[] = [];
    const previous = setBpfTraceHook((cmd, attr) => {
      if (cmd === 28) sent.push(Buffer.from(attr));
    });
    const outcomes: unknown[] = [];
    try {
      for (const [name, retprobe] of [
        ['kprobe_multi_unlink', false],
        ['kretprobe_multi_unlink', true],
      ] as const) {
        const prog = obj.programs.get(name)!;
        try {
          attachKprobeMulti(prog, {
            symbols: ['do_unlinkat', 'do_rmdir'],
            cookies: [7n, 8n],
            retprobe,
          }).detach();
          outcomes.push('attached');
        } catch (err) {
          outcomes.push(err);
        }
        const a = sent.at(-1)!;
        expect(a.readUInt32LE(F.prog_fd.offset)).toBe(prog.fd);
        expect(a.readUInt32LE(F.attach_type.offset)).toBe(AttachTypes.trace_kprobe_multi);
        expect(a.readUInt32LE(F['kprobe_multi.flags'].offset)).toBe(retprobe ? 1 : 0);
        expect(a.readUInt32LE(F['kprobe_multi.cnt'].offset)).toBe(2);
        expect(a.readBigUInt64LE(F['kprobe_multi.syms'].offset)).not.toBe(0n);
        expect(a.readBigUInt64LE(F['kprobe_multi.addrs'].offset)).toBe(0n);
        expect(a.readBigUInt64LE(F['kprobe_multi.cookies'].offset)).not.toBe(0n);
      }
    } finally {
      setBpfTraceHook(previous);
    }
    for (const o of outcomes) {
      if (o === 'attached') continue;
      expect(o).toBeInstanceOf(FeatureMissingError);
      expect((o as FeatureMissingError).feature).toBe('kprobe.multi (CONFIG_FPROBE)');
      expect((o as Error).message).toMatch(/CONFIG_FPROBE/);
    }
    expect(() =>
      attachKprobeMulti(obj.programs.get('kprobe_multi_unlink')!, {
        symbols: ['do_unlinkat'],
        cookies: [1n, 2n],
      }),
    ).toThrow(/one entry per probe/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  /** `PROG_LOAD` attributes sent for program `name` (its last load attempt). */
  function loadAttrs(name: string): { progType: number; attachType: number; btfId: number; flags: number } {
    const F = PROG_LOAD_ATTR.fields;
    let seen: Buffer | undefined;
    const previous = setBpfTraceHook((cmd, attr) => {
      const progName = attr
        .toString('latin1', F.prog_name.offset, F.prog_name.offset + 16)
        .replace(/\0.*$/s, '');
      if (cmd === 5 && name.startsWith(progName) && progName !== '') seen = Buffer.from(attr);
    });
    try {
      const obj = BpfObject.open(`${FIXTURES}sections_unloadable.bpf.o`);
      for (const p of obj.programs.values()) p.autoload = p.name === name;
      const prog = obj.programs.get(name)!;
      const err = thrown(() => obj.load());
      if (err === undefined) {
        // A kernel with BPF trampolines: the program must attach.
        const link = autoAttach(prog)!;
        expect(link.type).toBe('tracing');
        link.detach();
      } else {
        expect(err).toBeInstanceOf(FeatureMissingError);
        expect((err as FeatureMissingError).feature).toBe('BPF trampolines');
        expect((err as Error).message).toMatch(/CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS/);
        expect((err as Error).message).toContain(`'${name}'`);
        expect(() => autoAttach(prog)).toThrow(/not loaded/);
      }
      obj.close();
    } finally {
      setBpfTraceHook(previous);
    }
    expect(seen).toBeDefined();
    const a = seen!;
    return {
      progType: a.readUInt32LE(F.prog_type.offset),
      attachType: a.readUInt32LE(F.expected_attach_type.offset),
      btfId: a.readUInt32LE(F.attach_btf_id.offset),
      flags: a.readUInt32LE(F.prog_flags.offset),
    };
  }

  it('fentry, fexit, fmod_ret, lsm: loaded against the kernel function, or "BPF trampolines" missing', () => {
    const vmlinux = loadKernelBtf();
    const funcId = (fn: string): number => vmlinux.findByName(fn, 'func')!.id;
    const SLEEPABLE = 1 << 4;
    const cases = [
      ['fentry_unlinkat', 'tracing', 'trace_fentry', 'do_unlinkat', 0],
      ['fexit_unlinkat', 'tracing', 'trace_fexit', 'do_unlinkat', 0],
      ['fentry_sleepable_unlinkat', 'tracing', 'trace_fentry', 'do_unlinkat', SLEEPABLE],
      ['fmod_ret_file_open', 'tracing', 'modify_return', 'security_file_open', 0],
      ['lsm_file_open', 'lsm', 'lsm_mac', 'bpf_lsm_file_open', 0],
      ['lsm_sleepable_creds', 'lsm', 'lsm_mac', 'bpf_lsm_bprm_committed_creds', SLEEPABLE],
    ] as const;
    for (const [name, progType, attachType, target, flags] of cases) {
      expect(loadAttrs(name), name).toEqual({
        progType: ProgramTypes[progType],
        attachType: AttachTypes[attachType],
        btfId: funcId(target),
        flags,
      });
    }
  });
});
