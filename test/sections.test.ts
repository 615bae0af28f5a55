import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseElf, SHF } from '../src/elf/index.js';
import {
  type AttachKind,
  parseSectionName,
  SECTION_BASES,
  type SectionSpec,
} from '../src/runtime/sections.js';
import { PROG_LOAD_ATTR } from '../src/runtime/sys/attr.js';
import { BpfCmd, bpfRaw } from '../src/runtime/sys/bpf.js';
import { type AttachType, AttachTypes, type ProgramType, ProgramTypes } from '../src/runtime/sys/kinds.js';
import { addressOf, cClose } from '../src/runtime/sys/libc.js';

const REQUIRE_KERNEL = process.env.BPF_SKEL_REQUIRE_KERNEL === '1';
const SLEEPABLE = 1 << 4; // UAPI BPF_F_SLEEPABLE
const FRAGS = 1 << 5; // UAPI BPF_F_XDP_HAS_FRAGS

type Row = [
  section: string,
  progType: ProgramType,
  attachType: AttachType | undefined,
  attach: AttachKind,
  flags?: number,
];

/**
 * Every row of libbpf's "Program Types and ELF Sections" table (kernel documentation), written out from the
 * documentation rather than from the implementation; `+` rows are given in their exact form.
 */
const DOCUMENTED: Row[] = [
  ['cgroup/dev', 'cgroup_device', 'cgroup_device', 'none'],
  ['cgroup/skb', 'cgroup_skb', undefined, 'none'],
  ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress', 'none'],
  ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress', 'none'],
  ['cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt', 'none'],
  ['cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt', 'none'],
  ['cgroup/bind4', 'cgroup_sock_addr', 'cgroup_inet4_bind', 'none'],
  ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect', 'none'],
  ['cgroup/getpeername4', 'cgroup_sock_addr', 'cgroup_inet4_getpeername', 'none'],
  ['cgroup/getsockname4', 'cgroup_sock_addr', 'cgroup_inet4_getsockname', 'none'],
  ['cgroup/bind6', 'cgroup_sock_addr', 'cgroup_inet6_bind', 'none'],
  ['cgroup/connect6', 'cgroup_sock_addr', 'cgroup_inet6_connect', 'none'],
  ['cgroup/getpeername6', 'cgroup_sock_addr', 'cgroup_inet6_getpeername', 'none'],
  ['cgroup/getsockname6', 'cgroup_sock_addr', 'cgroup_inet6_getsockname', 'none'],
  ['cgroup/recvmsg4', 'cgroup_sock_addr', 'cgroup_udp4_recvmsg', 'none'],
  ['cgroup/sendmsg4', 'cgroup_sock_addr', 'cgroup_udp4_sendmsg', 'none'],
  ['cgroup/recvmsg6', 'cgroup_sock_addr', 'cgroup_udp6_recvmsg', 'none'],
  ['cgroup/sendmsg6', 'cgroup_sock_addr', 'cgroup_udp6_sendmsg', 'none'],
  ['cgroup/connect_unix', 'cgroup_sock_addr', 'cgroup_unix_connect', 'none'],
  ['cgroup/sendmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_sendmsg', 'none'],
  ['cgroup/recvmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_recvmsg', 'none'],
  ['cgroup/getpeername_unix', 'cgroup_sock_addr', 'cgroup_unix_getpeername', 'none'],
  ['cgroup/getsockname_unix', 'cgroup_sock_addr', 'cgroup_unix_getsockname', 'none'],
  ['cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind', 'none'],
  ['cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind', 'none'],
  ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create', 'none'],
  ['cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create', 'none'],
  ['cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release', 'none'],
  ['cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl', 'none'],
  ['freplace', 'ext', undefined, 'freplace'],
  ['flow_dissector', 'flow_dissector', 'flow_dissector', 'none'],
  ['kprobe', 'kprobe', undefined, 'kprobe'],
  ['kretprobe', 'kprobe', undefined, 'kprobe'],
  ['ksyscall', 'kprobe', undefined, 'ksyscall'],
  ['kretsyscall', 'kprobe', undefined, 'ksyscall'],
  ['uprobe', 'kprobe', undefined, 'uprobe'],
  ['uprobe.s', 'kprobe', undefined, 'uprobe', SLEEPABLE],
  ['uretprobe', 'kprobe', undefined, 'uprobe'],
  ['uretprobe.s', 'kprobe', undefined, 'uprobe', SLEEPABLE],
  ['usdt', 'kprobe', undefined, 'usdt'],
  ['usdt.s', 'kprobe', undefined, 'usdt', SLEEPABLE],
  ['kprobe.multi', 'kprobe', 'trace_kprobe_multi', 'kprobe_multi'],
  ['kretprobe.multi', 'kprobe', 'trace_kprobe_multi', 'kprobe_multi'],
  ['kprobe.session', 'kprobe', 'trace_kprobe_session', 'kprobe_multi'],
  ['uprobe.multi', 'kprobe', 'trace_uprobe_multi', 'uprobe_multi'],
  ['uprobe.multi.s', 'kprobe', 'trace_uprobe_multi', 'uprobe_multi', SLEEPABLE],
  ['uretprobe.multi', 'kprobe', 'trace_uprobe_multi', 'uprobe_multi'],
  ['uretprobe.multi.s', 'kprobe', 'trace_uprobe_multi', 'uprobe_multi', SLEEPABLE],
  ['uprobe.session', 'kprobe', 'trace_uprobe_session', 'uprobe_multi'],
  ['uprobe.session.s', 'kprobe', 'trace_uprobe_session', 'uprobe_multi', SLEEPABLE],
  ['lirc_mode2', 'lirc_mode2', 'lirc_mode2', 'none'],
  ['lsm_cgroup', 'lsm', 'lsm_cgroup', 'none'],
  ['lsm', 'lsm', 'lsm_mac', 'lsm'],
  ['lsm.s', 'lsm', 'lsm_mac', 'lsm', SLEEPABLE],
  ['lwt_in', 'lwt_in', undefined, 'none'],
  ['lwt_out', 'lwt_out', undefined, 'none'],
  ['lwt_seg6local', 'lwt_seg6local', undefined, 'none'],
  ['lwt_xmit', 'lwt_xmit', undefined, 'none'],
  ['netfilter', 'netfilter', 'netfilter', 'none'],
  ['perf_event', 'perf_event', undefined, 'none'],
  ['raw_tp.w', 'raw_tracepoint_writable', undefined, 'raw_tracepoint'],
  ['raw_tracepoint.w', 'raw_tracepoint_writable', undefined, 'raw_tracepoint'],
  ['raw_tp', 'raw_tracepoint', undefined, 'raw_tracepoint'],
  ['raw_tracepoint', 'raw_tracepoint', undefined, 'raw_tracepoint'],
  ['action', 'sched_act', undefined, 'none'],
  ['classifier', 'sched_cls', undefined, 'none'],
  ['tc', 'sched_cls', undefined, 'none'],
  ['netkit/primary', 'sched_cls', 'netkit_primary', 'none'],
  ['netkit/peer', 'sched_cls', 'netkit_peer', 'none'],
  ['tc/ingress', 'sched_cls', 'tcx_ingress', 'none'],
  ['tc/egress', 'sched_cls', 'tcx_egress', 'none'],
  ['tcx/ingress', 'sched_cls', 'tcx_ingress', 'none'],
  ['tcx/egress', 'sched_cls', 'tcx_egress', 'none'],
  ['sk_lookup', 'sk_lookup', 'sk_lookup', 'none'],
  ['sk_msg', 'sk_msg', 'sk_msg_verdict', 'none'],
  ['sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate', 'none'],
  ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select', 'none'],
  ['sk_skb', 'sk_skb', undefined, 'none'],
  ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser', 'none'],
  ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict', 'none'],
  ['socket', 'socket_filter', undefined, 'none'],
  ['sockops', 'sock_ops', 'cgroup_sock_ops', 'none'],
  ['struct_ops', 'struct_ops', undefined, 'struct_ops'],
  ['struct_ops.s', 'struct_ops', undefined, 'struct_ops', SLEEPABLE],
  ['syscall', 'syscall', undefined, 'none', SLEEPABLE],
  ['tp', 'tracepoint', undefined, 'tracepoint'],
  ['tracepoint', 'tracepoint', undefined, 'tracepoint'],
  ['fmod_ret', 'tracing', 'modify_return', 'tracing'],
  ['fmod_ret.s', 'tracing', 'modify_return', 'tracing', SLEEPABLE],
  ['fentry', 'tracing', 'trace_fentry', 'tracing'],
  ['fentry.s', 'tracing', 'trace_fentry', 'tracing', SLEEPABLE],
  ['fexit', 'tracing', 'trace_fexit', 'tracing'],
  ['fexit.s', 'tracing', 'trace_fexit', 'tracing', SLEEPABLE],
  ['iter', 'tracing', 'trace_iter', 'iter'],
  ['iter.s', 'tracing', 'trace_iter', 'iter', SLEEPABLE],
  ['tp_btf', 'tracing', 'trace_raw_tp', 'tracing'],
  ['xdp.frags/cpumap', 'xdp', 'xdp_cpumap', 'none', FRAGS],
  ['xdp/cpumap', 'xdp', 'xdp_cpumap', 'none'],
  ['xdp.frags/devmap', 'xdp', 'xdp_devmap', 'none', FRAGS],
  ['xdp/devmap', 'xdp', 'xdp_devmap', 'none'],
  ['xdp.frags', 'xdp', 'xdp', 'none', FRAGS],
  ['xdp', 'xdp', 'xdp', 'none'],
];

/** Known to libbpf and the kernel though missing from the documented table. */
const UNDOCUMENTED: Row[] = [['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict', 'none']];

/** Rows whose programs need `attach_btf_id` at load. */
const BTF_BASES = new Set(['tp_btf', 'fentry', 'fentry.s', 'fmod_ret', 'fmod_ret.s', 'fexit', 'fexit.s']);
for (const b of ['freplace', 'lsm', 'lsm.s', 'lsm_cgroup', 'iter', 'iter.s']) BTF_BASES.add(b);

function parse(section: string): SectionSpec {
  const spec = parseSectionName(section);
  if (spec === undefined) throw new Error(`'${section}' not recognised`);
  return spec;
}

describe('parseSectionName: the documented table', () => {
  it.each([...DOCUMENTED, ...UNDOCUMENTED])('%s', (section, progType, attachType, attach, flags = 0) => {
    for (const name of [section, `?${section}`]) {
      const spec = parse(name);
      expect(spec).toMatchObject({
        section: name,
        base: section,
        extras: undefined,
        progType,
        expectedAttachType: attachType,
        attachKind: attach,
        sleepable: (flags & SLEEPABLE) !== 0,
        progFlags: flags,
        autoload: name === section,
        requiresBtfTarget: BTF_BASES.has(section),
        btfTarget: undefined,
        target: undefined,
        autoAttach: false,
        invalidTarget: undefined,
      });
    }
  });

  it('lists exactly the tested names as its bases', () => {
    expect([...SECTION_BASES].sort()).toEqual([...DOCUMENTED, ...UNDOCUMENTED].map((r) => r[0]).sort());
  });
});

describe('parseSectionName: exact names, prefixes and extras', () => {
  it('returns undefined for names outside the convention', () => {
    for (const name of [
      '',
      '?',
      '??xdp',
      '.text',
      'license',
      '.maps',
      '.rodata',
      'syscalls',
      'syscall/x',
      'tcx',
      'tc/foo',
      'tc/',
      'classifier/foo',
      'xdp/foo',
      'xdp.frag',
      'xdp.frags/foo',
      'socket/1',
      'cgroup_skb',
      'cgroup/skb/x',
      'cgroup/sock_ops',
      'sk_skb/foo',
      'kprobes/x',
      'kprobe.s/x',
      'fentry.x/y',
      'tp.s/a/b',
      'lsm_cgroup.s/x',
      'XDP',
      ' xdp',
    ]) {
      expect(parseSectionName(name), name).toBeUndefined();
    }
  });

  it('tells tc (legacy, no attach type) from tc/ingress and tcx/ingress (tcx links)', () => {
    expect(parse('tc')).toMatchObject({ progType: 'sched_cls', expectedAttachType: undefined });
    expect(parse('tc/ingress')).toMatchObject({ base: 'tc/ingress', expectedAttachType: 'tcx_ingress' });
    expect(parse('tcx/egress')).toMatchObject({ base: 'tcx/egress', expectedAttachType: 'tcx_egress' });
  });

  it('sets BPF_F_XDP_HAS_FRAGS for xdp.frags only', () => {
    expect(parse('xdp').progFlags).toBe(0);
    expect(parse('xdp.frags').progFlags).toBe(FRAGS);
    expect(parse('?xdp.frags/devmap')).toMatchObject({ progFlags: FRAGS, autoload: false, sleepable: false });
  });

  it('reads kprobe/<function>[+<offset>] with C integer offsets', () => {
    expect(parse('kprobe/do_unlinkat')).toMatchObject({
      attachKind: 'kprobe',
      retprobe: false,
      extras: 'do_unlinkat',
      target: { func: 'do_unlinkat', offset: 0 },
      autoAttach: true,
    });
    expect(parse('kprobe/func+0x10').target).toEqual({ func: 'func', offset: 16 });
    expect(parse('kprobe/func+16').target).toEqual({ func: 'func', offset: 16 });
    expect(parse('kprobe/func+020').target).toEqual({ func: 'func', offset: 16 });
    expect(parse('kprobe/func.isra.0+0').target).toEqual({ func: 'func.isra.0', offset: 0 });
    expect(parse('kretprobe/do_exit')).toMatchObject({ retprobe: true, target: { func: 'do_exit' } });
    for (const bad of [
      'kprobe/func+-1',
      'kprobe/func+x',
      'kprobe/func+',
      'kprobe/fu nc',
      'kprobe/a:b',
      'kprobe/',
    ]) {
      const spec = parse(bad);
      expect(spec.target, bad).toBeUndefined();
      expect(spec.autoAttach, bad).toBe(false);
      expect(spec.invalidTarget, bad).toMatch(/./);
    }
  });

  it('reads uprobe/<binary>:<function>[+<offset>]', () => {
    expect(parse('uprobe//proc/self/exe:main')).toMatchObject({
      base: 'uprobe',
      attachKind: 'uprobe',
      retprobe: false,
      target: { binary: '/proc/self/exe', func: 'main', offset: 0 },
      autoAttach: true,
    });
    expect(parse('uprobe/libc.so.6:malloc').target).toEqual({
      binary: 'libc.so.6',
      func: 'malloc',
      offset: 0,
    });
    expect(parse('uprobe/libc.so.6:malloc+0x20').target).toEqual({
      binary: 'libc.so.6',
      func: 'malloc',
      offset: 32,
    });
    // A '+' not followed by a number belongs to the symbol.
    expect(parse('uprobe//bin/x:a+b').target).toEqual({ binary: '/bin/x', func: 'a+b', offset: 0 });
    expect(parse('uretprobe.s//bin/bash:readline')).toMatchObject({
      retprobe: true,
      sleepable: true,
      progFlags: SLEEPABLE,
      target: { binary: '/bin/bash', func: 'readline' },
    });
    for (const bad of ['uprobe/libc.so.6', 'uprobe/:malloc', 'uprobe/libc.so.6:', 'uprobe/libc.so.6:+0x10']) {
      expect(parse(bad), bad).toMatchObject({
        target: undefined,
        autoAttach: false,
        invalidTarget: expect.any(String),
      });
    }
  });

  it('reads uprobe.multi, uprobe.session, kprobe.multi and kprobe.session targets', () => {
    expect(parse('uprobe.multi//proc/self/exe:main*')).toMatchObject({
      attachKind: 'uprobe_multi',
      retprobe: false,
      session: false,
      target: { binary: '/proc/self/exe', pattern: 'main*' },
    });
    expect(parse('uretprobe.multi.s/libc.so.6:str?')).toMatchObject({ retprobe: true, sleepable: true });
    expect(parse('uprobe.session/libc.so.6:malloc')).toMatchObject({ session: true, retprobe: false });
    expect(parse('kprobe.multi/do_unlink*')).toMatchObject({
      attachKind: 'kprobe_multi',
      retprobe: false,
      session: false,
      target: { pattern: 'do_unlink*' },
    });
    expect(parse('kretprobe.multi/vfs_?ead')).toMatchObject({
      retprobe: true,
      target: { pattern: 'vfs_?ead' },
    });
    expect(parse('kprobe.session/vfs_*')).toMatchObject({ session: true, retprobe: false, autoAttach: true });
    expect(parse('kprobe.multi/a b').invalidTarget).toMatch(/pattern/);
    expect(parse('uprobe.multi/libc.so.6').invalidTarget).toMatch(/binary/);
  });

  it('reads ksyscall and usdt targets', () => {
    expect(parse('ksyscall/getpid')).toMatchObject({
      attachKind: 'ksyscall',
      retprobe: false,
      target: { syscall: 'getpid' },
    });
    expect(parse('kretsyscall/openat')).toMatchObject({ retprobe: true, target: { syscall: 'openat' } });
    expect(parse('usdt/libc.so.6:libc:setjmp')).toMatchObject({
      attachKind: 'usdt',
      target: { binary: 'libc.so.6', provider: 'libc', name: 'setjmp' },
    });
    expect(parse('usdt.s//usr/bin/x:p:n')).toMatchObject({
      sleepable: true,
      target: { binary: '/usr/bin/x' },
    });
    for (const bad of ['usdt/a:b', 'usdt/a:b:c:d', 'usdt/a::c'])
      expect(parse(bad).invalidTarget, bad).toMatch(/provider/);
  });

  it('splits tracepoint category and name', () => {
    expect(parse('tp/syscalls/sys_enter_getpid')).toMatchObject({
      attachKind: 'tracepoint',
      extras: 'syscalls/sys_enter_getpid',
      target: { category: 'syscalls', name: 'sys_enter_getpid' },
      autoAttach: true,
    });
    expect(parse('tracepoint/sched/sched_switch').target).toEqual({
      category: 'sched',
      name: 'sched_switch',
    });
    for (const bad of ['tp/syscalls', 'tp/syscalls/', 'tp//x'])
      expect(parse(bad).invalidTarget, bad).toMatch(/category/);
  });

  it('names raw tracepoints, writable ones included', () => {
    expect(parse('raw_tp/sys_enter')).toMatchObject({
      attachKind: 'raw_tracepoint',
      target: { name: 'sys_enter' },
    });
    expect(parse('raw_tracepoint.w/bpf_test_finish')).toMatchObject({
      progType: 'raw_tracepoint_writable',
      target: { name: 'bpf_test_finish' },
    });
  });

  it('gives the BTF entity to resolve at load for BTF-attached kinds', () => {
    expect(parse('fentry/do_unlinkat')).toMatchObject({
      attachKind: 'tracing',
      target: { name: 'do_unlinkat', module: undefined },
      btfTarget: { name: 'do_unlinkat', kind: 'func', module: undefined },
      autoAttach: true,
    });
    expect(parse('fexit.s/bpf_testmod:bpf_testmod_test_read')).toMatchObject({
      sleepable: true,
      target: { name: 'bpf_testmod_test_read', module: 'bpf_testmod' },
      btfTarget: { name: 'bpf_testmod_test_read', kind: 'func', module: 'bpf_testmod' },
    });
    expect(parse('tp_btf/sched_switch').btfTarget).toEqual({
      name: 'btf_trace_sched_switch',
      kind: 'typedef',
      module: undefined,
    });
    expect(parse('lsm.s/file_open')).toMatchObject({
      attachKind: 'lsm',
      target: { hook: 'file_open' },
      btfTarget: { name: 'bpf_lsm_file_open', kind: 'func' },
    });
    expect(parse('lsm_cgroup/socket_bind')).toMatchObject({
      attachKind: 'none',
      target: undefined,
      autoAttach: false,
      btfTarget: { name: 'bpf_lsm_socket_bind', kind: 'func' },
    });
    expect(parse('iter/task')).toMatchObject({
      target: { name: 'task' },
      btfTarget: { name: 'bpf_iter_task' },
    });
    expect(parse('freplace/handler')).toMatchObject({
      target: { func: 'handler' },
      btfTarget: { name: 'handler' },
    });
    expect(parse('fentry/:x')).toMatchObject({
      target: undefined,
      btfTarget: undefined,
      invalidTarget: expect.any(String),
    });
    expect(parse('fentry/')).toMatchObject({
      requiresBtfTarget: true,
      btfTarget: undefined,
      invalidTarget: expect.any(String),
    });
  });

  it('keeps struct_ops extras without auto-attaching', () => {
    expect(parse('struct_ops/my_init')).toMatchObject({
      attachKind: 'struct_ops',
      extras: 'my_init',
      target: undefined,
      autoAttach: false,
    });
    expect(parse('struct_ops.s/x').progFlags).toBe(SLEEPABLE);
  });

  it('narrows the target type by attach kind', () => {
    const spec = parse('uprobe/libc.so.6:malloc');
    if (spec.attachKind !== 'uprobe' || spec.target === undefined) throw new Error('not a uprobe target');
    expect(spec.target.binary.length + spec.target.func.length + spec.target.offset).toBe(15);
  });
});

// ---- Real kernel ----------------------------------------------------------------------------------------

function kernelSkip(why: string): void {
  if (REQUIRE_KERNEL) throw new Error(`kernel check cannot run: ${why}`);
  console.warn(`skipping kernel check: ${why}`);
}

/** Function name to section name of every program of a BPF object. */
function programSections(path: string): Map<string, string> {
  const elf = parseElf(readFileSync(path), path);
  const out = new Map<string, string>();
  for (const sym of elf.symbols) {
    const section = elf.sections[sym.shndx];
    if (sym.type !== 'func' || sym.bind !== 'global' || section === undefined) continue;
    if ((section.flags & SHF.EXECINSTR) !== 0 && section.name !== '.text') out.set(sym.name, section.name);
  }
  return out;
}

describe('on this kernel', () => {
  it('bpftool loads test/fixtures/sections.bpf.o with the program type of each section', () => {
    const object = 'test/fixtures/sections.bpf.o';
    const sections = programSections(object);
    expect(sections.size).toBeGreaterThan(30);
    // Private mount namespace: the bpffs and its pins vanish with the child, and the programs with them.
    const script =
      'mount -t bpf bpf /sys/fs/bpf && bpftool prog loadall "$1" /sys/fs/bpf/p && ' +
      'for f in /sys/fs/bpf/p/*; do printf "%s " "$(basename "$f")"; bpftool -j prog show pinned "$f"; echo; done';
    const run = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', object], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (run.error !== undefined) return kernelSkip(`cannot run unshare: ${run.error.message}`);
    if (run.status === 127) return kernelSkip(`bpftool is not installed: ${run.stderr}`);
    if (/^unshare: /m.test(run.stderr)) return kernelSkip(run.stderr);
    expect(run.status, `bpftool prog loadall failed: ${run.stderr}`).toBe(0);
    const loaded = new Map<string, string>();
    for (const line of run.stdout.split('\n').filter((l) => l.trim() !== '')) {
      const space = line.indexOf(' ');
      loaded.set(line.slice(0, space), (JSON.parse(line.slice(space + 1)) as { type: string }).type);
    }
    expect([...loaded.keys()].sort()).toEqual([...sections.keys()].sort());
    for (const [func, section] of sections) {
      expect(`${section} ${loaded.get(func)}`).toBe(`${section} ${parse(section).progType}`);
    }
  });

  /**
   * Every section kind that needs no BTF target: BPF_PROG_LOAD of `r0 = 1; exit` with the parsed program
   * type, expected attach type and flags. The kernel refuses wrong expected attach types for most cgroup,
   * socket and netfilter kinds, and the sleepable flag on types that cannot sleep, so this checks the
   * pairing, not just the numbers.
   */
  it('loads a trivial program for every section kind that needs no BTF target', () => {
    if (process.getuid?.() !== 0) return kernelSkip('not root');
    const unavailable = unavailableProgramTypes();
    const tried: string[] = [];
    for (const [section] of [...DOCUMENTED, ...UNDOCUMENTED]) {
      const spec = parse(section);
      if (spec.requiresBtfTarget || spec.progType === 'struct_ops') continue;
      if (unavailable.has(spec.progType)) {
        console.info(`${section}: program type ${spec.progType} is not available on this kernel`);
        continue;
      }
      const ret = load(ProgramTypes[spec.progType], attachValue(spec.expectedAttachType), spec.progFlags);
      expect(ret, section).toBeGreaterThanOrEqual(0);
      cClose(ret);
      tried.push(section);
    }
    expect(tried.length).toBeGreaterThan(60);
  });

  it('refuses the same programs with a wrong expected attach type (the check above can fail)', () => {
    if (process.getuid?.() !== 0) return kernelSkip('not root');
    const EINVAL = 22;
    for (const section of ['cgroup/connect4', 'cgroup/sock_release', 'sk_lookup', 'cgroup/getsockopt']) {
      const spec = parse(section);
      expect(load(ProgramTypes[spec.progType], AttachTypes.xdp, 0), section).toBe(-EINVAL);
    }
  });
});

function attachValue(type: AttachType | undefined): number {
  return type === undefined ? 0 : AttachTypes[type];
}

/** Program types bpftool's probe reports as missing here (it does not list types newer than its libbpf). */
function unavailableProgramTypes(): Set<string> {
  const out = execFileSync('bpftool', ['feature', 'probe', 'kernel'], { encoding: 'utf8' });
  return new Set([...out.matchAll(/program_type (\w+) is NOT available/g)].map((m) => m[1]));
}

const INSNS = Buffer.from([0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // r0 = 1; exit
const LICENSE = Buffer.from('GPL\0');

/** BPF_PROG_LOAD of INSNS; the FD, or -errno. */
function load(progType: number, attachType: number, flags: number): number {
  const f = PROG_LOAD_ATTR.fields;
  const attr = Buffer.alloc(PROG_LOAD_ATTR.size);
  attr.writeUInt32LE(progType, f.prog_type.offset);
  attr.writeUInt32LE(INSNS.length / 8, f.insn_cnt.offset);
  attr.writeBigUInt64LE(addressOf(INSNS), f.insns.offset);
  attr.writeBigUInt64LE(addressOf(LICENSE), f.license.offset);
  attr.writeUInt32LE(flags, f.prog_flags.offset);
  attr.writeUInt32LE(attachType, f.expected_attach_type.offset);
  return bpfRaw(BpfCmd.PROG_LOAD, attr, PROG_LOAD_ATTR.size);
}
