/**
 * Layouts of `union bpf_attr` per bpf() command, of the info structs `BPF_OBJ_GET_INFO_BY_FD` fills, and of
 * `struct perf_event_attr`: the one place that knows where each kernel field lives. Every offset and size
 * was read from the BTF of Linux 6.18 (`bpftool btf dump file /sys/kernel/btf/vmlinux format c`) and is
 * checked against the running kernel's BTF by `test/sys-layout.test.ts`.
 *
 * Field names are the kernel's. A dotted name (`perf_event.bpf_cookie`) walks into a named member; members of
 * anonymous structs and unions are addressed directly, as in C.
 *
 * Also here: the checked writers that the command wrappers fill attr buffers with.
 *
 * @module
 */
import { OptionError } from '../../errors.js';
import type { BpfCmd } from './bpf.js';
import { addressOf } from './libc.js';

/** Where one field lives: byte offset and byte size; bitfields also give their bit position and width. */
export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  /** For a bitfield: first bit, counted from bit 0 of the storage unit at `offset`. */
  readonly bitOffset?: number;
  /** For a bitfield: width in bits. */
  readonly bitSize?: number;
}

/** The part of `union bpf_attr` one command reads. */
export interface CommandLayout<F extends string = string> {
  /** The named member of `union bpf_attr` holding the command's struct (`'batch'`), or `''` if anonymous. */
  readonly member: string;
  /** The attr size to pass to bpf(): the end of the command's last field. */
  readonly size: number;
  readonly fields: { readonly [K in F]: FieldLayout };
}

/** A whole kernel struct. */
export interface StructLayout<F extends string = string> {
  /** The C struct name, e.g. `'bpf_prog_info'`. */
  readonly struct: string;
  /** `sizeof(struct ...)`. */
  readonly size: number;
  readonly fields: { readonly [K in F]: FieldLayout };
}

type Spec = Record<
  string,
  readonly [offset: number, size: number] | readonly [number, number, number, number]
>;

function fieldsOf<F extends Spec>(spec: F): { readonly [K in keyof F & string]: FieldLayout } {
  const out: Record<string, FieldLayout> = {};
  for (const [name, [offset, size, bitOffset, bitSize]] of Object.entries(spec)) {
    out[name] = bitSize === undefined ? { offset, size } : { offset, size, bitOffset, bitSize };
  }
  return out as { readonly [K in keyof F & string]: FieldLayout };
}

function command<const F extends Spec>(member: string, spec: F): CommandLayout<keyof F & string> {
  const fields = fieldsOf(spec);
  let size = 0;
  for (const f of Object.values<FieldLayout>(fields)) size = Math.max(size, f.offset + f.size);
  return { member, size, fields };
}

function struct<const F extends Spec>(name: string, size: number, spec: F): StructLayout<keyof F & string> {
  return { struct: name, size, fields: fieldsOf(spec) };
}

/** `BPF_MAP_CREATE`. */
export const MAP_CREATE_ATTR = command('', {
  map_type: [0, 4],
  key_size: [4, 4],
  value_size: [8, 4],
  max_entries: [12, 4],
  map_flags: [16, 4],
  inner_map_fd: [20, 4],
  numa_node: [24, 4],
  map_name: [28, 16],
  map_ifindex: [44, 4],
  btf_fd: [48, 4],
  btf_key_type_id: [52, 4],
  btf_value_type_id: [56, 4],
  btf_vmlinux_value_type_id: [60, 4],
  map_extra: [64, 8],
  value_type_btf_obj_fd: [72, 4],
  map_token_fd: [76, 4],
  excl_prog_hash: [80, 8],
  excl_prog_hash_size: [88, 4],
});

/** The single-element map commands: lookup, update, delete, get-next-key, lookup-and-delete, freeze. */
export const MAP_ELEM_ATTR = command('', {
  map_fd: [0, 4],
  key: [8, 8],
  value: [16, 8],
  next_key: [16, 8],
  flags: [24, 8],
});

/** The batch map commands. */
export const MAP_BATCH_ATTR = command('batch', {
  in_batch: [0, 8],
  out_batch: [8, 8],
  keys: [16, 8],
  values: [24, 8],
  count: [32, 4],
  map_fd: [36, 4],
  elem_flags: [40, 8],
  flags: [48, 8],
});

/** `BPF_PROG_LOAD`. */
export const PROG_LOAD_ATTR = command('', {
  prog_type: [0, 4],
  insn_cnt: [4, 4],
  insns: [8, 8],
  license: [16, 8],
  log_level: [24, 4],
  log_size: [28, 4],
  log_buf: [32, 8],
  kern_version: [40, 4],
  prog_flags: [44, 4],
  prog_name: [48, 16],
  prog_ifindex: [64, 4],
  expected_attach_type: [68, 4],
  prog_btf_fd: [72, 4],
  func_info_rec_size: [76, 4],
  func_info: [80, 8],
  func_info_cnt: [88, 4],
  line_info_rec_size: [92, 4],
  line_info: [96, 8],
  line_info_cnt: [104, 4],
  attach_btf_id: [108, 4],
  attach_prog_fd: [112, 4],
  attach_btf_obj_fd: [112, 4],
  core_relo_cnt: [116, 4],
  fd_array: [120, 8],
  core_relos: [128, 8],
  core_relo_rec_size: [136, 4],
  log_true_size: [140, 4],
  prog_token_fd: [144, 4],
  fd_array_cnt: [148, 4],
  signature: [152, 8],
  signature_size: [160, 4],
  keyring_id: [164, 4],
});

/** `BPF_OBJ_PIN` and `BPF_OBJ_GET`. */
export const OBJ_ATTR = command('', {
  pathname: [0, 8],
  bpf_fd: [8, 4],
  file_flags: [12, 4],
  path_fd: [16, 4],
});

/** `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`. */
export const PROG_ATTACH_ATTR = command('', {
  target_fd: [0, 4],
  target_ifindex: [0, 4],
  attach_bpf_fd: [4, 4],
  attach_type: [8, 4],
  attach_flags: [12, 4],
  replace_bpf_fd: [16, 4],
  relative_fd: [20, 4],
  relative_id: [20, 4],
  expected_revision: [24, 8],
});

/** `BPF_PROG_TEST_RUN`. */
export const PROG_TEST_RUN_ATTR = command('test', {
  prog_fd: [0, 4],
  retval: [4, 4],
  data_size_in: [8, 4],
  data_size_out: [12, 4],
  data_in: [16, 8],
  data_out: [24, 8],
  repeat: [32, 4],
  duration: [36, 4],
  ctx_size_in: [40, 4],
  ctx_size_out: [44, 4],
  ctx_in: [48, 8],
  ctx_out: [56, 8],
  flags: [64, 4],
  cpu: [68, 4],
  batch_size: [72, 4],
});

/** The get-next-id and get-fd-by-id commands for programs, maps, BTF and links. */
export const OBJ_ID_ATTR = command('', {
  start_id: [0, 4],
  prog_id: [0, 4],
  map_id: [0, 4],
  btf_id: [0, 4],
  link_id: [0, 4],
  next_id: [4, 4],
  open_flags: [8, 4],
  fd_by_id_token_fd: [12, 4],
});

/** `BPF_OBJ_GET_INFO_BY_FD`. */
export const OBJ_INFO_ATTR = command('info', {
  bpf_fd: [0, 4],
  info_len: [4, 4],
  info: [8, 8],
});

/** `BPF_PROG_QUERY`. */
export const PROG_QUERY_ATTR = command('query', {
  target_fd: [0, 4],
  target_ifindex: [0, 4],
  attach_type: [4, 4],
  query_flags: [8, 4],
  attach_flags: [12, 4],
  prog_ids: [16, 8],
  prog_cnt: [24, 4],
  count: [24, 4],
  prog_attach_flags: [32, 8],
  link_ids: [40, 8],
  link_attach_flags: [48, 8],
  revision: [56, 8],
});

/** `BPF_RAW_TRACEPOINT_OPEN`. */
export const RAW_TRACEPOINT_ATTR = command('raw_tracepoint', {
  name: [0, 8],
  prog_fd: [8, 4],
  cookie: [16, 8],
});

/** `BPF_BTF_LOAD`. */
export const BTF_LOAD_ATTR = command('', {
  btf: [0, 8],
  btf_log_buf: [8, 8],
  btf_size: [16, 4],
  btf_log_size: [20, 4],
  btf_log_level: [24, 4],
  btf_log_true_size: [28, 4],
  btf_flags: [32, 4],
  btf_token_fd: [36, 4],
});

/** `BPF_TASK_FD_QUERY`. */
export const TASK_FD_QUERY_ATTR = command('task_fd_query', {
  pid: [0, 4],
  fd: [4, 4],
  flags: [8, 4],
  buf_len: [12, 4],
  buf: [16, 8],
  prog_id: [24, 4],
  fd_type: [28, 4],
  probe_offset: [32, 8],
  probe_addr: [40, 8],
});

/** `BPF_LINK_CREATE`, with every per-kind member of its trailing union. */
export const LINK_CREATE_ATTR = command('link_create', {
  prog_fd: [0, 4],
  map_fd: [0, 4],
  target_fd: [4, 4],
  target_ifindex: [4, 4],
  attach_type: [8, 4],
  flags: [12, 4],
  target_btf_id: [16, 4],
  iter_info: [16, 8],
  iter_info_len: [24, 4],
  'perf_event.bpf_cookie': [16, 8],
  'kprobe_multi.flags': [16, 4],
  'kprobe_multi.cnt': [20, 4],
  'kprobe_multi.syms': [24, 8],
  'kprobe_multi.addrs': [32, 8],
  'kprobe_multi.cookies': [40, 8],
  'tracing.target_btf_id': [16, 4],
  'tracing.cookie': [24, 8],
  'netfilter.pf': [16, 4],
  'netfilter.hooknum': [20, 4],
  'netfilter.priority': [24, 4],
  'netfilter.flags': [28, 4],
  'tcx.relative_fd': [16, 4],
  'tcx.relative_id': [16, 4],
  'tcx.expected_revision': [24, 8],
  'uprobe_multi.path': [16, 8],
  'uprobe_multi.offsets': [24, 8],
  'uprobe_multi.ref_ctr_offsets': [32, 8],
  'uprobe_multi.cookies': [40, 8],
  'uprobe_multi.cnt': [48, 4],
  'uprobe_multi.flags': [52, 4],
  'uprobe_multi.pid': [56, 4],
  'netkit.relative_fd': [16, 4],
  'netkit.relative_id': [16, 4],
  'netkit.expected_revision': [24, 8],
  'cgroup.relative_fd': [16, 4],
  'cgroup.relative_id': [16, 4],
  'cgroup.expected_revision': [24, 8],
});

/** `BPF_LINK_UPDATE`. */
export const LINK_UPDATE_ATTR = command('link_update', {
  link_fd: [0, 4],
  new_prog_fd: [4, 4],
  new_map_fd: [4, 4],
  flags: [8, 4],
  old_prog_fd: [12, 4],
  old_map_fd: [12, 4],
});

/** `BPF_LINK_DETACH`. */
export const LINK_DETACH_ATTR = command('link_detach', { link_fd: [0, 4] });

/** `BPF_ENABLE_STATS`. */
export const ENABLE_STATS_ATTR = command('enable_stats', { type: [0, 4] });

/** `BPF_ITER_CREATE`. */
export const ITER_CREATE_ATTR = command('iter_create', { link_fd: [0, 4], flags: [4, 4] });

/** `BPF_PROG_BIND_MAP`. */
export const PROG_BIND_MAP_ATTR = command('prog_bind_map', {
  prog_fd: [0, 4],
  map_fd: [4, 4],
  flags: [8, 4],
});

/** `BPF_TOKEN_CREATE`. */
export const TOKEN_CREATE_ATTR = command('token_create', { flags: [0, 4], bpffs_fd: [4, 4] });

/** `BPF_PROG_STREAM_READ_BY_FD`. */
export const PROG_STREAM_READ_ATTR = command('prog_stream_read', {
  stream_buf: [0, 8],
  stream_buf_len: [8, 4],
  stream_id: [12, 4],
  prog_fd: [16, 4],
});

/** The layout each bpf() command reads, by command name (the keys of {@link BpfCmd}). */
export const BPF_ATTR_LAYOUTS: { readonly [K in keyof typeof BpfCmd]: CommandLayout } = {
  MAP_CREATE: MAP_CREATE_ATTR,
  MAP_LOOKUP_ELEM: MAP_ELEM_ATTR,
  MAP_UPDATE_ELEM: MAP_ELEM_ATTR,
  MAP_DELETE_ELEM: MAP_ELEM_ATTR,
  MAP_GET_NEXT_KEY: MAP_ELEM_ATTR,
  PROG_LOAD: PROG_LOAD_ATTR,
  OBJ_PIN: OBJ_ATTR,
  OBJ_GET: OBJ_ATTR,
  PROG_ATTACH: PROG_ATTACH_ATTR,
  PROG_DETACH: PROG_ATTACH_ATTR,
  PROG_TEST_RUN: PROG_TEST_RUN_ATTR,
  PROG_GET_NEXT_ID: OBJ_ID_ATTR,
  MAP_GET_NEXT_ID: OBJ_ID_ATTR,
  PROG_GET_FD_BY_ID: OBJ_ID_ATTR,
  MAP_GET_FD_BY_ID: OBJ_ID_ATTR,
  OBJ_GET_INFO_BY_FD: OBJ_INFO_ATTR,
  PROG_QUERY: PROG_QUERY_ATTR,
  RAW_TRACEPOINT_OPEN: RAW_TRACEPOINT_ATTR,
  BTF_LOAD: BTF_LOAD_ATTR,
  BTF_GET_FD_BY_ID: OBJ_ID_ATTR,
  TASK_FD_QUERY: TASK_FD_QUERY_ATTR,
  MAP_LOOKUP_AND_DELETE_ELEM: MAP_ELEM_ATTR,
  MAP_FREEZE: MAP_ELEM_ATTR,
  BTF_GET_NEXT_ID: OBJ_ID_ATTR,
  MAP_LOOKUP_BATCH: MAP_BATCH_ATTR,
  MAP_LOOKUP_AND_DELETE_BATCH: MAP_BATCH_ATTR,
  MAP_UPDATE_BATCH: MAP_BATCH_ATTR,
  MAP_DELETE_BATCH: MAP_BATCH_ATTR,
  LINK_CREATE: LINK_CREATE_ATTR,
  LINK_UPDATE: LINK_UPDATE_ATTR,
  LINK_GET_FD_BY_ID: OBJ_ID_ATTR,
  LINK_GET_NEXT_ID: OBJ_ID_ATTR,
  ENABLE_STATS: ENABLE_STATS_ATTR,
  ITER_CREATE: ITER_CREATE_ATTR,
  LINK_DETACH: LINK_DETACH_ATTR,
  PROG_BIND_MAP: PROG_BIND_MAP_ATTR,
  TOKEN_CREATE: TOKEN_CREATE_ATTR,
  PROG_STREAM_READ_BY_FD: PROG_STREAM_READ_ATTR,
};

/** Bytes of the largest attr any command here uses; a scratch buffer of this size fits every command. */
export const MAX_ATTR_SIZE = Math.max(...Object.values(BPF_ATTR_LAYOUTS).map((l) => l.size));

/** `struct bpf_prog_info`. */
export const PROG_INFO_LAYOUT = struct('bpf_prog_info', 232, {
  type: [0, 4],
  id: [4, 4],
  tag: [8, 8],
  jited_prog_len: [16, 4],
  xlated_prog_len: [20, 4],
  jited_prog_insns: [24, 8],
  xlated_prog_insns: [32, 8],
  load_time: [40, 8],
  created_by_uid: [48, 4],
  nr_map_ids: [52, 4],
  map_ids: [56, 8],
  name: [64, 16],
  ifindex: [80, 4],
  gpl_compatible: [84, 4, 0, 1],
  netns_dev: [88, 8],
  netns_ino: [96, 8],
  nr_jited_ksyms: [104, 4],
  nr_jited_func_lens: [108, 4],
  jited_ksyms: [112, 8],
  jited_func_lens: [120, 8],
  btf_id: [128, 4],
  func_info_rec_size: [132, 4],
  func_info: [136, 8],
  nr_func_info: [144, 4],
  nr_line_info: [148, 4],
  line_info: [152, 8],
  jited_line_info: [160, 8],
  nr_jited_line_info: [168, 4],
  line_info_rec_size: [172, 4],
  jited_line_info_rec_size: [176, 4],
  nr_prog_tags: [180, 4],
  prog_tags: [184, 8],
  run_time_ns: [192, 8],
  run_cnt: [200, 8],
  recursion_misses: [208, 8],
  verified_insns: [216, 4],
  attach_btf_obj_id: [220, 4],
  attach_btf_id: [224, 4],
});

/** `struct bpf_map_info`. */
export const MAP_INFO_LAYOUT = struct('bpf_map_info', 104, {
  type: [0, 4],
  id: [4, 4],
  key_size: [8, 4],
  value_size: [12, 4],
  max_entries: [16, 4],
  map_flags: [20, 4],
  name: [24, 16],
  ifindex: [40, 4],
  btf_vmlinux_value_type_id: [44, 4],
  netns_dev: [48, 8],
  netns_ino: [56, 8],
  btf_id: [64, 4],
  btf_key_type_id: [68, 4],
  btf_value_type_id: [72, 4],
  btf_vmlinux_id: [76, 4],
  map_extra: [80, 8],
  hash: [88, 8],
  hash_size: [96, 4],
});

/** `struct bpf_btf_info`. */
export const BTF_INFO_LAYOUT = struct('bpf_btf_info', 32, {
  btf: [0, 8],
  btf_size: [8, 4],
  id: [12, 4],
  name: [16, 8],
  name_len: [24, 4],
  kernel_btf: [28, 4],
});

/** `struct bpf_link_info`, with the members of its per-link-type union. */
export const LINK_INFO_LAYOUT = struct('bpf_link_info', 64, {
  type: [0, 4],
  id: [4, 4],
  prog_id: [8, 4],
  'raw_tracepoint.tp_name': [16, 8],
  'raw_tracepoint.tp_name_len': [24, 4],
  'raw_tracepoint.cookie': [32, 8],
  'tracing.attach_type': [16, 4],
  'tracing.target_obj_id': [20, 4],
  'tracing.target_btf_id': [24, 4],
  'tracing.cookie': [32, 8],
  'cgroup.cgroup_id': [16, 8],
  'cgroup.attach_type': [24, 4],
  'iter.target_name': [16, 8],
  'iter.target_name_len': [24, 4],
  'iter.map.map_id': [28, 4],
  'iter.cgroup.cgroup_id': [32, 8],
  'iter.cgroup.order': [40, 4],
  'iter.task.tid': [32, 4],
  'iter.task.pid': [36, 4],
  'netns.netns_ino': [16, 4],
  'netns.attach_type': [20, 4],
  'xdp.ifindex': [16, 4],
  'struct_ops.map_id': [16, 4],
  'netfilter.pf': [16, 4],
  'netfilter.hooknum': [20, 4],
  'netfilter.priority': [24, 4],
  'netfilter.flags': [28, 4],
  'kprobe_multi.addrs': [16, 8],
  'kprobe_multi.count': [24, 4],
  'kprobe_multi.flags': [28, 4],
  'kprobe_multi.missed': [32, 8],
  'kprobe_multi.cookies': [40, 8],
  'uprobe_multi.path': [16, 8],
  'uprobe_multi.offsets': [24, 8],
  'uprobe_multi.ref_ctr_offsets': [32, 8],
  'uprobe_multi.cookies': [40, 8],
  'uprobe_multi.path_size': [48, 4],
  'uprobe_multi.count': [52, 4],
  'uprobe_multi.flags': [56, 4],
  'uprobe_multi.pid': [60, 4],
  'perf_event.type': [16, 4],
  'perf_event.uprobe.file_name': [24, 8],
  'perf_event.uprobe.name_len': [32, 4],
  'perf_event.uprobe.offset': [36, 4],
  'perf_event.uprobe.cookie': [40, 8],
  'perf_event.uprobe.ref_ctr_offset': [48, 8],
  'perf_event.kprobe.func_name': [24, 8],
  'perf_event.kprobe.name_len': [32, 4],
  'perf_event.kprobe.offset': [36, 4],
  'perf_event.kprobe.addr': [40, 8],
  'perf_event.kprobe.missed': [48, 8],
  'perf_event.kprobe.cookie': [56, 8],
  'perf_event.tracepoint.tp_name': [24, 8],
  'perf_event.tracepoint.name_len': [32, 4],
  'perf_event.tracepoint.cookie': [40, 8],
  'perf_event.event.config': [24, 8],
  'perf_event.event.type': [32, 4],
  'perf_event.event.cookie': [40, 8],
  'tcx.ifindex': [16, 4],
  'tcx.attach_type': [20, 4],
  'netkit.ifindex': [16, 4],
  'netkit.attach_type': [20, 4],
  'sockmap.map_id': [16, 4],
  'sockmap.attach_type': [20, 4],
});

/** `struct perf_event_attr` (`PERF_ATTR_SIZE_VER8`); the flag bits are bitfields of the u64 at offset 40. */
export const PERF_EVENT_ATTR_LAYOUT = struct('perf_event_attr', 136, {
  type: [0, 4],
  size: [4, 4],
  config: [8, 8],
  sample_period: [16, 8],
  sample_freq: [16, 8],
  sample_type: [24, 8],
  read_format: [32, 8],
  disabled: [40, 8, 0, 1],
  inherit: [40, 8, 1, 1],
  pinned: [40, 8, 2, 1],
  exclusive: [40, 8, 3, 1],
  exclude_user: [40, 8, 4, 1],
  exclude_kernel: [40, 8, 5, 1],
  exclude_hv: [40, 8, 6, 1],
  exclude_idle: [40, 8, 7, 1],
  mmap: [40, 8, 8, 1],
  comm: [40, 8, 9, 1],
  freq: [40, 8, 10, 1],
  inherit_stat: [40, 8, 11, 1],
  enable_on_exec: [40, 8, 12, 1],
  task: [40, 8, 13, 1],
  watermark: [40, 8, 14, 1],
  precise_ip: [40, 8, 15, 2],
  mmap_data: [40, 8, 17, 1],
  sample_id_all: [40, 8, 18, 1],
  exclude_host: [40, 8, 19, 1],
  exclude_guest: [40, 8, 20, 1],
  exclude_callchain_kernel: [40, 8, 21, 1],
  exclude_callchain_user: [40, 8, 22, 1],
  mmap2: [40, 8, 23, 1],
  comm_exec: [40, 8, 24, 1],
  use_clockid: [40, 8, 25, 1],
  context_switch: [40, 8, 26, 1],
  write_backward: [40, 8, 27, 1],
  namespaces: [40, 8, 28, 1],
  ksymbol: [40, 8, 29, 1],
  bpf_event: [40, 8, 30, 1],
  aux_output: [40, 8, 31, 1],
  cgroup: [40, 8, 32, 1],
  text_poke: [40, 8, 33, 1],
  build_id: [40, 8, 34, 1],
  inherit_thread: [40, 8, 35, 1],
  remove_on_exec: [40, 8, 36, 1],
  sigtrap: [40, 8, 37, 1],
  wakeup_events: [48, 4],
  wakeup_watermark: [48, 4],
  bp_type: [52, 4],
  bp_addr: [56, 8],
  kprobe_func: [56, 8],
  uprobe_path: [56, 8],
  config1: [56, 8],
  bp_len: [64, 8],
  kprobe_addr: [64, 8],
  probe_offset: [64, 8],
  config2: [64, 8],
  branch_sample_type: [72, 8],
  sample_regs_user: [80, 8],
  sample_stack_user: [88, 4],
  clockid: [92, 4],
  sample_regs_intr: [96, 8],
  aux_watermark: [104, 4],
  sample_max_stack: [108, 2],
  aux_sample_size: [112, 4],
  aux_action: [116, 4],
  aux_start_paused: [116, 4, 0, 1],
  aux_pause: [116, 4, 1, 1],
  aux_resume: [116, 4, 2, 1],
  sig_data: [120, 8],
  config3: [128, 8],
});

/** Every whole-struct layout here, by C struct name. */
export const STRUCT_LAYOUTS: readonly StructLayout[] = [
  PROG_INFO_LAYOUT,
  MAP_INFO_LAYOUT,
  BTF_INFO_LAYOUT,
  LINK_INFO_LAYOUT,
  PERF_EVENT_ATTR_LAYOUT,
];

/**
 * A reusable attr buffer with aligned 32- and 64-bit views over it, so hot paths can fill fields by index
 * (`u32[offset / 4]`, `u64[offset / 8]`) without allocating.
 */
export interface AttrScratch {
  readonly buf: Buffer;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u64: BigUint64Array;
}

/** A new zeroed scratch attr of `size` bytes (rounded up to 8), by default big enough for any command. */
export function newAttrScratch(size: number = MAX_ATTR_SIZE): AttrScratch {
  const bytes = Math.ceil(size / 8) * 8;
  const ab = new ArrayBuffer(bytes);
  return {
    buf: Buffer.from(ab),
    u32: new Uint32Array(ab),
    i32: new Int32Array(ab),
    u64: new BigUint64Array(ab),
  };
}

const U64_MAX = (1n << 64n) - 1n;

/** Throws an {@link OptionError} unless `value` is an integer in [0, 2^32). */
export function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new OptionError(`${what} must be an unsigned 32-bit integer, got ${String(value)}`, {
      option: what,
    });
  }
  return value;
}

/** Throws an {@link OptionError} unless `value` is an integer in [-2^31, 2^31). */
export function checkS32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new OptionError(`${what} must be a signed 32-bit integer, got ${String(value)}`, { option: what });
  }
  return value;
}

/** Throws an {@link OptionError} unless `value` is an open-able FD number (a non-negative int32). */
export function checkFd(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new OptionError(
      `${what} must be a file descriptor (a non-negative integer), got ${String(value)}`,
      {
        option: what,
      },
    );
  }
  return value;
}

/** `value` as a u64 bigint; throws an {@link OptionError} when it does not fit. */
export function toU64(value: bigint | number, what: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new OptionError(`${what} must be an unsigned 64-bit integer, got ${String(value)}`, {
        option: what,
      });
    }
    return BigInt(value);
  }
  if (value < 0n || value > U64_MAX) {
    throw new OptionError(`${what} must be an unsigned 64-bit integer, got ${value}`, { option: what });
  }
  return value;
}

/** Writes a checked u32 field. */
export function putU32(attr: Buffer, field: FieldLayout, value: number, what: string): void {
  attr.writeUInt32LE(checkU32(value, what), field.offset);
}

/** Writes a checked s32 field. */
export function putS32(attr: Buffer, field: FieldLayout, value: number, what: string): void {
  attr.writeInt32LE(checkS32(value, what), field.offset);
}

/** Writes a checked u64 field. */
export function putU64(attr: Buffer, field: FieldLayout, value: bigint | number, what: string): void {
  attr.writeBigUInt64LE(toU64(value, what), field.offset);
}

/**
 * Writes the address of `bytes` into a pointer field (0 for `null` or an empty array). The caller keeps
 * `bytes` referenced until the syscall has returned.
 */
export function putPointer(attr: Buffer, field: FieldLayout, bytes: Uint8Array | null | undefined): void {
  attr.writeBigUInt64LE(bytes == null || bytes.length === 0 ? 0n : addressOf(bytes), field.offset);
}

/**
 * Writes an object name into a `char[16]` field (`map_name`, `prog_name`). The kernel keeps at most 15
 * bytes plus the terminating NUL; longer names are an {@link OptionError} (callers decide how to shorten).
 */
export function putObjName(attr: Buffer, field: FieldLayout, name: string, what: string): void {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length >= field.size || bytes.includes(0)) {
    throw new OptionError(
      `${what} '${name}' must be at most ${field.size - 1} bytes without NUL (it is ${bytes.length})`,
      { option: what },
    );
  }
  bytes.copy(attr, field.offset);
}

/** A NUL-terminated UTF-8 copy of `text`, to pass by address; rejects embedded NULs. */
export function cString(text: string, what: string): Buffer {
  if (text.includes('\0'))
    throw new OptionError(`${what} must not contain a NUL character`, { option: what });
  return Buffer.from(`${text}\0`, 'utf8');
}

/** Reads a NUL-terminated string from a fixed `char[N]` field. */
export function readCString(buf: Uint8Array, offset: number, size: number): string {
  const bytes = buf.subarray(offset, offset + size);
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? size : end).toString('utf8');
}
