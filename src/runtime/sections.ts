/**
 * ELF section names of BPF programs: what `SEC("...")` says about a program's type, the attach type it is
 * loaded with, its load flags and where it auto-attaches.
 *
 * The convention is libbpf's ("Program Types and ELF Sections" in the kernel's libbpf documentation):
 * - a plain name (`socket`, `xdp`, `cgroup_skb/ingress`) matches exactly;
 * - a name marked `+` there (`kprobe`, `tp`, `fentry`, ...) matches exactly or followed by `/` and extras
 *   (`kprobe/do_unlinkat+0x10`, `tp/syscalls/sys_enter_getpid`) that name the auto-attach target;
 * - a leading `?` turns autoload off and is not part of the name;
 * - `.s` variants are sleepable; `xdp.frags` variants may see multi-buffer packets.
 *
 * @module
 */

import { ProgFlag } from './sys/consts.js';
import type { AttachType, ProgramType } from './sys/kinds.js';

/** How a program attaches when its section names a target ('none': the caller supplies the target). */
export type AttachKind =
  | 'none'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing'
  | 'freplace'
  | 'lsm'
  | 'iter'
  | 'kprobe'
  | 'kprobe_multi'
  | 'ksyscall'
  | 'uprobe'
  | 'uprobe_multi'
  | 'usdt'
  | 'struct_ops';

/** The kernel BTF entity whose id goes into `attach_btf_id` at load. */
export interface AttachBtfTarget {
  /** BTF name: `'do_unlinkat'` (fentry), `'btf_trace_sched_switch'` (tp_btf), `'bpf_lsm_file_open'` (lsm). */
  readonly name: string;
  /** BTF kind to look up: tp_btf targets are typedefs, all others functions. */
  readonly kind: 'func' | 'typedef';
  /** Kernel module whose BTF holds it (`fentry/<module>:<function>`), else vmlinux. */
  readonly module: string | undefined;
}

/** What every section spec has, whatever its attach kind. */
export interface SectionCommon {
  /** The section name as written, `?` included. */
  readonly section: string;
  /** The convention entry that matched, without `?` or extras: `'uprobe.s'`, `'cgroup_skb/ingress'`. */
  readonly base: string;
  /** The text after `base/`, for entries that take extras; undefined when there is none. */
  readonly extras: string | undefined;
  readonly progType: ProgramType;
  /** Goes into `expected_attach_type` at load; undefined means 0 (the convention sets none). */
  readonly expectedAttachType: AttachType | undefined;
  readonly sleepable: boolean;
  /** False when the section starts with `?`. */
  readonly autoload: boolean;
  /** `prog_flags` for BPF_PROG_LOAD (`ProgFlag.SLEEPABLE`, `ProgFlag.XDP_HAS_FRAGS`). */
  readonly progFlags: number;
  /**
   * True when the program type needs `attach_btf_id` at load (tp_btf, fentry, fexit, fmod_ret, freplace,
   * lsm, lsm_cgroup, iter), so a section without a target cannot load until the caller names one.
   */
  readonly requiresBtfTarget: boolean;
  /** What to resolve for `attach_btf_id`, when the section names it. For freplace: the target program's BTF. */
  readonly btfTarget: AttachBtfTarget | undefined;
  /** True when the section names a target that `attach()` can attach to without further input. */
  readonly autoAttach: boolean;
  /** Why the extras do not name a valid target, when they are present but malformed. */
  readonly invalidTarget: string | undefined;
}

/** `tracepoint/<category>/<name>`, `tp/<category>/<name>`. */
export interface TracepointTarget {
  readonly category: string;
  readonly name: string;
}

/** A kernel function (fentry, fexit, fmod_ret), or a BTF tracepoint (tp_btf), optionally in a module. */
export interface TracingTarget {
  readonly name: string;
  readonly module: string | undefined;
}

/** `kprobe/<function>[+<offset>]`. */
export interface KprobeTarget {
  readonly func: string;
  readonly offset: number;
}

/** `uprobe/<binary>:<function>[+<offset>]`; `binary` is a path or a library name such as `libc.so.6`. */
export interface UprobeTarget {
  readonly binary: string;
  readonly func: string;
  readonly offset: number;
}

/** `uprobe.multi/<binary>:<pattern>`, pattern with `*` and `?` wildcards. */
export interface UprobeMultiTarget {
  readonly binary: string;
  readonly pattern: string;
}

/** `usdt/<binary>:<provider>:<name>`. */
export interface UsdtTarget {
  readonly binary: string;
  readonly provider: string;
  readonly name: string;
}

/** A parsed section name; narrow on `attachKind` to reach the typed `target`. */
export type SectionSpec = SectionCommon &
  (
    | { readonly attachKind: 'none'; readonly target: undefined }
    | { readonly attachKind: 'struct_ops'; readonly target: undefined }
    | { readonly attachKind: 'tracepoint'; readonly target: TracepointTarget | undefined }
    | { readonly attachKind: 'raw_tracepoint'; readonly target: { readonly name: string } | undefined }
    | { readonly attachKind: 'tracing'; readonly target: TracingTarget | undefined }
    | { readonly attachKind: 'freplace'; readonly target: { readonly func: string } | undefined }
    | { readonly attachKind: 'lsm'; readonly target: { readonly hook: string } | undefined }
    | { readonly attachKind: 'iter'; readonly target: { readonly name: string } | undefined }
    | { readonly attachKind: 'kprobe'; readonly retprobe: boolean; readonly target: KprobeTarget | undefined }
    | {
        readonly attachKind: 'kprobe_multi';
        readonly retprobe: boolean;
        readonly session: boolean;
        readonly target: { readonly pattern: string } | undefined;
      }
    | {
        readonly attachKind: 'ksyscall';
        readonly retprobe: boolean;
        readonly target: { readonly syscall: string } | undefined;
      }
    | { readonly attachKind: 'uprobe'; readonly retprobe: boolean; readonly target: UprobeTarget | undefined }
    | {
        readonly attachKind: 'uprobe_multi';
        readonly retprobe: boolean;
        readonly session: boolean;
        readonly target: UprobeMultiTarget | undefined;
      }
    | { readonly attachKind: 'usdt'; readonly target: UsdtTarget | undefined }
  );

/** One entry of the convention. */
interface Entry {
  readonly progType: ProgramType;
  readonly attachType?: AttachType;
  /** Takes extras (`name/extras`); the documentation marks these with `+`. */
  readonly extras?: boolean;
  readonly attach?: AttachKind;
  readonly sleepable?: boolean;
  readonly frags?: boolean;
  readonly retprobe?: boolean;
  readonly session?: boolean;
  /** Needs `attach_btf_id` at load: the target, after `prefix`, names a BTF entity of this kind. */
  readonly btf?: { readonly prefix: string; readonly kind: 'func' | 'typedef' };
}

const SLEEPABLE = { sleepable: true } as const;
const FUNC = { prefix: '', kind: 'func' } as const;
const LSM_HOOK = { prefix: 'bpf_lsm_', kind: 'func' } as const;
const RET = { retprobe: true } as const;

function withExtras(progType: ProgramType, attach: AttachKind, more: Partial<Entry> = {}): Entry {
  return { progType, attach, extras: true, ...more };
}

/** Sleepable twin of an entry, for the `.s` names. */
function sleepable(entry: Entry): Entry {
  return { ...entry, sleepable: true };
}

const KPROBE = withExtras('kprobe', 'kprobe');
const KRETPROBE = withExtras('kprobe', 'kprobe', RET);
const UPROBE = withExtras('kprobe', 'uprobe');
const URETPROBE = withExtras('kprobe', 'uprobe', RET);
const KPROBE_MULTI = withExtras('kprobe', 'kprobe_multi', { attachType: 'trace_kprobe_multi' });
const UPROBE_MULTI = withExtras('kprobe', 'uprobe_multi', { attachType: 'trace_uprobe_multi' });
const URETPROBE_MULTI = { ...UPROBE_MULTI, ...RET };
const UPROBE_SESSION = withExtras('kprobe', 'uprobe_multi', {
  attachType: 'trace_uprobe_session',
  session: true,
});
const USDT = withExtras('kprobe', 'usdt');
const TRACEPOINT = withExtras('tracepoint', 'tracepoint');
const RAW_TP = withExtras('raw_tracepoint', 'raw_tracepoint');
const RAW_TP_W = withExtras('raw_tracepoint_writable', 'raw_tracepoint');
const FENTRY = withExtras('tracing', 'tracing', { attachType: 'trace_fentry', btf: FUNC });
const FMOD_RET = withExtras('tracing', 'tracing', { attachType: 'modify_return', btf: FUNC });
const FEXIT = withExtras('tracing', 'tracing', { attachType: 'trace_fexit', btf: FUNC });
const LSM = withExtras('lsm', 'lsm', { attachType: 'lsm_mac', btf: LSM_HOOK });
const ITER = withExtras('tracing', 'iter', {
  attachType: 'trace_iter',
  btf: { prefix: 'bpf_iter_', kind: 'func' },
});
const STRUCT_OPS = withExtras('struct_ops', 'struct_ops');
const XDP_DEVMAP: Entry = { progType: 'xdp', attachType: 'xdp_devmap' };
const XDP_CPUMAP: Entry = { progType: 'xdp', attachType: 'xdp_cpumap' };
const XDP: Entry = { progType: 'xdp', attachType: 'xdp' };
const FRAGS = { frags: true } as const;

function cgroup(progType: ProgramType, attachType: AttachType): Entry {
  return { progType, attachType };
}

/** The convention, by name. Entries without `extras` match only exactly. */
const ENTRIES: ReadonlyMap<string, Entry> = new Map<string, Entry>([
  ['socket', { progType: 'socket_filter' }],
  ['sk_reuseport/migrate', { progType: 'sk_reuseport', attachType: 'sk_reuseport_select_or_migrate' }],
  ['sk_reuseport', { progType: 'sk_reuseport', attachType: 'sk_reuseport_select' }],
  ['kprobe', KPROBE],
  ['kretprobe', KRETPROBE],
  ['uprobe', UPROBE],
  ['uprobe.s', sleepable(UPROBE)],
  ['uretprobe', URETPROBE],
  ['uretprobe.s', sleepable(URETPROBE)],
  ['kprobe.multi', KPROBE_MULTI],
  ['kretprobe.multi', { ...KPROBE_MULTI, ...RET }],
  ['kprobe.session', { ...KPROBE_MULTI, attachType: 'trace_kprobe_session', session: true }],
  ['uprobe.multi', UPROBE_MULTI],
  ['uprobe.multi.s', sleepable(UPROBE_MULTI)],
  ['uretprobe.multi', URETPROBE_MULTI],
  ['uretprobe.multi.s', sleepable(URETPROBE_MULTI)],
  ['uprobe.session', UPROBE_SESSION],
  ['uprobe.session.s', sleepable(UPROBE_SESSION)],
  ['ksyscall', withExtras('kprobe', 'ksyscall')],
  ['kretsyscall', withExtras('kprobe', 'ksyscall', RET)],
  ['usdt', USDT],
  ['usdt.s', sleepable(USDT)],
  ['tc/ingress', { progType: 'sched_cls', attachType: 'tcx_ingress' }],
  ['tc/egress', { progType: 'sched_cls', attachType: 'tcx_egress' }],
  ['tcx/ingress', { progType: 'sched_cls', attachType: 'tcx_ingress' }],
  ['tcx/egress', { progType: 'sched_cls', attachType: 'tcx_egress' }],
  ['tc', { progType: 'sched_cls' }],
  ['classifier', { progType: 'sched_cls' }],
  ['action', { progType: 'sched_act' }],
  ['netkit/primary', { progType: 'sched_cls', attachType: 'netkit_primary' }],
  ['netkit/peer', { progType: 'sched_cls', attachType: 'netkit_peer' }],
  ['tracepoint', TRACEPOINT],
  ['tp', TRACEPOINT],
  ['raw_tracepoint', RAW_TP],
  ['raw_tp', RAW_TP],
  ['raw_tracepoint.w', RAW_TP_W],
  ['raw_tp.w', RAW_TP_W],
  [
    'tp_btf',
    withExtras('tracing', 'tracing', {
      attachType: 'trace_raw_tp',
      btf: { prefix: 'btf_trace_', kind: 'typedef' },
    }),
  ],
  ['fentry', FENTRY],
  ['fmod_ret', FMOD_RET],
  ['fexit', FEXIT],
  ['fentry.s', sleepable(FENTRY)],
  ['fmod_ret.s', sleepable(FMOD_RET)],
  ['fexit.s', sleepable(FEXIT)],
  ['freplace', withExtras('ext', 'freplace', { btf: FUNC })],
  ['lsm', LSM],
  ['lsm.s', sleepable(LSM)],
  // Attached to a cgroup the caller names; the hook is still resolved at load.
  ['lsm_cgroup', withExtras('lsm', 'none', { attachType: 'lsm_cgroup', btf: LSM_HOOK })],
  ['iter', ITER],
  ['iter.s', sleepable(ITER)],
  ['syscall', { progType: 'syscall', ...SLEEPABLE }],
  ['xdp.frags/devmap', { ...XDP_DEVMAP, ...FRAGS }],
  ['xdp/devmap', XDP_DEVMAP],
  ['xdp.frags/cpumap', { ...XDP_CPUMAP, ...FRAGS }],
  ['xdp/cpumap', XDP_CPUMAP],
  ['xdp.frags', { ...XDP, ...FRAGS }],
  ['xdp', XDP],
  ['perf_event', { progType: 'perf_event' }],
  ['lwt_in', { progType: 'lwt_in' }],
  ['lwt_out', { progType: 'lwt_out' }],
  ['lwt_xmit', { progType: 'lwt_xmit' }],
  ['lwt_seg6local', { progType: 'lwt_seg6local' }],
  ['sockops', { progType: 'sock_ops', attachType: 'cgroup_sock_ops' }],
  ['sk_skb/stream_parser', { progType: 'sk_skb', attachType: 'sk_skb_stream_parser' }],
  ['sk_skb/stream_verdict', { progType: 'sk_skb', attachType: 'sk_skb_stream_verdict' }],
  // Not in the documented table, but libbpf knows it and the kernel has the attach type.
  ['sk_skb/verdict', { progType: 'sk_skb', attachType: 'sk_skb_verdict' }],
  ['sk_skb', { progType: 'sk_skb' }],
  ['sk_msg', { progType: 'sk_msg', attachType: 'sk_msg_verdict' }],
  ['lirc_mode2', { progType: 'lirc_mode2', attachType: 'lirc_mode2' }],
  ['flow_dissector', { progType: 'flow_dissector', attachType: 'flow_dissector' }],
  ['cgroup_skb/ingress', cgroup('cgroup_skb', 'cgroup_inet_ingress')],
  ['cgroup_skb/egress', cgroup('cgroup_skb', 'cgroup_inet_egress')],
  ['cgroup/skb', { progType: 'cgroup_skb' }],
  ['cgroup/sock_create', cgroup('cgroup_sock', 'cgroup_inet_sock_create')],
  ['cgroup/sock_release', cgroup('cgroup_sock', 'cgroup_inet_sock_release')],
  ['cgroup/sock', cgroup('cgroup_sock', 'cgroup_inet_sock_create')],
  ['cgroup/post_bind4', cgroup('cgroup_sock', 'cgroup_inet4_post_bind')],
  ['cgroup/post_bind6', cgroup('cgroup_sock', 'cgroup_inet6_post_bind')],
  ['cgroup/bind4', cgroup('cgroup_sock_addr', 'cgroup_inet4_bind')],
  ['cgroup/bind6', cgroup('cgroup_sock_addr', 'cgroup_inet6_bind')],
  ['cgroup/connect4', cgroup('cgroup_sock_addr', 'cgroup_inet4_connect')],
  ['cgroup/connect6', cgroup('cgroup_sock_addr', 'cgroup_inet6_connect')],
  ['cgroup/connect_unix', cgroup('cgroup_sock_addr', 'cgroup_unix_connect')],
  ['cgroup/sendmsg4', cgroup('cgroup_sock_addr', 'cgroup_udp4_sendmsg')],
  ['cgroup/sendmsg6', cgroup('cgroup_sock_addr', 'cgroup_udp6_sendmsg')],
  ['cgroup/sendmsg_unix', cgroup('cgroup_sock_addr', 'cgroup_unix_sendmsg')],
  ['cgroup/recvmsg4', cgroup('cgroup_sock_addr', 'cgroup_udp4_recvmsg')],
  ['cgroup/recvmsg6', cgroup('cgroup_sock_addr', 'cgroup_udp6_recvmsg')],
  ['cgroup/recvmsg_unix', cgroup('cgroup_sock_addr', 'cgroup_unix_recvmsg')],
  ['cgroup/getpeername4', cgroup('cgroup_sock_addr', 'cgroup_inet4_getpeername')],
  ['cgroup/getpeername6', cgroup('cgroup_sock_addr', 'cgroup_inet6_getpeername')],
  ['cgroup/getpeername_unix', cgroup('cgroup_sock_addr', 'cgroup_unix_getpeername')],
  ['cgroup/getsockname4', cgroup('cgroup_sock_addr', 'cgroup_inet4_getsockname')],
  ['cgroup/getsockname6', cgroup('cgroup_sock_addr', 'cgroup_inet6_getsockname')],
  ['cgroup/getsockname_unix', cgroup('cgroup_sock_addr', 'cgroup_unix_getsockname')],
  ['cgroup/sysctl', cgroup('cgroup_sysctl', 'cgroup_sysctl')],
  ['cgroup/getsockopt', cgroup('cgroup_sockopt', 'cgroup_getsockopt')],
  ['cgroup/setsockopt', cgroup('cgroup_sockopt', 'cgroup_setsockopt')],
  ['cgroup/dev', cgroup('cgroup_device', 'cgroup_device')],
  ['struct_ops', STRUCT_OPS],
  ['struct_ops.s', sleepable(STRUCT_OPS)],
  ['sk_lookup', { progType: 'sk_lookup', attachType: 'sk_lookup' }],
  ['netfilter', { progType: 'netfilter', attachType: 'netfilter' }],
]);

/** Every name of the convention (without `/extras`), for tools that list or suggest section names. */
export const SECTION_BASES: readonly string[] = [...ENTRIES.keys()];

/**
 * Parses a program's ELF section name. Returns undefined when the name follows no entry of the convention
 * (the loader reports that with the section's name). Malformed extras of a known entry do not make it
 * unknown: the program can still load, and `invalidTarget` says why it cannot auto-attach.
 */
export function parseSectionName(section: string): SectionSpec | undefined {
  const autoload = !section.startsWith('?');
  const name = autoload ? section : section.slice(1);
  let base = name;
  let extras: string | undefined;
  let entry = ENTRIES.get(name);
  if (entry === undefined) {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    base = name.slice(0, slash);
    extras = name.slice(slash + 1);
    entry = ENTRIES.get(base);
    if (entry === undefined || entry.extras !== true) return undefined;
  }
  const sleepable = entry.sleepable === true;
  const btf = entry.btf;
  const common: SectionCommon = {
    section,
    base,
    extras,
    progType: entry.progType,
    expectedAttachType: entry.attachType,
    sleepable,
    autoload,
    progFlags: (sleepable ? ProgFlag.SLEEPABLE : 0) | (entry.frags === true ? ProgFlag.XDP_HAS_FRAGS : 0),
    requiresBtfTarget: btf !== undefined,
    btfTarget:
      btf === undefined || !extras
        ? undefined
        : { name: btf.prefix + extras, kind: btf.kind, module: undefined },
    autoAttach: false,
    invalidTarget: undefined,
  };
  /** `common` completed with the target that `parse` reads from the extras. */
  function targeted<T>(parse: (text: string) => Parsed<T>): SectionCommon & { target: T | undefined } {
    if (extras === undefined) return { ...common, target: undefined };
    const parsed = extras === '' ? { error: 'nothing after the section type and /' } : parse(extras);
    if ('error' in parsed)
      return { ...common, invalidTarget: parsed.error, btfTarget: undefined, target: undefined };
    return { ...common, autoAttach: true, target: parsed.target };
  }
  const retprobe = entry.retprobe === true;
  const session = entry.session === true;
  switch (entry.attach) {
    case undefined:
    case 'none':
      return { ...common, attachKind: 'none', target: undefined };
    case 'struct_ops':
      // The name after struct_ops/ is documented as ignored: the struct_ops map says where programs go.
      return { ...common, attachKind: 'struct_ops', target: undefined };
    case 'tracepoint':
      return { ...targeted(parseTracepoint), attachKind: 'tracepoint' };
    case 'raw_tracepoint':
      return { ...targeted((name) => ({ target: { name } })), attachKind: 'raw_tracepoint' };
    case 'tracing': {
      const spec = targeted(parseTracing);
      const t = spec.target;
      const btfTarget =
        t === undefined || btf === undefined
          ? undefined
          : { ...t, name: btf.prefix + t.name, kind: btf.kind };
      return { ...spec, btfTarget, attachKind: 'tracing' };
    }
    case 'freplace':
      return { ...targeted((func) => ({ target: { func } })), attachKind: 'freplace' };
    case 'lsm':
      return { ...targeted((hook) => ({ target: { hook } })), attachKind: 'lsm' };
    case 'iter':
      return { ...targeted((name) => ({ target: { name } })), attachKind: 'iter' };
    case 'kprobe':
      return { ...targeted(parseKprobe), attachKind: 'kprobe', retprobe };
    case 'kprobe_multi':
      return { ...targeted(parseKprobePattern), attachKind: 'kprobe_multi', retprobe, session };
    case 'ksyscall':
      return { ...targeted((syscall) => ({ target: { syscall } })), attachKind: 'ksyscall', retprobe };
    case 'uprobe':
      return { ...targeted(parseUprobe), attachKind: 'uprobe', retprobe };
    case 'uprobe_multi':
      return { ...targeted(parseUprobeMulti), attachKind: 'uprobe_multi', retprobe, session };
    case 'usdt':
      return { ...targeted(parseUsdt), attachKind: 'usdt' };
  }
}

type Parsed<T> = { target: T } | { error: string };

function parseTracepoint(extras: string): Parsed<TracepointTarget> {
  const slash = extras.indexOf('/');
  if (slash <= 0 || slash === extras.length - 1) return { error: 'expected <category>/<name>' };
  return { target: { category: extras.slice(0, slash), name: extras.slice(slash + 1) } };
}

function parseTracing(extras: string): Parsed<TracingTarget> {
  const colon = extras.indexOf(':');
  if (colon < 0) return { target: { name: extras, module: undefined } };
  if (colon === 0 || colon === extras.length - 1) return { error: 'expected [<module>:]<name>' };
  return { target: { name: extras.slice(colon + 1), module: extras.slice(0, colon) } };
}

function parseKprobe(extras: string): Parsed<KprobeTarget> {
  const m = /^([A-Za-z0-9_.]+)(?:\+(.+))?$/.exec(extras);
  if (m === null) return { error: 'expected <function>[+<offset>] (function: letters, digits, _ and .)' };
  const offset = m[2] === undefined ? 0 : parseCInteger(m[2]);
  if (offset === undefined) return { error: `invalid offset '${m[2]}'` };
  return { target: { func: m[1], offset } };
}

function parseKprobePattern(extras: string): Parsed<{ pattern: string }> {
  if (!/^[A-Za-z0-9_.*?]+$/.test(extras))
    return { error: 'a pattern holds only letters, digits, _ . * and ?' };
  return { target: { pattern: extras } };
}

function parseUprobe(extras: string): Parsed<UprobeTarget> {
  const colon = extras.indexOf(':');
  let func = extras.slice(colon + 1);
  let offset = 0;
  // A trailing '+N' is an offset only when N is a number; otherwise '+' belongs to the symbol name.
  const plus = func.lastIndexOf('+');
  const n = plus < 0 ? undefined : parseCInteger(func.slice(plus + 1));
  if (n !== undefined) {
    offset = n;
    func = func.slice(0, plus);
  }
  if (colon <= 0 || func === '') return { error: 'expected <binary>:<function>[+<offset>]' };
  return { target: { binary: extras.slice(0, colon), func, offset } };
}

function parseUprobeMulti(extras: string): Parsed<UprobeMultiTarget> {
  const colon = extras.indexOf(':');
  if (colon <= 0 || colon === extras.length - 1) return { error: 'expected <binary>:<pattern>' };
  return { target: { binary: extras.slice(0, colon), pattern: extras.slice(colon + 1) } };
}

function parseUsdt(extras: string): Parsed<UsdtTarget> {
  const [binary, provider, name, ...rest] = extras.split(':');
  if (rest.length > 0 || !binary || !provider || !name)
    return { error: 'expected <binary>:<provider>:<name>' };
  return { target: { binary, provider, name } };
}

/** A non-negative integer written as in C: `0x` hex, leading-0 octal, or decimal. */
function parseCInteger(text: string): number | undefined {
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) value = Number.parseInt(text, 8);
  else if (/^[1-9][0-9]*$/.test(text)) value = Number.parseInt(text, 10);
  else return undefined;
  return Number.isSafeInteger(value) ? value : undefined;
}
