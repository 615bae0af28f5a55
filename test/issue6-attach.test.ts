/**
 * Attach kinds and options of issue #6 that the other attach tests leave out, each observed on the real
 * kernel: a writable raw tracepoint (`raw_tp.w/bpf_test_finish`) that changes what `BPF_PROG_TEST_RUN`
 * returns; uprobe.multi with one BPF cookie per function and a pid filter; tcx egress placed with `after`;
 * cgroup_skb by cgroup FD with `BPF_PROG_ATTACH` flags; an iterator read as a Node.js stream; and, for what
 * this kernel lacks, the typed error plus what was sent: fentry/fexit/fmod_ret/lsm (`PROG_LOAD` attributes
 * and the "BPF trampolines" FeatureMissingError), kretsyscall (the syscall's kernel function and
 * CONFIG_KPROBES) and kprobe.multi (the `BPF_LINK_CREATE` attributes, cookies included, and CONFIG_FPROBE).
 *
 * The BPF programs these need are compiled here by clang from the source below (into test/tmp).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { FeatureMissingError } from '../src/errors.js';
import {
  attachCgroup,
  attachIter,
  attachKprobeMulti,
  attachRawTracepoint,
  attachTcx,
  attachUprobeMulti,
  autoAttach,
  ifindexOf,
  syscallFunction,
} from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { LINK_CREATE_ATTR, PROG_LOAD_ATTR } from '../src/runtime/sys/attr.js';
import { setBpfTraceHook } from '../src/runtime/sys/bpf.js';
import { AttachFlag } from '../src/runtime/sys/consts.js';
import { closeFd, openDir } from '../src/runtime/sys/fd.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { AttachTypes, ProgramTypes } from '../src/runtime/sys/kinds.js';
import { progQuery, progTestRun } from '../src/runtime/sys/prog.js';
import { getU64, setInt, waitFor } from './bins/globals.js';
import { buildTarget, removeTargets, startTarget } from './bins/target.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FIX = join(ROOT, 'test/fixtures/');
const TMP = join(ROOT, 'test/tmp', `issue6-attach-${process.pid}`);
const canRun = requireKernel('bpf() as root', isRoot(), 'attach tests need root');
const hasTools = requireKernel(
  'clang, gcc, ip and bash',
  ['clang', 'gcc', 'ip', 'bash'].every(commandExists),
  'the test compiles its BPF programs and target, and sets up a veth pair',
);

const SOURCE = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

int finish_err = 0;
__u64 finish_hits = 0;
__u64 umulti_hits = 0;
__u64 umulti_cookies = 0;

/* The tracepoint's argument is the errno BPF_PROG_TEST_RUN is about to return: overwrite it. */
SEC("raw_tp.w/bpf_test_finish")
int set_test_err(struct bpf_raw_tracepoint_args *ctx)
{
	int *err = (int *)ctx->args[0];

	__sync_fetch_and_add(&finish_hits, 1);
	if (finish_err)
		*err = finish_err;
	return 0;
}

SEC("uprobe.multi")
int sum_cookies(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&umulti_hits, 1);
	__sync_fetch_and_add(&umulti_cookies, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("socket")
int accept_all(struct __sk_buff *skb)
{
	return skb->len;
}
`;

let object = '';

function compile(): string {
  mkdirSync(TMP, { recursive: true });
  const src = join(TMP, 'issue6.bpf.c');
  const out = join(TMP, 'issue6.bpf.o');
  writeFileSync(src, SOURCE);
  execFileSync(
    'clang',
    [
      '-g',
      '-O2',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-I',
      FIX,
      '-I/usr/include/x86_64-linux-gnu',
    ].concat(['-Wall', '-Werror', '-c', src, '-o', out]),
    { stdio: 'pipe' },
  );
  return out;
}

function loaded(file: string, only?: readonly string[]): BpfObject {
  const obj = BpfObject.open(file);
  if (only !== undefined) for (const p of obj.programs.values()) p.autoload = only.includes(p.name);
  obj.load();
  return obj;
}

/** The first error `fn` throws (undefined when it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** A 64-byte frame for socket filter test runs; the program sees it past the 14-byte Ethernet header. */
const FRAME = new Uint8Array(64);
const SEEN_LEN = 64 - 14;

describe.runIf(canRun && hasTools)('issue #6 attach kinds', () => {
  let pie = '';
  beforeAll(() => {
    object = compile();
    pie = buildTarget({ pie: true });
  });
  afterAll(() => {
    removeTargets();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('raw_tp.w: a writable raw tracepoint rewrites the errno of BPF_PROG_TEST_RUN while attached', () => {
    const fds = countOpenFds();
    const obj = loaded(object);
    const writer = obj.programs.get('set_test_err')!;
    expect(writer.type).toBe('raw_tracepoint_writable');
    const run = obj.programs.get('accept_all')!;
    expect(progTestRun(run.fd, { dataIn: FRAME }).retval).toBe(SEEN_LEN);
    setInt(obj, 'finish_err', -7); // -E2BIG
    const link = autoAttach(writer)!;
    expect(link.type).toBe('raw_tracepoint');
    expect(link.info()).toMatchObject({ kind: 'raw_tracepoint', tpName: 'bpf_test_finish' });
    expect(() => progTestRun(run.fd, { dataIn: FRAME })).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(getU64(obj, 'finish_hits')).toBeGreaterThanOrEqual(1n);
    link.detach();
    expect(progTestRun(run.fd, { dataIn: FRAME }).retval).toBe(SEEN_LEN);
    // The explicit form, with a cookie, reaches the same hook.
    const again = attachRawTracepoint(writer, 'bpf_test_finish', { cookie: 3n });
    expect(again.info()).toMatchObject({ tpName: 'bpf_test_finish', cookie: 3n });
    expect(() => progTestRun(run.fd, { dataIn: FRAME })).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    again.detach();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('uprobe.multi: one cookie per function reaches the program, and pid limits it to one process', async () => {
    const fds = countOpenFds();
    const obj = loaded(object, ['sum_cookies']);
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

  it('an iterator reads as a Node.js stream that closes its instance when ended or destroyed', async () => {
    const obj = loaded(`${FIX}attach_trace.bpf.o`, ['dump_task']);
    const fds = countOpenFds();
    const iter = attachIter(obj.programs.get('dump_task')!);
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    let text = '';
    let chunks = 0;
    for await (const chunk of iter.stream(128)) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text.split('\n')).toContain(`${process.pid} ${process.pid} ${comm}`);
    expect(text).toBe(iter.readText().slice(0, text.length));
    const early = iter.stream(64);
    for await (const _ of early) break;
    expect(early.destroyed).toBe(true);
    iter.detach();
    expect(countOpenFds()).toBe(fds);
    obj.close();
  });
});

describe.runIf(canRun)('what this kernel may lack: the typed error, and what was sent', () => {
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
      const obj = BpfObject.open(`${FIX}sections_unloadable.bpf.o`);
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

  const hasKprobes = (() => {
    try {
      readFileSync('/sys/bus/event_source/devices/kprobe/type');
      return true;
    } catch {
      return false;
    }
  })();

  it("ksyscall/kretsyscall: the syscall's kernel function from kallsyms; attach or CONFIG_KPROBES", () => {
    const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    const wrapped = / __x64_sys_getpid$/m.test(kallsyms);
    if (process.arch === 'x64')
      expect(syscallFunction('getpid')).toBe(wrapped ? '__x64_sys_getpid' : 'sys_getpid');
    expect(syscallFunction('no_such_syscall_xyz')).toBe('sys_no_such_syscall_xyz');
    const obj = loaded(`${FIX}sections_unloadable.bpf.o`, ['ksyscall_getpid', 'kretsyscall_getpid']);
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

  it('kprobe.multi: BPF_LINK_CREATE carries symbols, return flag and cookies; attach or CONFIG_FPROBE', () => {
    const fds = countOpenFds();
    const obj = loaded(`${FIX}sections_unloadable.bpf.o`, ['kprobe_multi_unlink', 'kretprobe_multi_unlink']);
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
});

/** The cgroup v2 mount point. */
function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2') return mountPoint;
  }
  return undefined;
}

const PORT = 40000 + ((process.pid + 7) % 20000);

function netObject(): BpfObject {
  const obj = BpfObject.open(`${FIX}attach_net.bpf.o`);
  setInt(obj, 'test_port', PORT, 2);
  obj.load();
  return obj;
}

describe.runIf(canRun && hasTools)('tcx egress with after', () => {
  const ns = `bsk6-${process.pid}`;
  const host = `b6${process.pid}h`;
  const peer = `b6${process.pid}p`;
  const net = `10.${150 + (process.pid % 50)}.${(process.pid >> 8) % 250}`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  beforeAll(() => {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    ip('addr', 'add', `${net}.1/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
  });
  afterAll(() => {
    spawnSync('ip', ['link', 'del', host], { stdio: 'pipe' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  });

  it('places b after a on egress, runs both on packets leaving the host, and empties the hook', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('tcx_count_a')!;
    const b = obj.programs.get('tcx_count_b')!;
    const ifindex = ifindexOf(host);
    const la = attachTcx(a, host, 'egress');
    const lb = attachTcx(b, ifindex, 'egress', { after: la });
    expect(lb.info()).toMatchObject({ kind: 'tcx', ifindex, attachType: AttachTypes.tcx_egress });
    const ids = [progInfo(a.fd).id, progInfo(b.fd).id];
    expect(progQuery(ifindex, AttachTypes.tcx_egress).progIds).toEqual(ids);
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([]);
    const script = `for i in $(seq 3); do echo x > /dev/udp/${net}.2/${PORT}; done; true`;
    execFileSync('bash', ['-c', script], { stdio: 'pipe' });
    expect(await waitFor(() => getU64(obj, 'tcx_b'), 3n)).toBe(3n);
    expect(getU64(obj, 'tcx_a')).toBe(3n);
    // A detached link is no anchor.
    lb.detach();
    expect(() => attachTcx(b, ifindex, 'egress', { after: lb })).toThrow(/not a live kernel link/);
    la.detach();
    expect(progQuery(ifindex, AttachTypes.tcx_egress).progIds).toEqual([]);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

describe.runIf(canRun && requireKernel('cgroup v2', cgroup2Root() !== undefined, 'no cgroup2 mount'))(
  'cgroup by FD, with attach flags',
  () => {
    const dir = `${cgroup2Root()}/bpfskel-issue6-${process.pid}`;
    beforeAll(() => mkdirSync(dir));
    afterAll(() => rmdirSync(dir));

    function sendFromCgroup(n: number): void {
      const script = `echo $$ > "$CG/cgroup.procs" && exec bash -c 'for i in $(seq ${n}); do echo x > /dev/udp/127.0.0.1/${PORT}; done; true'`;
      execFileSync('sh', ['-c', script], { env: { ...process.env, CG: dir }, stdio: 'pipe' });
    }

    it('attaches to a cgroup FD the caller keeps, as a link and with ALLOW_OVERRIDE', () => {
      const fds = countOpenFds();
      const obj = netObject();
      const prog = obj.programs.get('cgroup_count')!;
      const type = AttachTypes.cgroup_inet_egress;
      const cg = openDir(dir);
      try {
        const link = attachCgroup(prog, cg);
        expect(link.type).toBe('cgroup');
        sendFromCgroup(2);
        expect(getU64(obj, 'cgroup_egress')).toBe(2n);
        link.detach();

        const legacy = attachCgroup(prog, cg, 'cgroup_inet_egress', {
          method: 'attach',
          attachFlags: AttachFlag.ALLOW_OVERRIDE,
        });
        expect(progQuery(cg, type)).toMatchObject({
          attachFlags: AttachFlag.ALLOW_OVERRIDE,
          progIds: [progInfo(prog.fd).id],
        });
        sendFromCgroup(3);
        expect(getU64(obj, 'cgroup_egress')).toBe(5n);
        legacy.detach();
        expect(progQuery(cg, type).progIds).toEqual([]);
        // The caller's FD is still its own and still open.
        expect(progQuery(cg, type).attachFlags).toBe(0);
      } finally {
        closeFd(cg);
      }
      obj.close();
      expect(countOpenFds()).toBe(fds);
    });
  },
);
