/**
 * Networking attachments: XDP and tcx links on an interface, netns links (sk_lookup, flow dissector),
 * socket filters, and sockmap/sockhash programs.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { BpfError, inContext, OptionError } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfMap } from '../map.js';
import type { BpfProgram } from '../program.js';
import { AttachFlag } from '../sys/consts.js';
import { closeFd, dupCloexec, O_RDONLY, openAt } from '../sys/fd.js';
import { type AttachType, AttachTypes } from '../sys/kinds.js';
import { linkCreate } from '../sys/link.js';
import { progAttach } from '../sys/prog.js';
import { socketAttachBpf } from '../sys/socket.js';

/** An interface by index, or by name in this process's network namespace. */
export type Interface = number | string;

/** The index of an interface given by index or name. */
export function ifindexOf(iface: Interface): number {
  if (typeof iface === 'number') {
    if (!Number.isInteger(iface) || iface <= 0) {
      throw new OptionError(`interface index must be a positive integer, got ${iface}`, {
        option: 'ifindex',
      });
    }
    return iface;
  }
  if (!/^[^/\0\s]{1,15}$/.test(iface)) {
    throw new OptionError(`'${iface}' is not a valid interface name`, { option: 'ifindex' });
  }
  try {
    return Number.parseInt(readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim(), 10);
  } catch {
    throw new BpfError(`no network interface '${iface}' in this network namespace`, {
      code: 'ENODEV',
      command: 'ifindex',
    });
  }
}

/** XDP attach modes (`XDP_FLAGS_SKB_MODE`, `_DRV_MODE`, `_HW_MODE`). */
const XDP_MODE = { skb: 2, drv: 4, hw: 8 } as const;

/** Options of {@link attachXdp}. */
export interface XdpOptions {
  /** Generic (`skb`), native driver (`drv`) or offloaded (`hw`); default: native when the driver has it. */
  mode?: keyof typeof XDP_MODE;
}

/**
 * Attaches an XDP program to an interface with an XDP link. To swap the program atomically later, use
 * the link's `update()`: the kernel does not take `XDP_FLAGS_REPLACE` for links.
 */
export function attachXdp(program: BpfProgram, iface: Interface, opts: XdpOptions = {}): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const ifindex = ifindexOf(iface);
  const flags = opts.mode === undefined ? 0 : XDP_MODE[opts.mode];
  if (flags === undefined) throw new OptionError(`unknown XDP mode '${opts.mode}'`, { option: 'mode' });
  const target = `xdp on ifindex ${ifindex}${opts.mode ? ` (${opts.mode} mode)` : ''}`;
  const fd = inContext(target, () => linkCreate(progFd, ifindex, AttachTypes.xdp, flags));
  return new BpfLink({ kind: 'link', type: 'xdp', fd, perfFd: -1 }, target, program);
}

/** A program or link to place a new one next to, or `'all'` for the very first or last place. */
export type Anchor = BpfProgram | BpfLink | 'all';

/** Where a tcx (or mprog cgroup) attachment goes among those already there. Default: last. */
export interface Placement {
  before?: Anchor;
  after?: Anchor;
  /** Fail with `ESTALE` unless the hook is at this revision. */
  expectedRevision?: bigint;
}

/** Flags and relative FD of a {@link Placement}. */
export function placement(p: Placement): { flags: number; relativeFdOrId: number; expectedRevision: bigint } {
  if (p.before !== undefined && p.after !== undefined) {
    throw new OptionError('give before or after, not both', { option: 'before' });
  }
  const anchor = p.before ?? p.after;
  let flags = p.before !== undefined ? AttachFlag.BEFORE : p.after !== undefined ? AttachFlag.AFTER : 0;
  let relativeFdOrId = 0;
  if (anchor instanceof BpfLink) {
    relativeFdOrId = anchor.fd;
    if (relativeFdOrId < 0)
      throw new OptionError(`anchor link on ${anchor.target} is not a live kernel link`, {
        option: 'before',
      });
    flags |= AttachFlag.LINK;
  } else if (anchor !== undefined && anchor !== 'all') {
    relativeFdOrId = loadedFd(anchor, 'place a program next to');
  }
  return { flags, relativeFdOrId, expectedRevision: p.expectedRevision ?? 0n };
}

/** Attaches a `tc`/`tcx` program to an interface's ingress or egress with a tcx link (Linux 6.6+). */
export function attachTcx(
  program: BpfProgram,
  iface: Interface,
  direction: 'ingress' | 'egress',
  opts: Placement = {},
): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const ifindex = ifindexOf(iface);
  const { flags, relativeFdOrId, expectedRevision } = placement(opts);
  const target = `tcx ${direction} on ifindex ${ifindex}`;
  const attachType = direction === 'ingress' ? AttachTypes.tcx_ingress : AttachTypes.tcx_egress;
  const fd = inContext(target, () =>
    linkCreate(progFd, ifindex, attachType, flags, { kind: 'tcx', relativeFdOrId, expectedRevision }),
  );
  return new BpfLink({ kind: 'link', type: 'tcx', fd, perfFd: -1 }, target, program);
}

/**
 * Attaches a program to a network namespace (`sk_lookup`, `flow_dissector`) with a netns link. `netns` is
 * a namespace file (`/proc/self/ns/net`, `/run/netns/<name>`) or an open FD of one.
 */
export function attachNetns(program: BpfProgram, netns: string | number, attachType?: AttachType): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const type = attachType ?? program.expectedAttachType;
  if (type === undefined) {
    throw new OptionError(`program '${program.name}' has no expected attach type; name one`, {
      option: 'attachType',
    });
  }
  const target = `${type} on netns ${netns}`;
  const fd = inContext(target, () => {
    const nsFd = typeof netns === 'number' ? netns : openAt(netns, O_RDONLY);
    try {
      return linkCreate(progFd, nsFd, AttachTypes[type], 0);
    } finally {
      if (typeof netns !== 'number') closeFd(nsFd);
    }
  });
  return new BpfLink({ kind: 'link', type: 'netns', fd, perfFd: -1 }, target, program);
}

/** Attaches an `sk_lookup` program to a network namespace (see {@link attachNetns}). */
export function attachSkLookup(program: BpfProgram, netns: string | number): BpfLink {
  return attachNetns(program, netns, 'sk_lookup');
}

/**
 * Runs a `socket` (socket filter) program on every packet `socketFd` receives (`SO_ATTACH_BPF`). The
 * socket stays the caller's; `detach()` removes the filter (`SO_DETACH_BPF`). Closing the socket first is
 * fine, but do not detach after its FD number was reused for another socket.
 */
export function attachSocketFilter(program: BpfProgram, socketFd: number): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const target = `socket fd ${socketFd}`;
  inContext(target, () => socketAttachBpf(socketFd, progFd));
  return new BpfLink({ kind: 'socket_filter', socketFd }, target, program);
}

/**
 * Attaches an `sk_skb` or `sk_msg` program to a sockmap or sockhash (`BPF_PROG_ATTACH`). The link keeps
 * duplicates of the map and program FDs so that it can detach after the object is closed.
 */
export function attachSockmap(program: BpfProgram, map: BpfMap | number, attachType?: AttachType): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const type = attachType ?? program.expectedAttachType;
  if (type === undefined) {
    throw new OptionError(`program '${program.name}' has no expected attach type; name one`, {
      option: 'attachType',
    });
  }
  const mapFd = typeof map === 'number' ? map : map.fd;
  const target = `${type} on ${typeof map === 'number' ? `map fd ${map}` : `map '${map.name}'`}`;
  if (mapFd < 0) throw new OptionError(`${target}: the map is not loaded`, { option: 'map' });
  const targetFd = dupCloexec(mapFd);
  let ownProg = -1;
  try {
    ownProg = dupCloexec(progFd);
    inContext(target, () => progAttach(targetFd, progFd, AttachTypes[type]));
    return new BpfLink(
      { kind: 'prog_attach', targetFd, progFd: ownProg, attachType: AttachTypes[type] },
      target,
      program,
    );
  } catch (err) {
    if (ownProg >= 0) closeFd(ownProg);
    closeFd(targetFd);
    throw err;
  }
}
