/**
 * Link commands of bpf(): create (with the per-kind extras of `link_create`), update, detach, raw
 * tracepoint open, and iterator instances.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import {
  checkFd,
  checkU32,
  cString,
  ITER_CREATE_ATTR,
  LINK_CREATE_ATTR,
  LINK_DETACH_ATTR,
  LINK_UPDATE_ATTR,
  newAttrScratch,
  putPointer,
  putS32,
  putU32,
  putU64,
  RAW_TRACEPOINT_ATTR,
  toU64,
} from './attr.js';
import { BpfCmd, bpf } from './bpf.js';
import { addressOf } from './libc.js';

/** Where a tcx, netkit or cgroup (mprog) link goes relative to the programs already there. */
export interface RelativePlacement {
  /** FD (or with `AttachFlag.ID` in the flags, id) of the program or link to place next to; 0 for none. */
  relativeFdOrId?: number;
  /** Fail with `ESTALE` unless the attach point is at this revision (0: do not check). */
  expectedRevision?: bigint;
}

/** The per-kind part of `BPF_LINK_CREATE`, chosen by the attach type. */
export type LinkCreateExtra =
  | { kind: 'none' }
  /** `BPF_PERF_EVENT` on a perf event FD. */
  | { kind: 'perf_event'; bpfCookie: bigint }
  /** fentry/fexit/fmod_ret/lsm/freplace: optional target and a cookie. */
  | { kind: 'tracing'; targetBtfId?: number; cookie?: bigint }
  /** `BPF_TRACE_ITER`: the target's `union bpf_iter_link_info` bytes (map FD, cgroup, task...). */
  | { kind: 'iter'; iterInfo?: Uint8Array }
  | ({ kind: 'tcx' } & RelativePlacement)
  | ({ kind: 'netkit' } & RelativePlacement)
  | ({ kind: 'cgroup' } & RelativePlacement)
  /** `BPF_TRACE_KPROBE_MULTI`/`SESSION`: by symbol names or by addresses. */
  | { kind: 'kprobe_multi'; flags?: number; syms?: string[]; addrs?: bigint[]; cookies?: bigint[] }
  /** `BPF_TRACE_UPROBE_MULTI`/`SESSION`: one file, many offsets. */
  | {
      kind: 'uprobe_multi';
      path: string;
      offsets: bigint[];
      refCtrOffsets?: bigint[];
      cookies?: bigint[];
      flags?: number;
      pid?: number;
    }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags?: number };

const createAttr = newAttrScratch(LINK_CREATE_ATTR.size);

function u64Array(values: readonly bigint[], what: string): Uint8Array {
  const out = new BigUint64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toU64(values[i]!, what);
  return new Uint8Array(out.buffer);
}

function checkCount(list: readonly unknown[] | undefined, count: number, what: string): void {
  if (list !== undefined && list.length !== count) {
    throw new OptionError(`${what} must have one entry per probe (${count}), got ${list.length}`, {
      option: what,
    });
  }
}

/**
 * Fills the extra fields; returns what must stay referenced until the syscall returns (strings and arrays
 * the attr points at).
 */
function fillExtra(a: Buffer, extra: LinkCreateExtra): unknown[] {
  const F = LINK_CREATE_ATTR.fields;
  const keep: unknown[] = [];
  const ptr = (field: (typeof F)[keyof typeof F], bytes: Uint8Array | undefined): void => {
    if (bytes === undefined) return;
    keep.push(bytes);
    putPointer(a, field, bytes);
  };
  switch (extra.kind) {
    case 'none':
      break;
    case 'perf_event':
      putU64(a, F['perf_event.bpf_cookie'], extra.bpfCookie, 'BPF cookie');
      break;
    case 'tracing':
      putU32(a, F['tracing.target_btf_id'], extra.targetBtfId ?? 0, 'target BTF id');
      putU64(a, F['tracing.cookie'], extra.cookie ?? 0n, 'cookie');
      break;
    case 'iter':
      if (extra.iterInfo !== undefined && extra.iterInfo.length > 0) {
        ptr(F.iter_info, extra.iterInfo);
        a.writeUInt32LE(extra.iterInfo.length, F.iter_info_len.offset);
      }
      break;
    case 'tcx':
    case 'netkit':
    case 'cgroup':
      putU32(a, F[`${extra.kind}.relative_fd`], extra.relativeFdOrId ?? 0, 'relative FD or id');
      putU64(a, F[`${extra.kind}.expected_revision`], extra.expectedRevision ?? 0n, 'expected revision');
      break;
    case 'kprobe_multi': {
      const count = extra.syms?.length ?? extra.addrs?.length ?? 0;
      if ((extra.syms === undefined) === (extra.addrs === undefined) || count === 0) {
        throw new OptionError('kprobe_multi needs a non-empty list of either symbols or addresses', {
          option: 'syms',
        });
      }
      checkCount(extra.cookies, count, 'kprobe_multi cookies');
      putU32(a, F['kprobe_multi.flags'], extra.flags ?? 0, 'kprobe_multi flags');
      a.writeUInt32LE(count, F['kprobe_multi.cnt'].offset);
      if (extra.syms !== undefined) {
        const names = extra.syms.map((s) => cString(s, 'kprobe_multi symbol'));
        keep.push(names);
        ptr(F['kprobe_multi.syms'], u64Array(names.map(addressOf), 'symbol address'));
      }
      if (extra.addrs !== undefined) ptr(F['kprobe_multi.addrs'], u64Array(extra.addrs, 'kprobe address'));
      if (extra.cookies !== undefined) ptr(F['kprobe_multi.cookies'], u64Array(extra.cookies, 'cookie'));
      break;
    }
    case 'uprobe_multi': {
      const count = extra.offsets.length;
      if (count === 0) throw new OptionError('uprobe_multi needs at least one offset', { option: 'offsets' });
      checkCount(extra.refCtrOffsets, count, 'uprobe_multi ref_ctr_offsets');
      checkCount(extra.cookies, count, 'uprobe_multi cookies');
      ptr(F['uprobe_multi.path'], cString(extra.path, 'uprobe_multi path'));
      ptr(F['uprobe_multi.offsets'], u64Array(extra.offsets, 'uprobe offset'));
      if (extra.refCtrOffsets !== undefined) {
        ptr(F['uprobe_multi.ref_ctr_offsets'], u64Array(extra.refCtrOffsets, 'ref_ctr offset'));
      }
      if (extra.cookies !== undefined) ptr(F['uprobe_multi.cookies'], u64Array(extra.cookies, 'cookie'));
      a.writeUInt32LE(count, F['uprobe_multi.cnt'].offset);
      putU32(a, F['uprobe_multi.flags'], extra.flags ?? 0, 'uprobe_multi flags');
      putU32(a, F['uprobe_multi.pid'], extra.pid ?? 0, 'uprobe_multi pid');
      break;
    }
    case 'netfilter':
      putU32(a, F['netfilter.pf'], extra.pf, 'netfilter pf');
      putU32(a, F['netfilter.hooknum'], extra.hooknum, 'netfilter hooknum');
      putS32(a, F['netfilter.priority'], extra.priority, 'netfilter priority');
      putU32(a, F['netfilter.flags'], extra.flags ?? 0, 'netfilter flags');
      break;
  }
  return keep;
}

/**
 * `BPF_LINK_CREATE`: attaches `progFd` to `target` (a cgroup, perf event, netns or map FD, an ifindex for
 * XDP/tcx/netkit, 0 for iterators and tracing) and returns the link FD (close-on-exec). `extra` carries the
 * fields of the attach kind.
 */
export function linkCreate(
  progFd: number,
  target: number,
  attachType: number,
  flags = 0,
  extra: LinkCreateExtra = { kind: 'none' },
): number {
  const F = LINK_CREATE_ATTR.fields;
  const a = createAttr.buf;
  a.fill(0);
  putU32(a, F.prog_fd, checkFd(progFd, 'program FD'), 'program FD');
  putU32(a, F.target_fd, checkU32(target, 'link target'), 'link target');
  putU32(a, F.attach_type, attachType, 'attach type');
  putU32(a, F.flags, flags, 'link flags');
  const keep = fillExtra(a, extra);
  const fd = bpf(
    BpfCmd.LINK_CREATE,
    a,
    LINK_CREATE_ATTR.size,
    `program fd ${progFd}, attach type ${attachType}`,
  );
  // Touched after the call so that the buffers the attr points at are certainly alive during it.
  keep.length = 0;
  return fd;
}

/** Options of {@link linkUpdate}. */
export interface LinkUpdateOptions {
  /** With `BPF_F_REPLACE` (4) in `flags`: only replace if this is the current program. */
  oldProgFd?: number;
  flags?: number;
}

const updateAttr = newAttrScratch(LINK_UPDATE_ATTR.size);

/** `BPF_LINK_UPDATE`: swaps the program behind a link. */
export function linkUpdate(linkFd: number, newProgFd: number, opts: LinkUpdateOptions = {}): void {
  const F = LINK_UPDATE_ATTR.fields;
  const a = updateAttr.buf;
  a.fill(0);
  putU32(a, F.link_fd, checkFd(linkFd, 'link FD'), 'link FD');
  putU32(a, F.new_prog_fd, checkFd(newProgFd, 'new program FD'), 'new program FD');
  putU32(a, F.flags, opts.flags ?? 0, 'link update flags');
  if (opts.oldProgFd !== undefined) putU32(a, F.old_prog_fd, checkFd(opts.oldProgFd, 'old program FD'), 'fd');
  bpf(BpfCmd.LINK_UPDATE, a, LINK_UPDATE_ATTR.size, `link fd ${linkFd}`);
}

const detachAttr = newAttrScratch(LINK_DETACH_ATTR.size);

/** `BPF_LINK_DETACH`: detaches a link from its hook; the FD stays open (and defunct) until closed. */
export function linkDetach(linkFd: number): void {
  const a = detachAttr.buf;
  a.fill(0);
  putU32(a, LINK_DETACH_ATTR.fields.link_fd, checkFd(linkFd, 'link FD'), 'link FD');
  bpf(BpfCmd.LINK_DETACH, a, LINK_DETACH_ATTR.size, `link fd ${linkFd}`);
}

const rawTpAttr = newAttrScratch(RAW_TRACEPOINT_ATTR.size);

/**
 * `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw tracepoint program to the tracepoint `name` (null for
 * `tp_btf`/tracing programs, whose target was fixed at load) and returns the link FD.
 */
export function rawTracepointOpen(name: string | null, progFd: number, cookie = 0n): number {
  const F = RAW_TRACEPOINT_ATTR.fields;
  const a = rawTpAttr.buf;
  a.fill(0);
  const text = name === null ? null : cString(name, 'tracepoint name');
  putPointer(a, F.name, text);
  putU32(a, F.prog_fd, checkFd(progFd, 'program FD'), 'program FD');
  putU64(a, F.cookie, cookie, 'cookie');
  return bpf(
    BpfCmd.RAW_TRACEPOINT_OPEN,
    a,
    RAW_TRACEPOINT_ATTR.size,
    `raw tracepoint ${name ?? '(from BTF)'}`,
  );
}

const iterAttr = newAttrScratch(ITER_CREATE_ATTR.size);

/** `BPF_ITER_CREATE`: a new readable FD that runs the iterator program of `linkFd` as it is read. */
export function iterCreate(linkFd: number): number {
  const a = iterAttr.buf;
  a.fill(0);
  putU32(a, ITER_CREATE_ATTR.fields.link_fd, checkFd(linkFd, 'link FD'), 'link FD');
  return bpf(BpfCmd.ITER_CREATE, a, ITER_CREATE_ATTR.size, `iterator link fd ${linkFd}`);
}
