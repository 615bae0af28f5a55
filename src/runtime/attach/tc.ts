/**
 * Classic tc: a `sched_cls` program as a direct-action `cls_bpf` filter on an interface's `clsact` qdisc,
 * set up over rtnetlink. This is the way to attach tc programs before Linux 6.6 (no tcx) and next to
 * filters other tools manage; on 6.6 and later, `attachTcx` gives a kernel link instead.
 *
 * The clsact qdisc: {@link attachTc} creates it when the interface has none, and the filter's link then
 * owns it: detaching deletes the qdisc again once no filter is left on either hook, so an interface is left
 * as it was found. A qdisc that was already there is never deleted by a detach; {@link destroyTcHook}
 * deletes one explicitly, with every filter on it.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import {
  type TcDirection,
  type TcFilter,
  tcBpfFilterAdd,
  tcClsactCreate,
  tcClsactDelete,
  withRouteSocket,
} from '../sys/netlink.js';
import { type Interface, ifindexOf } from './net.js';

export type { TcDirection } from '../sys/netlink.js';

/** Options of {@link attachTc}. */
export interface TcOptions {
  /**
   * Filter priority, 1 to 65535; filters with lower numbers run first. Default: the kernel picks one
   * that runs before every filter already on the hook.
   */
  priority?: number;
  /** Filter handle, 1 to 2^32 - 1, unique within a priority. Default: the kernel picks one. */
  handle?: number;
  /**
   * Replace the filter at `priority` and `handle` (both required) if there is one, instead of failing
   * with `EEXIST`.
   */
  replace?: boolean;
}

/** A cls_bpf filter attachment; `detach()` deletes exactly this filter. */
export class TcLink extends BpfLink {
  /** The interface index. */
  readonly ifindex: number;
  /** The clsact hook. */
  readonly direction: TcDirection;
  /** The filter's priority (given, or chosen by the kernel). */
  readonly priority: number;
  /** The filter's handle (given, or chosen by the kernel). */
  readonly handle: number;
  /** The id of the program the filter runs. */
  readonly programId: number;

  /** @internal Made by {@link attachTc}. */
  constructor(filter: TcFilter, ownsHook: boolean, program: BpfProgram) {
    super(
      { kind: 'tc_filter', filter, ownsHook },
      `tc ${filter.direction} on ifindex ${filter.ifindex} (priority ${filter.priority}, handle 0x${filter.handle.toString(16)})`,
      program,
    );
    this.ifindex = filter.ifindex;
    this.direction = filter.direction;
    this.priority = filter.priority;
    this.handle = filter.handle;
    this.programId = filter.progId;
  }
}

function checkRange(value: number | undefined, max: number, option: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new OptionError(`tc ${option} must be an integer from 1 to ${max}, got ${String(value)}`, {
      option,
    });
  }
  return value;
}

/**
 * Attaches a `sched_cls` program (`SEC("tc")`, `SEC("classifier")`, ...) to an interface's ingress or
 * egress as a direct-action cls_bpf filter, adding the clsact qdisc if the interface has none. The
 * program's return value is the packet's verdict (`TC_ACT_OK`, `TC_ACT_SHOT`, ...).
 *
 * Unlike a tcx link, the filter holds no FD of this process: it stays attached after the process exits,
 * until `detach()`, {@link destroyTcHook} or the interface's removal.
 */
export function attachTc(
  program: BpfProgram,
  iface: Interface,
  direction: TcDirection,
  opts: TcOptions = {},
): TcLink {
  if (direction !== 'ingress' && direction !== 'egress') {
    throw new OptionError(`tc direction must be 'ingress' or 'egress', got '${String(direction)}'`, {
      option: 'direction',
    });
  }
  if (program.type !== 'sched_cls') {
    throw new OptionError(
      `cannot attach program '${program.name}' as a tc filter: it is a ${program.type} program, and cls_bpf runs sched_cls programs`,
      { option: 'program' },
    );
  }
  const priority = checkRange(opts.priority, 0xffff, 'priority');
  const handle = checkRange(opts.handle, 0xffffffff, 'handle');
  const replace = opts.replace === true;
  if (replace && (priority === 0 || handle === 0)) {
    throw new OptionError('tc replace needs the priority and handle of the filter to replace', {
      option: 'replace',
    });
  }
  const progFd = loadedFd(program, 'attach');
  const ifindex = ifindexOf(iface);
  return withRouteSocket((sock) => {
    const created = tcClsactCreate(sock, ifindex);
    try {
      const filter = tcBpfFilterAdd(sock, {
        ifindex,
        direction,
        priority,
        handle,
        progFd,
        name: program.name,
        replace,
      });
      return new TcLink(filter, created, program);
    } catch (err) {
      if (created) tcClsactDelete(sock, ifindex);
      throw err;
    }
  });
}

/**
 * Deletes an interface's clsact qdisc and with it every tc filter on its ingress and egress, ours or not.
 * Returns false when the interface had none.
 */
export function destroyTcHook(iface: Interface): boolean {
  const ifindex = ifindexOf(iface);
  return withRouteSocket((sock) => tcClsactDelete(sock, ifindex));
}
