/**
 * {@link BpfLink}: one attachment of a program, whatever the kernel mechanism behind it. Most are kernel
 * `bpf_link`s (an FD that keeps the program attached while it is open or pinned); a few hooks have no link
 * on some kernels or at all, and are represented here with the same `detach()` contract:
 * - `'perf_event_ioctl'`: a perf event with the program set by `PERF_EVENT_IOC_SET_BPF` (before Linux 5.15);
 * - `'prog_attach'`: `BPF_PROG_ATTACH` to a cgroup, sockmap or netns (undone by `BPF_PROG_DETACH`);
 * - `'socket_filter'`: `setsockopt(SO_ATTACH_BPF)` on a socket (undone by `SO_DETACH_BPF`);
 * - `'tc_filter'`: a cls_bpf filter added over rtnetlink (undone by `RTM_DELTFILTER`).
 *
 * @module
 */
import { unlinkSync } from 'node:fs';
import { BpfError, OptionError } from '../errors.js';
import type { BpfProgram } from './program.js';
import { closeFd } from './sys/fd.js';
import { type LinkInfo, linkInfo } from './sys/info.js';
import { type LinkType, linkTypeName } from './sys/kinds.js';
import { linkUpdate } from './sys/link.js';
import { objGet, objPin } from './sys/map.js';
import { type TcFilter, tcFilterDetach } from './sys/netlink.js';
import { perfEventDisable } from './sys/perf.js';
import { progDetach } from './sys/prog.js';
import { socketDetachBpf } from './sys/socket.js';

/** A kernel link type name, or how an attachment without a kernel link was made. */
export type BpfLinkType = LinkType | 'perf_event_ioctl' | 'prog_attach' | 'socket_filter' | 'tc_filter';

/**
 * @internal What a {@link BpfLink} holds and must release. Every FD here is owned by the link.
 */
export type Attachment =
  /** A kernel bpf_link; `perfFd` is the perf event under a perf link (kprobe, uprobe, tracepoint), else -1. */
  | { kind: 'link'; type: LinkType; fd: number; perfFd: number }
  | { kind: 'perf_event_ioctl'; perfFd: number }
  /** `progFd` is a duplicate of the program's FD, so detaching works after the object closed its own. */
  | { kind: 'prog_attach'; targetFd: number; progFd: number; attachType: number }
  /** The socket FD belongs to the caller; only the attachment is the link's. */
  | { kind: 'socket_filter'; socketFd: number }
  /** No FD: the filter is named by interface, hook, priority and handle. `ownsHook`: the attach made the qdisc. */
  | { kind: 'tc_filter'; filter: TcFilter; ownsHook: boolean };

/** Options of {@link BpfLink.update}. */
export interface LinkUpdateOptions {
  /** Replace only if this is the program attached now (`BPF_F_REPLACE`); fails with `EPERM` otherwise. */
  expected?: BpfProgram;
}

const BPF_F_REPLACE = 4;

/**
 * @internal The links made from one program (or struct_ops map) and not detached yet: its object's close()
 * detaches them.
 */
export class OwnedLinks {
  readonly #links = new Set<BpfLink>();

  add(link: BpfLink): void {
    this.#links.add(link);
  }

  delete(link: BpfLink): void {
    this.#links.delete(link);
  }

  /** Detaches every link still here. */
  detachAll(): void {
    for (const link of [...this.#links]) {
      try {
        link.detach();
      } catch {
        // Its FDs are closed either way; what failed is undoing a hook that is already gone (a deleted qdisc).
      }
    }
    this.#links.clear();
  }
}

/** @internal What a link can belong to. */
export interface LinkOwner {
  /** @internal */
  readonly ownedLinks: OwnedLinks;
}

/** An attached program. Detach with {@link detach} (or `using`); detaching twice is harmless. */
export class BpfLink implements Disposable {
  /** The kernel link type (`'xdp'`, `'perf_event'`, ...), or how a non-link attachment was made. */
  readonly type: BpfLinkType;
  /** What the program is attached to, for messages: `'tracepoint syscalls:sys_enter_getpid'`. */
  readonly target: string;
  #att: Attachment;
  #detached = false;
  #pinnedPath: string | undefined;
  readonly #owner: LinkOwner | undefined;

  /**
   * @internal Made by the attach functions, which hand over every FD in `attachment`. A link with an
   * `owner` (the program attached, or a struct_ops map) is detached when the owner's object closes.
   */
  constructor(attachment: Attachment, target: string, owner?: LinkOwner) {
    this.#att = attachment;
    this.type = attachment.kind === 'link' ? attachment.type : attachment.kind;
    this.target = target;
    this.#owner = owner;
    owner?.ownedLinks.add(this);
  }

  /**
   * Opens a link pinned at `path` on a BPF FS. The new object owns a fresh FD and knows the pin:
   * detaching it leaves the link attached through the pin; {@link unpin} removes the pin.
   */
  static fromPin(path: string): BpfLink {
    const fd = objGet(path);
    try {
      const info = linkInfo(fd);
      const type = linkTypeName(info.linkType);
      if (type.startsWith('unknown')) {
        throw new BpfError(`${path} holds a link of unknown type ${info.linkType}`, {
          code: 'EINVAL',
          command: 'BPF_OBJ_GET',
        });
      }
      const link = new BpfLink(
        { kind: 'link', type: type as LinkType, fd, perfFd: -1 },
        `pinned link ${path}`,
      );
      link.#pinnedPath = path;
      return link;
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** The bpf_link FD; -1 for attachments that are not kernel links, and after {@link detach}. */
  get fd(): number {
    return !this.#detached && this.#att.kind === 'link' ? this.#att.fd : -1;
  }

  /** The perf event FD under kprobe, uprobe, tracepoint and perf event attachments; else -1. */
  get perfFd(): number {
    if (this.#detached) return -1;
    const a = this.#att;
    return a.kind === 'link' || a.kind === 'perf_event_ioctl' ? a.perfFd : -1;
  }

  /** Whether {@link detach} has run. */
  get detached(): boolean {
    return this.#detached;
  }

  /** The path this object pinned the link at, until {@link unpin}. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /**
   * Detaches the program and closes every FD this link holds. Idempotent. A kernel link that is also
   * pinned stays attached through its pin until the pin is removed.
   */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#owner?.ownedLinks.delete(this);
    const a = this.#att;
    switch (a.kind) {
      case 'link':
        try {
          closeFd(a.fd);
        } finally {
          if (a.perfFd >= 0) closeFd(a.perfFd);
        }
        return;
      case 'perf_event_ioctl':
        try {
          perfEventDisable(a.perfFd);
        } finally {
          closeFd(a.perfFd);
        }
        return;
      case 'prog_attach':
        try {
          progDetach(a.targetFd, a.progFd, a.attachType);
        } catch (err) {
          // ENOENT: the attach point no longer holds the program (removed with its cgroup or map).
          if (!(err instanceof BpfError) || err.code !== 'ENOENT') throw err;
        } finally {
          closeFd(a.progFd);
          closeFd(a.targetFd);
        }
        return;
      case 'socket_filter':
        try {
          socketDetachBpf(a.socketFd);
        } catch (err) {
          // The socket was closed (the filter went with it) or its filter was already removed.
          if (!(err instanceof BpfError) || (err.code !== 'EBADF' && err.code !== 'ENOENT')) throw err;
        }
        return;
      case 'tc_filter':
        tcFilterDetach(a.filter, a.ownsHook);
        return;
    }
  }

  [Symbol.dispose](): void {
    this.detach();
  }

  /** Pins the link at `path` on a BPF FS, so that it outlives this process. Kernel links only. */
  pin(path: string): void {
    objPin(this.#linkFd('pin'), path);
    this.#pinnedPath = path;
  }

  /** Removes the pin made by {@link pin}. */
  unpin(): void {
    const path = this.#pinnedPath;
    if (path === undefined) {
      throw new BpfError(`link on ${this.target} is not pinned`, { code: 'ENOENT', command: 'unpin' });
    }
    try {
      unlinkSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new BpfError(`cannot unpin link at ${path}: ${code}`, { code, command: 'unpin', cause: err });
    }
    this.#pinnedPath = undefined;
  }

  /** Atomically swaps the attached program for `program` (`BPF_LINK_UPDATE`). Kernel links only. */
  update(program: BpfProgram, opts: LinkUpdateOptions = {}): void {
    const fd = this.#linkFd('update');
    const newFd = loadedFd(program, 'update a link with');
    if (opts.expected === undefined) {
      linkUpdate(fd, newFd);
    } else {
      linkUpdate(fd, newFd, { flags: BPF_F_REPLACE, oldProgFd: loadedFd(opts.expected, 'expect') });
    }
  }

  /** What the kernel reports about the link (`BPF_OBJ_GET_INFO_BY_FD`). Kernel links only. */
  info(): LinkInfo {
    return linkInfo(this.#linkFd('info'));
  }

  #linkFd(what: string): number {
    if (this.#detached) {
      throw new BpfError(`link on ${this.target} is detached`, { code: 'EBADF', command: what });
    }
    if (this.#att.kind !== 'link') {
      throw new OptionError(
        `${what}: the attachment on ${this.target} is a ${this.type} attachment, not a kernel link`,
        { option: 'link', code: 'EOPNOTSUPP' },
      );
    }
    return this.#att.fd;
  }
}

/** The FD of a loaded program; a clear error when it is not loaded. */
export function loadedFd(program: BpfProgram, what: string): number {
  if (program.fd < 0) {
    throw new BpfError(`cannot ${what} program '${program.name}': it is not loaded (call load() first)`, {
      code: 'EBADF',
      command: 'attach',
    });
  }
  return program.fd;
}
