/**
 * rtnetlink (`NETLINK_ROUTE`) for classic tc: a netlink socket, request framing (`struct nlmsghdr`,
 * `struct tcmsg` and attribute TLVs), acks turned into typed errors that carry the kernel's extended-ack
 * message, and the few tc requests bpf-skel makes: the `clsact` qdisc and `cls_bpf` filters on it.
 *
 * Struct layouts and enum values are those of Linux 6.18's BTF (checked against the running kernel by
 * `test/attach-tc.test.ts`); the values that are C macros (`NLM_F_*`, `TC_H_*`, `NETLINK_EXT_ACK`,
 * `TCA_BPF_FLAG_ACT_DIRECT`) come from the UAPI headers linux/netlink.h, pkt_sched.h and pkt_cls.h.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import type { StructLayout } from './attr.js';
import { Errno, errnoDescription, errnoName, syscallFailure } from './errno.js';
import { closeFd } from './fd.js';
import { cBind, cRecv, cSendto, cSocket, errno } from './libc.js';
import { SOCK_CLOEXEC, setSockOptInt } from './socket.js';

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
/** Linux's errno for a socket option the kernel does not know. */
const ENOPROTOOPT = 92;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;

function layout<const F extends Record<string, readonly [number, number]>>(
  struct: string,
  size: number,
  spec: F,
): StructLayout<keyof F & string> {
  const fields: Record<string, { offset: number; size: number }> = {};
  for (const [name, [offset, width]] of Object.entries(spec)) fields[name] = { offset, size: width };
  return { struct, size, fields: fields as StructLayout<keyof F & string>['fields'] };
}

/** The netlink structs this module reads and writes. */
export const NETLINK_LAYOUTS = {
  nlmsghdr: layout('nlmsghdr', 16, {
    nlmsg_len: [0, 4],
    nlmsg_type: [4, 2],
    nlmsg_flags: [6, 2],
    nlmsg_seq: [8, 4],
    nlmsg_pid: [12, 4],
  }),
  tcmsg: layout('tcmsg', 20, {
    tcm_family: [0, 1],
    tcm_ifindex: [4, 4],
    tcm_handle: [8, 4],
    tcm_parent: [12, 4],
    tcm_info: [16, 4],
  }),
  nlmsgerr: layout('nlmsgerr', 20, { error: [0, 4], msg: [4, 16] }),
  sockaddr_nl: layout('sockaddr_nl', 12, { nl_family: [0, 2], nl_pid: [4, 4], nl_groups: [8, 4] }),
  rtattr: layout('rtattr', 4, { rta_len: [0, 2], rta_type: [2, 2] }),
} as const;

/** Kernel enumerators used here, under their kernel names. */
export const NETLINK_ENUMS = {
  RTM_NEWQDISC: 36,
  RTM_DELQDISC: 37,
  RTM_NEWTFILTER: 44,
  RTM_DELTFILTER: 45,
  RTM_GETTFILTER: 46,
  TCA_KIND: 1,
  TCA_OPTIONS: 2,
  TCA_BPF_FD: 6,
  TCA_BPF_NAME: 7,
  TCA_BPF_FLAGS: 8,
  TCA_BPF_ID: 11,
  NLMSGERR_ATTR_MSG: 1,
} as const;
const E = NETLINK_ENUMS;

/** `NLM_F_*` request flags (linux/netlink.h). */
export const NlmF = {
  REQUEST: 0x1,
  ACK: 0x4,
  ECHO: 0x8,
  /** `NLM_F_ROOT | NLM_F_MATCH`. */
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
} as const;
/** In an ack: the request's payload was left out (`NLM_F_CAPPED`). */
const NLM_F_CAPPED = 0x100;
/** In an ack: extended-ack attributes follow (`NLM_F_ACK_TLVS`). */
const NLM_F_ACK_TLVS = 0x200;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

const HDR = NETLINK_LAYOUTS.nlmsghdr;
const H = HDR.fields;
const TCM = NETLINK_LAYOUTS.tcmsg.fields;
const ERR = NETLINK_LAYOUTS.nlmsgerr;
/** Attribute type bits that are flags (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`), not the type. */
const NLA_TYPE_MASK = 0x3fff;
/** Big enough for any one message the kernel sends here: it sizes dump parts to at most 32 KiB. */
const RECV_SIZE = 65536;

const align4 = (n: number): number => (n + 3) & ~3;

/** A netlink attribute to send: raw bytes or nested attributes. */
export type NlAttr = { type: number; value: Uint8Array } | { type: number; nested: readonly NlAttr[] };

/** A `u32` attribute. */
export function u32Attr(type: number, value: number): NlAttr {
  const value4 = new Uint8Array(4);
  new DataView(value4.buffer).setUint32(0, value, true);
  return { type, value: value4 };
}

/** A NUL-terminated string attribute. */
export function stringAttr(type: number, text: string): NlAttr {
  return { type, value: Buffer.from(`${text}\0`, 'utf8') };
}

function attrsSize(attrs: readonly NlAttr[]): number {
  let size = 0;
  for (const a of attrs) size += align4(4 + ('nested' in a ? attrsSize(a.nested) : a.value.length));
  return size;
}

function writeAttrs(bytes: Uint8Array, view: DataView, at: number, attrs: readonly NlAttr[]): number {
  let offset = at;
  for (const a of attrs) {
    const start = offset;
    offset += 4;
    if ('nested' in a) {
      offset = writeAttrs(bytes, view, offset, a.nested);
    } else {
      bytes.set(a.value, offset);
      offset += a.value.length;
    }
    const len = offset - start;
    if (len > 0xffff) throw new BpfError(`netlink attribute ${a.type} is too long`, { code: 'E2BIG' });
    view.setUint16(start, len, true);
    view.setUint16(start + 2, a.type, true);
    offset = align4(offset);
  }
  return offset;
}

/** The attributes in `bytes` by type (the last one wins on repeats); stops at a malformed one. */
export function parseAttrs(bytes: Uint8Array): Map<number, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<number, Uint8Array>();
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const len = view.getUint16(offset, true);
    if (len < 4 || offset + len > bytes.length) break;
    out.set(view.getUint16(offset + 2, true) & NLA_TYPE_MASK, bytes.subarray(offset + 4, offset + len));
    offset += align4(len);
  }
  return out;
}

function attrString(value: Uint8Array | undefined): string | undefined {
  if (value === undefined) return undefined;
  const end = value.indexOf(0);
  return Buffer.from(value.buffer, value.byteOffset, end < 0 ? value.length : end).toString('utf8');
}

function attrU32(value: Uint8Array | undefined): number | undefined {
  if (value === undefined || value.length < 4) return undefined;
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
}

/** One rtnetlink request. `NLM_F_REQUEST` is always set. */
export interface NlRequest {
  /** The message type (`RTM_*`). */
  type: number;
  /** `NLM_F_*` flags besides `NLM_F_REQUEST`. */
  flags: number;
  /** The family header after `struct nlmsghdr` (a `struct tcmsg` here). */
  header: Uint8Array;
  attrs?: readonly NlAttr[];
  /** What the request is about, for error messages: `'cls_bpf filter on ifindex 4 ingress'`. */
  what: string;
}

/** A message the kernel sent in answer to a request (acks and dump ends are consumed). */
export interface NlMessage {
  type: number;
  flags: number;
  /** Everything after `struct nlmsghdr`. */
  body: Uint8Array;
}

const TYPE_NAMES = new Map<number, string>(
  Object.entries(E)
    .filter(([name]) => name.startsWith('RTM_'))
    .map(([name, value]) => [value, name]),
);
const typeName = (type: number): string => TYPE_NAMES.get(type) ?? `message type ${type}`;

/** The error of a failed request; `detail` is the kernel's extended-ack message or what went wrong here. */
function requestFailure(req: NlRequest, err: number, detail: string | undefined): BpfError {
  const code = errnoName(err);
  const name = typeName(req.type);
  const reason = detail === undefined || detail === '' ? '' : `: ${detail}`;
  return new BpfError(`netlink ${name} (${req.what}) failed: ${code} (${errnoDescription(err)})${reason}`, {
    code,
    errno: err,
    command: `netlink ${name}`,
  });
}

/** The extended-ack message of an `NLMSG_ERROR` body (a `struct nlmsgerr`, then maybe the request, then TLVs). */
function ackMessage(body: Uint8Array, flags: number): string | undefined {
  if ((flags & NLM_F_ACK_TLVS) === 0 || body.length < ERR.size) return undefined;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const echoed = view.getUint32(ERR.fields.msg.offset + H.nlmsg_len.offset, true);
  const tlvs = (flags & NLM_F_CAPPED) !== 0 ? ERR.size : ERR.fields.msg.offset + align4(echoed);
  if (tlvs > body.length) return undefined;
  return attrString(parseAttrs(body.subarray(tlvs)).get(E.NLMSGERR_ATTR_MSG));
}

/**
 * An open `NETLINK_ROUTE` socket bound to a kernel-assigned port, with extended acks on. Requests are
 * answered within `sendto()` (and dump parts within `recv()`), so replies are read without blocking: a
 * missing reply is an error, never a hang.
 */
export class RouteSocket implements Disposable {
  readonly fd: number;
  #seq = 0;
  readonly #buf = new Uint8Array(RECV_SIZE);
  readonly #view = new DataView(this.#buf.buffer);
  readonly #kernel = new Uint8Array(NETLINK_LAYOUTS.sockaddr_nl.size);

  constructor() {
    const fd = cSocket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw syscallFailure('socket', errno(), 'AF_NETLINK, NETLINK_ROUTE');
    this.fd = fd;
    try {
      // Extended acks (4.12+) name the cause of an error; capped acks (4.3+) leave the request out of them.
      for (const [opt, name] of [
        [NETLINK_EXT_ACK, 'NETLINK_EXT_ACK'],
        [NETLINK_CAP_ACK, 'NETLINK_CAP_ACK'],
      ] as const) {
        try {
          setSockOptInt(fd, SOL_NETLINK, opt, 1, name);
        } catch (err) {
          if (!(err instanceof BpfError) || err.errno !== ENOPROTOOPT) throw err;
        }
      }
      new DataView(this.#kernel.buffer).setUint16(
        NETLINK_LAYOUTS.sockaddr_nl.fields.nl_family.offset,
        AF_NETLINK,
        true,
      );
      // Port 0: the kernel assigns this socket a unique port id.
      if (cBind(fd, this.#kernel, this.#kernel.length) < 0) {
        throw syscallFailure('bind', errno(), 'netlink socket');
      }
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /**
   * Sends `req` and returns what the kernel answered before its ack (or, for `NLM_F_DUMP`, every message
   * of the dump). A negative ack becomes a {@link BpfError} with the errno's name as `code`, `command`
   * `'netlink RTM_...'` and the kernel's extended-ack message in the text.
   */
  request(req: NlRequest): NlMessage[] {
    this.#seq = (this.#seq + 1) >>> 0;
    const seq = this.#seq;
    const attrs = req.attrs ?? [];
    const len = HDR.size + align4(req.header.length) + attrsSize(attrs);
    const bytes = new Uint8Array(len);
    const view = new DataView(bytes.buffer);
    view.setUint32(H.nlmsg_len.offset, len, true);
    view.setUint16(H.nlmsg_type.offset, req.type, true);
    view.setUint16(H.nlmsg_flags.offset, NlmF.REQUEST | req.flags, true);
    view.setUint32(H.nlmsg_seq.offset, seq, true);
    bytes.set(req.header, HDR.size);
    writeAttrs(bytes, view, HDR.size + align4(req.header.length), attrs);
    if (cSendto(this.fd, bytes, len, 0, this.#kernel, this.#kernel.length) < 0) {
      throw requestFailure(req, errno(), 'sendto failed');
    }
    const dump = (req.flags & NlmF.DUMP) === NlmF.DUMP;
    const out: NlMessage[] = [];
    for (;;) {
      const n = cRecv(this.fd, this.#buf, RECV_SIZE, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        const e = errno();
        if (e === Errno.EINTR) continue;
        throw requestFailure(req, e, e === Errno.EAGAIN ? 'the kernel sent no reply' : 'recv failed');
      }
      if (n > RECV_SIZE) throw requestFailure(req, Errno.E2BIG, `a ${n}-byte reply did not fit`);
      if (this.#take(req, seq, n, dump, out)) return out;
    }
  }

  /** Reads the messages in the first `n` bytes of the buffer into `out`; true when the reply is complete. */
  #take(req: NlRequest, seq: number, n: number, dump: boolean, out: NlMessage[]): boolean {
    const view = this.#view;
    let offset = 0;
    while (offset + HDR.size <= n) {
      const len = view.getUint32(offset + H.nlmsg_len.offset, true);
      if (len < HDR.size || offset + len > n) {
        throw requestFailure(req, Errno.EIO, `malformed reply message at byte ${offset}`);
      }
      const type = view.getUint16(offset + H.nlmsg_type.offset, true);
      const flags = view.getUint16(offset + H.nlmsg_flags.offset, true);
      const ours = view.getUint32(offset + H.nlmsg_seq.offset, true) === seq;
      const body = this.#buf.slice(offset + HDR.size, offset + len);
      offset += align4(len);
      // Left over from an earlier request that failed half way: not ours.
      if (!ours) continue;
      if (type === NLMSG_ERROR || (type === NLMSG_DONE && dump)) {
        const err = body.length >= 4 ? -new DataView(body.buffer).getInt32(0, true) : 0;
        if (err !== 0) {
          const extack = type === NLMSG_ERROR ? ackMessage(body, flags) : doneMessage(body, flags);
          throw requestFailure(req, err, extack);
        }
        if (type === NLMSG_DONE || !dump) return true;
        continue;
      }
      out.push({ type, flags, body });
    }
    return false;
  }

  /** Closes the socket. */
  close(): void {
    closeFd(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The extended-ack message of a failed dump's `NLMSG_DONE` (an `int` error, then TLVs). */
function doneMessage(body: Uint8Array, flags: number): string | undefined {
  if ((flags & NLM_F_ACK_TLVS) === 0) return undefined;
  return attrString(parseAttrs(body.subarray(4)).get(E.NLMSGERR_ATTR_MSG));
}

/** Runs `fn` with a fresh {@link RouteSocket}, closed afterwards. */
export function withRouteSocket<T>(fn: (sock: RouteSocket) => T): T {
  const sock = new RouteSocket();
  try {
    return fn(sock);
  } finally {
    sock.close();
  }
}

/** `TC_H_CLSACT` (the same as `TC_H_INGRESS`): the parent the clsact qdisc sits at. */
const TC_H_CLSACT = 0xfffffff1;
/** The clsact qdisc's own handle, `ffff:`. */
const CLSACT_HANDLE = 0xffff0000;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
/** `htons(ETH_P_ALL)` as a little-endian `u16`: filters here see every protocol. */
const ETH_P_ALL_BE16 = 0x0300;
const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** Which clsact hook: packets arriving on or leaving the interface. */
export type TcDirection = 'ingress' | 'egress';

/** The parent id of a clsact hook (`ffff:fff2` for ingress, `ffff:fff3` for egress). */
export function tcParent(direction: TcDirection): number {
  return (CLSACT_HANDLE | (direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)) >>> 0;
}

function tcmsg(ifindex: number, parent: number, handle: number, info: number): Uint8Array {
  const bytes = new Uint8Array(NETLINK_LAYOUTS.tcmsg.size);
  const view = new DataView(bytes.buffer);
  // tcm_family stays AF_UNSPEC.
  view.setInt32(TCM.tcm_ifindex.offset, ifindex, true);
  view.setUint32(TCM.tcm_handle.offset, handle, true);
  view.setUint32(TCM.tcm_parent.offset, parent, true);
  view.setUint32(TCM.tcm_info.offset, info, true);
  return bytes;
}

/** `tcm_info` of a filter: priority in the upper half, protocol (network order) in the lower. */
const filterInfo = (priority: number): number => ((priority << 16) | ETH_P_ALL_BE16) >>> 0;

/** A cls_bpf filter as the kernel identifies it: interface, hook, priority and handle. */
export interface TcFilter {
  readonly ifindex: number;
  readonly direction: TcDirection;
  readonly priority: number;
  readonly handle: number;
  /** The id of the program the filter runs. */
  readonly progId: number;
}

/**
 * Errors that mean a qdisc or filter is no longer there: it was deleted (`ENOENT`), the qdisc a filter
 * was on was (`EINVAL`, "Parent Qdisc doesn't exists") or the interface was (`ENODEV`).
 */
const GONE = new Set(['ENOENT', 'EINVAL', 'ENODEV']);

const clsactRequest = (type: number, flags: number, ifindex: number): NlRequest => ({
  type,
  flags,
  header: tcmsg(ifindex, TC_H_CLSACT, CLSACT_HANDLE, 0),
  attrs: [stringAttr(E.TCA_KIND, 'clsact')],
  what: `clsact qdisc on ifindex ${ifindex}`,
});

/**
 * Adds the clsact qdisc to an interface. Returns false when the interface already has one (or an
 * `ingress` qdisc, which takes the same place).
 */
export function tcClsactCreate(sock: RouteSocket, ifindex: number): boolean {
  try {
    sock.request(clsactRequest(E.RTM_NEWQDISC, NlmF.ACK | NlmF.CREATE | NlmF.EXCL, ifindex));
    return true;
  } catch (err) {
    if (err instanceof BpfError && err.code === 'EEXIST') return false;
    throw err;
  }
}

/** Deletes the clsact qdisc of an interface, with every filter on it. Returns false when it had none. */
export function tcClsactDelete(sock: RouteSocket, ifindex: number): boolean {
  try {
    sock.request(clsactRequest(E.RTM_DELQDISC, NlmF.ACK, ifindex));
    return true;
  } catch (err) {
    // The kernel answers EINVAL ("Invalid handle") when the place holds no qdisc, ENOENT on older kernels;
    // ENODEV when the interface is gone, and its qdiscs with it.
    if (err instanceof BpfError && GONE.has(err.code)) return false;
    throw err;
  }
}

/** What {@link tcBpfFilterAdd} needs. `priority` and `handle` 0 let the kernel choose. */
export interface TcFilterRequest {
  ifindex: number;
  direction: TcDirection;
  priority: number;
  handle: number;
  progFd: number;
  /** Shown by `tc filter show` as the filter's name. */
  name: string;
  /** Replace the filter at `priority`/`handle` if there is one (else fail with `EEXIST`). */
  replace: boolean;
}

const filterWhat = (f: { ifindex: number; direction: TcDirection }): string =>
  `cls_bpf filter on ifindex ${f.ifindex} ${f.direction}`;

/** The filter a `RTM_NEWTFILTER` message describes, if it is a cls_bpf one. */
function parseFilter(msg: NlMessage, direction: TcDirection): TcFilter | undefined {
  if (msg.type !== E.RTM_NEWTFILTER || msg.body.length < NETLINK_LAYOUTS.tcmsg.size) return undefined;
  const view = new DataView(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength);
  const attrs = parseAttrs(msg.body.subarray(align4(NETLINK_LAYOUTS.tcmsg.size)));
  if (attrString(attrs.get(E.TCA_KIND)) !== 'bpf') return undefined;
  const options = attrs.get(E.TCA_OPTIONS);
  const progId = options === undefined ? undefined : attrU32(parseAttrs(options).get(E.TCA_BPF_ID));
  if (progId === undefined) return undefined;
  return {
    ifindex: view.getInt32(TCM.tcm_ifindex.offset, true),
    direction,
    priority: view.getUint32(TCM.tcm_info.offset, true) >>> 16,
    handle: view.getUint32(TCM.tcm_handle.offset, true),
    progId,
  };
}

/**
 * Adds a direct-action cls_bpf filter running `progFd` at a clsact hook. The kernel echoes the filter it
 * made (`NLM_F_ECHO`), which gives the priority and handle it chose exactly, even when another filter runs
 * the same program.
 */
export function tcBpfFilterAdd(sock: RouteSocket, f: TcFilterRequest): TcFilter {
  const req: NlRequest = {
    type: E.RTM_NEWTFILTER,
    flags: NlmF.ACK | NlmF.ECHO | NlmF.CREATE | (f.replace ? NlmF.REPLACE : NlmF.EXCL),
    header: tcmsg(f.ifindex, tcParent(f.direction), f.handle, filterInfo(f.priority)),
    attrs: [
      stringAttr(E.TCA_KIND, 'bpf'),
      {
        type: E.TCA_OPTIONS,
        nested: [
          u32Attr(E.TCA_BPF_FD, f.progFd),
          stringAttr(E.TCA_BPF_NAME, f.name),
          u32Attr(E.TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT),
        ],
      },
    ],
    what: filterWhat(f),
  };
  for (const msg of sock.request(req)) {
    const filter = parseFilter(msg, f.direction);
    if (filter !== undefined) return filter;
  }
  throw requestFailure(req, Errno.EIO, 'the kernel did not echo the new filter');
}

const filterRequest = (type: number, f: TcFilter): NlRequest => ({
  type,
  flags: NlmF.ACK,
  header: tcmsg(f.ifindex, tcParent(f.direction), f.handle, filterInfo(f.priority)),
  attrs: [stringAttr(E.TCA_KIND, 'bpf')],
  what: `${filterWhat(f)}, priority ${f.priority}, handle 0x${f.handle.toString(16)}`,
});

/** The filter at `f`'s interface, hook, priority and handle now, or undefined when there is none. */
export function tcBpfFilterGet(sock: RouteSocket, f: TcFilter): TcFilter | undefined {
  try {
    for (const msg of sock.request(filterRequest(E.RTM_GETTFILTER, f))) {
      const found = parseFilter(msg, f.direction);
      if (found !== undefined) return found;
    }
    return undefined;
  } catch (err) {
    if (err instanceof BpfError && GONE.has(err.code)) return undefined;
    throw err;
  }
}

/** Deletes filter `f`. Returns false when it was not there. */
export function tcBpfFilterDelete(sock: RouteSocket, f: TcFilter): boolean {
  try {
    sock.request(filterRequest(E.RTM_DELTFILTER, f));
    return true;
  } catch (err) {
    if (err instanceof BpfError && GONE.has(err.code)) return false;
    throw err;
  }
}

/** How many filters (of any kind) a clsact hook holds; 0 when the interface has no clsact qdisc. */
export function tcFilterCount(sock: RouteSocket, ifindex: number, direction: TcDirection): number {
  const messages = sock.request({
    type: E.RTM_GETTFILTER,
    flags: NlmF.DUMP,
    header: tcmsg(ifindex, tcParent(direction), 0, 0),
    what: `filters on ifindex ${ifindex} ${direction}`,
  });
  // The dump lists each classifier instance (handle 0) and then its filters; both mean "not empty".
  return messages.filter((m) => m.type === E.RTM_NEWTFILTER).length;
}

/**
 * Removes filter `f` if it still runs the program it was made with (a filter replaced since is left to
 * its new owner). With `dropHook`, then deletes the interface's clsact qdisc when no filter is left on
 * either hook.
 */
export function tcFilterDetach(f: TcFilter, dropHook: boolean): void {
  withRouteSocket((sock) => {
    if (tcBpfFilterGet(sock, f)?.progId === f.progId) tcBpfFilterDelete(sock, f);
    if (
      dropHook &&
      tcFilterCount(sock, f.ifindex, 'ingress') === 0 &&
      tcFilterCount(sock, f.ifindex, 'egress') === 0
    ) {
      tcClsactDelete(sock, f.ifindex);
    }
  });
}
