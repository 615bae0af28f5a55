/**
 * Introspection commands of bpf(): `BPF_OBJ_GET_INFO_BY_FD` decoded for programs, maps, links and BTF, and
 * the get-next-id / get-fd-by-id walks over the kernel's objects.
 *
 * @module
 */

import {
  BTF_INFO_LAYOUT,
  checkFd,
  type FieldLayout,
  LINK_INFO_LAYOUT,
  MAP_INFO_LAYOUT,
  newAttrScratch,
  OBJ_ID_ATTR,
  OBJ_INFO_ATTR,
  PROG_INFO_LAYOUT,
  putPointer,
  putU32,
  readCString,
} from './attr.js';
import { BpfCmd, type BpfCmdValue, bpf, bpfFailure, bpfRaw } from './bpf.js';
import { Errno } from './errno.js';
import { LinkTypes } from './kinds.js';

const infoAttr = newAttrScratch(OBJ_INFO_ATTR.size);

/**
 * `BPF_OBJ_GET_INFO_BY_FD` into `info` (zeroed or prepared by the caller). Returns the number of bytes the
 * kernel filled (less than `info.length` on older kernels).
 */
export function objGetInfo(fd: number, info: Uint8Array, what = `fd ${fd}`): number {
  const F = OBJ_INFO_ATTR.fields;
  const a = infoAttr.buf;
  a.fill(0);
  putU32(a, F.bpf_fd, checkFd(fd, 'FD'), 'FD');
  putU32(a, F.info_len, info.length, 'info length');
  putPointer(a, F.info, info);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, a, OBJ_INFO_ATTR.size, what);
  return a.readUInt32LE(F.info_len.offset);
}

function u32(buf: Buffer, f: FieldLayout): number {
  return buf.readUInt32LE(f.offset);
}

function u64(buf: Buffer, f: FieldLayout): bigint {
  return buf.readBigUInt64LE(f.offset);
}

function setPtr(buf: Buffer, f: FieldLayout, target: Uint8Array): void {
  putPointer(buf, f, target);
}

/** What the kernel reports about a loaded program. */
export interface ProgInfo {
  /** A {@link ProgType} value. */
  type: number;
  id: number;
  /** The program tag: SHA-1 prefix of the instructions, 16 hex digits. */
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** Load time, nanoseconds since boot. */
  loadTime: bigint;
  createdByUid: number;
  /** Ids of the maps the program uses. */
  mapIds: number[];
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  netnsDev: bigint;
  netnsIno: bigint;
  /** Id of the program's BTF object (0 without BTF). */
  btfId: number;
  funcInfoRecSize: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  /** With stats enabled: total run time and run count. */
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
}

/** `BPF_OBJ_GET_INFO_BY_FD` on a program. */
export function progInfo(fd: number): ProgInfo {
  const F = PROG_INFO_LAYOUT.fields;
  let capacity = 64;
  for (;;) {
    const buf = Buffer.alloc(PROG_INFO_LAYOUT.size);
    const ids = new Uint32Array(capacity);
    buf.writeUInt32LE(capacity, F.nr_map_ids.offset);
    setPtr(buf, F.map_ids, new Uint8Array(ids.buffer));
    objGetInfo(fd, buf, `program fd ${fd}`);
    const nrMapIds = u32(buf, F.nr_map_ids);
    if (nrMapIds > capacity) {
      capacity = nrMapIds;
      continue;
    }
    return {
      type: u32(buf, F.type),
      id: u32(buf, F.id),
      tag: buf.subarray(F.tag.offset, F.tag.offset + F.tag.size).toString('hex'),
      jitedProgLen: u32(buf, F.jited_prog_len),
      xlatedProgLen: u32(buf, F.xlated_prog_len),
      loadTime: u64(buf, F.load_time),
      createdByUid: u32(buf, F.created_by_uid),
      mapIds: Array.from(ids.subarray(0, nrMapIds)),
      name: readCString(buf, F.name.offset, F.name.size),
      ifindex: u32(buf, F.ifindex),
      gplCompatible: (u32(buf, F.gpl_compatible) & 1) === 1,
      netnsDev: u64(buf, F.netns_dev),
      netnsIno: u64(buf, F.netns_ino),
      btfId: u32(buf, F.btf_id),
      funcInfoRecSize: u32(buf, F.func_info_rec_size),
      nrFuncInfo: u32(buf, F.nr_func_info),
      nrLineInfo: u32(buf, F.nr_line_info),
      runTimeNs: u64(buf, F.run_time_ns),
      runCnt: u64(buf, F.run_cnt),
      recursionMisses: u64(buf, F.recursion_misses),
      verifiedInsns: u32(buf, F.verified_insns),
      attachBtfObjId: u32(buf, F.attach_btf_obj_id),
      attachBtfId: u32(buf, F.attach_btf_id),
    };
  }
}

/** What the kernel reports about a map. */
export interface MapInfo {
  /** A {@link MapType} value. */
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  netnsDev: bigint;
  netnsIno: bigint;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxId: number;
  mapExtra: bigint;
}

/** `BPF_OBJ_GET_INFO_BY_FD` on a map. */
export function mapInfo(fd: number): MapInfo {
  const F = MAP_INFO_LAYOUT.fields;
  const buf = Buffer.alloc(MAP_INFO_LAYOUT.size);
  objGetInfo(fd, buf, `map fd ${fd}`);
  return {
    type: u32(buf, F.type),
    id: u32(buf, F.id),
    keySize: u32(buf, F.key_size),
    valueSize: u32(buf, F.value_size),
    maxEntries: u32(buf, F.max_entries),
    mapFlags: u32(buf, F.map_flags),
    name: readCString(buf, F.name.offset, F.name.size),
    ifindex: u32(buf, F.ifindex),
    btfVmlinuxValueTypeId: u32(buf, F.btf_vmlinux_value_type_id),
    netnsDev: u64(buf, F.netns_dev),
    netnsIno: u64(buf, F.netns_ino),
    btfId: u32(buf, F.btf_id),
    btfKeyTypeId: u32(buf, F.btf_key_type_id),
    btfValueTypeId: u32(buf, F.btf_value_type_id),
    btfVmlinuxId: u32(buf, F.btf_vmlinux_id),
    mapExtra: u64(buf, F.map_extra),
  };
}

/** What the kernel reports about a BTF object. */
export interface BtfInfo {
  id: number;
  /** Bytes of raw BTF ({@link btfData} reads them). */
  btfSize: number;
  /** `'vmlinux'` or the module name for kernel BTF; `''` for BTF loaded by a program. */
  name: string;
  kernelBtf: boolean;
}

const NAME_CAPACITY = 4096;

/** `BPF_OBJ_GET_INFO_BY_FD` on a BTF object. */
export function btfInfo(fd: number): BtfInfo {
  const F = BTF_INFO_LAYOUT.fields;
  const buf = Buffer.alloc(BTF_INFO_LAYOUT.size);
  const name = Buffer.alloc(NAME_CAPACITY);
  setPtr(buf, F.name, name);
  buf.writeUInt32LE(name.length, F.name_len.offset);
  objGetInfo(fd, buf, `BTF fd ${fd}`);
  return {
    id: u32(buf, F.id),
    btfSize: u32(buf, F.btf_size),
    name: readCString(name, 0, name.length),
    kernelBtf: u32(buf, F.kernel_btf) !== 0,
  };
}

/** The raw BTF bytes of a BTF object (as uploaded, or the kernel's own for vmlinux and modules). */
export function btfData(fd: number): Uint8Array {
  const F = BTF_INFO_LAYOUT.fields;
  const size = btfInfo(fd).btfSize;
  const data = new Uint8Array(size);
  const buf = Buffer.alloc(BTF_INFO_LAYOUT.size);
  setPtr(buf, F.btf, data);
  buf.writeUInt32LE(size, F.btf_size.offset);
  objGetInfo(fd, buf, `BTF fd ${fd}`);
  return data;
}

/** Fields every link reports. */
interface LinkInfoCommon {
  /** The raw {@link LinkType} value. */
  linkType: number;
  id: number;
  progId: number;
}

/** What the kernel reports about a link, by link kind. Numbers not reported by the kernel are 0. */
export type LinkInfo = LinkInfoCommon &
  (
    | { kind: 'raw_tracepoint'; tpName: string; cookie: bigint }
    | { kind: 'tracing'; attachType: number; targetObjId: number; targetBtfId: number; cookie: bigint }
    | { kind: 'cgroup'; cgroupId: bigint; attachType: number }
    | { kind: 'iter'; targetName: string; mapId: number }
    | { kind: 'netns'; netnsIno: number; attachType: number }
    | { kind: 'xdp'; ifindex: number }
    | { kind: 'struct_ops'; mapId: number }
    | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
    | { kind: 'kprobe_multi'; count: number; flags: number; missed: bigint }
    | { kind: 'uprobe_multi'; path: string; count: number; flags: number; pid: number }
    | {
        kind: 'perf_event';
        /** `enum bpf_perf_event_type`: 1 uprobe, 2 uretprobe, 3 kprobe, 4 kretprobe, 5 tracepoint, 6 event. */
        eventType: number;
        /** Tracepoint, function or file name; `''` for plain perf events. */
        name: string;
        /** Probe offset (uprobe, kprobe). */
        offset: number;
        /** Kprobe address. */
        addr: bigint;
        /** For plain perf events: `perf_event_attr` type and config. */
        perfType: number;
        config: bigint;
        cookie: bigint;
      }
    | { kind: 'tcx'; ifindex: number; attachType: number }
    | { kind: 'netkit'; ifindex: number; attachType: number }
    | { kind: 'sockmap'; mapId: number; attachType: number }
    | { kind: 'unknown' }
  );

/** `BPF_OBJ_GET_INFO_BY_FD` on a link. */
export function linkInfo(fd: number): LinkInfo {
  const F = LINK_INFO_LAYOUT.fields;
  const buf = Buffer.alloc(LINK_INFO_LAYOUT.size);
  const what = `link fd ${fd}`;
  objGetInfo(fd, buf, what);
  const linkType = u32(buf, F.type);
  const common: LinkInfoCommon = { linkType, id: u32(buf, F.id), progId: u32(buf, F.prog_id) };
  const name = Buffer.alloc(NAME_CAPACITY);
  // Names come back only through a caller buffer whose slot depends on the link kind: ask again with one.
  const again = (ptr: FieldLayout, len: FieldLayout): void => {
    buf.fill(0);
    setPtr(buf, ptr, name);
    buf.writeUInt32LE(name.length, len.offset);
    objGetInfo(fd, buf, what);
  };
  const text = (): string => readCString(name, 0, name.length);
  switch (linkType) {
    case LinkTypes.raw_tracepoint:
      again(F['raw_tracepoint.tp_name'], F['raw_tracepoint.tp_name_len']);
      return {
        ...common,
        kind: 'raw_tracepoint',
        tpName: text(),
        cookie: u64(buf, F['raw_tracepoint.cookie']),
      };
    case LinkTypes.tracing:
      return {
        ...common,
        kind: 'tracing',
        attachType: u32(buf, F['tracing.attach_type']),
        targetObjId: u32(buf, F['tracing.target_obj_id']),
        targetBtfId: u32(buf, F['tracing.target_btf_id']),
        cookie: u64(buf, F['tracing.cookie']),
      };
    case LinkTypes.cgroup:
      return {
        ...common,
        kind: 'cgroup',
        cgroupId: u64(buf, F['cgroup.cgroup_id']),
        attachType: u32(buf, F['cgroup.attach_type']),
      };
    case LinkTypes.iter:
      again(F['iter.target_name'], F['iter.target_name_len']);
      return { ...common, kind: 'iter', targetName: text(), mapId: u32(buf, F['iter.map.map_id']) };
    case LinkTypes.netns:
      return {
        ...common,
        kind: 'netns',
        netnsIno: u32(buf, F['netns.netns_ino']),
        attachType: u32(buf, F['netns.attach_type']),
      };
    case LinkTypes.xdp:
      return { ...common, kind: 'xdp', ifindex: u32(buf, F['xdp.ifindex']) };
    case LinkTypes.struct_ops:
      return { ...common, kind: 'struct_ops', mapId: u32(buf, F['struct_ops.map_id']) };
    case LinkTypes.netfilter:
      return {
        ...common,
        kind: 'netfilter',
        pf: u32(buf, F['netfilter.pf']),
        hooknum: u32(buf, F['netfilter.hooknum']),
        priority: buf.readInt32LE(F['netfilter.priority'].offset),
        flags: u32(buf, F['netfilter.flags']),
      };
    case LinkTypes.kprobe_multi:
      return {
        ...common,
        kind: 'kprobe_multi',
        count: u32(buf, F['kprobe_multi.count']),
        flags: u32(buf, F['kprobe_multi.flags']),
        missed: u64(buf, F['kprobe_multi.missed']),
      };
    case LinkTypes.uprobe_multi:
      again(F['uprobe_multi.path'], F['uprobe_multi.path_size']);
      return {
        ...common,
        kind: 'uprobe_multi',
        path: text(),
        count: u32(buf, F['uprobe_multi.count']),
        flags: u32(buf, F['uprobe_multi.flags']),
        pid: u32(buf, F['uprobe_multi.pid']),
      };
    case LinkTypes.perf_event:
      return perfEventLinkInfo(buf, common, again, text);
    case LinkTypes.tcx:
      return {
        ...common,
        kind: 'tcx',
        ifindex: u32(buf, F['tcx.ifindex']),
        attachType: u32(buf, F['tcx.attach_type']),
      };
    case LinkTypes.netkit:
      return {
        ...common,
        kind: 'netkit',
        ifindex: u32(buf, F['netkit.ifindex']),
        attachType: u32(buf, F['netkit.attach_type']),
      };
    case LinkTypes.sockmap:
      return {
        ...common,
        kind: 'sockmap',
        mapId: u32(buf, F['sockmap.map_id']),
        attachType: u32(buf, F['sockmap.attach_type']),
      };
    default:
      return { ...common, kind: 'unknown' };
  }
}

const PERF_EVENT_UPROBE = 1;
const PERF_EVENT_URETPROBE = 2;
const PERF_EVENT_KPROBE = 3;
const PERF_EVENT_KRETPROBE = 4;
const PERF_EVENT_TRACEPOINT = 5;

function perfEventLinkInfo(
  buf: Buffer,
  common: LinkInfoCommon,
  again: (ptr: FieldLayout, len: FieldLayout) => void,
  text: () => string,
): LinkInfo {
  const F = LINK_INFO_LAYOUT.fields;
  const eventType = u32(buf, F['perf_event.type']);
  const base = {
    ...common,
    kind: 'perf_event' as const,
    eventType,
    offset: 0,
    addr: 0n,
    perfType: 0,
    config: 0n,
  };
  switch (eventType) {
    case PERF_EVENT_UPROBE:
    case PERF_EVENT_URETPROBE:
      again(F['perf_event.uprobe.file_name'], F['perf_event.uprobe.name_len']);
      return {
        ...base,
        name: text(),
        offset: u32(buf, F['perf_event.uprobe.offset']),
        cookie: u64(buf, F['perf_event.uprobe.cookie']),
      };
    case PERF_EVENT_KPROBE:
    case PERF_EVENT_KRETPROBE:
      again(F['perf_event.kprobe.func_name'], F['perf_event.kprobe.name_len']);
      return {
        ...base,
        name: text(),
        offset: u32(buf, F['perf_event.kprobe.offset']),
        addr: u64(buf, F['perf_event.kprobe.addr']),
        cookie: u64(buf, F['perf_event.kprobe.cookie']),
      };
    case PERF_EVENT_TRACEPOINT:
      again(F['perf_event.tracepoint.tp_name'], F['perf_event.tracepoint.name_len']);
      return { ...base, name: text(), cookie: u64(buf, F['perf_event.tracepoint.cookie']) };
    default:
      return {
        ...base,
        name: '',
        perfType: u32(buf, F['perf_event.event.type']),
        config: u64(buf, F['perf_event.event.config']),
        cookie: u64(buf, F['perf_event.event.cookie']),
      };
  }
}

const idAttr = newAttrScratch(OBJ_ID_ATTR.size);

function nextId(cmd: BpfCmdValue, startId: number): number | undefined {
  const F = OBJ_ID_ATTR.fields;
  const a = idAttr.buf;
  a.fill(0);
  putU32(a, F.start_id, startId, 'start id');
  const r = bpfRaw(cmd, a, OBJ_ID_ATTR.size);
  if (r === -Errno.ENOENT) return undefined;
  if (r < 0) throw bpfFailure(cmd, -r, `after id ${startId}`);
  return a.readUInt32LE(F.next_id.offset);
}

function fdById(cmd: BpfCmdValue, id: number, openFlags: number, what: string): number {
  const F = OBJ_ID_ATTR.fields;
  const a = idAttr.buf;
  a.fill(0);
  putU32(a, F.start_id, id, 'id');
  putU32(a, F.open_flags, openFlags, 'open flags');
  return bpf(cmd, a, OBJ_ID_ATTR.size, `${what} id ${id}`);
}

/** `BPF_PROG_GET_NEXT_ID`: the smallest program id above `startId`, or undefined when there is none. */
export function progGetNextId(startId: number): number | undefined {
  return nextId(BpfCmd.PROG_GET_NEXT_ID, startId);
}

/** `BPF_MAP_GET_NEXT_ID`: the smallest map id above `startId`, or undefined when there is none. */
export function mapGetNextId(startId: number): number | undefined {
  return nextId(BpfCmd.MAP_GET_NEXT_ID, startId);
}

/** `BPF_BTF_GET_NEXT_ID`: the smallest BTF id above `startId`, or undefined when there is none. */
export function btfGetNextId(startId: number): number | undefined {
  return nextId(BpfCmd.BTF_GET_NEXT_ID, startId);
}

/** `BPF_LINK_GET_NEXT_ID`: the smallest link id above `startId`, or undefined when there is none. */
export function linkGetNextId(startId: number): number | undefined {
  return nextId(BpfCmd.LINK_GET_NEXT_ID, startId);
}

/** `BPF_PROG_GET_FD_BY_ID`: a new FD for the program with this id. */
export function progGetFdById(id: number): number {
  return fdById(BpfCmd.PROG_GET_FD_BY_ID, id, 0, 'program');
}

/** `BPF_MAP_GET_FD_BY_ID`: a new FD for the map with this id; `openFlags` may be `BPF_F_RDONLY`/`WRONLY`. */
export function mapGetFdById(id: number, openFlags = 0): number {
  return fdById(BpfCmd.MAP_GET_FD_BY_ID, id, openFlags, 'map');
}

/** `BPF_LINK_GET_FD_BY_ID`: a new FD for the link with this id. */
export function linkGetFdById(id: number): number {
  return fdById(BpfCmd.LINK_GET_FD_BY_ID, id, 0, 'link');
}
