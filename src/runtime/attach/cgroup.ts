/**
 * cgroup attachments (cgroup_skb, cgroup_sock, sock_addr, sockopt, sysctl, device, sock_ops, lsm_cgroup):
 * a cgroup link where the kernel has them (Linux 5.7+), else `BPF_PROG_ATTACH`.
 *
 * @module
 */
import { BpfError, OptionError, withContext } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { AttachFlag } from '../sys/consts.js';
import { closeFd, dupCloexec, O_DIRECTORY, O_RDONLY, openAt } from '../sys/fd.js';
import { type AttachType, AttachTypes } from '../sys/kinds.js';
import { linkCreate } from '../sys/link.js';
import { progAttach } from '../sys/prog.js';
import { type Placement, placement } from './net.js';

/** Options of {@link attachCgroup}. */
export interface CgroupOptions extends Placement {
  /**
   * `'link'` (default): a cgroup link, falling back to `BPF_PROG_ATTACH` when the kernel has no cgroup
   * links; `'attach'`: `BPF_PROG_ATTACH` only (the attachment then lasts until detached, even past exit).
   */
  method?: 'link' | 'attach';
  /** `BPF_PROG_ATTACH` flags (`AttachFlag`); default `ALLOW_MULTI`. Links take placement flags instead. */
  attachFlags?: number;
}

/**
 * Attaches a cgroup program to a cgroup v2 directory (or an open FD of one). `attachType` defaults to the
 * program's expected attach type (`cgroup_skb/egress` gives `cgroup_inet_egress`).
 */
export function attachCgroup(
  program: BpfProgram,
  cgroup: string | number,
  attachType?: AttachType,
  opts: CgroupOptions = {},
): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const type = attachType ?? program.expectedAttachType;
  if (type === undefined) {
    throw new OptionError(
      `program '${program.name}' (section '${program.sectionName}') has no expected attach type; name one (e.g. 'cgroup_inet_ingress')`,
      { option: 'attachType' },
    );
  }
  const typeValue = AttachTypes[type];
  const target = `${type} on cgroup ${cgroup}`;
  const cgFd = typeof cgroup === 'number' ? dupCloexec(cgroup) : openCgroup(cgroup, target);
  let handedOver = false;
  try {
    if (opts.method !== 'attach') {
      const { flags, relativeFdOrId, expectedRevision } = placement(opts);
      try {
        const fd = linkCreate(progFd, cgFd, typeValue, flags, {
          kind: 'cgroup',
          relativeFdOrId,
          expectedRevision,
        });
        return new BpfLink({ kind: 'link', type: 'cgroup', fd, perfFd: -1 }, target, program);
      } catch (err) {
        // Kernels before cgroup links reject the command's attach type with EINVAL; retry the old way.
        if (!(err instanceof BpfError) || err.code !== 'EINVAL' || flags !== 0)
          throw withContext(err, target);
        const legacy = tryProgAttach(program, progFd, cgFd, typeValue, opts.attachFlags, target);
        if (legacy === undefined) throw withContext(err, target);
        handedOver = true;
        return legacy;
      }
    }
    const legacy = progAttachLink(program, progFd, cgFd, typeValue, opts.attachFlags, target);
    handedOver = true;
    return legacy;
  } finally {
    if (!handedOver) closeFd(cgFd);
  }
}

function openCgroup(path: string, target: string): number {
  try {
    return openAt(path, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    throw withContext(err, target);
  }
}

function tryProgAttach(
  program: BpfProgram,
  progFd: number,
  cgFd: number,
  type: number,
  flags: number | undefined,
  target: string,
): BpfLink | undefined {
  try {
    return progAttachLink(program, progFd, cgFd, type, flags, target);
  } catch {
    return undefined;
  }
}

/** `BPF_PROG_ATTACH`; on success the link owns `cgFd` and a duplicate of the program FD. */
function progAttachLink(
  program: BpfProgram,
  progFd: number,
  cgFd: number,
  type: number,
  flags: number | undefined,
  target: string,
): BpfLink {
  const ownProg = dupCloexec(progFd);
  try {
    progAttach(cgFd, progFd, type, { flags: flags ?? AttachFlag.ALLOW_MULTI });
  } catch (err) {
    closeFd(ownProg);
    throw withContext(err, target);
  }
  return new BpfLink(
    { kind: 'prog_attach', targetFd: cgFd, progFd: ownProg, attachType: type },
    target,
    program,
  );
}
